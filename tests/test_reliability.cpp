// Regression tests for the defects a fuzzing probe found below the surface (issue 17), each with the
// smallest input that triggered it, and the real-file failure modes: a weights file truncated while
// mapped, two Sessions on one model in two threads, prompts at and past the context size.
// A defect's test is named "defect N: ..." after the list; every loader must answer bad input
// with a gemma4::Error — ErrorOf reports any other exception type as a failure.
#include "gemma4/gemma4.h"  // first: ops/ops.h drives Highway's per-target compilation

#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "gemma4/text/tokenizer_json.h"
#include "tests/test_util.h"
#include "tools/common.h"

using namespace gemma4;
using gemma4::test::GoldenDir;
using gemma4::test::ReadFile;
using gemma4::test::TempDir;
using gemma4::test::WriteFile;
using nlohmann::json;

namespace {

// The message of the gemma4::Error f() throws; "no error" when it returns; "OTHER EXCEPTION: ..." when
// something else escapes (a loader's defect).
std::string ErrorOf(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  } catch (const std::exception& e) {
    return std::string("OTHER EXCEPTION: ") + e.what();
  }
  return "no error";
}

json E2bConfig() { return ReadJsonFile(GoldenDir() + "/e2b_like/config.json"); }

// A safetensors file from a JSON header (exactly as given: no padding) and a data section.
std::string Safetensors(const std::string& header, const std::string& data) {
  const uint64_t n = header.size();
  return std::string(reinterpret_cast<const char*>(&n), 8) + header + data;
}

std::string ParseSafetensorsError(const std::string& bytes) {
  return ErrorOf([&] { ParseSafetensors(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "t.safetensors"); });
}

std::string TokenizerError(const std::string& text) {
  return ErrorOf([&] { Tokenizer t(TokenizerSpecFromJson(ParseJson(text, "tokenizer.json"), "tokenizer.json")); });
}

// e2b_like copied to a temp dir (config.json, model.safetensors).
struct CopiedCheckpoint {
  TempDir dir;
  CopiedCheckpoint() {
    for (const char* f : {"config.json", "model.safetensors"})
      WriteFile(dir / f, ReadFile(GoldenDir() + "/e2b_like/" + f));
  }
};

std::vector<int32_t> Ids(size_t n) {
  std::vector<int32_t> ids;
  for (size_t i = 0; i < n; ++i) ids.push_back(int32_t((i * 37 + 5) % 200 + 2));
  return ids;
}

}  // namespace

TEST_CASE("defect 1: a huge sliding_window is refused — the largest allowed one costs memory only as used", "[reliability]") {
  for (const uint64_t w : {uint64_t(1) << 62, uint64_t(INT64_MAX), uint64_t(1) << 31}) {
    json c = E2bConfig();
    c["text_config"]["sliding_window"] = w;
    CHECK_THAT(ErrorOf([&] { ParseGemma4TextConfig(c, "config.json"); }),
               Catch::Contains("'sliding_window'") && Catch::Contains("must be <="));
  }
  // The same from a GGUF's gemma4.attention.sliding_window.
  TempDir dir;
  const Checkpoint ckpt = LoadCheckpoint(GoldenDir() + "/e2b_like");
  GgufConversion conv;
  conv.type = ggml_type::F32;
  WriteGemma4Gguf(ckpt.config, ckpt.path, SourcesOf(ckpt), "", dir / "m.gguf", conv);
  GgufFile g = ReadGguf(dir / "m.gguf");
  GgufValue& sw = g.metadata.at("gemma4.attention.sliding_window");
  sw.type = GgufType::UINT64;
  sw.u = uint64_t(1) << 62;
  CHECK_THAT(ErrorOf([&] { Gemma4ForCausalLM::from_checkpoint(CheckpointFromGguf(g)); }),
             Catch::Contains("'sliding_window'") && Catch::Contains("must be <="));

  // sliding_window = 2^30 (the bound): a 40-token prompt gives the logits a window of 64 gives (the window
  // covers the prompt either way), with a cache sized by the 40 positions, not by 2^30.
  auto logits = [&](int64_t window) {
    Checkpoint c = LoadCheckpoint(GoldenDir() + "/e2b_like");
    c.config["text_config"]["sliding_window"] = window;
    auto lm = Gemma4ForCausalLM::from_checkpoint(std::move(c));
    Session s(*lm, 16);
    const std::vector<int32_t> ids = Ids(40);
    const float* out = s.prefill(ids.data(), ids.size());
    CHECK(s.cache.bytes() < (size_t(1) << 20));
    return std::vector<float>(out, out + s.vocab_size());
  };
  CHECK(logits(int64_t(1) << 30) == logits(64));
}

