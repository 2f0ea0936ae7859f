// gemma4/linear.h — HF nn.Linear(bias=False): y = x · Wᵀ, W [out_features, in_features] read in place in
// its stored dtype (f32, bf16, f16), widened to f32 inside the kernel.
#ifndef GEMMA4_LINEAR_H_
#define GEMMA4_LINEAR_H_

#include <cstddef>
#include <cstdint>

#include "gemma4/error.h"
#include "gemma4/tensor.h"
#include "ops/ops.h"

namespace gemma4 {

struct Linear {
  int64_t in_features = 0;
  int64_t out_features = 0;
  Weight weight;  // [out_features, in_features]

  Linear() = default;
  Linear(int64_t in, int64_t out) : in_features(in), out_features(out) { weight.shape = {out, in}; }

  template <class V>
  void visit(V& v) { v("weight", weight); }

  // x: [T, in_features] → y: [T, out_features]
  void forward(const float* x, size_t T, float* y) const {
    ops::MatMul(x, T, size_t(in_features), weight.tensor.data, weight.tensor.dtype, size_t(out_features), y);
  }
};

// One Linear of a group that reads the same input, and where its output goes.
struct LinearOutput {
  const Linear* linear;
  float* y;  // [T, out_features]
};

// y = linear.forward(x) for each of several Linears of the same input (q/k/v, gate/up), in one ops call
// (ops::MatMulGroup): the threads split all their rows at once. The same bits as one forward each.
template <size_t n>
inline void forward_together(const float* x, size_t T, const LinearOutput (&outputs)[n]) {
  ops::MatMulPart parts[n];
  for (size_t i = 0; i < n; ++i) {
    const Linear& l = *outputs[i].linear;
    if (l.in_features != outputs[0].linear->in_features)
      throw Error(Str("forward_together: Linears of one input need one in_features, got ",
                        outputs[0].linear->in_features, " and ", l.in_features));
    parts[i] = {l.weight.tensor.data, l.weight.tensor.dtype, size_t(l.out_features), outputs[i].y};
  }
  ops::MatMulGroup(x, T, size_t(outputs[0].linear->in_features), parts, n);
}

}  // namespace gemma4

#endif  // GEMMA4_LINEAR_H_
