// gemma4/cache.h — HF DynamicCache for Gemma 4: keys and values of past positions, per layer.
//
// - Full-attention layers keep every position; their store grows with the context.
// - Sliding-window layers keep a ring buffer of W − 1 + max_tokens positions: a query at position p sees
//   keys p − W + 1 .. p, so a step of up to max_tokens new tokens needs the W − 1 before it. This is HF's
//   own peak (it concatenates the W − 1 kept positions with the new ones before trimming) and it never
//   grows with the context; with one token per step it is exactly W.
// - KV-shared layers (the last num_kv_shared_layers) have no store: they read the store of the layer they
//   share from (Gemma4TextConfig::kv_shared_from), written earlier in the same step.
// K is stored after k_norm and RoPE, V after v_norm, as [position, KV heads, head_dim] rows of f32.
// Both kinds of store grow as positions are written (a sliding ring up to its fixed size, then it wraps),
// so memory follows the context actually used, never a config number (a sliding_window of 2^30 costs
// nothing until 2^30 positions are held); every size is a checked product.
// truncate() rolls back rejected speculative positions; the ring still holds what the earlier positions
// need as long as no more than max_tokens are rolled back.
#ifndef GEMMA4_CACHE_H_
#define GEMMA4_CACHE_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "gemma4/config.h"
#include "gemma4/error.h"
#include "ops/ops.h"

namespace gemma4 {

struct LayerKV {
  bool is_sliding = false;
  size_t row = 0;       // floats per position: KV heads · head_dim
  size_t capacity = 0;  // positions the store can hold (sliding: fixed ring size; full: grows)
  ops::Buffer<float> k, v;  // on the device chosen when the cache is made (ops/device.h)

  float* k_row(size_t pos) { return k.data() + (is_sliding ? pos % capacity : pos) * row; }
  float* v_row(size_t pos) { return v.data() + (is_sliding ? pos % capacity : pos) * row; }
  size_t bytes() const { return (k.size() + v.size()) * sizeof(float); }
};

struct Gemma4Cache {
  size_t seq_length = 0;        // positions 0 .. seq_length − 1 are stored
  size_t max_tokens = 0;        // most new tokens one forward step may add
  std::vector<int64_t> source;  // per layer: the layer whose store it reads (itself unless KV-shared)
  std::vector<LayerKV> layers;  // per layer; empty for KV-shared layers

  Gemma4Cache() = default;
  Gemma4Cache(const Gemma4TextConfig& config, size_t max_tokens_per_step) : max_tokens(max_tokens_per_step) {
    for (int64_t i = 0; i < config.num_hidden_layers; ++i) {
      source.push_back(config.is_kv_shared_layer(i) ? config.kv_shared_from(i) : i);
      LayerKV kv;
      if (!config.is_kv_shared_layer(i)) {
        const LayerGeometry& g = config.layers[size_t(i)];
        kv.is_sliding = config.is_sliding(i);
        kv.row = size_t(g.num_key_value_heads * g.head_dim);
        if (kv.is_sliding) kv.capacity = size_t(config.sliding_window) - 1 + max_tokens;
      }
      layers.push_back(std::move(kv));
    }
  }

  // Stores k, v ([T, KV·D]) of layer `layer` at positions pos0 .. pos0 + T − 1.
  void write(int64_t layer, size_t pos0, size_t T, const float* k, const float* v) {
    LayerKV& kv = layers[size_t(layer)];
    // slots needed: every position up to pos0 + T (a full store), or up to the ring's size (a sliding one)
    const size_t need = kv.is_sliding ? std::min(pos0 + T, kv.capacity) : pos0 + T;
    if (CheckedMul(need, kv.row, "KV cache") > kv.k.size()) {
      size_t slots = std::max(need, 2 * (kv.k.size() / std::max<size_t>(kv.row, 1)));
      if (kv.is_sliding) slots = std::min(slots, kv.capacity);
      kv.k.resize(CheckedMul(slots, kv.row, "KV cache"));
      kv.v.resize(kv.k.size());
      if (!kv.is_sliding) kv.capacity = slots;
    }
    for (size_t t = 0; t < T; ++t) {
      ops::Copy(kv.k_row(pos0 + t), k + t * kv.row, kv.row);
      ops::Copy(kv.v_row(pos0 + t), v + t * kv.row, kv.row);
    }
  }

  // The positions layer `layer` can read before position `end`, in increasing order (≤ 2 blocks).
  size_t blocks(int64_t layer, size_t end, ops::KVBlock out[2]) {
    LayerKV& kv = layers[size_t(source[size_t(layer)])];
    if (!kv.is_sliding) {
      out[0] = {kv.k.data(), kv.v.data(), 0, end};
      return 1;
    }
    const size_t begin = end > kv.capacity ? end - kv.capacity : 0;
    const size_t slot = begin % kv.capacity;
    const size_t first = std::min(end - begin, kv.capacity - slot);  // up to the end of the ring
    out[0] = {kv.k_row(begin), kv.v_row(begin), begin, first};
    if (first == end - begin) return 1;
    out[1] = {kv.k.data(), kv.v.data(), begin + first, end - begin - first};
    return 2;
  }

  // Forgets positions ≥ new_length (speculative decoding's rollback).
  void truncate(size_t new_length) {
    if (new_length > seq_length) throw Error(Str("cache: cannot truncate ", seq_length, " positions to ", new_length));
    if (seq_length - new_length > max_tokens)
      throw Error(Str("cache: cannot roll back ", seq_length - new_length, " positions; sliding-window layers keep "
                      "only ", max_tokens, " beyond the window"));
    seq_length = new_length;
  }

  void clear() { seq_length = 0; }

  size_t bytes() const {
    size_t n = 0;
    for (const LayerKV& kv : layers) n += kv.bytes();
    return n;
  }

  // The bytes the stores must hold once `positions` positions are written (no growth slack): each own store
  // keeps min(positions, ring size) rows if sliding, every position if full; KV-shared layers keep none.
  // What bytes() is after one step that writes them all (gemma4-eval describe: KV cache vs context).
  size_t bytes_needed(size_t positions) const {
    size_t n = 0;
    for (const LayerKV& kv : layers)
      if (kv.row)
        n += CheckedMul(2 * (kv.is_sliding ? std::min(positions, kv.capacity) : positions), kv.row * sizeof(float),
                        "KV cache");
    return n;
  }
};

}  // namespace gemma4

#endif  // GEMMA4_CACHE_H_
