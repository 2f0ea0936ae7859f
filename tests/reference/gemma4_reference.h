// tests/reference/gemma4_reference.h — a second, independent Gemma 4 text decoder in float64, written
// straight from docs/ARCHITECTURE.md and HF's modeling_gemma4.py, for differential tests on configurations
// the goldens do not cover.
//
// It shares nothing with gemma4/ but the checkpoint container: it reads the raw config.json keys itself,
// looks tensors up by their HF names, widens every stored value to double, and runs the whole sequence at
// once with explicit masks (no cache, no kernels, no threads). Slow and obvious on purpose: every loop is
// the formula. Only the explicit config form is read (the test writes every key), so HF's default
// derivations stay the business of gemma4/config.h and its own tests.
#ifndef GEMMA4_TESTS_REFERENCE_GEMMA4_REFERENCE_H_
#define GEMMA4_TESTS_REFERENCE_GEMMA4_REFERENCE_H_

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <numeric>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "gemma4/io/checkpoint.h"
#include "ops/scalar.h"

namespace gemma4::reference {

using Vec = std::vector<double>;

// What the reference computes for one sequence.
struct Outputs {
  std::vector<Vec> hidden;                          // [L+1] of [T·H]: embeddings, then each layer's output
  Vec logits;                                       // [T·V]
  std::vector<std::vector<std::vector<int>>> experts;  // [L][T] chosen experts (MoE layers), ascending
};

class Gemma4Reference {
 public:
  // `text_config` is the text part of config.json; tensors live under `prefix` (e.g. "model.").
  Gemma4Reference(const Checkpoint& checkpoint, nlohmann::json text_config, std::string prefix)
      : ckpt_(checkpoint), cfg_(std::move(text_config)), prefix_(std::move(prefix)) {
    H = cfg_.at("hidden_size");
    V = cfg_.at("vocab_size");
    L = cfg_.at("num_hidden_layers");
    nH = cfg_.at("num_attention_heads");
    P = cfg_.value("hidden_size_per_layer_input", 0);
    eps = cfg_.at("rms_norm_eps");
    W = cfg_.at("sliding_window");
    first_shared = L - cfg_.value("num_kv_shared_layers", 0);
    shapes_ = tensor_shapes();
  }

  // Every tensor the model reads, with its shape (what the test fills with random values).
  std::map<std::string, std::vector<int64_t>> tensor_shapes() const {
    std::map<std::string, std::vector<int64_t>> s;
    s["embed_tokens.weight"] = {V, H};
    s["norm.weight"] = {H};
    if (P > 0) {
      s["embed_tokens_per_layer.weight"] = {int64_t(cfg_.at("vocab_size_per_layer_input")), L * P};
      s["per_layer_model_projection.weight"] = {L * P, H};
      s["per_layer_projection_norm.weight"] = {P};
    }
    for (int64_t i = 0; i < L; ++i) {
      const std::string l = "layers." + std::to_string(i) + ".";
      const int64_t D = head_dim(i), KV = kv_heads(i), I = mlp_width(i);
      for (const char* n : {"input_layernorm", "post_attention_layernorm", "pre_feedforward_layernorm",
                            "post_feedforward_layernorm"})
        s[l + n + ".weight"] = {H};
      s[l + "layer_scalar"] = {1};
      s[l + "self_attn.q_proj.weight"] = {nH * D, H};
      s[l + "self_attn.q_norm.weight"] = {D};
      s[l + "self_attn.o_proj.weight"] = {H, nH * D};
      if (i < first_shared) {
        s[l + "self_attn.k_proj.weight"] = {KV * D, H};
        s[l + "self_attn.k_norm.weight"] = {D};
        if (!k_eq_v(i)) s[l + "self_attn.v_proj.weight"] = {KV * D, H};
      }
      s[l + "mlp.gate_proj.weight"] = {I, H};
      s[l + "mlp.up_proj.weight"] = {I, H};
      s[l + "mlp.down_proj.weight"] = {H, I};
      if (P > 0) {
        s[l + "per_layer_input_gate.weight"] = {P, H};
        s[l + "per_layer_projection.weight"] = {H, P};
        s[l + "post_per_layer_input_norm.weight"] = {H};
      }
      if (moe()) {
        const int64_t E = cfg_.at("num_experts"), Im = cfg_.at("moe_intermediate_size");
        s[l + "router.proj.weight"] = {E, H};
        s[l + "router.scale"] = {H};
        s[l + "router.per_expert_scale"] = {E};
        s[l + "experts.gate_up_proj"] = {E, 2 * Im, H};
        s[l + "experts.down_proj"] = {E, H, Im};
        for (const char* n : {"post_feedforward_layernorm_1", "post_feedforward_layernorm_2", "pre_feedforward_layernorm_2"})
          s[l + n + ".weight"] = {H};
      }
    }
    return s;
  }

