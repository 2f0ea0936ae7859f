// gemma4/text_model.h — HF Gemma4TextModel: embeddings, per-layer embeddings (PLE), the decoder layers and
// the final norm.
//
//   e   = embed_tokens(ids) = E[ids] · √H                                   [T,H]
//   PLE (hidden_size_per_layer_input P > 0), once per token before the layers:
//     get_per_layer_inputs:     tok = E_ple[ids] · √P, as [T, L, P]
//     project_per_layer_inputs: ctx = per_layer_projection_norm(reshape(e · W_plmᵀ · H^−½, [T, L, P]))
//                               ple = (ctx + tok) · 2^−½
//     (trap: both scales, √P and H^−½, are easy to miss; ctx uses the *scaled* e)
//   x = e;  x = layer_i(x, ple[:, i]) for each layer;  h = norm(x)
// Positions continue from the cache: a step of T tokens covers cache.seq_length .. + T − 1.
#ifndef GEMMA4_TEXT_MODEL_H_
#define GEMMA4_TEXT_MODEL_H_

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "gemma4/cache.h"
#include "gemma4/capture.h"
#include "gemma4/config.h"
#include "gemma4/decoder_layer.h"
#include "gemma4/error.h"
#include "gemma4/linear.h"
#include "gemma4/rms_norm.h"
#include "gemma4/rotary_embedding.h"
#include "gemma4/scaled_word_embedding.h"
#include "gemma4/state.h"
#include "ops/ops.h"

namespace gemma4 {

struct Gemma4TextModel {
  Gemma4TextConfig config;
  Gemma4TextScaledWordEmbedding embed_tokens;
  std::vector<Gemma4TextDecoderLayer> layers;
  Gemma4RMSNorm norm;
  Gemma4TextRotaryEmbedding rotary_emb;
  // PLE
  Gemma4TextScaledWordEmbedding embed_tokens_per_layer;  // [V_ple, L·P], scale √P
  Linear per_layer_model_projection;                     // [L·P, H]
  float per_layer_model_projection_scale = 1.0f;         // H^−½
  Gemma4RMSNorm per_layer_projection_norm;               // [P]
  float per_layer_input_scale = 1.0f;                    // 2^−½

  Gemma4TextModel() = default;
  explicit Gemma4TextModel(const Gemma4TextConfig& c)
      : config(c), embed_tokens(c.vocab_size, c.hidden_size, std::sqrt(double(c.hidden_size))),
        norm(c.hidden_size, c.rms_norm_eps), rotary_emb(c) {
    for (int64_t i = 0; i < c.num_hidden_layers; ++i) layers.emplace_back(c, i);
    if (c.has_per_layer_inputs()) {
      const int64_t LP = c.num_hidden_layers * c.hidden_size_per_layer_input;
      embed_tokens_per_layer = Gemma4TextScaledWordEmbedding(c.vocab_size_per_layer_input, LP,
                                                             std::sqrt(double(c.hidden_size_per_layer_input)));
      embed_tokens_per_layer.weight.rows_only = true;  // only rows of the tokens seen are ever read
      per_layer_model_projection = Linear(c.hidden_size, LP);
      per_layer_model_projection_scale = static_cast<float>(std::pow(double(c.hidden_size), -0.5));
      per_layer_projection_norm = Gemma4RMSNorm(c.hidden_size_per_layer_input, c.rms_norm_eps);
      per_layer_input_scale = static_cast<float>(std::pow(2.0, -0.5));
    }
  }

  template <class V>
  void visit(V& v) {
    v("embed_tokens", embed_tokens);
    for (size_t i = 0; i < layers.size(); ++i) v("layers." + std::to_string(i), layers[i]);
    v("norm", norm);
    if (config.has_per_layer_inputs()) {
      v("embed_tokens_per_layer", embed_tokens_per_layer);
      v("per_layer_model_projection", per_layer_model_projection);
      v("per_layer_projection_norm", per_layer_projection_norm);
    }
  }

