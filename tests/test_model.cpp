// The decoder against the goldens, and the properties that must hold on any configuration: prefill,
// token-by-token decode and chunked prefill agree; sliding-window memory never grows with the context;
// checkpoint layouts (sharded, text-only prefix, f32/f16 weights, untied head) change nothing they should not.
#include "gemma4/gemma4.h"  // first: ops/ops.h drives Highway's per-target compilation

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <map>
#include <random>
#include <thread>
#include <string>
#include <vector>

#include "tests/test_util.h"
#include "tools/golden.h"
#include "tools/perplexity.h"
#include "tools/random_model.h"

using namespace gemma4;
using gemma4::test::GoldenDir;
using gemma4::test::LogitsInChunks;
using gemma4::test::TempDir;

namespace {

// Writes a checkpoint directory: config.json and the given tensors, in `shards` files (with an index when
// more than one). `convert` may change a tensor's dtype (F32/F16/BF16) on the way.
void WriteCheckpoint(const std::string& dir, const nlohmann::json& config, std::vector<Tensor> tensors, int shards,
                     DType convert_to = DType::F32, bool convert = false) {
  std::vector<std::vector<uint8_t>> storage;
  storage.reserve(tensors.size());
  for (Tensor& t : tensors) {
    if (!convert || !ops::IsWeightDType(t.dtype) || t.dtype == convert_to) continue;
    storage.emplace_back(size_t(t.numel()) * ops::DTypeSize(convert_to));
    for (int64_t i = 0; i < t.numel(); ++i) {
      const float f = ops::scalar::ElementToF32(t.data, t.dtype, size_t(i));
      uint8_t* out = storage.back().data() + size_t(i) * ops::DTypeSize(convert_to);
      if (convert_to == DType::F32) std::memcpy(out, &f, 4);
      else {
        const uint16_t h = convert_to == DType::BF16 ? ops::BF16FromF32(f) : ops::F16FromF32(f);
        std::memcpy(out, &h, 2);
      }
    }
    t.dtype = convert_to;
    t.data = storage.back().data();
    t.nbytes = storage.back().size();
  }
  test::WriteFile(dir + "/config.json", config.dump(2));
  if (shards == 1) {
    WriteSafetensors(dir + "/model.safetensors", tensors, {{"format", "pt"}});
    return;
  }
  nlohmann::json index = {{"metadata", nlohmann::json::object()}, {"weight_map", nlohmann::json::object()}};
  for (int s = 0; s < shards; ++s) {
    std::vector<Tensor> part;
    for (size_t i = size_t(s); i < tensors.size(); i += size_t(shards)) part.push_back(tensors[i]);
    char name[64];
    std::snprintf(name, sizeof name, "model-%05d-of-%05d.safetensors", s + 1, shards);
    WriteSafetensors(dir + "/" + name, part, {{"format", "pt"}});
    for (const Tensor& t : part) index["weight_map"][t.name] = name;
  }
  test::WriteFile(dir + "/model.safetensors.index.json", index.dump(2));
}

std::vector<Tensor> TensorsOf(const Checkpoint& ckpt, const std::string& from_prefix = "",
                              const std::string& to_prefix = "") {
  std::vector<Tensor> out;
  for (const auto& [name, t] : ckpt.tensors) {
    Tensor copy = t;
    if (!from_prefix.empty() && name.compare(0, from_prefix.size(), from_prefix) == 0)
      copy.name = to_prefix + name.substr(from_prefix.size());
    out.push_back(copy);
  }
  return out;
}

float MaxAbsDiff(const std::vector<float>& a, const std::vector<float>& b) {
  REQUIRE(a.size() == b.size());
  float m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::fabs(a[i] - b[i]));
  return m;
}

std::vector<int32_t> RandomIds(size_t n, int64_t vocab, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<int32_t> ids(n);
  ids[0] = 2;
  for (size_t i = 1; i < n; ++i) ids[i] = int32_t(rng() % uint32_t(vocab));
  return ids;
}

// A small random text config; fields the test varies are overridden by `extra`.
nlohmann::json SmallConfig(const nlohmann::json& extra) {
  nlohmann::json c = {{"model_type", "gemma4_text"}, {"vocab_size", 96}, {"hidden_size", 32},
                      {"intermediate_size", 48}, {"num_hidden_layers", 6}, {"num_attention_heads", 4},
                      {"num_key_value_heads", 2}, {"head_dim", 8}, {"global_head_dim", 16},
                      {"sliding_window", 5}, {"hidden_size_per_layer_input", 0}, {"final_logit_softcapping", 30.0},
                      {"layer_types", {"sliding_attention", "sliding_attention", "full_attention", "sliding_attention",
                                       "sliding_attention", "full_attention"}}};
  c.update(extra);
  return c;
}

}  // namespace

TEST_CASE("every golden case passes gemma4-eval's check within its own tolerances", "[golden]") {
  const auto cases = test::GoldenTargetCases();
  REQUIRE(cases.size() >= 3);
  for (const std::string& name : cases) {
    INFO("golden case " << name);
    auto lm = Gemma4ForCausalLM::from_pretrained(GoldenDir() + "/" + name);
    const golden::GoldenFile g(GoldenDir() + "/" + name + "/golden.safetensors");
    const golden::Report report = golden::CheckTarget(*lm, g);
    for (const golden::Comparison& c : report.rows) {
      INFO(c.name << ": max_abs " << c.max_abs << " nmse " << c.nmse << " at " << c.first_bad);
      CHECK(c.pass);
    }
    REQUIRE(report.pass());
    // the check covered logits, every layer and the greedy continuation of both prompts
    size_t layers = 0, logits = 0, greedy = 0;
    for (const golden::Comparison& c : report.rows) {
      layers += c.name.find(".hidden_states[") != std::string::npos;
      logits += c.name.size() > 7 && c.name.compare(c.name.size() - 7, 7, ".logits") == 0;
      greedy += c.name.find(".greedy_tokens") != std::string::npos;
    }
    CHECK(layers == g.prompts.size() * size_t(lm->config.num_hidden_layers));
    CHECK(logits == g.prompts.size());
    CHECK(greedy == g.prompts.size());
  }
}

TEST_CASE("the golden check fails on a wrong model", "[golden]") {
  // dense_31b_like's golden against e2b_like's weights: same vocab, different everything else
  auto lm = Gemma4ForCausalLM::from_pretrained(GoldenDir() + "/moe_26b_like");
  const golden::GoldenFile g(GoldenDir() + "/dense_31b_like/golden.safetensors");
  const golden::Report report = golden::CheckTarget(*lm, g);
  CHECK_FALSE(report.pass());
}

TEST_CASE("prefill, token-by-token decode and chunked prefill give the same logits", "[model]") {
  for (const std::string& name : test::GoldenTargetCases()) {
    INFO("golden case " << name);
    auto lm = Gemma4ForCausalLM::from_pretrained(GoldenDir() + "/" + name);
    // five times the window and more, so sliding layers wrap their ring buffers many times
    const std::vector<int32_t> ids = RandomIds(size_t(6 * lm->config.sliding_window + 3), lm->config.vocab_size, 7);
    const std::vector<float> prefill = LogitsInChunks(*lm, ids, ids.size());
    for (size_t chunk : {1, 3, 7, 8, 16}) {
      INFO("chunk " << chunk);
      CHECK(MaxAbsDiff(LogitsInChunks(*lm, ids, chunk), prefill) <= 1e-5f);
    }
  }
}

