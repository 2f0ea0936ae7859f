// GGUF in and out: the reader and writer round-trip every metadata type; every corrupt-file class is an
// Error naming the key or tensor (never a crash); every golden case converted to GGUF F32 passes the
// golden check with logits bit-identical to the safetensors run; the drafter's names map; Q8_0 / Q4_0
// conversions are scored against the goldens; K-quants are read in place like Q8_0/Q4_0.
#include "gemma4/gemma4.h"  // first: ops/ops.h drives Highway's per-target compilation

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "tests/test_util.h"
#include "tools/golden.h"
#include "tools/random_model.h"

using namespace gemma4;
using gemma4::test::GoldenDir;
using gemma4::test::TempDir;

namespace {

// A GGUF built byte by byte, so tests can corrupt any field.
struct Bytes {
  std::string b;
  Bytes& u32(uint32_t v) { b.append(reinterpret_cast<const char*>(&v), 4); return *this; }
  Bytes& u64(uint64_t v) { b.append(reinterpret_cast<const char*>(&v), 8); return *this; }
  Bytes& str(const std::string& s) { u64(s.size()); b += s; return *this; }
  Bytes& kv_u32(const std::string& k, uint32_t v) { str(k); u32(uint32_t(GgufType::UINT32)); return u32(v); }
  Bytes& pad(size_t a) { b.append((a - b.size() % a) % a, '\0'); return *this; }
};

// header + one u32 key + one F32 tensor "t" of ne {4, 2} at offset 0 (overridable), data after padding.
std::string SmallGguf(uint32_t type = ggml_type::F32, uint64_t offset = 0, uint64_t ne0 = 4, size_t data_bytes = 32) {
  Bytes g;
  g.u32(kGgufMagic).u32(3).u64(1).u64(1).kv_u32("general.alignment", 32);
  g.str("t").u32(2).u64(ne0).u64(2).u32(type).u64(offset);
  g.pad(32);
  g.b.append(data_bytes, '\x01');
  return g.b;
}

GgufFile Parse(const std::string& bytes, const std::string& name = "x.gguf") {
  return ParseGguf(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), name);
}

// The message of the Error `f` throws ("" when it does not throw).
template <class F>
std::string ErrorOf(F f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

std::vector<float> Logits(const Gemma4ForCausalLM& lm, const std::vector<int32_t>& ids) {
  Session session(lm, ids.size());
  session.prefill(ids.data(), ids.size(), nullptr, /*all_rows=*/true);
  return std::vector<float>(session.logits.begin(), session.logits.begin() + long(ids.size() * session.vocab_size()));
}

std::vector<float> AsF32(const Tensor& t) {
  std::vector<float> v(size_t(t.numel()));
  const int64_t cols = t.shape.empty() ? 1 : t.shape.back();
  RowsToF32(t.bytes(), t.dtype, v.size() / size_t(cols), size_t(cols), v.data());
  return v;
}

// Converts a golden case directory to a GGUF of `type` in `dir`; returns the path.
std::string Convert(const std::string& golden_case, const std::string& dir, uint32_t type, GgufConversion* report = nullptr) {
  const Checkpoint ckpt = LoadCheckpoint(GoldenDir() + "/" + golden_case);
  GgufConversion conv;
  conv.type = type;
  const std::string out = dir + "/" + golden_case + "." + GgmlTypeName(type) + ".gguf";
  WriteGemma4Gguf(ckpt.config, ckpt.path, SourcesOf(ckpt), ckpt.path, out, conv);
  if (report) *report = conv;
  return out;
}

}  // namespace

