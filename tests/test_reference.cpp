// Differential tests: the library against an independent float64 reference (tests/reference/) on random
// configurations the goldens do not cover — widths, layer counts and patterns, windows shorter than the
// prompt, KV-sharing depths, attention_k_eq_v, partial RoPE, double-wide MLPs, expert counts and top-k,
// untied heads, no softcap, f32/bf16/f16 weights, both tensor prefixes. Each case is written to disk as an
// HF checkpoint and loaded the way a user's would be.
#include "gemma4/gemma4.h"  // first: ops/ops.h drives Highway's per-target compilation

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "tests/reference/gemma4_reference.h"
#include "tests/test_util.h"

using namespace gemma4;
using nlohmann::json;

namespace {

struct Case {
  json text_config;
  bool multimodal = false;  // config {"model_type": "gemma4", "text_config": ...}, prefix model.language_model.
  DType dtype = DType::F32;
  std::vector<int32_t> ids;
};

// A random but valid configuration; every key written out (the reference reads only explicit keys).
Case RandomCase(uint64_t seed) {
  std::mt19937_64 rng(seed);
  auto pick = [&](auto... options) {
    const std::vector<int64_t> v{int64_t(options)...};
    return v[std::uniform_int_distribution<size_t>(0, v.size() - 1)(rng)];
  };
  auto coin = [&] { return std::uniform_int_distribution<int>(0, 1)(rng) == 1; };

  const int64_t L = pick(3, 4, 5, 6, 7), nH = pick(2, 4), head_dim = pick(8, 16);
  const int64_t W = pick(2, 3, 5, 8);
  std::vector<std::string> types;
  for (int64_t i = 0; i < L; ++i) types.push_back(coin() || i == 0 ? "sliding_attention" : "full_attention");
  types.back() = "full_attention";
  // KV sharing only where every shared layer finds an earlier layer of its type with its own K/V.
  int64_t shared = pick(0, 0, 1, 2, 3);
  auto valid_sharing = [&](int64_t n) {
    const int64_t first = L - n;
    if (first < 1) return false;
    for (int64_t i = first; i < L; ++i) {
      bool found = false;
      for (int64_t j = 0; j < first; ++j) found |= types[size_t(j)] == types[size_t(i)];
      if (!found) return false;
    }
    return true;
  };
  while (shared > 0 && !valid_sharing(shared)) --shared;

  const bool k_eq_v = coin(), moe = coin();
  const int64_t kv = pick(1, 2) > nH ? 1 : pick(1, 2);
  json c = {
      {"model_type", "gemma4_text"},
      {"vocab_size", pick(97, 160, 256)},
      {"hidden_size", pick(32, 48, 64)},
      {"intermediate_size", pick(40, 64, 72)},
      {"num_hidden_layers", L},
      {"num_attention_heads", nH},
      {"num_key_value_heads", kv},
      {"head_dim", head_dim},
      {"global_head_dim", pick(1, 2) * head_dim},
      {"attention_k_eq_v", k_eq_v},
      {"num_global_key_value_heads", pick(1, 2)},
      {"layer_types", types},
      {"sliding_window", W},
      {"num_kv_shared_layers", shared},
      {"use_double_wide_mlp", coin()},
      {"hidden_size_per_layer_input", pick(0, 8, 16)},
      {"rms_norm_eps", 1e-6},
      {"tie_word_embeddings", coin()},
      {"final_logit_softcapping", coin() ? json(30.0) : json(nullptr)},
      {"enable_moe_block", moe},
      {"bos_token_id", 2},
      {"eos_token_id", 1},
      {"pad_token_id", 0},
      {"hidden_activation", "gelu_pytorch_tanh"},
      {"rope_parameters",
       {{"sliding_attention", {{"rope_type", "default"}, {"rope_theta", 10000.0}}},
        {"full_attention",
         {{"rope_type", "proportional"}, {"rope_theta", 1000000.0}, {"partial_rotary_factor", pick(1, 2, 4) / 4.0}}}}},
  };
  c["vocab_size_per_layer_input"] = c["vocab_size"];
  if (moe) {
    const int64_t E = pick(3, 4, 6);
    c["num_experts"] = E;
    c["top_k_experts"] = std::min<int64_t>(E, pick(1, 2, 3));
    c["moe_intermediate_size"] = pick(24, 40);
  }
  Case out;
  out.text_config = c;
  out.multimodal = coin();
  out.dtype = std::vector<DType>{DType::F32, DType::BF16, DType::F16}[size_t(pick(0, 1, 2))];
  // Prompts several windows long, so sliding layers drop keys and ring buffers wrap.
  const int64_t T = 3 * W + pick(1, 4, 7);
  std::uniform_int_distribution<int32_t> id(0, int32_t(c["vocab_size"].get<int64_t>()) - 1);
  for (int64_t t = 0; t < T; ++t) out.ids.push_back(id(rng));
  return out;
}

// Random weights for every tensor the reference names: matrices ~ U with std 1/√fan_in (activations stay
// O(1) through the layers), norm weights and scalars in [0.5, 1.5] so a missing or (1 + w) scale shows.
std::vector<Tensor> RandomTensors(const std::map<std::string, std::vector<int64_t>>& shapes, const std::string& prefix,
                                  DType dtype, uint64_t seed, std::vector<std::vector<uint8_t>>& storage) {
  std::mt19937_64 rng(seed);
  std::vector<Tensor> tensors;
  storage.reserve(shapes.size());
  for (const auto& [name, shape] : shapes) {
    const bool vector_like = shape.size() == 1;
    const double a = vector_like ? 0.5 : std::sqrt(3.0 / double(shape.back()));
    std::uniform_real_distribution<double> u(-a, a);
    storage.emplace_back(size_t(NumElements(shape)) * ops::DTypeSize(dtype));
    for (int64_t i = 0; i < NumElements(shape); ++i) {
      const float f = float(vector_like ? 1.0 + u(rng) : u(rng));
      uint8_t* dst = storage.back().data() + size_t(i) * ops::DTypeSize(dtype);
      if (dtype == DType::F32) std::memcpy(dst, &f, 4);
      else {
        const uint16_t h = dtype == DType::BF16 ? ops::BF16FromF32(f) : ops::F16FromF32(f);
        std::memcpy(dst, &h, 2);
      }
    }
    Tensor t;
    t.name = prefix + name;
    t.shape = shape;
    t.dtype = dtype;
    t.data = storage.back().data();
    t.nbytes = storage.back().size();
    tensors.push_back(t);
  }
  return tensors;
}

double MaxAbs(const std::vector<double>& a) {
  double m = 0;
  for (double v : a) m = std::max(m, std::fabs(v));
  return m;
}

}  // namespace