TEST_CASE("decode agrees with prefill on random configurations of the architecture", "[model]") {
  const std::vector<nlohmann::json> variants = {
      nlohmann::json::object(),
      {{"num_kv_shared_layers", 3}, {"use_double_wide_mlp", true}, {"hidden_size_per_layer_input", 4},
       {"vocab_size_per_layer_input", 96}},
      {{"attention_k_eq_v", true}, {"num_global_key_value_heads", 1}, {"sliding_window", 2}},
      {{"enable_moe_block", true}, {"num_experts", 5}, {"top_k_experts", 2}, {"moe_intermediate_size", 12},
       {"tie_word_embeddings", false}},
      {{"num_hidden_layers", 3}, {"layer_types", {"full_attention", "sliding_attention", "full_attention"}},
       {"sliding_window", 1}},
  };
  for (size_t i = 0; i < variants.size(); ++i) {
    INFO("variant " << i << ": " << variants[i].dump());
    const nlohmann::json config = SmallConfig(variants[i]);
    auto lm = Gemma4ForCausalLM::from_checkpoint(tools::RandomCheckpoint(config, DType::BF16, 11 + i));
    const std::vector<int32_t> ids = RandomIds(23, lm->config.vocab_size, uint32_t(i));
    const std::vector<float> prefill = LogitsInChunks(*lm, ids, ids.size());
    CHECK(MaxAbsDiff(LogitsInChunks(*lm, ids, 1), prefill) <= 1e-5f);
    CHECK(MaxAbsDiff(LogitsInChunks(*lm, ids, 4), prefill) <= 1e-5f);
  }
}

TEST_CASE("Q8_0 and Q4_0 models compute exactly the f32 model of their dequantized weights", "[model][quant]") {
  // Dimensions are multiples of the 32-weight block; every matrix and table (embeddings, PLE, experts) is
  // quantized by llama.cpp's reference quantizer.
  const nlohmann::json base = {{"hidden_size", 64}, {"intermediate_size", 96}, {"head_dim", 16}, {"global_head_dim", 32}};
  const std::vector<nlohmann::json> variants = {
      {{"num_kv_shared_layers", 2}, {"use_double_wide_mlp", true}, {"hidden_size_per_layer_input", 32},
       {"vocab_size_per_layer_input", 96}},
      {{"enable_moe_block", true}, {"num_experts", 4}, {"top_k_experts", 2}, {"moe_intermediate_size", 32},
       {"tie_word_embeddings", false}},
  };
  for (DType t : {DType::Q8_0, DType::Q4_0}) {
    for (size_t i = 0; i < variants.size(); ++i) {
      INFO(DTypeName(t) << " variant " << i << ": " << variants[i].dump());
      nlohmann::json config = SmallConfig(base);
      config.update(variants[i]);
      Checkpoint quantized = tools::RandomCheckpoint(config, t, 31 + i);
      Checkpoint widened = quantized;  // the same tensors, block types dequantized to f32
      size_t blocks = 0;
      for (auto& [name, tensor] : widened.tensors) {
        if (!ops::IsBlockType(tensor.dtype)) continue;
        ++blocks;
        auto f32 = std::make_shared<std::vector<float>>(size_t(tensor.numel()));
        ops::scalar::DequantizeRow(tensor.data, tensor.dtype, f32->size(), f32->data());
        tensor.dtype = DType::F32;
        tensor.data = f32->data();
        tensor.nbytes = f32->size() * 4;
        widened.owners.push_back(f32);
      }
      REQUIRE(blocks >= 10);
      auto lm_q = Gemma4ForCausalLM::from_checkpoint(quantized);
      auto lm_f = Gemma4ForCausalLM::from_checkpoint(widened);
      const std::vector<int32_t> ids = RandomIds(19, lm_q->config.vocab_size, uint32_t(i));
      const std::vector<float> prefill = LogitsInChunks(*lm_q, ids, ids.size());
      const std::vector<float> reference = LogitsInChunks(*lm_f, ids, ids.size());
      REQUIRE(std::memcmp(prefill.data(), reference.data(), prefill.size() * sizeof(float)) == 0);
      CHECK(MaxAbsDiff(LogitsInChunks(*lm_q, ids, 1), prefill) <= 1e-5f);
      CHECK(MaxAbsDiff(LogitsInChunks(*lm_q, ids, 4), prefill) <= 1e-5f);
    }
  }
}

TEST_CASE("sliding-window layers hold at most W - 1 + max_tokens positions, whatever the context", "[model]") {
  auto lm = Gemma4ForCausalLM::from_pretrained(GoldenDir() + "/e2b_like");
  const Gemma4TextConfig& c = lm->config;
  Session session(*lm, 1);
  size_t full_bytes_before = 0;
  for (int step = 0; step < 200; ++step) {
    session.decode(int32_t(step % c.vocab_size));
    if (step == 99) full_bytes_before = session.cache.bytes();
  }
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    const LayerKV& kv = session.cache.layers[size_t(i)];
    if (c.is_kv_shared_layer(i)) {
      CHECK(kv.bytes() == 0);  // KV-shared layers have no store of their own
      CHECK(session.cache.source[size_t(i)] == c.kv_shared_from(i));
    } else if (c.is_sliding(i)) {
      CHECK(kv.capacity == size_t(c.sliding_window));  // W − 1 + 1 token per step
      CHECK(kv.bytes() == size_t(c.sliding_window) * kv.row * 2 * sizeof(float));
    } else {
      CHECK(kv.capacity >= 200);  // full layers grow with the context
    }
  }
  CHECK(session.cache.bytes() > full_bytes_before);  // only because full layers grew
}

TEST_CASE("Gemma4Cache::bytes_needed is what the stores hold after one step writes every position", "[model]") {
  auto lm = Gemma4ForCausalLM::from_pretrained(GoldenDir() + "/e2b_like");
  const Gemma4TextConfig& c = lm->config;
  for (size_t n : {size_t(1), size_t(c.sliding_window) - 1, size_t(c.sliding_window) + 5, size_t(3 * c.sliding_window)}) {
    Session session(*lm, n);
    std::vector<int32_t> ids(n);
    for (size_t i = 0; i < n; ++i) ids[i] = int32_t((7 * i + 3) % size_t(c.vocab_size));
    session.prefill(ids.data(), n);  // one step of n tokens: every store is allocated to exactly what it needs
    INFO("n = " << n);
    CHECK(session.cache.bytes() == session.cache.bytes_needed(n));
    CHECK(session.cache.bytes_needed(n) > 0);
  }
  // one token per step: sliding rings stop at W, full stores keep every position (they grow with slack)
  Session session(*lm, 1);
  const size_t steps = size_t(2 * c.sliding_window + 3);
  for (size_t i = 0; i < steps; ++i) session.decode(int32_t(i % size_t(c.vocab_size)));
  size_t want = 0;
  for (int64_t i = 0; i < c.first_kv_shared_layer_idx(); ++i) {
    const LayerGeometry& g = c.layers[size_t(i)];
    want += 2 * sizeof(float) * size_t(g.num_key_value_heads * g.head_dim) * (c.is_sliding(i) ? size_t(c.sliding_window) : steps);
  }
  CHECK(session.cache.bytes_needed(steps) == want);
  CHECK(session.cache.bytes() >= want);
}