TEST_CASE("defect 2: config fields whose products size memory are bounded before any product", "[reliability]") {
  const std::vector<std::pair<std::string, uint64_t>> cases = {
      {"num_hidden_layers", uint64_t(1) << 40},           // × hidden_size_per_layer_input
      {"hidden_size_per_layer_input", uint64_t(1) << 62},
      {"num_attention_heads", uint64_t(1) << 40},         // × head_dim
      {"head_dim", uint64_t(1) << 40},
      {"intermediate_size", uint64_t(1) << 62},           // × 2 (double-wide MLP)
      {"vocab_size", uint64_t(1) << 40},
      {"max_position_embeddings", uint64_t(1) << 62},
      {"num_experts", uint64_t(1) << 40},
      {"eos_token_id", uint64_t(1) << 40}};
  for (const auto& [key, value] : cases) {
    json c = E2bConfig();
    c["text_config"][key] = value;
    INFO(key);
    CHECK_THAT(ErrorOf([&] { ParseGemma4TextConfig(c, "config.json"); }), Catch::Contains("'" + key + "'"));
  }
  json a = ReadJsonFile(GoldenDir() + "/assistant/config.json");
  a["backbone_hidden_size"] = uint64_t(1) << 62;
  CHECK_THAT(ErrorOf([&] { ParseGemma4AssistantConfig(a, "config.json"); }), Catch::Contains("'backbone_hidden_size'"));
  // A step size whose activations overflow size_t is an Error, not a tiny buffer.
  auto lm = Gemma4ForCausalLM::from_pretrained(GoldenDir() + "/e2b_like");
  CHECK_THAT(ErrorOf([&] { Session s(*lm, size_t(1) << 60); }), Catch::Contains("overflows"));
}

TEST_CASE("defect 3: deeply nested JSON is refused before anything recurses over it", "[reliability]") {
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  CHECK_THAT(ErrorOf([&] { ParseJson(deep, "x.json"); }), Catch::Contains("x.json") && Catch::Contains("nested more than"));
  // a bad value in a safetensors header (its error message once dumped it)
  CHECK_THAT(ParseSafetensorsError(Safetensors("{\"t\": {\"dtype\": " + deep + ", \"shape\": [], \"data_offsets\": [0, 0]}}", "")),
             Catch::Contains("nested more than"));
  // config.json's eos_token_id, copied once
  TempDir dir;
  std::string config = ReadFile(GoldenDir() + "/e2b_like/config.json");
  config.replace(config.find("\"eos_token_id\": 1"), 17, "\"eos_token_id\": " + deep);
  WriteFile(dir / "config.json", config);
  CHECK_THAT(ErrorOf([&] { ReadJsonFile(dir / "config.json"); }), Catch::Contains("config.json") && Catch::Contains("nested"));
  // nested tokenizer Sequences (recursion, and error strings growing with depth)
  std::string seq = "null";
  for (int i = 0; i < 5000; ++i) seq = "{\"type\":\"Sequence\",\"normalizers\":[" + seq + "]}";
  CHECK_THAT(TokenizerError("{\"model\":{\"type\":\"BPE\",\"vocab\":{},\"merges\":[]},\"normalizer\":" + seq + "}"),
             Catch::Contains("nested more than"));
  // Nesting within the limit still parses: 20 Sequence levels.
  seq = "{\"type\":\"Prepend\",\"prepend\":\"x\"}";
  for (int i = 0; i < 20; ++i) seq = "{\"type\":\"Sequence\",\"normalizers\":[" + seq + "]}";
  CHECK(TokenizerError("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"x\":0},\"merges\":[]},\"normalizer\":" + seq + "}") == "no error");
}