TEST_CASE("gguf: every metadata type, arrays, alignment and tensors round-trip", "[gguf]") {
  TempDir dir;
  GgufWriter w;
  w.alignment = 64;
  w.set("u32", GgufValue::U32(7));
  w.set("i32", GgufValue::I32(-5));
  w.set("f32", GgufValue::F32(1.5f));
  w.set("bool", GgufValue::Bool(true));
  w.set("str", GgufValue::String("héllo"));
  w.set("ints", GgufValue::Array(GgufType::INT32, {1, -2, 3}));
  w.set("bools", GgufValue::Array(GgufType::BOOL, {1, 0, 1}));
  w.set("floats", GgufValue::FloatArray({0.25, -1.0}));
  w.set("strings", GgufValue::StringArray({"a", "", "c c"}));
  GgufValue u8;
  u8.type = GgufType::UINT8;
  u8.u = 200;
  w.set("u8", u8);
  GgufValue i64;
  i64.type = GgufType::INT64;
  i64.i = -(int64_t{1} << 40);
  w.set("i64", i64);
  GgufValue f64;
  f64.type = GgufType::FLOAT64;
  f64.f = 1e-300;
  w.set("f64", f64);
  const std::vector<float> a = {1, 2, 3, 4, 5, 6};
  std::vector<uint8_t> q(34, 0);  // one Q8_0 block: d = 1.0 (f16 0x3C00), qs = 0..31
  q[0] = 0x00, q[1] = 0x3C;
  for (int i = 0; i < 32; ++i) q[2 + size_t(i)] = uint8_t(i);
  w.tensors.push_back({"a", {3, 2}, ggml_type::F32, [&](const GgufSink& s) { s(a.data(), 12); s(a.data() + 3, 12); }});
  w.tensors.push_back({"q", {32}, ggml_type::Q8_0, [&](const GgufSink& s) { s(q.data(), q.size()); }});
  const std::string path = dir.path + "/m.gguf";
  w.write(path);

  const GgufFile g = ReadGguf(path);
  CHECK(g.version == 3);
  CHECK(g.alignment == 64);
  CHECK(g.get_uint("u32") == 7);
  CHECK(g.require("i32").i == -5);
  CHECK(g.get_float("f32") == 1.5);
  CHECK(g.get_bool("bool", false));
  CHECK(g.get_string("str") == "héllo");
  CHECK(g.require("ints").ints == std::vector<int64_t>{1, -2, 3});
  CHECK(g.require("bools").ints == std::vector<int64_t>{1, 0, 1});
  CHECK(g.require("floats").floats == std::vector<double>{0.25, -1.0});
  CHECK(g.require("strings").strings == std::vector<std::string>{"a", "", "c c"});
  CHECK(g.get_uint("u8") == 200);
  CHECK(g.require("i64").i == -(int64_t{1} << 40));
  CHECK(g.get_float("f64") == 1e-300);
  REQUIRE(g.tensors.size() == 2);
  const GgufTensorInfo& ta = *g.find_tensor("a");
  CHECK(ta.shape() == std::vector<int64_t>{2, 3});
  CHECK(std::memcmp(ta.data, a.data(), 24) == 0);
  const GgufTensorInfo& tq = *g.find_tensor("q");
  CHECK(tq.offset % 64 == 0);
  CHECK(uint64_t(tq.data - g.file->data()) % 64 == 0);
  std::vector<float> deq(32);
  RowsToF32(tq.data, DType::Q8_0, 1, 32, deq.data());
  for (int i = 0; i < 32; ++i) CHECK(deq[size_t(i)] == float(i));
}

TEST_CASE("gguf: an interrupted write leaves no file, and an existing one untouched", "[gguf]") {
  TempDir dir;
  const std::string path = dir.path + "/m.gguf";
  test::WriteFile(path, "old");
  GgufWriter w;
  w.set("general.architecture", GgufValue::String("gemma4"));
  w.tensors.push_back({"a", {4}, ggml_type::F32, [](const GgufSink&) { throw Error("disk on fire"); }});
  const std::string e = ErrorOf([&] { w.write(path); });
  CHECK(e.find("tensor a") != std::string::npos);
  CHECK(e.find("disk on fire") != std::string::npos);
  CHECK(test::ReadFile(path) == "old");
  CHECK(!IsFile(path + ".tmp"));
  // A callback that produces the wrong number of bytes is caught too.
  w.tensors[0].produce = [](const GgufSink& s) { const float x = 0; s(&x, 4); };
  CHECK(ErrorOf([&] { w.write(path); }).find("produced 4 bytes, expected 16") != std::string::npos);
  CHECK(test::ReadFile(path) == "old");
  // A path that is not a regular file (a symlink such as /dev/stdout, a directory) is refused untouched.
  const std::string link = dir.path + "/link.gguf";
  REQUIRE(symlink(path.c_str(), link.c_str()) == 0);
  w.tensors[0].produce = [](const GgufSink& s) { const float x[4] = {}; s(x, 16); };
  CHECK(ErrorOf([&] { w.write(link); }).find("is not a regular file") != std::string::npos);
  CHECK(ErrorOf([&] { w.write(dir.path); }).find("is not a regular file") != std::string::npos);
  struct stat st;
  CHECK((lstat(link.c_str(), &st) == 0 && S_ISLNK(st.st_mode)));
}

