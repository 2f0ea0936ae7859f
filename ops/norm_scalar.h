// ops/norm_scalar.h — RMSNorm, the readable definition.
//
// HF Gemma4RMSNorm: y = x · pow(mean(x²) + eps, -0.5) · w   (w used as stored: NOT Gemma 2/3's (1 + w)).
// with_scale=False (v_norm, the router's norm) is weight == nullptr.
#ifndef GEMMA4_OPS_NORM_SCALAR_H_
#define GEMMA4_OPS_NORM_SCALAR_H_

#include <cmath>
#include <cstddef>

namespace gemma4::ops::scalar {

// Normalizes each of `rows` rows of n elements. y may alias x.
inline void RMSNorm(const float* x, size_t rows, size_t n, const float* weight, float eps, float* y) {
  for (size_t r = 0; r < rows; ++r) {
    const float* xr = x + r * n;
    float* yr = y + r * n;
    double sum_sq = 0.0;
    for (size_t i = 0; i < n; ++i) sum_sq += double(xr[i]) * double(xr[i]);
    const double inv_rms = 1.0 / std::sqrt(sum_sq / double(n) + double(eps));
    for (size_t i = 0; i < n; ++i) {
      const double v = double(xr[i]) * inv_rms;
      yr[i] = static_cast<float>(weight ? v * double(weight[i]) : v);
    }
  }
}

}  // namespace gemma4::ops::scalar

#endif  // GEMMA4_OPS_NORM_SCALAR_H_