TEST_CASE("KV-shared layers read the last earlier layer of their own type", "[model]") {
  auto lm = Gemma4ForCausalLM::from_pretrained(GoldenDir() + "/e2b_like");
  const Gemma4TextConfig& c = lm->config;  // 10 layers, S S S S F S S S S F, last 5 shared
  CHECK(c.first_kv_shared_layer_idx() == 5);
  CHECK(c.kv_shared_from(5) == 3);
  CHECK(c.kv_shared_from(9) == 4);
  CHECK(c.store_full_length_kv(3));
  CHECK(c.store_full_length_kv(4));
  CHECK_FALSE(c.store_full_length_kv(2));
  CHECK(lm->model.layers[9].mlp.intermediate_size == 2 * c.intermediate_size);  // double-wide on shared layers
  CHECK(lm->model.layers[4].mlp.intermediate_size == c.intermediate_size);
}

TEST_CASE("sharded, text-only-prefix and re-typed checkpoints give the same logits", "[model]") {
  const std::string src = GoldenDir() + "/e2b_like";
  const Checkpoint original = LoadCheckpoint(src);
  auto reference = Gemma4ForCausalLM::from_pretrained(src);
  const std::vector<int32_t> ids = RandomIds(20, reference->config.vocab_size, 3);
  const std::vector<float> expected = LogitsInChunks(*reference, ids, ids.size());

  SECTION("three shards with an index") {
    TempDir dir;
    WriteCheckpoint(dir.path, original.config, TensorsOf(original), 3);
    auto lm = Gemma4ForCausalLM::from_pretrained(dir.path);
    CHECK(LogitsInChunks(*lm, ids, ids.size()) == expected);
  }
  SECTION("text-only layout: model. prefix, gemma4_text config") {
    TempDir dir;
    WriteCheckpoint(dir.path, original.config["text_config"],
                    TensorsOf(original, "model.language_model.", "model."), 1);
    auto lm = Gemma4ForCausalLM::from_pretrained(dir.path);
    CHECK(LogitsInChunks(*lm, ids, ids.size()) == expected);
  }
  SECTION("f32 weights holding the same values are bit-identical") {
    TempDir dir;
    WriteCheckpoint(dir.path, original.config, TensorsOf(original), 1, DType::F32, true);
    auto lm = Gemma4ForCausalLM::from_pretrained(dir.path);
    CHECK(lm->model.layers[0].self_attn.q_proj.weight.tensor.dtype == DType::F32);
    CHECK(MaxAbsDiff(LogitsInChunks(*lm, ids, ids.size()), expected) == 0.0f);
  }
  SECTION("f16 weights (rounded) still agree closely") {
    TempDir dir;
    WriteCheckpoint(dir.path, original.config, TensorsOf(original), 1, DType::F16, true);
    auto lm = Gemma4ForCausalLM::from_pretrained(dir.path);
    CHECK(lm->model.layers[0].self_attn.q_proj.weight.tensor.dtype == DType::F16);
    CHECK(MaxAbsDiff(LogitsInChunks(*lm, ids, ids.size()), expected) < 0.05f);
  }
  SECTION("the golden passes from every re-written layout") {
    TempDir dir;
    WriteCheckpoint(dir.path, original.config["text_config"], TensorsOf(original, "model.language_model.", "model."),
                    2, DType::F32, true);
    auto lm = Gemma4ForCausalLM::from_pretrained(dir.path);
    CHECK(golden::CheckTarget(*lm, golden::GoldenFile(src + "/golden.safetensors")).pass());
  }
}

TEST_CASE("an untied lm_head is read from lm_head.weight", "[model]") {
  const std::string src = GoldenDir() + "/dense_31b_like";
  const Checkpoint original = LoadCheckpoint(src);
  nlohmann::json config = original.config;
  config["tie_word_embeddings"] = false;
  std::vector<Tensor> tensors = TensorsOf(original);
  Tensor head = *original.find("model.embed_tokens.weight");
  head.name = "lm_head.weight";
  std::vector<float> negated(size_t(head.numel()));
  for (size_t i = 0; i < negated.size(); ++i) negated[i] = -ops::scalar::ElementToF32(head.data, head.dtype, i);
  head.dtype = DType::F32;
  head.data = negated.data();
  head.nbytes = negated.size() * 4;
  tensors.push_back(head);
  TempDir dir;
  WriteCheckpoint(dir.path, config, tensors, 1);
  auto tied = Gemma4ForCausalLM::from_pretrained(src);
  auto untied = Gemma4ForCausalLM::from_pretrained(dir.path);
  const std::vector<int32_t> ids = {2, 5, 9};
  const std::vector<float> a = LogitsInChunks(*tied, ids, 3), b = LogitsInChunks(*untied, ids, 3);
  for (size_t i = 0; i < a.size(); ++i) REQUIRE(b[i] == Approx(-a[i]).margin(1e-5));  // softcap is odd
  // without lm_head.weight the untied model is refused, naming the tensor
  tensors.pop_back();
  TempDir dir2;
  WriteCheckpoint(dir2.path, config, tensors, 1);
  CHECK_THROWS_WITH(Gemma4ForCausalLM::from_pretrained(dir2.path), Catch::Contains("missing tensor lm_head.weight"));
}

TEST_CASE("config: HF defaults, derived geometry and both per-layer forms", "[config]") {
  const nlohmann::json minimal = {{"model_type", "gemma4_text"}, {"num_hidden_layers", 12}};
  const Gemma4TextConfig c = ParseGemma4TextConfig(minimal, "test");
  CHECK(c.hidden_size_per_layer_input == 256);  // HF default, easy to miss
  CHECK(c.global_head_dim == 512);
  CHECK(c.layer_types[5] == "full_attention");
  CHECK(c.layer_types[4] == "sliding_attention");
  CHECK(c.layers[5].head_dim == 512);
  CHECK(c.layers[0].head_dim == 256);
  CHECK(c.rope_parameters.at("full_attention").rope_type == "proportional");
  CHECK(c.rope_parameters.at("full_attention").partial_rotary_factor == 0.25);

  // the last layer is forced to full attention, as HF does, with a warning
  const Gemma4TextConfig forced = ParseGemma4TextConfig(
      {{"model_type", "gemma4_text"}, {"num_hidden_layers", 2}, {"layer_types", {"full_attention", "sliding_attention"}}},
      "test");
  CHECK(forced.layer_types[1] == "full_attention");
  CHECK(forced.warnings.size() == 1);

  // k_eq_v: full layers use num_global_key_value_heads; without k_eq_v that field is ignored (as HF)
  nlohmann::json j = SmallConfig({{"attention_k_eq_v", true}, {"num_global_key_value_heads", 1}});
  CHECK(ParseGemma4TextConfig(j, "t").layers[2].num_key_value_heads == 1);
  CHECK(ParseGemma4TextConfig(j, "t").use_alternative_attention(2));
  CHECK_FALSE(ParseGemma4TextConfig(j, "t").use_alternative_attention(1));
  j["attention_k_eq_v"] = false;
  CHECK(ParseGemma4TextConfig(j, "t").layers[2].num_key_value_heads == 2);

  // per_layer_config gives the same geometry as the flat fields
  nlohmann::json flat = SmallConfig({{"attention_k_eq_v", true}, {"num_global_key_value_heads", 1}});
  nlohmann::json per_layer = flat;
  per_layer.erase("global_head_dim");
  per_layer.erase("num_global_key_value_heads");
  per_layer["per_layer_config"] = {{"2", {{"head_dim", 16}, {"num_key_value_heads", 1}}},
                                   {"5", {{"head_dim", 16}, {"num_key_value_heads", 1}}}};
  const Gemma4TextConfig a = ParseGemma4TextConfig(flat, "flat"), b = ParseGemma4TextConfig(per_layer, "per_layer");
  for (size_t i = 0; i < 6; ++i) {
    CHECK(a.layers[i].head_dim == b.layers[i].head_dim);
    CHECK(a.layers[i].num_key_value_heads == b.layers[i].num_key_value_heads);
  }
  // and a model built from either form computes the same logits
  auto ma = Gemma4ForCausalLM::from_checkpoint(tools::RandomCheckpoint(flat, DType::BF16, 5));
  auto mb = Gemma4ForCausalLM::from_checkpoint(tools::RandomCheckpoint(per_layer, DType::BF16, 5));
  const std::vector<int32_t> ids = {2, 7, 1, 8};
  CHECK(LogitsInChunks(*ma, ids, 4) == LogitsInChunks(*mb, ids, 4));
}