TEST_CASE("defect 4: no JSON exception escapes a loader — each is an Error naming the file and field", "[reliability]") {
  json c = E2bConfig();
  c["model_type"] = 5;
  CHECK_THAT(ErrorOf([&] { ParseGemma4TextConfig(c, "config.json"); }),
             Catch::Contains("config.json") && Catch::Contains("'model_type'") && Catch::Contains("must be a string"));
  json a = ReadJsonFile(GoldenDir() + "/assistant/config.json");
  a["model_type"] = json::array();
  CHECK_THAT(ErrorOf([&] { ParseGemma4AssistantConfig(a, "config.json"); }), Catch::Contains("'model_type'"));
  // converting a checkpoint to GGUF (gemma4-quantize) with a model_type that is not a string
  TempDir dir;
  GgufConversion conv;
  CHECK_THAT(ErrorOf([&] { WriteGemma4Gguf(c, "config.json", {}, "", dir / "m.gguf", conv); }), Catch::Contains("'model_type'"));
  // tokenizer.json: non-array pipeline components, a number overflow, a non-boolean "special"
  const std::string model = "\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[]}";
  CHECK_THAT(TokenizerError("{" + model + ",\"normalizer\":{\"type\":\"Sequence\",\"normalizers\":{\"a\":1}}}"),
             Catch::Contains("normalizers") && Catch::Contains("expected an array"));
  CHECK_THAT(TokenizerError("{" + model + ",\"pre_tokenizer\":{\"type\":\"Sequence\",\"pretokenizers\":7}}"),
             Catch::Contains("pretokenizers"));
  CHECK_THAT(TokenizerError("{" + model + ",\"decoder\":{\"type\":\"Sequence\",\"decoders\":\"x\"}}"), Catch::Contains("decoders"));
  CHECK_THAT(TokenizerError("{" + model + ",\"post_processor\":{\"type\":\"TemplateProcessing\",\"single\":1,\"special_tokens\":{}}}"),
             Catch::Contains("single"));
  CHECK_THAT(TokenizerError("{" + model + ",\"x\":1e400}"), Catch::Contains("tokenizer.json") && Catch::Contains("malformed JSON"));
  CHECK_THAT(TokenizerError("{" + model + ",\"added_tokens\":[{\"id\":0,\"content\":\"a\",\"special\":\"yes\"}]}"),
             Catch::Contains("special"));
  // the quantizer's own read of tokenizer.json: a non-boolean "special"
  const Checkpoint ckpt = LoadCheckpoint(GoldenDir() + "/e2b_like");
  WriteFile(dir / "tokenizer.json", "{" + model + ",\"added_tokens\":[{\"id\":1,\"content\":\"b\",\"special\":\"yes\"}]}");
  CHECK_THAT(ErrorOf([&] { WriteGemma4Gguf(ckpt.config, ckpt.path, SourcesOf(ckpt), dir.path, dir / "m.gguf", conv); }),
             Catch::Contains("tokenizer.json") && Catch::Contains("special"));
  // tokenizer_config.json: a chat_template list of non-objects
  CHECK_THAT(ErrorOf([&] { ChatFormatFromTokenizerConfig(json::parse("{\"chat_template\": [1, 2]}"), "tokenizer_config.json"); }),
             Catch::Contains("tokenizer_config.json") && Catch::Contains("chat_template"));
  CHECK(ChatFormatFromTokenizerConfig(json::parse("{\"chat_template\": [{\"name\": \"default\", \"template\": "
                                                  "\"<|channel>thought\\n<channel|>\"}]}"), "t")->empty_thought_channel);
  // a safetensors index whose weight_map values are not strings
  CopiedCheckpoint copy;
  WriteFile(copy.dir / "model.safetensors.index.json", "{\"weight_map\": {\"a\": 1}}");
  CHECK_THAT(ErrorOf([&] { LoadCheckpoint(copy.dir.path); }), Catch::Contains("index.json") && Catch::Contains("weight_map"));
}