TEST_CASE("gguf: corrupt files are errors naming the file and the key or tensor", "[gguf][bad-input]") {
  CHECK(Parse(SmallGguf()).tensors.size() == 1);  // the base file is valid

  SECTION("truncated anywhere: an Error, never a crash") {
    const std::string ok = SmallGguf();
    for (size_t n = 0; n < ok.size(); ++n) {
      INFO("truncated to " << n << " bytes");
      const std::string e = ErrorOf([&] { Parse(ok.substr(0, n)); });
      CHECK(e.find("x.gguf") == 0);
    }
    CHECK(ErrorOf([&] { Parse(ok.substr(0, 10)); }).find("truncated") != std::string::npos);
  }
  SECTION("wrong magic or version") {
    std::string b = SmallGguf();
    b[0] = 'X';
    CHECK(ErrorOf([&] { Parse(b); }).find("wrong magic") != std::string::npos);
    b = SmallGguf();
    b[4] = 1;
    CHECK(ErrorOf([&] { Parse(b); }).find("GGUF version 1 is not supported") != std::string::npos);
  }
  SECTION("tensor data past the end of the file") {
    const std::string e = ErrorOf([&] { Parse(SmallGguf(ggml_type::F32, 0, 4, 16)); });
    CHECK(e.find("tensor t") != std::string::npos);
    CHECK(e.find("past the end") != std::string::npos);
  }
  SECTION("unknown ggml type") {
    const std::string e = ErrorOf([&] { Parse(SmallGguf(99)); });
    CHECK(e.find("tensor t: unknown ggml type 99") != std::string::npos);
  }
  SECTION("misaligned offset") {
    const std::string e = ErrorOf([&] { Parse(SmallGguf(ggml_type::F32, 4, 4, 64)); });
    CHECK(e.find("tensor t: offset 4 is not a multiple of the alignment 32") != std::string::npos);
  }
  SECTION("rows that are not whole blocks") {
    CHECK(ErrorOf([&] { Parse(SmallGguf(ggml_type::Q8_0, 0, 4)); }).find("not a multiple of Q8_0's block") != std::string::npos);
  }
  SECTION("absurd counts and lengths allocate nothing") {
    Bytes g;
    g.u32(kGgufMagic).u32(3).u64(0).u64(uint64_t(1) << 60);
    CHECK(ErrorOf([&] { Parse(g.b); }).find("metadata count") != std::string::npos);
    Bytes t;
    t.u32(kGgufMagic).u32(3).u64(uint64_t(1) << 62).u64(0);
    CHECK(ErrorOf([&] { Parse(t.b); }).find("tensor count") != std::string::npos);
    Bytes s;
    s.u32(kGgufMagic).u32(3).u64(0).u64(1).u64(uint64_t(1) << 61);
    s.b.append(64, 'k');
    CHECK(ErrorOf([&] { Parse(s.b); }).find("string of 2305843009213693952 bytes") != std::string::npos);
    Bytes a;
    a.u32(kGgufMagic).u32(3).u64(0).u64(1).str("tokenizer.ggml.tokens").u32(uint32_t(GgufType::ARRAY))
        .u32(uint32_t(GgufType::STRING)).u64(uint64_t(1) << 59);
    CHECK(ErrorOf([&] { Parse(a.b); }).find("key tokenizer.ggml.tokens: array of") != std::string::npos);
    Bytes d;
    d.u32(kGgufMagic).u32(3).u64(1).u64(0).str("big").u32(2).u64(uint64_t(1) << 39).u64(uint64_t(1) << 39).u32(0).u64(0);
    d.b.append(32, '\0');
    CHECK(ErrorOf([&] { Parse(d.b); }).find("tensor big: dimension") != std::string::npos);
    Bytes n;
    n.u32(kGgufMagic).u32(3).u64(1).u64(0).str("t").u32(5);
    n.b.append(64, '\0');
    CHECK(ErrorOf([&] { Parse(n.b); }).find("tensor t: 5 dimensions") != std::string::npos);
  }
  SECTION("bad alignment, duplicate keys, unknown value types") {
    Bytes g;
    g.u32(kGgufMagic).u32(3).u64(0).u64(1).kv_u32("general.alignment", 24);
    CHECK(ErrorOf([&] { Parse(g.b); }).find("key general.alignment = 24 is not a power of two") != std::string::npos);
    Bytes k;
    k.u32(kGgufMagic).u32(3).u64(0).u64(2).kv_u32("a", 1).kv_u32("a", 2);
    CHECK(ErrorOf([&] { Parse(k.b); }).find("key a appears twice") != std::string::npos);
    Bytes u;
    u.u32(kGgufMagic).u32(3).u64(0).u64(1).str("a").u32(13).u32(0);
    CHECK(ErrorOf([&] { Parse(u.b); }).find("key a: unknown value type 13") != std::string::npos);
  }
}