  Outputs forward(const std::vector<int32_t>& ids) const {
    const int64_t T = int64_t(ids.size());
    Outputs out;
    out.experts.resize(size_t(L));

    // Scaled embedding: E[id] · float32(√H).
    const Vec E = get("embed_tokens.weight");
    Vec x(size_t(T * H));
    const double embed_scale = double(float(std::sqrt(double(H))));
    for (int64_t t = 0; t < T; ++t)
      for (int64_t h = 0; h < H; ++h) x[size_t(t * H + h)] = E[size_t(ids[size_t(t)] * H + h)] * embed_scale;
    out.hidden.push_back(x);

    // PLE: ple[t, i, :] = (RMSNorm(x W_plmᵀ · H^-½; norm) + E_ple[id] · float32(√P)) · 2^-½.
    Vec ple;
    if (P > 0) {
      const Vec table = get("embed_tokens_per_layer.weight");
      Vec ctx = linear(x, T, get("per_layer_model_projection.weight"), H, L * P);
      for (double& v : ctx) v *= 1.0 / std::sqrt(double(H));
      ctx = rms_norm(ctx, T * L, P, get("per_layer_projection_norm.weight"));
      ple.resize(ctx.size());
      const double ple_scale = double(float(std::sqrt(double(P))));
      for (int64_t t = 0; t < T; ++t)
        for (int64_t j = 0; j < L * P; ++j)
          ple[size_t(t * L * P + j)] =
              (ctx[size_t(t * L * P + j)] + table[size_t(ids[size_t(t)] * L * P + j)] * ple_scale) / std::sqrt(2.0);
    }

    std::map<int64_t, std::pair<Vec, Vec>> kv;  // K, V [T, KV, D] of each layer that computes its own
    for (int64_t i = 0; i < L; ++i) {
      const std::string l = "layers." + std::to_string(i) + ".";
      Vec r = x;
      Vec a = attention(i, rms_norm(x, T, H, get(l + "input_layernorm.weight")), T, kv);
      a = rms_norm(a, T, H, get(l + "post_attention_layernorm.weight"));
      for (size_t j = 0; j < x.size(); ++j) x[j] = r[j] + a[j];

      r = x;
      Vec m = mlp(l + "mlp.", rms_norm(r, T, H, get(l + "pre_feedforward_layernorm.weight")), T, mlp_width(i));
      if (moe()) {
        m = rms_norm(m, T, H, get(l + "post_feedforward_layernorm_1.weight"));
        Vec e = experts(l, r, T, &out.experts[size_t(i)]);
        e = rms_norm(e, T, H, get(l + "post_feedforward_layernorm_2.weight"));
        for (size_t j = 0; j < m.size(); ++j) m[j] += e[j];
      }
      m = rms_norm(m, T, H, get(l + "post_feedforward_layernorm.weight"));
      for (size_t j = 0; j < x.size(); ++j) x[j] = r[j] + m[j];

      if (P > 0) {  // x += RMSNorm(W_proj(gelu(W_gate x) ⊙ ple[:, i]))
        Vec g = linear(x, T, get(l + "per_layer_input_gate.weight"), H, P);
        for (int64_t t = 0; t < T; ++t)
          for (int64_t p = 0; p < P; ++p)
            g[size_t(t * P + p)] = gelu(g[size_t(t * P + p)]) * ple[size_t(t * L * P + i * P + p)];
        Vec y = rms_norm(linear(g, T, get(l + "per_layer_projection.weight"), P, H), T, H,
                         get(l + "post_per_layer_input_norm.weight"));
        for (size_t j = 0; j < x.size(); ++j) x[j] += y[j];
      }
      const double layer_scalar = get(l + "layer_scalar")[0];
      for (double& v : x) v *= layer_scalar;
      out.hidden.push_back(x);
    }

    const Vec h = rms_norm(x, T, H, get("norm.weight"));
    const bool tied = cfg_.value("tie_word_embeddings", true);
    out.logits = linear(h, T, tied ? E : get_raw("lm_head.weight", {V, H}), H, V);
    if (cfg_.contains("final_logit_softcapping") && !cfg_["final_logit_softcapping"].is_null()) {
      const double cap = cfg_["final_logit_softcapping"];
      for (double& v : out.logits) v = cap * std::tanh(v / cap);
    }
    return out;
  }