TEST_CASE("random configurations agree with the float64 reference", "[reference]") {
  for (uint64_t seed = 1; seed <= 24; ++seed) {
    const Case c = RandomCase(seed);
    DYNAMIC_SECTION("seed " << seed) {
      INFO("config " << c.text_config.dump() << "\ndtype " << DTypeName(c.dtype) << (c.multimodal ? " multimodal" : ""));
      test::TempDir dir;
      const std::string prefix = c.multimodal ? "model.language_model." : "model.";
      json config = c.text_config;
      if (c.multimodal) config = {{"model_type", "gemma4"}, {"text_config", c.text_config}};
      test::WriteFile(dir / "config.json", config.dump(2));

      // The reference names the tensors; an untied head adds lm_head.
      Checkpoint names_only;
      reference::Gemma4Reference shapes_of(names_only, c.text_config, prefix);
      auto shapes = shapes_of.tensor_shapes();
      std::vector<std::vector<uint8_t>> storage;
      std::vector<Tensor> tensors = RandomTensors(shapes, prefix, c.dtype, seed * 7919, storage);
      if (!c.text_config["tie_word_embeddings"].get<bool>()) {
        const int64_t V = c.text_config["vocab_size"], H = c.text_config["hidden_size"];
        auto head = RandomTensors({{"lm_head.weight", {V, H}}}, "", c.dtype, seed * 104729, storage);
        tensors.push_back(head[0]);
      }
      WriteSafetensors(dir / "model.safetensors", tensors, {{"format", "pt"}});

      auto lm = Gemma4ForCausalLM::from_pretrained(dir.path);
      reference::Gemma4Reference ref(lm->checkpoint, c.text_config, prefix);
      const reference::Outputs want = ref.forward(c.ids);

      const size_t T = c.ids.size(), V = size_t(lm->config.vocab_size), H = size_t(lm->config.hidden_size);
      Session session(*lm, T);
      Capture capture;
      session.prefill(c.ids.data(), T, &capture, /*all_rows=*/true);
      const float* got = session.logits.data();  // [T, V]

      // Hidden states: f32 round-off relative to each layer's scale (the residual stream grows with depth).
      for (size_t i = 0; i + 1 < want.hidden.size(); ++i) {
        const Capture::Entry* e = capture.find("hidden_states." + std::to_string(i));
        REQUIRE(e != nullptr);
        const double scale = std::max(1.0, MaxAbs(want.hidden[i + 1]));
        double worst = 0;
        for (size_t j = 0; j < T * H; ++j) worst = std::max(worst, std::fabs(double(e->f32[j]) - want.hidden[i + 1][j]));
        INFO("layer " << i << " max abs error " << worst << " (scale " << scale << ")");
        CHECK(worst <= 2e-5 * scale);
      }
      // Router choices of every MoE layer, token by token.
      for (size_t i = 0; i < want.experts.size(); ++i) {
        if (want.experts[i].empty()) continue;
        const Capture::Entry* e = capture.find("router_topk_idx." + std::to_string(i));
        REQUIRE(e != nullptr);
        const size_t k = want.experts[i][0].size();
        for (size_t t = 0; t < T; ++t) {
          std::vector<int> ours(e->i32.begin() + long(t * k), e->i32.begin() + long((t + 1) * k));
          std::sort(ours.begin(), ours.end());
          INFO("layer " << i << " token " << t);
          CHECK(ours == want.experts[i][t]);
        }
      }
      // Logits: f32 round-off against their scale, and the same top-1 wherever the reference's is clear.
      const double scale = std::max(1.0, MaxAbs(want.logits));
      double worst = 0;
      for (size_t j = 0; j < T * V; ++j) worst = std::max(worst, std::fabs(double(got[j]) - want.logits[j]));
      INFO("logits max abs error " << worst << " (scale " << scale << ")");
      CHECK(worst <= 2e-5 * scale);
      for (size_t t = 0; t < T; ++t) {
        const double* row = &want.logits[t * V];
        const size_t best = size_t(std::max_element(row, row + V) - row);
        double second = -INFINITY;
        for (size_t v = 0; v < V; ++v)
          if (v != best) second = std::max(second, row[v]);
        if (row[best] - second > 1e-3 * scale) CHECK(ops::Argmax(got + t * V, V) == best);
      }

      // Token-by-token decode ends on the same last row as the prefill.
      Session step(*lm, T);
      const float* last = nullptr;
      for (size_t t = 0; t < T; ++t) last = step.decode(c.ids[t]);
      double decode_diff = 0;
      for (size_t v = 0; v < V; ++v) decode_diff = std::max(decode_diff, double(std::fabs(last[v] - got[(T - 1) * V + v])));
      CHECK(decode_diff <= 1e-5 * scale);
    }
  }
}