TEST_CASE("gguf: a model file without a required key is an error naming the key", "[gguf][bad-input]") {
  TempDir dir;
  const std::string path = Convert("dense_31b_like", dir.path, ggml_type::F32);
  const GgufFile g = ReadGguf(path);
  for (const std::string key : {"gemma4.block_count", "gemma4.embedding_length", "gemma4.attention.sliding_window_pattern",
                                "gemma4.attention.key_length_swa", "general.architecture"}) {
    INFO(key);
    GgufFile copy = g;
    copy.metadata.erase(key);
    const std::string e = ErrorOf([&] { ConfigFromGguf(copy); });
    CHECK(e == Str(path, ": missing required key ", key));
  }
  // A present but impossible value: the config error names the GGUF and the HF field it became.
  GgufFile eps = g;
  eps.metadata["gemma4.attention.layer_norm_rms_epsilon"] = GgufValue::F32(0.0f);
  const std::string e = ErrorOf([&] { Gemma4ForCausalLM::from_checkpoint(CheckpointFromGguf(eps)); });
  CHECK(e.find(path + " (GGUF metadata)") == 0);
  CHECK(e.find("rms_norm_eps") != std::string::npos);
  GgufFile wrong = g;
  wrong.metadata["general.architecture"] = GgufValue::String("llama");
  CHECK(ErrorOf([&] { ConfigFromGguf(wrong); }).find("expected \"gemma4\"") != std::string::npos);
  // A file whose name is .gguf but whose bytes are not: LoadCheckpoint says what it expected.
  test::WriteFile(dir.path + "/not.gguf", "hello");
  CHECK(ErrorOf([&] { LoadCheckpoint(dir.path + "/not.gguf"); }).find("not a checkpoint") != std::string::npos);
}

