// gemma4/router.h — HF Gemma4TextRouter: which experts see each token, and with what weight.
//
//   z = RMSNorm_noscale(r) · scale · H^−½                 (r: the residual stream before any FFN norm)
//   p = softmax(z · projᵀ)                                 over all E experts, f32
//   top_k_index, w = top-k of p;  w ← w / Σw;  w ← w · per_expert_scale[top_k_index]
// Top-k order is by probability, ties to the lower expert index.
#ifndef GEMMA4_ROUTER_H_
#define GEMMA4_ROUTER_H_

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <numeric>
#include <vector>

#include "gemma4/config.h"
#include "gemma4/linear.h"
#include "gemma4/rms_norm.h"
#include "ops/ops.h"

namespace gemma4 {

struct Gemma4TextRouter {
  int64_t hidden_size = 0;   // H
  int64_t num_experts = 0;   // E
  int64_t top_k = 0;         // k
  float scalar_root_size = 1.0f;  // H^−½
  Gemma4RMSNorm norm;        // with_scale=False
  Linear proj;               // [E, H]
  ParamF32 scale;            // [H]
  ParamF32 per_expert_scale; // [E]

  Gemma4TextRouter() = default;
  explicit Gemma4TextRouter(const Gemma4TextConfig& config)
      : hidden_size(config.hidden_size), num_experts(*config.num_experts), top_k(*config.top_k_experts),
        scalar_root_size(static_cast<float>(std::pow(double(config.hidden_size), -0.5))),
        norm(config.hidden_size, config.rms_norm_eps, /*with_scale=*/false), proj(hidden_size, num_experts) {
    scale.shape = {hidden_size};
    per_expert_scale.shape = {num_experts};
  }

  template <class V>
  void visit(V& v) {
    v("proj", proj);
    v("scale", scale);
    v("per_expert_scale", per_expert_scale);
  }

  // r: [T,H] → probs [T,E], top_k_index [T,k], top_k_weights [T,k]; z: [T,H] scratch.
  void forward(const float* r, size_t T, float* z, float* probs, int32_t* top_k_index, float* top_k_weights) const {
    const size_t H = size_t(hidden_size), E = size_t(num_experts), K = size_t(top_k);
    norm.forward(r, T, z);
    // The scaling and the top-k below stay on the host on every device (ops/device.h): T·E probabilities,
    // and a partial sort whose tie rule (lower index) is the routing's definition.
    for (size_t t = 0; t < T; ++t)
      for (size_t i = 0; i < H; ++i) z[t * H + i] = z[t * H + i] * scale.data[i] * scalar_root_size;
    proj.forward(z, T, probs);
    std::vector<int32_t> order(E);
    for (size_t t = 0; t < T; ++t) {
      float* p = probs + t * E;
      ops::Softmax(p, E);
      std::iota(order.begin(), order.end(), 0);
      std::partial_sort(order.begin(), order.begin() + K, order.end(),
                        [p](int32_t a, int32_t b) { return p[a] > p[b] || (p[a] == p[b] && a < b); });
      float sum = 0.0f;
      for (size_t j = 0; j < K; ++j) sum += p[order[j]];
      for (size_t j = 0; j < K; ++j) {
        top_k_index[t * K + j] = order[j];
        top_k_weights[t * K + j] = p[order[j]] / sum * per_expert_scale.data[size_t(order[j])];
      }
    }
  }
};

}  // namespace gemma4

#endif  // GEMMA4_ROUTER_H_