 private:
  const Checkpoint& ckpt_;
  nlohmann::json cfg_;
  std::string prefix_;
  int64_t H, V, L, nH, P, W, first_shared;
  double eps;
  std::map<std::string, std::vector<int64_t>> shapes_;

  bool sliding(int64_t i) const { return cfg_.at("layer_types")[size_t(i)] == "sliding_attention"; }
  bool k_eq_v(int64_t i) const { return !sliding(i) && cfg_.value("attention_k_eq_v", false); }
  bool moe() const { return cfg_.value("enable_moe_block", false); }
  int64_t head_dim(int64_t i) const { return sliding(i) ? cfg_.at("head_dim") : cfg_.at("global_head_dim"); }
  int64_t kv_heads(int64_t i) const {
    return k_eq_v(i) ? cfg_.at("num_global_key_value_heads") : cfg_.at("num_key_value_heads");
  }
  int64_t mlp_width(int64_t i) const {
    const int64_t I = cfg_.at("intermediate_size");
    return cfg_.value("use_double_wide_mlp", false) && first_shared > 0 && i >= first_shared ? 2 * I : I;
  }
  // The layer whose K/V a shared layer reads: the last one of its type before the shared block.
  int64_t kv_source(int64_t i) const {
    if (i < first_shared) return i;
    for (int64_t j = first_shared - 1; j >= 0; --j)
      if (sliding(j) == sliding(i)) return j;
    throw std::runtime_error("reference: no K/V source for layer " + std::to_string(i));
  }

  Vec get_raw(const std::string& name, const std::vector<int64_t>& shape) const {
    const Tensor* t = ckpt_.find(name);
    if (!t) throw std::runtime_error("reference: missing tensor " + name);
    if (t->shape != shape) throw std::runtime_error("reference: wrong shape for " + name);
    Vec v(size_t(t->numel()));
    for (size_t j = 0; j < v.size(); ++j) v[j] = double(ops::scalar::ElementToF32(t->data, t->dtype, j));
    return v;
  }
  Vec get(const std::string& name) const { return get_raw(prefix_ + name, shapes_.at(name)); }