TEST_CASE("gguf: every golden case from an F32 GGUF passes the golden check, bit-identical to safetensors", "[gguf][golden]") {
  TempDir dir;
  for (const std::string& name : test::GoldenTargetCases()) {
    INFO("golden case " << name);
    const std::string path = Convert(name, dir.path, ggml_type::F32);
    auto from_hf = Gemma4ForCausalLM::from_pretrained(GoldenDir() + "/" + name);
    auto from_gguf = Gemma4ForCausalLM::from_pretrained(path);
    // The same config, derived from the GGUF metadata.
    const Gemma4TextConfig &a = from_hf->config, &b = from_gguf->config;
    CHECK(b.layer_types == a.layer_types);
    CHECK(b.vocab_size == a.vocab_size);
    CHECK(b.use_double_wide_mlp == a.use_double_wide_mlp);
    CHECK(b.attention_k_eq_v == a.attention_k_eq_v);
    CHECK(b.num_kv_shared_layers == a.num_kv_shared_layers);
    CHECK(b.enable_moe_block == a.enable_moe_block);
    CHECK(b.rope_parameters.at("full_attention").partial_rotary_factor ==
          a.rope_parameters.at("full_attention").partial_rotary_factor);
    for (size_t i = 0; i < a.layers.size(); ++i) {
      CHECK(b.layers[i].head_dim == a.layers[i].head_dim);
      CHECK(b.layers[i].num_key_value_heads == a.layers[i].num_key_value_heads);
      CHECK(b.mlp_intermediate_size(int64_t(i)) == a.mlp_intermediate_size(int64_t(i)));
    }
    // Every weight the model binds holds the same f32 values (HF bf16 widens exactly).
    const std::string prefix = TextModelPrefix(from_hf->checkpoint);
    size_t compared = 0, multimodal = 0;
    for (const auto& [hf_name, t] : from_hf->checkpoint.tensors) {
      const bool text = hf_name.compare(0, prefix.size(), prefix) == 0;
      if (prefix == "model.language_model." && !text) {  // vision/audio (the 12B's 11): not in a text GGUF
        ++multimodal;
        continue;
      }
      const std::string plain = text ? "model." + hf_name.substr(prefix.size()) : hf_name;
      const Tensor* g = from_gguf->checkpoint.find(plain);
      REQUIRE(g);  // every HF text tensor is written
      CHECK(g->shape == t.shape);
      CHECK(g->dtype == DType::F32);
      CHECK(AsF32(*g) == AsF32(t));
      ++compared;
    }
    CHECK(compared + multimodal == from_hf->checkpoint.tensors.size());
    CHECK(multimodal == (name == "unified_12b_like" ? 11u : 0u));
    // Golden check, and logits bit-identical to the safetensors run.
    const golden::GoldenFile gf(GoldenDir() + "/" + name + "/golden.safetensors");
    CHECK(golden::CheckTarget(*from_gguf, gf).pass());
    const std::vector<int32_t> ids = gf.ints(gf.prompts[0], "input_ids");
    CHECK(Logits(*from_gguf, ids) == Logits(*from_hf, ids));
  }
}

TEST_CASE("gguf: the gemma4-assistant drafter maps onto HF names", "[gguf]") {
  TempDir dir;
  for (const std::string name : {"assistant", "assistant_31b"}) {
    INFO(name);
    const Checkpoint hf = LoadCheckpoint(GoldenDir() + "/" + name);
    const std::string path = Convert(name, dir.path, ggml_type::F32);
    const GgufFile g = ReadGguf(path);
    CHECK(g.get_string("general.architecture") == "gemma4-assistant");
    CHECK(g.get_uint("gemma4-assistant.embedding_length_out") == hf.config["backbone_hidden_size"].get<uint64_t>());
    CHECK(g.get_uint("gemma4-assistant.nextn_predict_layers") == g.get_uint("gemma4-assistant.block_count"));
    CHECK(g.find_tensor("nextn.pre_projection.weight"));
    CHECK(g.find_tensor("blk.0.attn_q.weight"));
    CHECK(!g.find_tensor("blk.0.attn_k.weight"));
    const Checkpoint back = LoadCheckpoint(path);
    CHECK(back.config["model_type"] == "gemma4_assistant");
    CHECK(back.config["backbone_hidden_size"] == hf.config["backbone_hidden_size"]);
    const Gemma4TextConfig ca = ParseGemma4TextConfig(hf.config, "hf"), cb = ParseGemma4TextConfig(back.config, "gguf");
    CHECK(cb.layer_types == ca.layer_types);
    CHECK(cb.num_kv_shared_layers == ca.num_kv_shared_layers);
    CHECK(cb.attention_k_eq_v == ca.attention_k_eq_v);
    for (size_t i = 0; i < ca.layers.size(); ++i) CHECK(cb.layers[i].num_key_value_heads == ca.layers[i].num_key_value_heads);
    CHECK(cb.hidden_size == ca.hidden_size);
    size_t compared = 0;
    for (const auto& [n, t] : hf.tensors) {
      if (n.compare(0, 17, "masked_embedding.") == 0) {  // not carried by GGUF (llama.cpp ignores it)
        CHECK(!back.find(n));
        continue;
      }
      const Tensor* b = back.find(n);
      REQUIRE(b);
      CHECK(b->shape == t.shape);
      CHECK(AsF32(*b) == AsF32(t));
      ++compared;
    }
    CHECK(compared == back.tensors.size());
  }
  // The dense-head drafter, target and drafter both read from GGUF, passes its drafting golden.
  auto target = Gemma4ForCausalLM::from_pretrained(Convert("dense_31b_like", dir.path, ggml_type::F32));
  auto drafter = Gemma4AssistantForCausalLM::from_pretrained(dir.path + "/assistant_31b.F32.gguf");
  const golden::Report report =
      golden::CheckDrafter(*target, *drafter, golden::GoldenFile(GoldenDir() + "/assistant_31b/golden.safetensors"),
                           golden::TargetHiddenTolerance(GoldenDir() + "/dense_31b_like"));
  for (const golden::Comparison& c : report.rows) {
    INFO(c.name << ": max_abs " << c.max_abs);
    CHECK(c.pass);
  }
  CHECK(report.pass());
}

