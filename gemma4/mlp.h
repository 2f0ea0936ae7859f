// gemma4/mlp.h — HF Gemma4TextMLP: down_proj(gelu_tanh(gate_proj(x)) · up_proj(x)), the GeGLU feed-forward.
// vs Gemma 3: width 2·intermediate_size on KV-shared layers when use_double_wide_mlp (E2B).
#ifndef GEMMA4_MLP_H_
#define GEMMA4_MLP_H_

#include <cstddef>
#include <cstdint>
#include <functional>

#include "gemma4/config.h"
#include "gemma4/linear.h"
#include "ops/ops.h"

namespace gemma4 {

struct Gemma4TextMLP;
// The extension point for studying a changed feed-forward (examples/custom_mlp.cpp): a function with
// forward()'s arguments that runs instead of it, with the block's weights at hand. Unset, it costs one
// branch and changes nothing.
using MLPForward = std::function<void(const Gemma4TextMLP& mlp, const float* x, size_t T, float* gate, float* up,
                                      float* out)>;

struct Gemma4TextMLP {
  int64_t intermediate_size = 0;  // I (doubled on KV-shared layers of double-wide models)
  Linear gate_proj, up_proj, down_proj;  // [I,H] [I,H] [H,I]
  MLPForward replaced_forward;    // set: runs instead of forward()'s body (examples/custom_mlp.cpp)

  Gemma4TextMLP() = default;
  Gemma4TextMLP(const Gemma4TextConfig& config, int64_t layer_idx)
      : intermediate_size(config.mlp_intermediate_size(layer_idx)),
        gate_proj(config.hidden_size, intermediate_size),
        up_proj(config.hidden_size, intermediate_size),
        down_proj(intermediate_size, config.hidden_size) {}

  template <class V>
  void visit(V& v) {
    v("gate_proj", gate_proj);
    v("up_proj", up_proj);
    v("down_proj", down_proj);
  }

  // x: [T,H] → out: [T,H]; gate, up: [T,I] scratch.
  void forward(const float* x, size_t T, float* gate, float* up, float* out) const {
    if (replaced_forward) return replaced_forward(*this, x, T, gate, up, out);
    forward_together(x, T, {{&gate_proj, gate}, {&up_proj, up}});  // one ops call, same bits as two forwards
    ops::GeluTanhMul(gate, up, T * size_t(intermediate_size));  // gate ← gelu(gate) · up
    down_proj.forward(gate, T, out);
  }
};

}  // namespace gemma4

#endif  // GEMMA4_MLP_H_
