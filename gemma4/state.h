// gemma4/state.h — the activations of one forward step, allocated once (llama2.c's RunState).
//
// Sized from the config for at most `max_tokens` tokens per step; forward() never allocates. Every array is an
// ops::Buffer: on the device chosen when the state is made (ops/device.h), plain heap memory on the CPU. Letters as in
// docs/ARCHITECTURE.md: T tokens, H hidden, nH heads, KV key/value heads, D head_dim (the largest of any
// layer), I MLP width (the widest layer), L layers, P per-layer-input size, E experts, k top-k, V vocab.
#ifndef GEMMA4_STATE_H_
#define GEMMA4_STATE_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "gemma4/config.h"
#include "gemma4/error.h"
#include "ops/device.h"

namespace gemma4 {

struct ForwardState {
  size_t max_tokens = 0;
  ops::Buffer<float> x;          // [T,H] the residual stream
  ops::Buffer<float> normed;     // [T,H] input of a block after its pre-norm
  ops::Buffer<float> branch;     // [T,H] output of attention / MLP before it joins the stream
  ops::Buffer<float> branch2;    // [T,H] MoE: the experts' output
  ops::Buffer<float> q, attn;    // [T, nH·D]
  ops::Buffer<float> k, v;       // [T, KV·D]
  ops::Buffer<float> gate, up;   // [T, I]
  ops::Buffer<float> cos[2], sin[2];     // [T, rotary pairs] for full (0) and sliding (1) layers
  ops::Buffer<float> per_layer_inputs;   // [T, L, P] PLE, combined
  ops::Buffer<float> per_layer_tmp;      // [T, L·P] PLE: token-identity part
  ops::Buffer<float> per_layer_input;    // [T, P] this layer's slice; the PLE gate
  ops::Buffer<float> router_probs;       // [T, E]
  ops::Buffer<float> top_k_weights;      // [T, k]
  ops::Buffer<int32_t> top_k_index;      // [T, k]
  ops::Buffer<int32_t> expert_rows;      // [T]
  ops::Buffer<float> expert_x, expert_y; // [T, H]
  ops::Buffer<float> expert_gate_up;     // [T, 2·I_moe]

  ForwardState() = default;
  ForwardState(const Gemma4TextConfig& c, size_t max_tokens_) : max_tokens(max_tokens_) {
    const size_t T = max_tokens, H = size_t(c.hidden_size);
    auto n = [T](size_t per_token) { return CheckedMul(T, per_token, "forward state"); };
    size_t qd = 0, kvd = 0, I = 0, pairs = 0;
    for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
      const LayerGeometry& g = c.layers[size_t(i)];
      qd = std::max(qd, size_t(g.num_attention_heads * g.head_dim));
      kvd = std::max(kvd, size_t(g.num_key_value_heads * g.head_dim));
      I = std::max(I, size_t(c.mlp_intermediate_size(i)));
      pairs = std::max(pairs, size_t(g.head_dim / 2));
    }
    x.resize(n(H));
    normed.resize(n(H));
    branch.resize(n(H));
    q.resize(n(qd));
    attn.resize(n(qd));
    k.resize(n(kvd));
    v.resize(n(kvd));
    gate.resize(n(I));
    up.resize(n(I));
    for (auto* b : {&cos[0], &sin[0], &cos[1], &sin[1]}) b->resize(n(pairs));
    if (c.has_per_layer_inputs()) {
      const size_t LP = size_t(c.num_hidden_layers * c.hidden_size_per_layer_input);
      per_layer_inputs.resize(n(LP));
      per_layer_tmp.resize(n(LP));
      per_layer_input.resize(n(size_t(c.hidden_size_per_layer_input)));
    }
    if (c.enable_moe_block) {
      const size_t E = size_t(*c.num_experts), K = size_t(*c.top_k_experts);
      branch2.resize(n(H));
      router_probs.resize(n(E));
      top_k_weights.resize(n(K));
      top_k_index.resize(n(K));
      expert_rows.resize(T);
      expert_x.resize(n(H));
      expert_y.resize(n(H));
      expert_gate_up.resize(n(2 * size_t(*c.moe_intermediate_size)));
    }
  }
};

}  // namespace gemma4

#endif  // GEMMA4_STATE_H_