TEST_CASE("gguf: Q8_0 and Q4_0 conversions against the golden logits", "[gguf][quant]") {
  // On these tiny random-weight models a weight perturbation grows about 3x per layer (cosine to the
  // reference falls from 0.99999 at the embeddings to 0.988 at the last layer for Q8_0), so the issue's
  // real-model targets (Q8_0 top-1 >= 99%, mean KL <= 1e-3) are out of reach: rounding dense_31b_like's
  // f32 weights to bf16 alone gives top-1 85% and KL 1.4e-2 on the long prompt. What must hold exactly:
  // our Q8_0/Q4_0 engine computes with exactly the dequantized weights (logits equal to an f32 model of
  // the dequantized values, to f32 round-off), quantized matrices stay in place, and Q8_0 beats Q4_0.
  TempDir dir;
  for (const std::string& name : test::GoldenTargetCases()) {
    INFO("golden case " << name);
    const golden::GoldenFile gf(GoldenDir() + "/" + name + "/golden.safetensors");
    double kl[2] = {0, 0}, top1[2] = {0, 0};
    int k = 0;
    for (uint32_t type : {ggml_type::Q8_0, ggml_type::Q4_0}) {
      GgufConversion conv;
      const std::string path = Convert(name, dir.path, type, &conv);
      auto lm = Gemma4ForCausalLM::from_pretrained(path);
      const DType want = type == ggml_type::Q8_0 ? DType::Q8_0 : DType::Q4_0;
      CHECK(lm->model.layers[0].self_attn.q_proj.weight.tensor.dtype == want);
      CHECK(lm->model.embed_tokens.weight.tensor.dtype == want);
      CHECK(conv.report.at("norms").second == "F32");
      // The engine on quantized weights = an f32 model of the dequantized weights.
      Checkpoint widened = LoadCheckpoint(path);
      std::vector<std::shared_ptr<std::vector<float>>> keep;
      for (auto& [n, t] : widened.tensors) {
        auto buf = std::make_shared<std::vector<float>>(AsF32(t));
        t.dtype = DType::F32;
        t.data = buf->data();
        t.nbytes = buf->size() * 4;
        widened.owners.push_back(buf);
      }
      auto reference = Gemma4ForCausalLM::from_checkpoint(std::move(widened));
      const std::vector<int32_t> ids = gf.ints(gf.prompts[0], "input_ids");
      const std::vector<float> ours = Logits(*lm, ids), ref = Logits(*reference, ids);
      float worst = 0;
      for (size_t i = 0; i < ours.size(); ++i) worst = std::max(worst, std::fabs(ours[i] - ref[i]));
      CHECK(worst == 0.0f);  // the quantized kernels widen each weight exactly, then sum like f32
      // Statistics against the golden, over every prompt.
      const golden::Report report = golden::CheckTarget(*lm, gf);
      int n = 0;
      for (const golden::Comparison& c : report.rows)
        if (c.name.size() > 7 && c.name.compare(c.name.size() - 7, 7, ".logits") == 0) {
          kl[k] += c.kl;
          top1[k] += c.top1;
          ++n;
        }
      REQUIRE(n == int(gf.prompts.size()));
      kl[k] /= n;
      top1[k] /= n;
      std::printf("gguf %-15s %s: prompt logits top-1 %.3f, mean KL %.3g (engine vs dequantized f32: max |dlogit| %.2g)\n",
                  name.c_str(), GgmlTypeName(type), top1[k], kl[k], double(worst));
      ++k;
    }
    CHECK(kl[0] < kl[1] / 3);     // Q8_0 is clearly closer than Q4_0
    CHECK(top1[0] >= top1[1]);
    CHECK(top1[0] >= 0.25);       // measured 0.32 (moe), 0.79 (e2b), 0.83 (dense)
  }
}