  static double gelu(double x) {
    return 0.5 * x * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x)));
  }
  // y[r] = x[r] · (mean(x[r]²) + eps)^-½ · w   (w empty: no scale).
  Vec rms_norm(const Vec& x, int64_t rows, int64_t n, const Vec& w) const {
    Vec y(x.size());
    for (int64_t r = 0; r < rows; ++r) {
      double ss = 0;
      for (int64_t j = 0; j < n; ++j) ss += x[size_t(r * n + j)] * x[size_t(r * n + j)];
      const double inv = 1.0 / std::sqrt(ss / double(n) + eps);
      for (int64_t j = 0; j < n; ++j) y[size_t(r * n + j)] = x[size_t(r * n + j)] * inv * (w.empty() ? 1.0 : w[size_t(j)]);
    }
    return y;
  }
  // y [T, N] = x [T, K] · w[N, K]ᵀ.
  static Vec linear(const Vec& x, int64_t T, const Vec& w, int64_t K, int64_t N) {
    Vec y(size_t(T * N));
    for (int64_t t = 0; t < T; ++t)
      for (int64_t n = 0; n < N; ++n) {
        double s = 0;
        for (int64_t k = 0; k < K; ++k) s += x[size_t(t * K + k)] * w[size_t(n * K + k)];
        y[size_t(t * N + n)] = s;
      }
    return y;
  }
  Vec mlp(const std::string& m, const Vec& z, int64_t T, int64_t I) const {
    Vec g = linear(z, T, get_raw(prefix_ + m + "gate_proj.weight", {I, H}), H, I);
    const Vec u = linear(z, T, get_raw(prefix_ + m + "up_proj.weight", {I, H}), H, I);
    for (size_t j = 0; j < g.size(); ++j) g[j] = gelu(g[j]) * u[j];
    return linear(g, T, get_raw(prefix_ + m + "down_proj.weight", {H, I}), I, H);
  }

  // Rotate-half RoPE at position pos on one head vector of size D: pairs (j, j + D/2) for j < rotated pairs.
  void rope(double* v, int64_t D, int64_t pos, int64_t i) const {
    const nlohmann::json& rp = cfg_.at("rope_parameters").at(sliding(i) ? "sliding_attention" : "full_attention");
    const double theta = rp.at("rope_theta");
    int64_t pairs = D / 2;
    double factor = 1.0;
    if (rp.at("rope_type") == "proportional") {
      pairs = int64_t(double(rp.value("partial_rotary_factor", 1.0)) * double(D) / 2.0);  // int(f · D // 2)
      factor = rp.value("factor", 1.0);
    }
    for (int64_t j = 0; j < pairs; ++j) {
      const double angle = double(pos) * std::pow(theta, -2.0 * double(j) / double(D)) / factor;
      const double c = std::cos(angle), s = std::sin(angle), a = v[j], b = v[j + D / 2];
      v[j] = a * c - b * s;
      v[j + D / 2] = b * c + a * s;
    }
  }

  Vec attention(int64_t i, const Vec& z, int64_t T, std::map<int64_t, std::pair<Vec, Vec>>& kv) const {
    const std::string a = "layers." + std::to_string(i) + ".self_attn.";
    const int64_t D = head_dim(i), KV = kv_heads(i);
    Vec q = rms_norm(linear(z, T, get(a + "q_proj.weight"), H, nH * D), T * nH, D, get(a + "q_norm.weight"));
    for (int64_t t = 0; t < T; ++t)
      for (int64_t h = 0; h < nH; ++h) rope(&q[size_t((t * nH + h) * D)], D, t, i);
    if (i < first_shared) {
      const Vec k_raw = linear(z, T, get(a + "k_proj.weight"), H, KV * D);
      Vec k = rms_norm(k_raw, T * KV, D, get(a + "k_norm.weight"));
      for (int64_t t = 0; t < T; ++t)
        for (int64_t h = 0; h < KV; ++h) rope(&k[size_t((t * KV + h) * D)], D, t, i);
      // V: RMSNorm without scale, no RoPE; on k_eq_v layers of the raw K projection.
      const Vec v = rms_norm(k_eq_v(i) ? k_raw : linear(z, T, get(a + "v_proj.weight"), H, KV * D), T * KV, D, {});
      kv[i] = {k, v};
    }
    const auto& [k, v] = kv.at(kv_source(i));
    Vec o(size_t(T * nH * D), 0.0);
    for (int64_t t = 0; t < T; ++t)
      for (int64_t h = 0; h < nH; ++h) {
        const int64_t g = h / (nH / KV);
        Vec s(size_t(T), -INFINITY);
        double mx = -INFINITY;
        for (int64_t j = 0; j <= t; ++j) {
          if (sliding(i) && j <= t - W) continue;  // sliding: W keys including self
          double d = 0;
          for (int64_t e = 0; e < D; ++e) d += q[size_t((t * nH + h) * D + e)] * k[size_t((j * KV + g) * D + e)];
          s[size_t(j)] = d;  // scale 1.0
          mx = std::max(mx, d);
        }
        double sum = 0;
        for (int64_t j = 0; j <= t; ++j) sum += s[size_t(j)] == -INFINITY ? 0.0 : std::exp(s[size_t(j)] - mx);
        for (int64_t j = 0; j <= t; ++j) {
          if (s[size_t(j)] == -INFINITY) continue;
          const double p = std::exp(s[size_t(j)] - mx) / sum;
          for (int64_t e = 0; e < D; ++e) o[size_t((t * nH + h) * D + e)] += p * v[size_t((j * KV + g) * D + e)];
        }
      }
    return linear(o, T, get(a + "o_proj.weight"), nH * D, H);
  }

  // Router on the residual r, experts on RMSNorm(r; pre_feedforward_layernorm_2).
  Vec experts(const std::string& l, const Vec& r, int64_t T, std::vector<std::vector<int>>* chosen) const {
    const int64_t E = cfg_.at("num_experts"), k = cfg_.at("top_k_experts"), Im = cfg_.at("moe_intermediate_size");
    Vec z = rms_norm(r, T, H, {});
    const Vec scale = get(l + "router.scale"), per_expert = get(l + "router.per_expert_scale");
    for (int64_t t = 0; t < T; ++t)
      for (int64_t h = 0; h < H; ++h) z[size_t(t * H + h)] *= scale[size_t(h)] / std::sqrt(double(H));
    const Vec logits = linear(z, T, get(l + "router.proj.weight"), H, E);
    const Vec u = rms_norm(r, T, H, get(l + "pre_feedforward_layernorm_2.weight"));
    const Vec gate_up = get(l + "experts.gate_up_proj"), down = get(l + "experts.down_proj");
    Vec y(size_t(T * H), 0.0);
    for (int64_t t = 0; t < T; ++t) {
      Vec p(logits.begin() + t * E, logits.begin() + (t + 1) * E);
      const double mx = *std::max_element(p.begin(), p.end());
      double sum = 0;
      for (double& v : p) sum += (v = std::exp(v - mx));
      for (double& v : p) v /= sum;
      std::vector<int> order(static_cast<size_t>(E));
      std::iota(order.begin(), order.end(), 0);
      std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return p[size_t(a)] > p[size_t(b)]; });
      order.resize(size_t(k));
      double top = 0;
      for (int e : order) top += p[size_t(e)];
      for (int e : order) {
        const double w = p[size_t(e)] / top * per_expert[size_t(e)];
        Vec hidden(static_cast<size_t>(Im));
        for (int64_t j = 0; j < Im; ++j) {
          double g = 0, v = 0;
          for (int64_t h = 0; h < H; ++h) {
            g += gate_up[size_t((e * 2 * Im + j) * H + h)] * u[size_t(t * H + h)];
            v += gate_up[size_t((e * 2 * Im + Im + j) * H + h)] * u[size_t(t * H + h)];
          }
          hidden[size_t(j)] = gelu(g) * v;
        }
        for (int64_t h = 0; h < H; ++h) {
          double s = 0;
          for (int64_t j = 0; j < Im; ++j) s += down[size_t((e * H + h) * Im + j)] * hidden[size_t(j)];
          y[size_t(t * H + h)] += w * s;
        }
      }
      std::sort(order.begin(), order.end());
      chosen->push_back(order);
    }
    return y;
  }
};

}  // namespace gemma4::reference

#endif  // GEMMA4_TESTS_REFERENCE_GEMMA4_REFERENCE_H_
