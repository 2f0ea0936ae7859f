// gemma4/rms_norm.h — HF Gemma4RMSNorm: y = x · pow(mean(x²) + eps, −½) · weight, in f32.
// vs Gemma 2/3: the weight is used as stored, not as (1 + weight). with_scale=False (v_norm, the router's
// norm) has no weight at all.
#ifndef GEMMA4_RMS_NORM_H_
#define GEMMA4_RMS_NORM_H_

#include <cstddef>
#include <cstdint>

#include "gemma4/tensor.h"
#include "ops/ops.h"

namespace gemma4 {

struct Gemma4RMSNorm {
  int64_t dim = 0;
  float eps = 1e-6f;
  bool with_scale = true;
  ParamF32 weight;  // [dim], only when with_scale

  Gemma4RMSNorm() = default;
  Gemma4RMSNorm(int64_t dim_, double eps_, bool with_scale_ = true)
      : dim(dim_), eps(static_cast<float>(eps_)), with_scale(with_scale_) {
    weight.shape = {dim_};
  }

  template <class V>
  void visit(V& v) {
    if (with_scale) v("weight", weight);
  }

  // x, y: [rows, dim]; y may be x.
  void forward(const float* x, size_t rows, float* y) const {
    ops::RMSNorm(x, rows, size_t(dim), with_scale ? weight.data.data() : nullptr, eps, y);
  }
};

}  // namespace gemma4

#endif  // GEMMA4_RMS_NORM_H_
