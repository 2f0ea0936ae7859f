// ops/norm-inl.h — RMSNorm over rows.
//
// HF Gemma4RMSNorm: y = x · pow(mean(x²) + eps, −½) · w, computed in f32; w is used as stored.
// vs Gemma 2/3: their (1 + w) is gone — no FMA trick (`x + w·x`) here.
// The per-row factor is formed in double from the f32 sum of squares; then y = (x · factor) · w,
// two roundings as in HF. Scalar twin: ops/norm_scalar.h.

// Include guard for non-SIMD code.
#ifndef GEMMA4_OPS_NORM_INL_H_
#define GEMMA4_OPS_NORM_INL_H_
#include <cmath>
#include <cstddef>

#include "ops/threads.h"
#endif  // GEMMA4_OPS_NORM_INL_H_

// Include guard for (potentially) SIMD code: compiled once per target.
#if defined(GEMMA4_OPS_NORM_TOGGLE) == defined(HWY_TARGET_TOGGLE)
#ifdef GEMMA4_OPS_NORM_TOGGLE
#undef GEMMA4_OPS_NORM_TOGGLE
#else
#define GEMMA4_OPS_NORM_TOGGLE
#endif

#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace gemma4::ops {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

template <class DF>
HWY_INLINE float SumOfSquares(DF df, const float* HWY_RESTRICT x, size_t n) {
  const size_t L = hn::Lanes(df);
  auto acc = hn::Zero(df);
  size_t i = 0;
  for (; i + L <= n; i += L) {
    const auto v = hn::LoadU(df, x + i);
    acc = hn::MulAdd(v, v, acc);
  }
  const hn::CappedTag<float, 1> d1;  // tail with an explicit FMA (see matmul-inl.h)
  auto tail = hn::Zero(d1);
  for (; i < n; ++i) {
    const auto v = hn::LoadU(d1, x + i);
    tail = hn::MulAdd(v, v, tail);
  }
  return hn::GetLane(hn::SumOfLanes(df, acc)) + hn::GetLane(tail);
}

template <class DF>
HWY_INLINE void RMSNormRow(DF df, const float* x, size_t n, const float* HWY_RESTRICT weight, float eps,
                           float* y) {
  const size_t L = hn::Lanes(df);
  const float factor = static_cast<float>(1.0 / std::sqrt(double(SumOfSquares(df, x, n)) / double(n) + double(eps)));
  const auto vf = hn::Set(df, factor);
  size_t i = 0;
  if (weight) {
    for (; i + L <= n; i += L)
      hn::StoreU(hn::Mul(hn::Mul(hn::LoadU(df, x + i), vf), hn::LoadU(df, weight + i)), df, y + i);
    for (; i < n; ++i) y[i] = (x[i] * factor) * weight[i];
  } else {
    for (; i + L <= n; i += L) hn::StoreU(hn::Mul(hn::LoadU(df, x + i), vf), df, y + i);
    for (; i < n; ++i) y[i] = x[i] * factor;
  }
}

// y may alias x (each row is read fully before it is written).
static HWY_NOINLINE HWY_MAYBE_UNUSED void RMSNormF32(const float* x, size_t rows, size_t n, const float* weight,
                                                     float eps, float* y) {
  const hn::ScalableTag<float> df;
  const size_t grain = std::max<size_t>(1, 8192 / std::max<size_t>(1, n));
  ParallelRanges(rows, grain, 1, [&](size_t r0, size_t r1) {
    for (size_t r = r0; r < r1; ++r) RMSNormRow(df, x + r * n, n, weight, eps, y + r * n);
  });
}

}  // namespace HWY_NAMESPACE
}  // namespace gemma4::ops
HWY_AFTER_NAMESPACE();

#endif  // GEMMA4_OPS_NORM_TOGGLE
