// Bad input is a clear Error naming the file, tensor or field — never a crash: missing, mis-shaped and
// mis-typed tensors, truncated and corrupt safetensors, malformed JSON, out-of-range token ids, prompts
// longer than the context.
#include "gemma4/gemma4.h"  // first: ops/ops.h drives Highway's per-target compilation

#include <cstring>
#include <string>
#include <vector>

#include "tests/test_util.h"

using namespace gemma4;
using gemma4::test::GoldenDir;
using gemma4::test::ReadFile;
using gemma4::test::TempDir;
using gemma4::test::WriteFile;

namespace {

// A safetensors file from a JSON header (as text, padded with spaces to 8 bytes as writers do) and a data section.
std::string Safetensors(std::string header, const std::string& data) {
  header.append((8 - header.size() % 8) % 8, ' ');
  const uint64_t n = header.size();
  return std::string(reinterpret_cast<const char*>(&n), 8) + header + data;
}

std::string ErrorOf(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

// golden/e2b_like copied to a temp dir, its header edited by `edit` (a JSON header → JSON header function).
struct EditedCheckpoint {
  TempDir dir;
  explicit EditedCheckpoint(const std::function<void(nlohmann::json&)>& edit) {
    const std::string bytes = ReadFile(GoldenDir() + "/e2b_like/model.safetensors");
    uint64_t n;
    std::memcpy(&n, bytes.data(), 8);
    nlohmann::json header = nlohmann::json::parse(bytes.substr(8, n));
    edit(header);
    WriteFile(dir / "model.safetensors", Safetensors(header.dump(), bytes.substr(8 + n)));
    WriteFile(dir / "config.json", ReadFile(GoldenDir() + "/e2b_like/config.json"));
  }
  std::string load_error() const { return ErrorOf([&] { Gemma4ForCausalLM::from_pretrained(dir.path); }); }
};

const std::string kUpProj = "model.language_model.layers.3.mlp.up_proj.weight";

}  // namespace

TEST_CASE("a missing tensor is named", "[loading]") {
  EditedCheckpoint c([](nlohmann::json& h) { h.erase(kUpProj); });
  CHECK_THAT(c.load_error(), Catch::Contains("missing tensor " + kUpProj));
}

TEST_CASE("a tensor of the wrong shape is named with both shapes", "[loading]") {
  EditedCheckpoint c([](nlohmann::json& h) { h[kUpProj]["shape"] = {64, 128}; });
  CHECK_THAT(c.load_error(), Catch::Contains(kUpProj) && Catch::Contains("[64,128]") && Catch::Contains("[128,64]"));
}

TEST_CASE("a weight of a dtype the kernels do not read is named", "[loading]") {
  // same byte count (128·64 BF16 = 64·64 I32), so only the dtype check can catch it
  EditedCheckpoint c([](nlohmann::json& h) {
    h[kUpProj]["dtype"] = "I16";
  });
  CHECK_THAT(c.load_error(), Catch::Contains(kUpProj) && Catch::Contains("I16"));
  EditedCheckpoint unknown([](nlohmann::json& h) { h[kUpProj]["dtype"] = "F8_E4M3"; });
  CHECK_THAT(unknown.load_error(), Catch::Contains(kUpProj) && Catch::Contains("unknown dtype"));
}

TEST_CASE("offsets that overlap, run past the data or disagree with the shape are refused", "[loading]") {
  EditedCheckpoint overlap([](nlohmann::json& h) {
    // up_proj claims gate_proj's bytes (same size, so only the overlap check can catch it)
    h[kUpProj]["data_offsets"] = h["model.language_model.layers.3.mlp.gate_proj.weight"]["data_offsets"];
  });
  CHECK_THAT(overlap.load_error(), Catch::Contains("overlap"));
  EditedCheckpoint past_end([](nlohmann::json& h) {
    h[kUpProj]["data_offsets"] = {uint64_t(1) << 40, (uint64_t(1) << 40) + 128 * 64 * 2};
  });
  CHECK_THAT(past_end.load_error(), Catch::Contains(kUpProj) && Catch::Contains("truncated"));
  EditedCheckpoint span([](nlohmann::json& h) {
    auto off = h[kUpProj]["data_offsets"];
    h[kUpProj]["data_offsets"] = {off[0], off[1].get<uint64_t>() - 2};
  });
  CHECK_THAT(span.load_error(), Catch::Contains(kUpProj) && Catch::Contains("span"));
}

TEST_CASE("truncated files, bad header lengths and malformed JSON are errors naming the file", "[loading]") {
  TempDir dir;
  const std::string good = ReadFile(GoldenDir() + "/e2b_like/model.safetensors");
  WriteFile(dir / "config.json", ReadFile(GoldenDir() + "/e2b_like/config.json"));
  auto load = [&] { return ErrorOf([&] { Gemma4ForCausalLM::from_pretrained(dir.path); }); };
  const std::string file = dir / "model.safetensors";

  for (size_t cut : {size_t(0), size_t(5), size_t(100), good.size() / 2, good.size() - 1}) {
    INFO("cut at " << cut);
    WriteFile(file, good.substr(0, cut));
    CHECK_THAT(load(), Catch::Contains(file));
  }
  std::string huge = good;
  const uint64_t n = uint64_t(1) << 50;
  std::memcpy(&huge[0], &n, 8);
  WriteFile(file, huge);
  CHECK_THAT(load(), Catch::Contains("header length") && Catch::Contains(file));

  WriteFile(file, Safetensors("{\"a\": [1, 2", ""));
  CHECK_THAT(load(), Catch::Contains("(header)") && Catch::Contains("malformed JSON"));
  WriteFile(file, Safetensors("[1, 2]", ""));
  CHECK_THAT(load(), Catch::Contains("not an object"));
  WriteFile(file, Safetensors("{\"t\": {\"dtype\": \"F32\", \"shape\": [-1], \"data_offsets\": [0, 4]}}", "abcd"));
  CHECK_THAT(load(), Catch::Contains("tensor t") && Catch::Contains("shape"));
  WriteFile(file, Safetensors("{\"t\": {\"dtype\": \"F32\", \"shape\": [1]}}", "abcd"));
  CHECK_THAT(load(), Catch::Contains("tensor t") && Catch::Contains("data_offsets"));
  WriteFile(file, Safetensors("{\"t\": {\"dtype\": \"F32\", \"shape\": [4294967296, 4294967296, 4294967296], "
                              "\"data_offsets\": [0, 4]}}",
                              "abcd"));
  CHECK_THAT(load(), Catch::Contains("too large"));

  WriteFile(file, good);
  WriteFile(dir / "config.json", "{\"model_type\": \"gemma4\", ");
  CHECK_THAT(load(), Catch::Contains("config.json") && Catch::Contains("malformed JSON"));
  WriteFile(dir / "config.json", "{\"model_type\": \"gemma4\", \"text_config\": {\"hidden_size\": 65}}");
  CHECK_THAT(load(), Catch::Contains("shape"));  // the weights no longer fit the config: named tensor shapes
}

TEST_CASE("a directory without weights, or a path that does not exist, is named", "[loading]") {
  TempDir dir;
  CHECK_THAT(ErrorOf([&] { LoadCheckpoint(dir.path); }), Catch::Contains(dir.path + "/config.json"));
  WriteFile(dir / "config.json", ReadFile(GoldenDir() + "/e2b_like/config.json"));
  CHECK_THAT(ErrorOf([&] { LoadCheckpoint(dir.path); }), Catch::Contains("no model.safetensors"));
  CHECK_THAT(ErrorOf([&] { LoadCheckpoint(dir / "nope"); }), Catch::Contains("no such file"));
  WriteFile(dir / "model.safetensors.index.json", "{\"weight_map\": {\"x\": \"model-00001-of-00002.safetensors\"}}");
  CHECK_THAT(ErrorOf([&] { LoadCheckpoint(dir.path); }), Catch::Contains("model-00001-of-00002.safetensors"));
}

TEST_CASE("token ids outside the vocabulary and prompts over the context are refused", "[loading]") {
  auto lm = Gemma4ForCausalLM::from_pretrained(GoldenDir() + "/e2b_like");
  Session session(*lm, 8, 10);
  const std::vector<int32_t> bad = {2, 5, 512};
  CHECK_THAT(ErrorOf([&] { session.prefill(bad.data(), bad.size()); }),
             Catch::Contains("token id 512") && Catch::Contains("vocab_size 512"));
  const std::vector<int32_t> negative = {2, -1};
  CHECK_THAT(ErrorOf([&] { session.prefill(negative.data(), negative.size()); }), Catch::Contains("token id -1"));
  CHECK(session.position() == 0);  // nothing was fed
  const std::vector<int32_t> long_prompt(11, 7);
  CHECK_THAT(ErrorOf([&] { session.prefill(long_prompt.data(), long_prompt.size()); }),
             Catch::Contains("do not fit the context of 10"));
  const std::vector<int32_t> fits(10, 7);
  session.prefill(fits.data(), fits.size());
  CHECK_THAT(ErrorOf([&] { session.decode(3); }), Catch::Contains("do not fit the context of 10"));
}

TEST_CASE("safetensors written by us read back identically", "[loading]") {
  TempDir dir;
  const std::vector<float> a = {1.5f, -2.0f, 3.25f};
  const std::vector<int32_t> b = {7, 8};
  Tensor ta{"a", DType::F32, {3}, a.data(), 12, ""}, tb{"b.ids", DType::I32, {1, 2}, b.data(), 8, ""};
  WriteSafetensors(dir / "x.safetensors", {ta, tb}, {{"note", "hello"}});
  const SafetensorsFile st = ReadSafetensors(dir / "x.safetensors");
  REQUIRE(st.tensors.size() == 2);
  CHECK(st.metadata.at("note") == "hello");
  CHECK(std::memcmp(st.tensors.at("a").data, a.data(), 12) == 0);
  CHECK(st.tensors.at("b.ids").shape == std::vector<int64_t>{1, 2});
  CHECK(reinterpret_cast<uintptr_t>(st.tensors.at("a").data) % 8 == 0);  // data section kept 8-byte aligned
}
