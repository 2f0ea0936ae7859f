// ops/activation-inl.h — element-wise kernels and reductions: GELU-tanh (GeGLU), softcap, softmax,
// scaled add, scale, argmax. Scalar twin: ops/activation_scalar.h.

// Include guard for non-SIMD code.
#ifndef GEMMA4_OPS_ACTIVATION_INL_H_
#define GEMMA4_OPS_ACTIVATION_INL_H_
#include <cmath>
#include <cstddef>

#include "ops/threads.h"
#endif  // GEMMA4_OPS_ACTIVATION_INL_H_

// Include guard for (potentially) SIMD code: compiled once per target.
#if defined(GEMMA4_OPS_ACTIVATION_TOGGLE) == defined(HWY_TARGET_TOGGLE)
#ifdef GEMMA4_OPS_ACTIVATION_TOGGLE
#undef GEMMA4_OPS_ACTIVATION_TOGGLE
#else
#define GEMMA4_OPS_ACTIVATION_TOGGLE
#endif

#include "hwy/contrib/math/math-inl.h"
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace gemma4::ops {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// gelu(x) = 0.5 · x · (1 + tanh(√(2/π) · (x + 0.044715 · x³)))
//         = x · (0.5 + 0.5 · tanh(x · (0.79788456 + 0.035677408 · x²)))      (0.035677408 = 0.044715·√(2/π))
template <class D, class V>
HWY_INLINE V GeluTanh(D d, V x) {
  const auto c0 = hn::Set(d, 0.7978845608028654f);
  const auto c1 = hn::Set(d, 0.035677408136300125f);
  const auto half = hn::Set(d, 0.5f);
  const auto inner = hn::Mul(x, hn::MulAdd(c1, hn::Mul(x, x), c0));
  return hn::Mul(x, hn::MulAdd(half, hn::Tanh(d, inner), half));
}

// x ← gelu(x) · y (y == nullptr: x ← gelu(x)). The GeGLU gate of the MLP, the experts and PLE.
static HWY_NOINLINE HWY_MAYBE_UNUSED void GeluTanhMulF32(float* HWY_RESTRICT x, const float* HWY_RESTRICT y,
                                                         size_t n) {
  const hn::ScalableTag<float> df;
  const hn::CappedTag<float, 1> d1;
  ParallelRanges(n, 1 << 14, 16, [&](size_t i0, size_t i1) {
    const size_t L = hn::Lanes(df);
    size_t i = i0;
    for (; i + L <= i1; i += L) {
      auto g = GeluTanh(df, hn::LoadU(df, x + i));
      if (y) g = hn::Mul(g, hn::LoadU(df, y + i));
      hn::StoreU(g, df, x + i);
    }
    for (; i < i1; ++i) {  // tails use a one-lane descriptor, so they round exactly like the body
      auto g = GeluTanh(d1, hn::LoadU(d1, x + i));
      if (y) g = hn::Mul(g, hn::LoadU(d1, y + i));
      hn::StoreU(g, d1, x + i);
    }
  });
}

// x ← cap · tanh(x / cap): final_logit_softcapping.
static HWY_NOINLINE HWY_MAYBE_UNUSED void SoftcapF32(float* HWY_RESTRICT x, size_t n, float cap) {
  const hn::ScalableTag<float> df;
  const hn::CappedTag<float, 1> d1;
  ParallelRanges(n, 1 << 14, 16, [&](size_t i0, size_t i1) {
    const size_t L = hn::Lanes(df);
    const auto vcap = hn::Set(df, cap);
    size_t i = i0;
    for (; i + L <= i1; i += L)
      hn::StoreU(hn::Mul(vcap, hn::Tanh(df, hn::Div(hn::LoadU(df, x + i), vcap))), df, x + i);
    const auto vcap1 = hn::Set(d1, cap);
    for (; i < i1; ++i) hn::StoreU(hn::Mul(vcap1, hn::Tanh(d1, hn::Div(hn::LoadU(d1, x + i), vcap1))), d1, x + i);
  });
}

template <class DF>
HWY_INLINE float MaxOf(DF df, const float* HWY_RESTRICT x, size_t n) {
  const size_t L = hn::Lanes(df);
  float max = -HUGE_VALF;
  size_t i = 0;
  if (n >= L) {
    auto vmax = hn::LoadU(df, x);
    for (i = L; i + L <= n; i += L) vmax = hn::Max(vmax, hn::LoadU(df, x + i));
    max = hn::GetLane(hn::MaxOfLanes(df, vmax));
  }
  for (; i < n; ++i) max = x[i] > max ? x[i] : max;
  return max;
}

// x ← exp(x − max) / Σ exp(x − max), single-threaded (rows are short: router logits, attention scores).
template <class DF>
HWY_INLINE void SoftmaxRow(DF df, float* HWY_RESTRICT x, size_t n) {
  if (n == 0) return;
  const hn::CappedTag<float, 1> d1;
  const size_t L = hn::Lanes(df);
  const float max = MaxOf(df, x, n);
  const auto vmax = hn::Set(df, max);
  auto vsum = hn::Zero(df);
  size_t i = 0;
  for (; i + L <= n; i += L) {
    const auto e = hn::Exp(df, hn::Sub(hn::LoadU(df, x + i), vmax));
    hn::StoreU(e, df, x + i);
    vsum = hn::Add(vsum, e);
  }
  float sum = hn::GetLane(hn::SumOfLanes(df, vsum));
  for (; i < n; ++i) {
    const auto e = hn::Exp(d1, hn::Sub(hn::LoadU(d1, x + i), hn::Set(d1, max)));
    hn::StoreU(e, d1, x + i);
    sum += hn::GetLane(e);
  }
  const auto vinv = hn::Set(df, 1.0f / sum);
  for (i = 0; i + L <= n; i += L) hn::StoreU(hn::Mul(hn::LoadU(df, x + i), vinv), df, x + i);
  for (; i < n; ++i) x[i] *= 1.0f / sum;
}

static HWY_NOINLINE HWY_MAYBE_UNUSED void SoftmaxF32(float* x, size_t n) {
  SoftmaxRow(hn::ScalableTag<float>(), x, n);
}

// x ← x + s · y
static HWY_NOINLINE HWY_MAYBE_UNUSED void AddScaledF32(float* HWY_RESTRICT x, const float* HWY_RESTRICT y, float s,
                                                       size_t n) {
  const hn::ScalableTag<float> df;
  const size_t L = hn::Lanes(df);
  const auto vs = hn::Set(df, s);
  size_t i = 0;
  for (; i + L <= n; i += L) hn::StoreU(hn::MulAdd(vs, hn::LoadU(df, y + i), hn::LoadU(df, x + i)), df, x + i);
  const hn::CappedTag<float, 1> d1;
  for (; i < n; ++i) hn::StoreU(hn::MulAdd(hn::Set(d1, s), hn::LoadU(d1, y + i), hn::LoadU(d1, x + i)), d1, x + i);
}

// x ← x · s
static HWY_NOINLINE HWY_MAYBE_UNUSED void ScaleF32(float* HWY_RESTRICT x, size_t n, float s) {
  const hn::ScalableTag<float> df;
  const size_t L = hn::Lanes(df);
  const auto vs = hn::Set(df, s);
  size_t i = 0;
  for (; i + L <= n; i += L) hn::StoreU(hn::Mul(hn::LoadU(df, x + i), vs), df, x + i);
  for (; i < n; ++i) x[i] *= s;
}

// First index of the maximum (torch.argmax's choice on ties).
static HWY_NOINLINE HWY_MAYBE_UNUSED size_t ArgmaxF32(const float* x, size_t n) {
  const hn::ScalableTag<float> df;
  const float max = MaxOf(df, x, n);
  for (size_t i = 0; i < n; ++i)
    if (x[i] == max) return i;
  return 0;  // only reached for n == 0 or all-NaN input
}

}  // namespace HWY_NAMESPACE
}  // namespace gemma4::ops
HWY_AFTER_NAMESPACE();

#endif  // GEMMA4_OPS_ACTIVATION_TOGGLE