TEST_CASE("defect 5: token ids are bounded by the vocabulary present, not by the largest id", "[reliability]") {
  // the 68-byte file that asked for 32 GiB
  const std::string tiny = "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":1073741823},\"merges\":[]}}";
  CHECK(tiny.size() <= 68);
  CHECK_THAT(TokenizerError(tiny), Catch::Contains("vocab[\"a\"]") && Catch::Contains("[0, 1026)"));
  CHECK_THAT(TokenizerError("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[]},"
                            "\"added_tokens\":[{\"id\":1073741823,\"content\":\"b\"}]}"),
             Catch::Contains("added_tokens[0].id"));
  // the same through a TokenizerSpec made in code
  TokenizerSpec spec;
  spec.source = "spec";
  spec.vocab = {"a"};
  spec.added_tokens.push_back({1 << 30, "b", true, false, false});
  CHECK_THAT(ErrorOf([&] { Tokenizer t(spec); }), Catch::Contains("outside the vocabulary"));
  // the quantizer's copy of the tokenizer into a GGUF
  TempDir dir;
  const Checkpoint ckpt = LoadCheckpoint(GoldenDir() + "/e2b_like");
  GgufConversion conv;
  WriteFile(dir / "tokenizer.json", "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[]},"
                                    "\"added_tokens\":[{\"id\":1099511627776,\"content\":\"b\"}]}");
  CHECK_THAT(ErrorOf([&] { WriteGemma4Gguf(ckpt.config, ckpt.path, SourcesOf(ckpt), dir.path, dir / "m.gguf", conv); }),
             Catch::Contains("tokenizer.json") && Catch::Contains("1099511627776"));
  CHECK(!IsFile(dir / "m.gguf"));
}

TEST_CASE("defect 6: data that would be loaded misaligned is refused", "[reliability]") {
  // a GGUF whose general.alignment is 1
  std::string g;
  auto u32 = [&](uint32_t v) { g.append(reinterpret_cast<const char*>(&v), 4); };
  auto u64 = [&](uint64_t v) { g.append(reinterpret_cast<const char*>(&v), 8); };
  u32(kGgufMagic), u32(3), u64(0), u64(1), u64(17), g += "general.alignment", u32(uint32_t(GgufType::UINT32)), u32(1);
  CHECK_THAT(ErrorOf([&] { ParseGguf(reinterpret_cast<const uint8_t*>(g.data()), g.size(), "a.gguf"); }),
             Catch::Contains("general.alignment = 1 is not a power of two >= 8"));
  // a safetensors header of 9 bytes puts an F32 tensor at byte 17
  std::string header = "{\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}";
  header.append((8 - header.size() % 8) % 8 + 1, ' ');
  std::vector<uint64_t> aligned((8 + header.size() + 4) / 8 + 1);  // (the bytes themselves at an aligned address)
  const std::string bytes = Safetensors(header, "abcd");
  std::memcpy(aligned.data(), bytes.data(), bytes.size());
  CHECK_THAT(ErrorOf([&] { ParseSafetensors(reinterpret_cast<const uint8_t*>(aligned.data()), bytes.size(), "m.safetensors"); }),
             Catch::Contains("tensor t") && Catch::Contains("not a multiple of its 4-byte F32 elements"));
  // Our writer keeps every tensor aligned whatever the order of dtypes: a BF16 of 3 elements, then an F32.
  TempDir dir;
  const uint16_t b[3] = {1, 2, 3};
  const float f[1] = {1.5f};
  Tensor tb{"b", DType::BF16, {3}, b, 6, ""}, tf{"f", DType::F32, {1}, f, 4, ""};
  WriteSafetensors(dir / "x.safetensors", {tb, tf}, {});
  const SafetensorsFile st = ReadSafetensors(dir / "x.safetensors");
  CHECK(*static_cast<const float*>(st.tensors.at("f").data) == 1.5f);
}

TEST_CASE("defect 7: a weights file truncated after it was mapped is an Error, not SIGBUS", "[reliability][real-file]") {
  CopiedCheckpoint copy;
  auto lm = Gemma4ForCausalLM::from_pretrained(copy.dir.path);
  Session session(*lm, 8);
  const std::vector<int32_t> ids = Ids(5);
  session.prefill(ids.data(), ids.size());
  REQUIRE(truncate((copy.dir / "model.safetensors").c_str(), 4096) == 0);
  session.reset();
  CHECK_THAT(ErrorOf([&] { session.prefill(ids.data(), ids.size()); }),
             Catch::Contains("model.safetensors") && Catch::Contains("truncated while in use"));
}

