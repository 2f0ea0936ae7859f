// gemma4/attention.h — HF Gemma4TextAttention.
//
//   q = RoPE(q_norm(x·Wqᵀ))                           [T, nH, D]
//   own-KV layers:  k = RoPE(k_norm(x·Wkᵀ))           [T, KV, D]
//                   v = v_norm(x·Wvᵀ)  (no weight, no RoPE); with attention_k_eq_v on full layers there is
//                       no v_proj and v = v_norm(x·Wkᵀ), the raw K projection before k_norm
//                   both stored in the cache at their positions
//   KV-shared layers read the K/V of the layer they share from (same step, same positions)
//   out = softmax(scaling · q·kᵀ + mask) · v · Woᵀ   with scaling = 1.0 (q and k are RMS-normed; trap: not
//        1/√D) and no attention softcap (trap: Gemma 2 had one). GQA: head h uses KV head h / (nH / KV).
//   mask: causal; sliding layers also drop keys more than W − 1 positions back (W keys including self).
//   KVRead: a layer whose K/V come from elsewhere (the MTP drafter, gemma4/assistant.h) reads another
//   cache layer, with its own visible range instead of the causal one.
// vs Gemma 3: k_eq_v, KV sharing, per-type head_dim and KV heads, scaling 1.0.
#ifndef GEMMA4_ATTENTION_H_
#define GEMMA4_ATTENTION_H_

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "gemma4/cache.h"
#include "gemma4/config.h"
#include "gemma4/error.h"
#include "gemma4/linear.h"
#include "gemma4/rms_norm.h"
#include "ops/ops.h"

namespace gemma4 {

// Where a layer reads K/V it did not compute: `layer` of the cache it is given, the positions < end,
// and of those, with window > 0, only the last `window` (keys j with end − 1 − j < window). The queries
// are masked as if they sat at end − 1, whatever position their RoPE used. HF: the drafter's
// shared_kv_states with its bidirectional masks (modeling_gemma4_assistant.py create_attention_masks).
struct KVRead {
  int64_t layer = -1;
  size_t end = 0;
  size_t window = 0;
};

struct Gemma4TextAttention {
  int64_t layer_idx = 0;
  bool is_sliding = false;
  int64_t sliding_window = 0;          // W on sliding layers, 0 (no lower bound) on full layers
  int64_t head_dim = 0;                // D
  int64_t num_heads = 0;               // nH
  int64_t num_key_value_heads = 0;     // KV
  bool use_alternative_attention = false;  // attention_k_eq_v on a full layer: no v_proj
  bool is_kv_shared_layer = false;
  float scaling = 1.0f;
  Linear q_proj, k_proj, v_proj, o_proj;
  Gemma4RMSNorm q_norm, k_norm, v_norm;

  Gemma4TextAttention() = default;
  Gemma4TextAttention(const Gemma4TextConfig& config, int64_t layer) : layer_idx(layer) {
    const LayerGeometry& g = config.layers[size_t(layer)];
    is_sliding = config.is_sliding(layer);
    sliding_window = is_sliding ? config.sliding_window : 0;
    head_dim = g.head_dim;
    num_heads = g.num_attention_heads;
    num_key_value_heads = g.num_key_value_heads;
    use_alternative_attention = config.use_alternative_attention(layer);
    is_kv_shared_layer = config.is_kv_shared_layer(layer);
    const int64_t H = config.hidden_size;
    q_proj = Linear(H, num_heads * head_dim);
    q_norm = Gemma4RMSNorm(head_dim, config.rms_norm_eps);
    if (!is_kv_shared_layer) {  // "Layers sharing kv states don't need any weight matrices"
      k_proj = Linear(H, num_key_value_heads * head_dim);
      if (!use_alternative_attention) v_proj = Linear(H, num_key_value_heads * head_dim);
      k_norm = Gemma4RMSNorm(head_dim, config.rms_norm_eps);
      v_norm = Gemma4RMSNorm(head_dim, config.rms_norm_eps, /*with_scale=*/false);
    }
    o_proj = Linear(num_heads * head_dim, H);
  }

