// gemma4/linear.h — HF nn.Linear(bias=False): y = x · Wᵀ, W [out_features, in_features] read in place in
// its stored dtype (f32, bf16, f16), widened to f32 inside the kernel.
#ifndef GEMMA4_LINEAR_H_
#define GEMMA4_LINEAR_H_

#include <cstddef>
#include <cstdint>

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

}  // namespace gemma4

#endif  // GEMMA4_LINEAR_H_
