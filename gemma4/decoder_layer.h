// gemma4/decoder_layer.h — HF Gemma4TextDecoderLayer: one block of the residual stream.
//
//   r = x;  x = r + post_attention_layernorm(self_attn(input_layernorm(x)))
//   r = x;  m = mlp(pre_feedforward_layernorm(x))
//   MoE:    m = post_feedforward_layernorm_1(m)
//             + post_feedforward_layernorm_2(experts(pre_feedforward_layernorm_2(r), router(r)))
//           x = r + post_feedforward_layernorm(m)
//   PLE:    x = x + post_per_layer_input_norm(per_layer_projection(gelu(per_layer_input_gate(x)) ⊙ ple_i))
//   x = x · layer_scalar
// vs Gemma 3: the MoE branch beside the dense MLP, the per-layer-input tail, layer_scalar.
#ifndef GEMMA4_DECODER_LAYER_H_
#define GEMMA4_DECODER_LAYER_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "gemma4/attention.h"
#include "gemma4/cache.h"
#include "gemma4/capture.h"
#include "gemma4/config.h"
#include "gemma4/experts.h"
#include "gemma4/linear.h"
#include "gemma4/mlp.h"
#include "gemma4/rms_norm.h"
#include "gemma4/rotary_embedding.h"
#include "gemma4/router.h"
#include "gemma4/state.h"
#include "ops/ops.h"

namespace gemma4 {

struct Gemma4TextDecoderLayer {
  int64_t layer_idx = 0;
  int64_t hidden_size = 0;                  // H
  int64_t hidden_size_per_layer_input = 0;  // P (0: no PLE tail)
  bool enable_moe_block = false;
  bool skipped = false;                     // Ablations "skip_layer=i" (ablations.h)
  bool drop_per_layer_input = false;        // Ablations "ple"
  Gemma4TextAttention self_attn;
  Gemma4TextMLP mlp;
  Gemma4RMSNorm input_layernorm, post_attention_layernorm, pre_feedforward_layernorm, post_feedforward_layernorm;
  ParamF32 layer_scalar;  // [1]
  // PLE
  Linear per_layer_input_gate;              // [P,H]
  Linear per_layer_projection;              // [H,P]
  Gemma4RMSNorm post_per_layer_input_norm;
  // MoE
  Gemma4TextRouter router;
  Gemma4TextExperts experts;
  Gemma4RMSNorm post_feedforward_layernorm_1, post_feedforward_layernorm_2, pre_feedforward_layernorm_2;

  Gemma4TextDecoderLayer() = default;
  Gemma4TextDecoderLayer(const Gemma4TextConfig& config, int64_t layer)
      : layer_idx(layer), hidden_size(config.hidden_size),
        hidden_size_per_layer_input(config.hidden_size_per_layer_input), enable_moe_block(config.enable_moe_block),
        skipped(config.ablations.skips(layer)), drop_per_layer_input(config.ablations.drop_per_layer_inputs),
        self_attn(config, layer), mlp(config, layer) {
    const int64_t H = hidden_size;
    const double eps = config.rms_norm_eps;
    input_layernorm = post_attention_layernorm = pre_feedforward_layernorm = post_feedforward_layernorm =
        Gemma4RMSNorm(H, eps);
    layer_scalar.shape = {1};
    if (hidden_size_per_layer_input) {
      per_layer_input_gate = Linear(H, hidden_size_per_layer_input);
      per_layer_projection = Linear(hidden_size_per_layer_input, H);
      post_per_layer_input_norm = Gemma4RMSNorm(H, eps);
    }
    if (enable_moe_block) {
      router = Gemma4TextRouter(config);
      experts = Gemma4TextExperts(config, layer);
      post_feedforward_layernorm_1 = post_feedforward_layernorm_2 = pre_feedforward_layernorm_2 = Gemma4RMSNorm(H, eps);
    }
  }

