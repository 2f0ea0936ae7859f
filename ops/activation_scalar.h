// ops/activation_scalar.h — element-wise ops and reductions, the readable definitions.
//
// GELU (HF "gelu_pytorch_tanh"): gelu(x) = 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).
// Softcap (final_logit_softcapping c): x ← c·tanh(x / c).
// Softmax: x ← exp(x − max x) / Σ exp(x − max x).
#ifndef GEMMA4_OPS_ACTIVATION_SCALAR_H_
#define GEMMA4_OPS_ACTIVATION_SCALAR_H_

#include <cmath>
#include <cstddef>

namespace gemma4::ops::scalar {

inline double GeluTanh(double x) {
  const double kSqrt2OverPi = 0.79788456080286535587989211986876;
  return 0.5 * x * (1.0 + std::tanh(kSqrt2OverPi * (x + 0.044715 * x * x * x)));
}

// x ← gelu(x) · y, the GeGLU gate (y == nullptr: x ← gelu(x)).
inline void GeluTanhMul(float* x, const float* y, size_t n) {
  for (size_t i = 0; i < n; ++i) x[i] = static_cast<float>(GeluTanh(x[i]) * (y ? double(y[i]) : 1.0));
}

inline void Softcap(float* x, size_t n, float cap) {
  for (size_t i = 0; i < n; ++i) x[i] = static_cast<float>(double(cap) * std::tanh(double(x[i]) / double(cap)));
}

inline void Softmax(float* x, size_t n) {
  if (n == 0) return;
  double max = x[0];
  for (size_t i = 1; i < n; ++i) max = x[i] > max ? x[i] : max;
  double sum = 0.0;
  for (size_t i = 0; i < n; ++i) sum += std::exp(double(x[i]) - max);
  for (size_t i = 0; i < n; ++i) x[i] = static_cast<float>(std::exp(double(x[i]) - max) / sum);
}

// x ← x + s·y  (residual adds with s = 1, weighted expert outputs).
inline void AddScaled(float* x, const float* y, float s, size_t n) {
  for (size_t i = 0; i < n; ++i) x[i] = static_cast<float>(double(x[i]) + double(s) * double(y[i]));
}

inline void Scale(float* x, size_t n, float s) {
  for (size_t i = 0; i < n; ++i) x[i] *= s;
}

// Index of the largest element; the first one on ties (torch.argmax's documented choice).
inline size_t Argmax(const float* x, size_t n) {
  size_t best = 0;
  for (size_t i = 1; i < n; ++i)
    if (x[i] > x[best]) best = i;
  return best;
}

}  // namespace gemma4::ops::scalar

#endif  // GEMMA4_OPS_ACTIVATION_SCALAR_H_