TEST_CASE("config: wrong or unsupported values name the field", "[config]") {
  auto error = [](nlohmann::json extra) {
    try {
      ParseGemma4TextConfig(SmallConfig(extra), "cfg.json");
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK_THAT(error({{"hidden_size", "wide"}}), Catch::Contains("'hidden_size'") && Catch::Contains("integer"));
  CHECK_THAT(error({{"hidden_size", -3}}), Catch::Contains("'hidden_size'"));
  CHECK_THAT(error({{"layer_types", {"sliding_attention"}}}), Catch::Contains("'layer_types'"));
  CHECK_THAT(error({{"layer_types", {"sliding_attention", "local", "full_attention", "sliding_attention",
                                     "sliding_attention", "full_attention"}}}),
             Catch::Contains("layer_types'[1]") && Catch::Contains("local"));
  CHECK_THAT(error({{"rope_parameters", {{"full_attention", {{"rope_type", "yarn"}, {"rope_theta", 1.0}}}}}}),
             Catch::Contains("rope_parameters.full_attention") && Catch::Contains("yarn"));
  CHECK_THAT(error({{"hidden_activation", "relu"}}), Catch::Contains("'hidden_activation'"));
  CHECK_THAT(error({{"num_key_value_heads", 3}}), Catch::Contains("not a multiple"));
  CHECK_THAT(error({{"num_kv_shared_layers", 9}}), Catch::Contains("'num_kv_shared_layers'"));
  CHECK_THAT(error({{"enable_moe_block", true}}), Catch::Contains("num_experts"));
  CHECK_THAT(error({{"enable_moe_block", true}, {"num_experts", 2}, {"top_k_experts", 3}, {"moe_intermediate_size", 4}}),
             Catch::Contains("'top_k_experts'"));
  CHECK_THAT(error({{"use_bidirectional_attention", "all"}}), Catch::Contains("'use_bidirectional_attention'"));
  CHECK_THAT(error({{"per_layer_config", {{"9", {{"head_dim", 16}}}}}}), Catch::Contains("per_layer_config.9"));
  CHECK_THAT(error({{"per_layer_config", {{"2", {{"head_dim", 32}}}}}}), Catch::Contains("global_head_dim"));
  CHECK_THAT(error({{"model_type", "llama"}}), Catch::Contains("'model_type'") && Catch::Contains("llama"));
  CHECK_THAT(error({{"final_logit_softcapping", -1}}), Catch::Contains("'final_logit_softcapping'"));
  // a multimodal config needs its text_config
  CHECK_THROWS_WITH(ParseGemma4TextConfig({{"model_type", "gemma4"}}, "mm.json"), Catch::Contains("text_config"));
}

TEST_CASE("presets describe the released models", "[config]") {
  const Gemma4TextConfig e2b = ParseGemma4TextConfig(Gemma4PresetConfig("e2b"), "e2b");
  CHECK(e2b.num_hidden_layers == 35);
  CHECK(e2b.first_kv_shared_layer_idx() == 15);
  CHECK(e2b.kv_shared_from(15) == 13);  // ARCHITECTURE.md: E2B sliding from 13, full from 14
  CHECK(e2b.kv_shared_from(19) == 14);
  CHECK(e2b.mlp_intermediate_size(20) == 12288);
  const Gemma4TextConfig moe = ParseGemma4TextConfig(Gemma4PresetConfig("26b-a4b"), "26b");
  CHECK(moe.layers[5].num_key_value_heads == 2);
  CHECK(moe.layers[5].head_dim == 512);
  CHECK(moe.layers[0].num_key_value_heads == 8);
  const Gemma4TextConfig big = ParseGemma4TextConfig(Gemma4PresetConfig("31b"), "31b");
  CHECK(big.num_hidden_layers == 60);
  CHECK(big.layers[59].num_key_value_heads == 4);
  CHECK(ParseGemma4TextConfig(Gemma4PresetConfig("e4b"), "e4b").kv_shared_from(41) == 23);
  const Gemma4TextConfig unified = ParseGemma4TextConfig(Gemma4PresetConfig("12b"), "12b");
  CHECK(unified.num_hidden_layers == 48);
  CHECK(unified.layers[5].num_key_value_heads == 1);  // attention_k_eq_v, one global KV head
  CHECK(unified.layers[5].head_dim == 512);
  CHECK(unified.layers[0].num_key_value_heads == 8);
  CHECK(unified.mlp_intermediate_size(0) == 15360);
  CHECK(!unified.has_per_layer_inputs());
  CHECK_THROWS_WITH(Gemma4PresetConfig("7b"), Catch::Contains("7b"));
}

TEST_CASE("the 12B Unified's configs: gemma4_unified / gemma4_unified_text with their own defaults", "[config]") {
  // Gemma4UnifiedTextConfig: sliding_window 1024, max_position_embeddings 262144, no PLE, no MoE
  const nlohmann::json text = {{"model_type", "gemma4_unified_text"}, {"num_hidden_layers", 6}};
  const Gemma4TextConfig t = ParseGemma4TextConfig(text, "u.json");
  CHECK(t.sliding_window == 1024);
  CHECK(t.max_position_embeddings == 262144);
  CHECK(!t.has_per_layer_inputs());
  CHECK(!t.enable_moe_block);
  const Gemma4TextConfig mm = ParseGemma4TextConfig({{"model_type", "gemma4_unified"}, {"text_config", text}}, "u.json");
  CHECK(mm.sliding_window == 1024);
  // the Gemma 4 classes keep theirs
  CHECK(ParseGemma4TextConfig({{"model_type", "gemma4_text"}, {"num_hidden_layers", 6}}, "g.json").sliding_window == 512);
  // a unified text part is not a gemma4_text one, and has no PLE or MoE to switch on
  CHECK_THROWS_WITH(ParseGemma4TextConfig({{"model_type", "gemma4_unified"}, {"text_config", {{"model_type", "gemma4_text"}}}}, "u.json"),
                    Catch::Contains("gemma4_unified_text"));
  nlohmann::json ple = text;
  ple["hidden_size_per_layer_input"] = 256;
  CHECK_THROWS_WITH(ParseGemma4TextConfig(ple, "u.json"), Catch::Contains("hidden_size_per_layer_input"));
  nlohmann::json moe = text;
  moe["enable_moe_block"] = true;
  CHECK_THROWS_WITH(ParseGemma4TextConfig(moe, "u.json"), Catch::Contains("enable_moe_block"));
  // its drafter: a gemma4_unified_assistant with backbone_hidden_size 3840 by default
  const Gemma4AssistantConfig a = ParseGemma4AssistantConfig(
      {{"model_type", "gemma4_unified_assistant"},
       {"text_config", {{"model_type", "gemma4_unified_text"}, {"num_hidden_layers", 4}, {"hidden_size", 1024}}}},
      "a.json");
  CHECK(a.backbone_hidden_size == 3840);
  CHECK(a.text_config.num_kv_shared_layers == 4);
  CHECK(a.text_config.sliding_window == 1024);
}

TEST_CASE("the 12B Unified checkpoint: its 11 vision/audio tensors are skipped, said in one line", "[loading]") {
  auto lm = Gemma4ForCausalLM::from_pretrained(GoldenDir() + "/unified_12b_like");
  REQUIRE(lm->config.warnings.size() == 1);
  CHECK_THAT(lm->config.warnings[0], Catch::Contains("skipping 11 vision/audio tensors") &&
                                         Catch::Contains("model.vision_embedder.* (9)") &&
                                         Catch::Contains("model.embed_vision.* (1)") &&
                                         Catch::Contains("model.embed_audio.* (1)"));
  // a text-only checkpoint has nothing to skip
  CHECK(Gemma4ForCausalLM::from_pretrained(GoldenDir() + "/dense_31b_like")->config.warnings.empty());
}

TEST_CASE("generation_config.json suppress_tokens: the greedy continuation is HF generate()'s", "[golden][sampler]") {
  // golden/unified_12b_like suppresses the two ids its raw greedy continuation would pick first (as the real
  // 12B suppresses 258882/258883); HF's continuation with them suppressed is <prompt>.greedy_suppressed_tokens.
  const std::string dir = GoldenDir() + "/unified_12b_like";
  auto lm = Gemma4ForCausalLM::from_pretrained(dir);
  const GenerationConfig gc =
      ParseGenerationConfig(ReadJsonFile(dir + "/generation_config.json"), "generation_config.json", lm->config.vocab_size);
  REQUIRE(gc.suppress_tokens.size() == 2);
  const golden::GoldenFile g(dir + "/golden.safetensors");
  bool raw_picks_a_suppressed_id = false;
  for (const std::string& prompt : g.prompts) {
    INFO(prompt);
    const std::vector<int32_t> ids = g.ints(prompt, "input_ids"), hf = g.ints(prompt, "greedy_suppressed_tokens");
    SamplingParams sp;
    sp.suppress_tokens = gc.suppress_tokens;
    Sampler sampler(sp);
    Session session(*lm, ids.size() + hf.size());
    std::vector<int32_t> history, ours;
    GenerateOptions options;
    options.max_new_tokens = long(hf.size());
    Generate(session, sampler, history, ids, options, [&](int32_t id) { return ours.push_back(id), true; });
    CHECK(ours == hf);
    for (int32_t id : g.ints(prompt, "greedy_tokens"))
      for (int32_t s : gc.suppress_tokens) raw_picks_a_suppressed_id |= id == s;
  }
  CHECK(raw_picks_a_suppressed_id);  // so the suppression changed something
  CHECK_THROWS_WITH(ParseGenerationConfig({{"suppress_tokens", {512}}}, "g.json", 512), Catch::Contains("512"));
}

TEST_CASE("proportional RoPE rotates int(partial * D // 2) pairs with the full-D denominator", "[model]") {
  const Gemma4TextConfig c = ParseGemma4TextConfig(Gemma4PresetConfig("e2b"), "e2b");
  const Gemma4TextRotaryEmbedding rope(c);
  REQUIRE(rope.full.rotary_pairs() == 64);  // 0.25 · 512 / 2
  CHECK(rope.full.inv_freq[1] == Approx(std::pow(1e6, -2.0 / 512)));
  REQUIRE(rope.sliding.rotary_pairs() == 128);
  CHECK(rope.sliding.inv_freq[1] == Approx(std::pow(1e4, -2.0 / 256)));
}

TEST_CASE("perplexity: sliding windows score each token once, with the NLL of a fresh prefill of its context",
          "[model][ppl]") {
  auto lm = Gemma4ForCausalLM::from_pretrained(GoldenDir() + "/e2b_like");
  const size_t V = size_t(lm->config.vocab_size);
  std::mt19937 rng(5);
  std::vector<int32_t> ids(53);
  for (int32_t& id : ids) id = int32_t(rng() % V);
  for (const auto& [ctx, stride] : std::vector<std::pair<size_t, size_t>>{{16, 8}, {16, 16}, {20, 3}, {64, 0}}) {
    const tools::PerplexityResult r = tools::Perplexity(*lm, ids, {ctx, stride, 5, 0}, nullptr, nullptr);
    // Brute force: window w covers [w·stride, w·stride + ctx); it scores each token q ≥ 1 that no earlier
    // window scored and whose predecessor it holds, by the last logits of a fresh prefill of [start, q).
    const size_t step = stride ? stride : ctx / 2;
    double nll = 0;
    size_t scored = 0, done_until = 1;
    for (size_t begin = 0;; begin += step) {
      const size_t end = std::min(begin + ctx, ids.size());
      for (size_t q = std::max(done_until, begin + 1); q < end; ++q) {
        Session s(*lm, 64);
        const float* z = s.prefill(ids.data() + begin, q - begin);
        std::vector<double> lp(V);
        tools::LogSoftmax(z, V, lp.data());
        nll -= lp[size_t(ids[q])];
        ++scored;
      }
      done_until = end;
      if (end == ids.size()) break;
    }
    // With overlapping windows every token but the first is scored; without, each window's first is not.
    if (step < ctx) CHECK(scored == ids.size() - 1);
    INFO("ctx " << ctx << " stride " << stride);
    CHECK(r.scored == scored);
    CHECK(r.nll_sum == Approx(nll).epsilon(1e-12));
  }
}

TEST_CASE("perplexity, llama.cpp's method: chunks of ctx, <bos> first, the second half scored — against a hand count",
          "[model][ppl]") {
  auto lm = Gemma4ForCausalLM::from_pretrained(GoldenDir() + "/e2b_like");
  const size_t V = size_t(lm->config.vocab_size);
  std::mt19937 rng(9);
  std::vector<int32_t> ids(70);  // ctx 16: 4 chunks (64 tokens), the last 6 dropped; 16 − 1 − 8 = 7 scored each
  for (int32_t& id : ids) id = int32_t(rng() % V);
  tools::PerplexityOptions o{16, 0, 5, 0, tools::PerplexityMethod::kLlamaCpp};
  const tools::PerplexityResult r = tools::Perplexity(*lm, ids, o, nullptr, nullptr);
  // By hand, in the test's own words: chunk c is ids[16c .. 16c+16) with ids[16c] := <bos> (2); run it whole,
  // and score tokens at chunk positions 9..15, each by the row before it.
  double nll = 0, nll_sq = 0;
  size_t scored = 0;
  for (size_t c = 0; c < 4; ++c) {
    std::vector<int32_t> chunk(ids.begin() + long(16 * c), ids.begin() + long(16 * c + 16));
    chunk[0] = 2;
    Session s(*lm, 16);
    s.prefill(chunk.data(), 16, nullptr, /*all_rows=*/true);
    for (size_t pos = 9; pos < 16; ++pos) {
      const float* z = s.logits.data() + (pos - 1) * V;
      double mx = z[0], sum = 0;
      for (size_t v = 0; v < V; ++v) mx = std::max(mx, double(z[v]));
      for (size_t v = 0; v < V; ++v) sum += std::exp(double(z[v]) - mx);
      const double x = mx + std::log(sum) - double(z[size_t(chunk[pos])]);
      nll += x;
      nll_sq += x * x;
      ++scored;
    }
  }
  CHECK(scored == 28);
  CHECK(r.scored == 28);
  CHECK(r.nll_sum == Approx(nll).epsilon(1e-12));
  CHECK(r.ppl() == Approx(std::exp(nll / 28)).epsilon(1e-12));
  const double var = nll_sq / 28 - (nll / 28) * (nll / 28);
  CHECK(r.ppl_error() == Approx(std::exp(nll / 28) * std::sqrt(var / 27)).epsilon(1e-9));
  // the chunk's first token is replaced by <bos>: changing it changes nothing; changing a scored one does
  std::vector<int32_t> other = ids;
  other[16] = (other[16] + 1) % int32_t(V);
  CHECK(tools::Perplexity(*lm, other, o, nullptr, nullptr).nll_sum == r.nll_sum);
  other[16 + 12] = (other[16 + 12] + 1) % int32_t(V);
  CHECK(tools::Perplexity(*lm, other, o, nullptr, nullptr).nll_sum != r.nll_sum);
  // --chunks 2 scores the first two chunks
  o.max_windows = 2;
  CHECK(tools::Perplexity(*lm, ids, o, nullptr, nullptr).scored == 14);
}

TEST_CASE("perplexity base files: llama.cpp's layout, 16-bit rows, KL against them", "[model][ppl]") {
  auto lm = Gemma4ForCausalLM::from_pretrained(GoldenDir() + "/e2b_like");
  const size_t V = size_t(lm->config.vocab_size);
  // the row codec: within half a step of the exact log-probabilities above −16 below the top
  std::mt19937 rng(3);
  std::vector<float> z(V);
  for (float& x : z) x = float(int(rng() % 4000) - 2000) / 100.0f;
  std::vector<uint16_t> row(tools::LogProbRowLength(V));
  tools::EncodeLogProbRow(z.data(), V, row.data());
  std::vector<double> lp(V);
  tools::LogSoftmax(z.data(), V, lp.data());
  const double top = *std::max_element(lp.begin(), lp.end());
  float scale;
  std::memcpy(&scale, row.data(), 4);
  CHECK(scale == Approx(16.0 / 65535).epsilon(1e-6));
  for (size_t v = 0; v < V; ++v)
    if (lp[v] > top - 16) CHECK(std::abs(tools::DecodeLogProb(row.data(), v) - lp[v]) <= scale / 2 + 1e-5);

  TempDir dir;
  const std::string path = dir.path + "/base.bin";
  std::vector<int32_t> ids(40);
  for (int32_t& id : ids) id = int32_t(rng() % V);
  tools::PerplexityOptions o{16, 0, 16, 0, tools::PerplexityMethod::kLlamaCpp};
  tools::PerplexityResult saved_run;
  {
    tools::PerplexityBaseWriter w(path, 16, V, 2, ids.data());
    saved_run = tools::Perplexity(*lm, ids, o, nullptr, &w);
    w.finish();
  }
  // the layout byte for byte: magic, n_ctx, n_vocab, n_chunk, the 2 × 16 tokens, 2 × 7 rows of 2·⌈V/2⌉ + 4
  {
    const MappedFile f(path);
    REQUIRE(f.size() == 8 + 12 + 32 * 4 + 14 * (2 * ((V + 1) / 2) + 4) * 2);
    CHECK(std::memcmp(f.data(), "_logits_", 8) == 0);
    int32_t header[3];
    std::memcpy(header, f.data() + 8, 12);
    CHECK(header[0] == 16);
    CHECK(header[1] == int32_t(V));
    CHECK(header[2] == 2);
    CHECK(std::memcmp(f.data() + 20, ids.data(), 32 * 4) == 0);
  }
  const tools::PerplexityBaseFile base(path);
  CHECK(base.chunks == 2);
  // row i holds the log-probabilities that score the i-th scored token (chunk c, position 9 + i % 7), by hand
  for (size_t c = 0; c < 2; ++c) {
    std::vector<int32_t> chunk(ids.begin() + long(16 * c), ids.begin() + long(16 * c + 16));
    chunk[0] = 2;
    Session s(*lm, 16);
    s.prefill(chunk.data(), 16, nullptr, /*all_rows=*/true);
    for (size_t pos = 9; pos < 16; ++pos) {
      tools::LogSoftmax(s.logits.data() + (pos - 1) * V, V, lp.data());
      const double best = *std::max_element(lp.begin(), lp.end());
      const uint16_t* b = base.row(c * 7 + pos - 9);
      std::memcpy(&scale, b, 4);
      size_t checked = 0;
      for (size_t v = 0; v < V; ++v)
        if (lp[v] > best - 16) checked += std::abs(tools::DecodeLogProb(b, v) - lp[v]) <= scale / 2 + 1e-5;
        else checked += tools::DecodeLogProb(b, v) <= best - 16 + 1e-4;  // floored
      CHECK(checked == V);
    }
  }
  // against its own base: KL at the codec's round-off, full top-1 agreement, the base ppl ours to 1e-4
  const tools::PerplexityResult self = tools::Perplexity(*lm, ids, o, &base, nullptr);
  CHECK(self.scored == 14);
  CHECK(std::abs(self.kl_sum / 14) < 1e-4);
  CHECK(self.top1_same == 14);
  CHECK(self.base_nll_sum <= saved_run.nll_sum + 14 * 1e-4);  // (log-probabilities under the floor are floored)
  // another model: KL well above that
  auto other = Gemma4ForCausalLM::from_pretrained(GoldenDir() + "/dense_31b_like");
  REQUIRE(size_t(other->config.vocab_size) == V);
  CHECK(tools::Perplexity(*other, ids, o, &base, nullptr).kl_sum / 14 > 1e-3);
  // mismatches are refused
  o.ctx = 8;
  CHECK_THROWS_WITH(tools::Perplexity(*lm, ids, o, &base, nullptr), Catch::Contains("made with --ctx 16"));
  o.ctx = 16;
  std::vector<int32_t> changed = ids;
  changed[3] = (changed[3] + 1) % int32_t(V);
  CHECK_THROWS_WITH(tools::Perplexity(*lm, changed, o, &base, nullptr), Catch::Contains("token ids differ"));
  o.method = tools::PerplexityMethod::kStrided;
  CHECK_THROWS_WITH(tools::Perplexity(*lm, ids, o, &base, nullptr), Catch::Contains("--method llama"));
  // a truncated file names itself
  {
    FILE* f = std::fopen((dir.path + "/short.bin").c_str(), "wb");
    std::fwrite("_logits_\x10\0\0\0", 1, 12, f);
    std::fclose(f);
  }
  CHECK_THROWS_WITH(tools::PerplexityBaseFile(dir.path + "/short.bin"), Catch::Contains("short.bin"));
}

TEST_CASE("gemma4-bench --layers N: every N of every preset keeps a valid KV-sharing layout", "[model][bench]") {
  for (const std::string preset : {"e2b", "e4b", "26b-a4b", "31b"}) {
    const nlohmann::json full = Gemma4PresetConfig(preset);
    const long L = long(full["layer_types"].size());
    long shared_seen = 0;
    for (long n = 1; n <= L; ++n) {
      INFO(preset << " --layers " << n);
      const nlohmann::json cut = tools::TruncateLayers(full, n);
      Gemma4TextConfig c;
      REQUIRE_NOTHROW(c = ParseGemma4TextConfig(cut, "<cut>"));  // the KV-sharing rule is checked here
      CHECK(c.num_hidden_layers == n);
      CHECK(c.layer_types.back() == "full_attention");
      CHECK(c.num_kv_shared_layers <= n / 2);
      CHECK(c.num_kv_shared_layers <= full.value("num_kv_shared_layers", 0L));
      // as much sharing as the rule allows: one more shared layer would break it
      if (c.num_kv_shared_layers < std::min<long>(full.value("num_kv_shared_layers", 0L), n / 2)) {
        nlohmann::json more = cut;
        more["num_kv_shared_layers"] = c.num_kv_shared_layers + 1;
        CHECK_THROWS_WITH(ParseGemma4TextConfig(more, "<cut>"), Catch::Contains("shares K/V"));
      }
      shared_seen = std::max<long>(shared_seen, c.num_kv_shared_layers);
    }
    CHECK(shared_seen == std::min<long>(full.value("num_kv_shared_layers", 0L), L / 2));
    CHECK_THROWS_WITH(tools::TruncateLayers(full, L + 1), Catch::Contains("is not between 1 and"));
    CHECK_THROWS_WITH(tools::TruncateLayers(full, 0), Catch::Contains("is not between 1 and"));
  }
  // the layouts the old cut refused (e2b 2, 4, 5, 6, 8) build and run: a forward on random weights
  for (const long n : {2L, 4L, 5L, 6L, 8L}) {
    nlohmann::json cut = tools::TruncateLayers(Gemma4PresetConfig("e2b"), n);
    cut["hidden_size"] = 64;  // (small sizes: the layout is what is under test)
    cut["intermediate_size"] = 128;
    cut["vocab_size"] = 512;
    cut["vocab_size_per_layer_input"] = 512;
    cut["hidden_size_per_layer_input"] = 8;
    cut["num_attention_heads"] = 2;
    cut["head_dim"] = 16;
    cut["global_head_dim"] = 32;
    INFO("e2b --layers " << n << ": " << cut.dump());
    auto lm = Gemma4ForCausalLM::from_checkpoint(tools::RandomCheckpoint(cut, DType::F32, 7));
    Session session(*lm, 8);
    const int32_t ids[] = {2, 10, 20, 30};
    const float* logits = session.prefill(ids, 4);
    CHECK(std::isfinite(logits[0]));
  }
}

TEST_CASE("Generate: an interrupt between prompt chunks drops the prompt and leaves the session as before it",
          "[model][generate]") {
  auto lm = Gemma4ForCausalLM::from_pretrained(GoldenDir() + "/e2b_like");
  const size_t V = size_t(lm->config.vocab_size);
  std::mt19937 rng(11);
  std::vector<int32_t> turn1(40), turn2(3000), next = {7, 8, 9};
  for (int32_t& id : turn1) id = int32_t(rng() % V);
  for (int32_t& id : turn2) id = int32_t(rng() % V);
  // The plain story: turn 1 (greedy, 5 tokens), then `next`; the logits after it.
  GenerateOptions options;
  options.max_new_tokens = 5;
  Sampler greedy(SamplingParams{});
  std::vector<float> expected;
  std::vector<int32_t> held;  // the ids the session holds after turn 1
  {
    Session s(*lm, 4, 8192);
    std::vector<int32_t> history;
    const GenerateResult r = Generate(s, greedy, history, turn1, options, [](int32_t) { return true; });
    held = history;
    held.pop_back();  // the last sampled id is pending, not in the cache
    REQUIRE(s.position() == held.size());
    const float* z = s.prefill(next.data(), next.size());
    expected.assign(z, z + V);
    (void)r;
  }
  // Between them, a 3000-token turn that Ctrl-C stops between chunks of 4 (so past what a rollback can
  // undo: the session is rebuilt from options.session_ids). Timing decides where it stops; any place will do.
  for (const int wait_ms : {30, 10, 3, 1, 60, 200}) {
    Session s(*lm, 4, 8192);
    std::vector<int32_t> history;
    Generate(s, greedy, history, turn1, options, [](int32_t) { return true; });
    std::atomic<bool> flag{false};
    GenerateOptions o = options;
    o.interrupt = &flag;
    o.session_ids = &held;
    std::thread ctrl_c([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(wait_ms));
      flag = true;
    });
    const std::vector<int32_t> history_before = history;
    const GenerateResult r = Generate(s, greedy, history, turn2, o, [](int32_t) { return true; });
    ctrl_c.join();
    if (r.prompt_fed <= 4 || r.prompt_fed == turn2.size()) continue;  // not inside the prompt: again, sooner/later
    INFO("stopped after " << r.prompt_fed << " of " << turn2.size());
    CHECK(r.interrupted);
    CHECK(r.generated == 0);
    CHECK(r.prompt_fed % 4 == 0);
    CHECK(history == history_before);
    CHECK(s.position() == held.size());
    const float* z = s.prefill(next.data(), next.size());
    CHECK(std::memcmp(z, expected.data(), V * sizeof(float)) == 0);  // bit for bit the plain story
    return;
  }
  FAIL("the interrupt never landed inside the 3000-token prompt");
}

TEST_CASE("Study (gemma4/study.h): empty is the plain model bit for bit — each switch changes the logits", "[model][study]") {
  auto study = [](const std::vector<std::string>& overrides, const std::vector<std::string>& ablations) {
    Study s;
    for (const std::string& o : overrides) s.overrides.push_back(ParseConfigOverride(o));
    for (const std::string& a : ablations) ParseAblation(a, &s.ablations);
    return s;
  };
  for (const std::string name : {"trained_e2b", "trained_moe"}) {
    INFO(name);
    const std::string dir = GoldenDir() + "/" + name;
    auto plain = Gemma4ForCausalLM::from_pretrained(dir);
    const std::vector<int32_t> ids = RandomIds(80, plain->config.vocab_size, 11), first20(ids.begin(), ids.begin() + 20);
    const std::vector<float> base = LogitsInChunks(*plain, ids, ids.size());
    auto logits = [&](const Study& s, const std::vector<int32_t>& x, size_t chunk) {
      return LogitsInChunks(*LoadStudied(LoadCheckpoint(dir), s), x, chunk);
    };
    CHECK(logits(Study{}, ids, ids.size()) == base);
    CHECK(logits(study({"sliding_window=32", "final_logit_softcapping=30"}, {}), ids, ids.size()) == base);
    // within the trained window (32), full attention sees the same keys: identical; beyond it, not
    CHECK(logits(study({}, {"full_attention"}), first20, first20.size()) == LogitsInChunks(*plain, first20, first20.size()));
    std::vector<std::pair<std::vector<std::string>, std::vector<std::string>>> switches = {
        {{"sliding_window=4"}, {}}, {{"final_logit_softcapping=0"}, {}}, {{}, {"full_attention"}},
        {{}, {"skip_layer=0"}}, {{}, {"skip_layer=4"}}, {{}, {"skip_layer=5"}}};
    if (name == "trained_e2b") switches.push_back({{}, {"ple"}});
    else switches.insert(switches.end(), {{{"top_k_experts=1"}, {}}, {{}, {"zero_expert=3"}}, {{}, {"zero_expert=2:3"}}});
    for (const auto& [o, a] : switches) {
      const Study s = study(o, a);
      INFO(s.describe());
      const std::vector<float> changed = logits(s, ids, ids.size());
      CHECK(MaxAbsDiff(changed, base) > 1e-3f);
      // still one model: token by token (the KV cache, KV-shared layers reading skipped sources) = prefill
      CHECK(MaxAbsDiff(logits(s, ids, 1), changed) <= 1e-5f);
    }
  }
  // one line naming what the checkpoint lacks
  Study kv;
  kv.overrides.push_back(ParseConfigOverride("num_kv_shared_layers=0"));
  CHECK_THROWS_WITH(LoadStudied(LoadCheckpoint(GoldenDir() + "/trained_e2b"), kv),
                    Catch::Contains("layer 5 would compute its own K/V") && Catch::Contains("no K/V weights"));
  Ablations a;
  CHECK_THROWS_WITH(ParseAblation("skip_layer=-1", &a), Catch::Contains("skip_layer takes a layer index >= 0"));
  CHECK_THROWS_WITH(ParseConfigOverride("no_such_key=1"), Catch::Contains("unknown key 'no_such_key'"));
  CHECK(ParseConfigOverride("final_logit_softcapping=0").value.is_null());  // 0 = off, HF's null
}

// The device seam (ops/device.h) without a GPU: a stand-in device whose memory is tracked host memory and whose
// ops are the scalar twins (another summation order than the SIMD kernels, as a GPU's is), refusing any pointer
// outside its own memory as the CUDA backend does. The goldens must pass through it, every op the blocks call
// must reach it, and the Session's arrays must live in its memory.
namespace {
namespace stand_in {
std::map<uintptr_t, size_t>& Allocations() {
  static std::map<uintptr_t, size_t> m;
  return m;
}
std::map<std::string, size_t>& Calls() {
  static std::map<std::string, size_t> m;
  return m;
}
bool Mine(const void* p) {
  const auto a = reinterpret_cast<uintptr_t>(p);
  auto it = Allocations().upper_bound(a);
  if (!p || it == Allocations().begin()) return false;
  --it;
  return a < it->first + it->second;
}
bool Took(const char* op, bool ok) {
  ++Calls()[ok ? op : std::string(op) + " (to the CPU)"];
  return ok;
}
ops::DeviceOps Table() {
  ops::DeviceOps t;
  t.name = "stand-in";
  t.alloc = [](size_t bytes) -> void* {
    void* p = std::malloc(bytes);
    if (p) Allocations()[reinterpret_cast<uintptr_t>(p)] = bytes;
    return p;
  };
  t.free = [](void* p) {
    Allocations().erase(reinterpret_cast<uintptr_t>(p));
    std::free(p);
  };
  t.matmul = [](const float* x, size_t T, size_t K, const void* w, ops::DType wt, size_t N, float* out) {
    if (!Took("matmul", Mine(x) && Mine(out))) return false;
    ops::scalar::MatMul(x, T, K, w, wt, N, out);
    return true;
  };
  t.to_f32 = [](const void* src, ops::DType t, size_t n, float scale, float* dst) {
    if (!Took("to_f32", Mine(src) && Mine(dst))) return false;  // weights are host memory: the CPU gathers
    ops::scalar::ToF32(src, t, n, scale, dst);
    return true;
  };
  t.rms_norm = [](const float* x, size_t rows, size_t n, const float* w, float eps, float* y) {
    if (!Took("rms_norm", Mine(x) && Mine(y))) return false;
    ops::scalar::RMSNorm(x, rows, n, w, eps, y);
    return true;
  };
  t.gelu_tanh_mul = [](float* x, const float* y, size_t n) {
    if (!Took("gelu_tanh_mul", Mine(x) && (!y || Mine(y)))) return false;
    ops::scalar::GeluTanhMul(x, y, n);
    return true;
  };
  t.softcap = [](float* x, size_t n, float cap) {
    if (!Took("softcap", Mine(x))) return false;
    ops::scalar::Softcap(x, n, cap);
    return true;
  };
  t.softmax = [](float* x, size_t n) {
    if (!Took("softmax", Mine(x))) return false;
    ops::scalar::Softmax(x, n);
    return true;
  };
  t.add_scaled = [](float* x, const float* y, float s, size_t n) {
    if (!Took("add_scaled", Mine(x) && Mine(y))) return false;
    ops::scalar::AddScaled(x, y, s, n);
    return true;
  };
  t.scale = [](float* x, size_t n, float s) {
    if (!Took("scale", Mine(x))) return false;
    ops::scalar::Scale(x, n, s);
    return true;
  };
  t.copy = [](float* dst, const float* src, size_t n) {
    if (!Took("copy", Mine(dst) && Mine(src))) return false;
    std::memcpy(dst, src, n * sizeof(float));
    return true;
  };
  t.argmax = [](const float* x, size_t n, size_t* index) {
    if (!Took("argmax", Mine(x))) return false;
    *index = ops::scalar::Argmax(x, n);
    return true;
  };
  t.rope = [](float* x, size_t T, size_t nh, size_t d, const float* c, const float* s, size_t pairs) {
    if (!Took("rope", Mine(x) && Mine(c) && Mine(s))) return false;
    ops::scalar::Rope(x, T, nh, d, c, s, pairs);
    return true;
  };
  t.attention = [](const float* q, size_t T, size_t nh, size_t d, size_t pos0, const ops::KVBlock* b, size_t nb,
                   size_t kv, size_t window, float scale, float* out) {
    bool mine = Mine(q) && Mine(out);
    for (size_t i = 0; i < nb; ++i) mine = mine && Mine(b[i].k) && Mine(b[i].v);
    if (!Took("attention", mine)) return false;
    ops::scalar::Attention(q, T, nh, d, pos0, b, nb, kv, window, scale, out);
    return true;
  };
  return t;
}
}  // namespace stand_in
}  // namespace

TEST_CASE("a device behind ops/device.h gets every op of a forward and the Session's memory, and the goldens pass through it", "[device]") {
  static const ops::DeviceOps device = stand_in::Table();
  stand_in::Calls().clear();
  for (const char* name : {"e2b_like", "moe_26b_like", "dense_31b_like"}) {
    INFO("golden case " << name);
    auto lm = Gemma4ForCausalLM::from_pretrained(GoldenDir() + "/" + name);
    const golden::GoldenFile g(GoldenDir() + "/" + name + "/golden.safetensors");
    struct OnDevice {  // the device for what is made in this scope (the CPU again on the way out)
      OnDevice() { ops::SetDevice(&device); }
      ~OnDevice() { ops::SetDevice(nullptr); }
    };
    const golden::Report report = [&] {
      OnDevice on;
      Session session(*lm, 8, 64);
      CHECK(stand_in::Mine(session.state.x.data()));
      CHECK(stand_in::Mine(session.logits.data()));
      return golden::CheckTarget(*lm, g);
    }();
    for (const golden::Comparison& c : report.rows) {
      INFO(c.name << ": max_abs " << c.max_abs << " nmse " << c.nmse);
      CHECK(c.pass);
    }
  }
  std::string calls;
  for (const auto& [op, n] : stand_in::Calls()) calls += op + " " + std::to_string(n) + ", ";
  INFO("calls: " << calls);
  for (const char* op : {"matmul", "rms_norm", "gelu_tanh_mul", "softcap", "softmax", "add_scaled", "scale", "copy",
                         "argmax", "rope", "attention"})
    CHECK(stand_in::Calls()[op] > 0);
  CHECK(stand_in::Calls()["to_f32 (to the CPU)"] > 0);  // embedding rows of a host table: gathered by the CPU
  CHECK(stand_in::Calls()["matmul (to the CPU)"] == 0);
  CHECK(stand_in::Calls()["attention (to the CPU)"] == 0);
  CHECK(stand_in::Allocations().empty());  // every Buffer given back to the device that made it
}