  template <class V>
  void visit(V& v) {
    v("self_attn", self_attn);
    v("mlp", mlp);
    v("input_layernorm", input_layernorm);
    v("post_attention_layernorm", post_attention_layernorm);
    v("pre_feedforward_layernorm", pre_feedforward_layernorm);
    v("post_feedforward_layernorm", post_feedforward_layernorm);
    v("layer_scalar", layer_scalar);
    if (hidden_size_per_layer_input) {
      v("per_layer_input_gate", per_layer_input_gate);
      v("per_layer_projection", per_layer_projection);
      v("post_per_layer_input_norm", post_per_layer_input_norm);
    }
    if (enable_moe_block) {
      v("router", router);
      v("experts", experts);
      v("post_feedforward_layernorm_1", post_feedforward_layernorm_1);
      v("post_feedforward_layernorm_2", post_feedforward_layernorm_2);
      v("pre_feedforward_layernorm_2", pre_feedforward_layernorm_2);
    }
  }

  // s.x [T,H]: the residual stream, updated in place, for tokens at positions pos0 .. pos0 + T − 1.
  // per_layer_input: this layer's [T,P] slice of the PLE inputs (null without PLE).
  // kv_read: K/V from elsewhere (the MTP drafter's layers read the target's cache; see attention.h).
  void forward(ForwardState& s, size_t T, size_t pos0, const Gemma4TextRotaryEmbedding& rotary,
               const float* per_layer_input, Gemma4Cache& cache, Capture* capture,
               const KVRead* kv_read = nullptr) const {
    const size_t H = size_t(hidden_size);
    float* x = s.x.data();
    const int type = self_attn.is_sliding ? 1 : 0;
    const size_t pairs = rotary.table(self_attn.is_sliding).rotary_pairs();

    input_layernorm.forward(x, T, s.normed.data());
    if (skipped) {  // Ablations "skip_layer=i": x passes through; the K/V still go to the cache for their readers
      if (!self_attn.is_kv_shared_layer && !kv_read)
        self_attn.compute_kv(s.normed.data(), T, pos0, s.cos[type].data(), s.sin[type].data(), pairs, cache,
                             s.k.data(), s.v.data());
      return;
    }
    self_attn.forward(s.normed.data(), T, pos0, s.cos[type].data(), s.sin[type].data(), pairs, cache, s.q.data(),
                      s.k.data(), s.v.data(), s.attn.data(), s.branch.data(), kv_read);
    post_attention_layernorm.forward(s.branch.data(), T, s.branch.data());
    ops::Add(x, s.branch.data(), T * H);

    pre_feedforward_layernorm.forward(x, T, s.normed.data());
    mlp.forward(s.normed.data(), T, s.gate.data(), s.up.data(), s.branch.data());
    if (enable_moe_block) {
      post_feedforward_layernorm_1.forward(s.branch.data(), T, s.branch.data());
      router.forward(x, T, s.normed.data(), s.router_probs.data(), s.top_k_index.data(), s.top_k_weights.data());
      pre_feedforward_layernorm_2.forward(x, T, s.normed.data());
      experts.forward(s.normed.data(), T, s.top_k_index.data(), s.top_k_weights.data(), size_t(router.top_k),
                      s.expert_rows.data(), s.expert_x.data(), s.expert_gate_up.data(), s.expert_y.data(),
                      s.branch2.data());
      post_feedforward_layernorm_2.forward(s.branch2.data(), T, s.branch2.data());
      ops::Add(s.branch.data(), s.branch2.data(), T * H);
      if (capture) {
        const std::string i = std::to_string(layer_idx);
        const int64_t E = router.num_experts, K = router.top_k;
        capture->add("router_probs." + i, {int64_t(T), E}, s.router_probs.data());
        capture->add("router_topk_idx." + i, {int64_t(T), K}, s.top_k_index.data());
        capture->add("router_topk_w." + i, {int64_t(T), K}, s.top_k_weights.data());
      }
    }
    post_feedforward_layernorm.forward(s.branch.data(), T, s.branch.data());
    ops::Add(x, s.branch.data(), T * H);

    if (hidden_size_per_layer_input && !drop_per_layer_input) {  // Ablations "ple": no PLE tail
      const size_t P = size_t(hidden_size_per_layer_input);
      float* gate = s.per_layer_input.data();  // [T,P]
      per_layer_input_gate.forward(x, T, gate);
      ops::GeluTanhMul(gate, per_layer_input, T * P);
      per_layer_projection.forward(gate, T, s.branch.data());
      post_per_layer_input_norm.forward(s.branch.data(), T, s.branch.data());
      ops::Add(x, s.branch.data(), T * H);
    }
    ops::Scale(x, T * H, layer_scalar.data[0]);
  }
};

}  // namespace gemma4

#endif  // GEMMA4_DECODER_LAYER_H_