TEST_CASE("gguf: rows that are not whole blocks fall back to F16, and the choice is reported", "[gguf][quant]") {
  TempDir dir;
  GgufConversion conv;
  const std::string path = Convert("moe_26b_like", dir.path, ggml_type::Q8_0, &conv);
  // experts.down_proj rows hold moe_intermediate_size = 16 weights: less than one Q8_0 block.
  const GgufFile g = ReadGguf(path);
  CHECK(g.find_tensor("blk.0.ffn_down_exps.weight")->type == ggml_type::F16);
  CHECK(g.find_tensor("blk.0.ffn_gate_up_exps.weight")->type == ggml_type::Q8_0);
  CHECK(g.find_tensor("blk.0.ffn_gate_inp.weight")->type == ggml_type::F32);
  CHECK(g.find_tensor("blk.0.ffn_gate_inp.scale")->type == ggml_type::F32);
  CHECK(g.find_tensor("blk.0.layer_output_scale.weight")->type == ggml_type::F32);
  CHECK(conv.report.at("experts").second == "F16+Q8_0");
  CHECK(!conv.notes.empty());
  CHECK(conv.notes[0].find("not a multiple of 32; written as F16") != std::string::npos);
  CHECK(g.get_uint("general.file_type") == 7);
}

TEST_CASE("gguf: tokenizer metadata is written for llama.cpp and read back", "[gguf]") {
  TempDir dir;
  const GgufFile g = ReadGguf(Convert("e2b_like", dir.path, ggml_type::F32));
  const GgufTokenizerMetadata t = ReadGgufTokenizerMetadata(g);
  CHECK(t.model == "gemma4");
  CHECK(t.tokens.size() == 512);
  CHECK(t.scores.size() == 512);
  CHECK(t.token_type.size() == 512);
  CHECK(t.tokens[2] == "<bos>");
  CHECK(t.tokens[4] == "<0x00>");
  CHECK(t.token_type[4] == 6);
  CHECK(t.merges.size() == 1);
  CHECK(t.bos_token_id == 2);
  CHECK(t.eos_token_id == 1);
  CHECK(t.add_bos_token);
  // From a tokenizer.json: vocab, merges, added tokens and the chat template are copied.
  TempDir hf;
  const Checkpoint ckpt = LoadCheckpoint(GoldenDir() + "/dense_31b_like");
  nlohmann::json tj = {{"model", {{"type", "BPE"}, {"vocab", nlohmann::json::object()}, {"merges", {"a b", {"ab", "c"}}}}},
                       {"added_tokens", {{{"id", 1}, {"content", "<eos>"}, {"special", true}},
                                         {{"id", 5}, {"content", "<|\"|>"}, {"special", true}}}}};
  for (int i = 0; i < 300; ++i) tj["model"]["vocab"][Str("tok", i)] = i;
  test::WriteFile(hf.path + "/tokenizer.json", tj.dump());
  test::WriteFile(hf.path + "/tokenizer_config.json", R"({"chat_template": "{{ bos_token }}"})");
  GgufConversion conv;
  WriteGemma4Gguf(ckpt.config, ckpt.path, SourcesOf(ckpt), hf.path, dir.path + "/t.gguf", conv);
  const GgufTokenizerMetadata u = ReadGgufTokenizerMetadata(ReadGguf(dir.path + "/t.gguf"));
  CHECK(u.tokens.size() == 512);  // padded to the embedding rows
  CHECK(u.tokens[7] == "tok7");
  CHECK(u.tokens[1] == "<eos>");
  CHECK(u.token_type[1] == 3);
  CHECK(u.token_type[5] == 4);    // forced USER_DEFINED, as llama.cpp's converter does
  CHECK(u.token_type[400] == 5);
  CHECK(u.merges == std::vector<std::string>{"a b", "ab c"});
  CHECK(u.chat_template == "{{ bos_token }}");
}