  template <class V>
  void visit(V& v) {
    v("q_proj", q_proj);
    v("q_norm", q_norm);
    if (!is_kv_shared_layer) {
      v("k_proj", k_proj);
      if (!use_alternative_attention) v("v_proj", v_proj);
      v("k_norm", k_norm);
    }
    v("o_proj", o_proj);
  }

  // Computes and stores this layer's K/V ([T, KV·D] scratch k, v) for positions pos0 .. pos0 + T − 1.
  void compute_kv(const float* x, size_t T, size_t pos0, const float* cos, const float* sin, size_t rotary_pairs,
                  Gemma4Cache& cache, float* k, float* v) const {
    if (use_alternative_attention)
      k_proj.forward(x, T, k);
    else
      forward_together(x, T, {{&k_proj, k}, {&v_proj, v}});
    store_kv(T, pos0, cos, sin, rotary_pairs, cache, k, v);
  }

  // k = x·Wkᵀ and (unless use_alternative_attention) v = x·Wvᵀ, already projected → normed, RoPE'd on k,
  // and stored in the cache.
  void store_kv(size_t T, size_t pos0, const float* cos, const float* sin, size_t rotary_pairs, Gemma4Cache& cache,
                float* k, float* v) const {
    if (use_alternative_attention) ops::Copy(v, k, T * size_t(num_key_value_heads * head_dim));  // before k_norm
    k_norm.forward(k, T * size_t(num_key_value_heads), k);
    ops::Rope(k, T, size_t(num_key_value_heads), size_t(head_dim), cos, sin, rotary_pairs);
    v_norm.forward(v, T * size_t(num_key_value_heads), v);
    cache.write(layer_idx, pos0, T, k, v);
  }

  // x: [T, H] (after input_layernorm) at positions pos0 .. → out: [T, H].
  // q, attn: [T, nH·D] scratch; k, v: [T, KV·D] scratch; cos, sin: [T, rotary_pairs] for this layer type.
  // kv_read (KV-shared layers only, T = 1): read K/V as it says instead of from this layer's own source.
  void forward(const float* x, size_t T, size_t pos0, const float* cos, const float* sin, size_t rotary_pairs,
               Gemma4Cache& cache, float* q, float* k, float* v, float* attn, float* out,
               const KVRead* kv_read = nullptr) const {
    // The projections of x, in one ops call where there are several (same bits as one forward each).
    if (is_kv_shared_layer)
      q_proj.forward(x, T, q);
    else if (use_alternative_attention)
      forward_together(x, T, {{&q_proj, q}, {&k_proj, k}});
    else
      forward_together(x, T, {{&q_proj, q}, {&k_proj, k}, {&v_proj, v}});
    q_norm.forward(q, T * size_t(num_heads), q);
    ops::Rope(q, T, size_t(num_heads), size_t(head_dim), cos, sin, rotary_pairs);
    if (!is_kv_shared_layer) store_kv(T, pos0, cos, sin, rotary_pairs, cache, k, v);
    ops::KVBlock blocks[2];
    size_t num_blocks = 0;
    if (kv_read) {
      if (!is_kv_shared_layer || T != 1 || kv_read->end == 0)
        throw Error(Str("attention layer ", layer_idx, ": a KV read needs a KV-shared layer, one query and a "
                        "non-empty cache"));
      num_blocks = cache.blocks(kv_read->layer, kv_read->end, blocks);
      ops::Attention(q, T, size_t(num_heads), size_t(head_dim), kv_read->end - 1, blocks, num_blocks,
                     size_t(num_key_value_heads), kv_read->window, scaling, attn);
    } else {
      num_blocks = cache.blocks(layer_idx, pos0 + T, blocks);
      ops::Attention(q, T, size_t(num_heads), size_t(head_dim), pos0, blocks, num_blocks,
                     size_t(num_key_value_heads), size_t(sliding_window), scaling, attn);
    }
    o_proj.forward(attn, T, out);
  }
};

}  // namespace gemma4

#endif  // GEMMA4_ATTENTION_H_