  // Every id must index both embedding tables.
  void check_ids(const int32_t* ids, size_t T) const {
    for (size_t t = 0; t < T; ++t) {
      if (ids[t] < 0 || ids[t] >= config.vocab_size)
        throw Error(Str("token id ", ids[t], " at position ", t, " is outside the vocabulary (vocab_size ",
                        config.vocab_size, ")"));
      if (config.has_per_layer_inputs() && ids[t] >= config.vocab_size_per_layer_input)
        throw Error(Str("token id ", ids[t], " at position ", t, " is outside the per-layer embedding table "
                        "(vocab_size_per_layer_input ", config.vocab_size_per_layer_input, ")"));
    }
  }

  // tok → s.per_layer_tmp [T, L·P];  ple → s.per_layer_inputs laid out [L, T, P] so each layer's slice is
  // contiguous (HF's [T, L, P], transposed).
  void per_layer_inputs(const int32_t* ids, size_t T, ForwardState& s, Capture* capture) const {
    const size_t L = size_t(config.num_hidden_layers), P = size_t(config.hidden_size_per_layer_input);
    float* tok = s.per_layer_tmp.data();
    embed_tokens_per_layer.forward(ids, T, tok);                     // get_per_layer_inputs
    float* ctx = s.per_layer_inputs.data();                          // project_per_layer_inputs, [T, L, P]
    per_layer_model_projection.forward(s.x.data(), T, ctx);
    ops::Scale(ctx, T * L * P, per_layer_model_projection_scale);
    per_layer_projection_norm.forward(ctx, T * L, ctx);
    ops::Add(tok, ctx, T * L * P);
    ops::Scale(tok, T * L * P, per_layer_input_scale);               // tok now holds ple [T, L, P]
    if (capture) capture->add("ple_inputs", {int64_t(T), int64_t(L), int64_t(P)}, tok);
    // On the host on every device (ops/device.h): a transpose, T·L·P floats once per step.
    for (size_t t = 0; t < T; ++t)
      for (size_t i = 0; i < L; ++i)
        for (size_t p = 0; p < P; ++p) ctx[(i * T + t) * P + p] = tok[(t * L + i) * P + p];
  }

  // ids [T] at positions cache.seq_length .. → s.x [T,H]: the final-norm hidden states. Advances the cache.
  void forward(const int32_t* ids, size_t T, Gemma4Cache& cache, ForwardState& s, Capture* capture = nullptr) const {
    if (T == 0) return;
    if (T > s.max_tokens || T > cache.max_tokens)
      throw Error(Str("forward: ", T, " tokens in one step, but the state holds ", s.max_tokens, " and the cache ",
                      cache.max_tokens));
    check_ids(ids, T);
    const size_t H = size_t(config.hidden_size), pos0 = cache.seq_length;
    embed_tokens.forward(ids, T, s.x.data());
    if (capture) capture->add("embeddings", {int64_t(T), int64_t(H)}, s.x.data());
    if (config.has_per_layer_inputs()) per_layer_inputs(ids, T, s, capture);
    for (int type = 0; type < 2; ++type)  // position_embeddings, once per layer type
      if (rotary_emb.table(type == 1).head_dim) rotary_emb.forward(type == 1, pos0, T, s.cos[type].data(), s.sin[type].data());

    const size_t P = size_t(config.hidden_size_per_layer_input);
    for (size_t i = 0; i < layers.size(); ++i) {
      const float* ple = P ? s.per_layer_inputs.data() + i * T * P : nullptr;
      layers[i].forward(s, T, pos0, rotary_emb, ple, cache, capture);
      if (capture) {
        capture->add("hidden_states." + std::to_string(i), {int64_t(T), int64_t(H)}, s.x.data());
        if (config.store_full_length_kv(int64_t(i))) {  // the K/V the KV-shared layers of this type read
          const LayerGeometry& g = config.layers[i];
          const std::string name = "shared_kv." + config.layer_types[i];
          capture->add(name + ".k", {int64_t(T), g.num_key_value_heads, g.head_dim}, s.k.data());
          capture->add(name + ".v", {int64_t(T), g.num_key_value_heads, g.head_dim}, s.v.data());
        }
      }
    }
    cache.seq_length += T;
    norm.forward(s.x.data(), T, s.x.data());
    if (capture) capture->add("final_norm", {int64_t(T), int64_t(H)}, s.x.data());
  }
};

}  // namespace gemma4

#endif  // GEMMA4_TEXT_MODEL_H_