TEST_CASE("gguf: K-quant and Q5_0 weights are read in place and compute the f32 model of their dequantization", "[gguf][quant]") {
  // A one-layer model with 256-wide rows (one K-quant block), written with every matrix as Q4_K, Q5_K,
  // Q6_K or Q5_0 blocks of random bits (valid f16 scales): the loader maps them as they are, and the model
  // equals, bit for bit, the f32 model of llama.cpp's dequantization of them. (llama-quantize writes Q5_0
  // where a Q4_K_M file's row is not a multiple of 256: the 26B-A4B's experts, 704 wide.)
  nlohmann::json config = {{"model_type", "gemma4_text"}, {"vocab_size", 8}, {"hidden_size", 256},
                           {"intermediate_size", 256}, {"num_hidden_layers", 1}, {"num_attention_heads", 1},
                           {"num_key_value_heads", 1}, {"head_dim", 256}, {"global_head_dim", 256},
                           {"hidden_size_per_layer_input", 256}, {"vocab_size_per_layer_input", 8},
                           {"layer_types", {"full_attention"}}};
  for (uint32_t type : {ggml_type::Q4_K, ggml_type::Q5_K, ggml_type::Q6_K, ggml_type::Q5_0}) {
    INFO(GgmlTypeName(type));
    TempDir dir;
    GgufConversion conv;
    conv.type = type;
    std::mt19937 rng(type);
    conv.quantize_row = [&](const float*, size_t n, uint32_t t, uint8_t* dst) {
      const GgmlTypeInfo* info = FindGgmlType(t);
      for (size_t b = 0; b < n / info->block_size; ++b) {
        uint8_t* block = dst + b * info->block_bytes;
        for (uint32_t i = 0; i < info->block_bytes; ++i) block[i] = uint8_t(rng());
        const uint16_t d = ops::F16FromF32(0.001f * float(1 + rng() % 7)), dmin = ops::F16FromF32(0.0005f);
        if (t == ggml_type::Q6_K) {
          std::memcpy(block + 208, &d, 2);
        } else if (t == ggml_type::Q5_0) {
          std::memcpy(block, &d, 2);
        } else {
          std::memcpy(block, &d, 2);
          std::memcpy(block + 2, &dmin, 2);
        }
      }
    };
    const std::string path = dir.path + "/k.gguf";
    WriteGemma4Gguf(config, "<k-quant test>", tools::RandomSources(config, 5), "", path, conv);
    const GgufFile g = ReadGguf(path);
    REQUIRE(g.find_tensor("blk.0.attn_q.weight")->type == type);
    auto lm = Gemma4ForCausalLM::from_pretrained(path);
    const Tensor& q = lm->model.layers[0].self_attn.q_proj.weight.tensor;
    DType dt;
    REQUIRE(DTypeFromGgml(type, &dt));
    CHECK(q.dtype == dt);  // in place, never widened
    REQUIRE(q.nbytes == g.find_tensor("blk.0.attn_q.weight")->nbytes);  // the file's bytes, as they are
    CHECK(std::memcmp(q.data, g.find_tensor("blk.0.attn_q.weight")->data, q.nbytes) == 0);
    Checkpoint widened = LoadCheckpoint(path);
    for (auto& [n, t] : widened.tensors) {
      auto buf = std::make_shared<std::vector<float>>(AsF32(t));
      t.dtype = DType::F32;
      t.data = buf->data();
      t.nbytes = buf->size() * 4;
      widened.owners.push_back(buf);
    }
    auto reference = Gemma4ForCausalLM::from_checkpoint(std::move(widened));
    const std::vector<float> ours = Logits(*lm, {2, 5, 7}), ref = Logits(*reference, {2, 5, 7});
    CHECK(std::memcmp(ours.data(), ref.data(), ours.size() * 4) == 0);
    const Tensor& ple = lm->model.embed_tokens_per_layer.weight.tensor;
    CHECK(ple.dtype == dt);  // in place, never widened whole
    CHECK(ple.nbytes == g.find_tensor("per_layer_token_embd.weight")->nbytes);
    CHECK(std::memcmp(ple.data, g.find_tensor("per_layer_token_embd.weight")->data, ple.nbytes) == 0);
    // ... but row-read: the model runs and its per-layer inputs use the dequantized rows.
    const std::vector<float> logits = Logits(*lm, {2, 5, 7});
    for (float x : logits) REQUIRE(std::isfinite(x));
  }
}