TEST_CASE("defect 8: a post-processor id of 2^32 is refused, not truncated to token 0", "[reliability]") {
  CHECK_THAT(TokenizerError("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[]},\"post_processor\":{\"type\":"
                            "\"TemplateProcessing\",\"single\":[{\"SpecialToken\":{\"id\":\"a\"}},{\"Sequence\":{\"id\":\"A\"}}],"
                            "\"special_tokens\":{\"a\":{\"ids\":[4294967296]}}}}"),
             Catch::Contains("special_tokens.a.ids") && Catch::Contains("4294967296"));
}

TEST_CASE("defect 9: overlapping tensors are found whatever lies between them", "[reliability]") {
  // A[0,16) B[4,4) C[8,16): only A and C overlap, and they are not neighbours once sorted
  const std::string header = "{\"A\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
                             "\"B\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,4]},"
                             "\"C\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}";
  std::string padded = header;
  padded.append((8 - padded.size() % 8) % 8, ' ');
  std::vector<uint64_t> aligned(64);
  const std::string bytes = Safetensors(padded, std::string(16, '\0'));
  std::memcpy(aligned.data(), bytes.data(), bytes.size());
  CHECK_THAT(ErrorOf([&] { ParseSafetensors(reinterpret_cast<const uint8_t*>(aligned.data()), bytes.size(), "m"); }),
             Catch::Contains("overlap"));
  // an empty tensor inside another is refused too; empty tensors between others are fine
  const std::string ok = "{\"A\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                         "\"B\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,8]},"
                         "\"C\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}";
  padded = ok;
  padded.append((8 - padded.size() % 8) % 8, ' ');
  const std::string good = Safetensors(padded, std::string(16, '\0'));
  std::memcpy(aligned.data(), good.data(), good.size());
  CHECK(ErrorOf([&] { ParseSafetensors(reinterpret_cast<const uint8_t*>(aligned.data()), good.size(), "m"); }) == "no error");
}

TEST_CASE("two Sessions on one model in two threads give the tokens one Session gives alone", "[reliability][threads]") {
  auto lm = Gemma4ForCausalLM::from_pretrained(GoldenDir() + "/e2b_like");
  const std::vector<int32_t> a = Ids(30), b = Ids(17);
  auto run = [&](const std::vector<int32_t>& prompt) {
    Session s(*lm, 8);
    return GreedyGenerate(s, prompt, 12);
  };
  const std::vector<int32_t> alone_a = run(a), alone_b = run(b);
  std::vector<int32_t> thread_a, thread_b;
  std::thread t1([&] { thread_a = run(a); });
  std::thread t2([&] { thread_b = run(b); });
  t1.join();
  t2.join();
  CHECK(thread_a == alone_a);
  CHECK(thread_b == alone_b);
}

TEST_CASE("prompts at and past the context size", "[reliability]") {
  auto lm = Gemma4ForCausalLM::from_pretrained(GoldenDir() + "/e2b_like");
  Session s(*lm, 8, /*max_context=*/24);
  const std::vector<int32_t> ids = Ids(24);
  s.prefill(ids.data(), 24);  // exactly the context: accepted
  CHECK(s.position() == 24);
  CHECK_THAT(ErrorOf([&] { s.decode(5); }), Catch::Contains("25 tokens do not fit the context of 24"));
  CHECK(s.position() == 24);  // nothing was half-fed
  s.reset();
  const std::vector<int32_t> long_ids = Ids(25);
  CHECK_THAT(ErrorOf([&] { s.prefill(long_ids.data(), 25); }), Catch::Contains("25 tokens do not fit the context of 24"));
  CHECK(s.position() == 0);
  // Generation stops at a full context instead of running past it.
  Sampler greedy{SamplingParams{}};
  std::vector<int32_t> history;
  const GenerateResult r = Generate(s, greedy, history, Ids(20), GenerateOptions{}, [](int32_t) { return true; });
  CHECK(r.generated == 5);  // 20 fed + 4 decoded = 24 positions, and the 5th token sampled from the last
  CHECK(s.position() == 24);
}
