// gemma4/experts.h — HF Gemma4TextExperts: E feed-forward experts stored as two stacked tensors.
//
// Expert e on a token u routed to it with weight w:
//   [g; v] = gate_up_proj[e] · u        (rows 0..I−1 are gate, I..2I−1 are up)
//   y     += w · down_proj[e] · (gelu_tanh(g) ⊙ v)
// As in HF, experts run in increasing index over the tokens routed to them, and a token's sum starts at
// zero and adds its experts in that order, so the result does not depend on which tokens share a call.
// Note 704 (26B-A4B's I) is not a multiple of 256: block-quantized formats need 32-element blocks here.
#ifndef GEMMA4_EXPERTS_H_
#define GEMMA4_EXPERTS_H_

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "gemma4/config.h"
#include "gemma4/tensor.h"
#include "ops/ops.h"

namespace gemma4 {

struct Gemma4TextExperts {
  int64_t num_experts = 0;       // E
  int64_t hidden_dim = 0;        // H
  int64_t intermediate_dim = 0;  // I_moe
  Weight gate_up_proj;           // [E, 2·I_moe, H]
  Weight down_proj;              // [E, H, I_moe]
  std::vector<bool> zeroed;      // [E] Ablations "zero_expert" (ablations.h): these add nothing

  Gemma4TextExperts() = default;
  explicit Gemma4TextExperts(const Gemma4TextConfig& config, int64_t layer_idx = -1)
      : num_experts(*config.num_experts), hidden_dim(config.hidden_size),
        intermediate_dim(*config.moe_intermediate_size) {
    gate_up_proj.shape = {num_experts, 2 * intermediate_dim, hidden_dim};
    down_proj.shape = {num_experts, hidden_dim, intermediate_dim};
    for (int64_t e = 0; e < num_experts; ++e) zeroed.push_back(config.ablations.zeroes(layer_idx, e));
  }

  template <class V>
  void visit(V& v) {
    v("gate_up_proj", gate_up_proj);
    v("down_proj", down_proj);
  }

  // u: [T,H]; top_k_index, top_k_weights: [T,k] → out: [T,H].
  // Scratch: rows [T] ids, xs [T,H], gate_up [T,2I], ys [T,H].
  void forward(const float* u, size_t T, const int32_t* top_k_index, const float* top_k_weights, size_t k,
               int32_t* rows, float* xs, float* gate_up, float* ys, float* out) const {
    const size_t H = size_t(hidden_dim), I = size_t(intermediate_dim);
    const Tensor &gu = gate_up_proj.tensor, &down = down_proj.tensor;
    const size_t gu_expert_bytes = 2 * I * gu.row_bytes(), down_expert_bytes = H * down.row_bytes();
    // The gather, the compaction and the zeroing stay on the host on every device (ops/device.h): they move
    // T·k rows; the MatMuls, the gating and the weighted sums are ops.
    std::memset(out, 0, T * H * sizeof(float));
    for (int64_t e = 0; e < num_experts; ++e) {
      if (zeroed[size_t(e)]) continue;  // Ablations "zero_expert"
      size_t n = 0;  // gather the tokens routed to expert e
      for (size_t t = 0; t < T; ++t)
        for (size_t j = 0; j < k; ++j)
          if (top_k_index[t * k + j] == e) {
            rows[n] = int32_t(t * k + j);
            std::memcpy(xs + n * H, u + t * H, H * sizeof(float));
            ++n;
          }
      if (n == 0) continue;
      ops::MatMul(xs, n, H, gu.bytes() + size_t(e) * gu_expert_bytes, gu.dtype, 2 * I, gate_up);
      for (size_t r = 0; r < n; ++r) ops::GeluTanhMul(gate_up + r * 2 * I, gate_up + r * 2 * I + I, I);
      // the gated halves are strided by 2I: compact them so down_proj reads contiguous [n, I] rows
      for (size_t r = 1; r < n; ++r) std::memmove(gate_up + r * I, gate_up + r * 2 * I, I * sizeof(float));
      ops::MatMul(gate_up, n, I, down.bytes() + size_t(e) * down_expert_bytes, down.dtype, H, ys);
      for (size_t r = 0; r < n; ++r) {
        const size_t t = size_t(rows[r]) / k;
        ops::AddScaled(out + t * H, ys + r * H, top_k_weights[rows[r]], H);
      }
    }
  }
};

}  // namespace gemma4

#endif  // GEMMA4_EXPERTS_H_
