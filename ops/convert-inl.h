// ops/convert-inl.h — widening stored weights to f32 vectors; the loads every weight-reading kernel uses.
//
// bf16 → f32 is exact (a 16-bit shift), f16 → f32 is exact (F16C on AVX2/AVX3). Scalar twin:
// ops/convert_scalar.h.

// Include guard for non-SIMD code.
#ifndef GEMMA4_OPS_CONVERT_INL_H_
#define GEMMA4_OPS_CONVERT_INL_H_
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "ops/dtype.h"
#endif  // GEMMA4_OPS_CONVERT_INL_H_

// Include guard for (potentially) SIMD code: compiled once per target.
#if defined(GEMMA4_OPS_CONVERT_TOGGLE) == defined(HWY_TARGET_TOGGLE)
#ifdef GEMMA4_OPS_CONVERT_TOGGLE
#undef GEMMA4_OPS_CONVERT_TOGGLE
#else
#define GEMMA4_OPS_CONVERT_TOGGLE
#endif

#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace gemma4::ops {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Lanes(df) consecutive weights starting at p, as f32.
template <class DF>
HWY_INLINE hn::Vec<DF> LoadAsF32(DF df, const float* HWY_RESTRICT p) {
  return hn::LoadU(df, p);
}
template <class DF>
HWY_INLINE hn::Vec<DF> LoadAsF32(DF df, const hwy::bfloat16_t* HWY_RESTRICT p) {
  const hn::Rebind<hwy::bfloat16_t, DF> dbf;
  return hn::PromoteTo(df, hn::LoadU(dbf, p));
}
template <class DF>
HWY_INLINE hn::Vec<DF> LoadAsF32(DF df, const hwy::float16_t* HWY_RESTRICT p) {
  const hn::Rebind<hwy::float16_t, DF> dh;
  return hn::PromoteTo(df, hn::LoadU(dh, p));
}

// One element, for tails shorter than a vector.
HWY_INLINE float ElementAsF32(const float* p, size_t i) { return p[i]; }
HWY_INLINE float ElementAsF32(const hwy::bfloat16_t* p, size_t i) {
  uint16_t bits;
  std::memcpy(&bits, p + i, 2);
  return F32FromBF16(bits);
}
HWY_INLINE float ElementAsF32(const hwy::float16_t* p, size_t i) {
  uint16_t bits;
  std::memcpy(&bits, p + i, 2);
  return F32FromF16(bits);
}

template <typename WT>
HWY_INLINE void ToF32T(const WT* HWY_RESTRICT src, size_t n, float scale, float* HWY_RESTRICT dst) {
  const hn::ScalableTag<float> df;
  const size_t N = hn::Lanes(df);
  const auto vscale = hn::Set(df, scale);
  size_t i = 0;
  for (; i + N <= n; i += N) hn::StoreU(hn::Mul(LoadAsF32(df, src + i), vscale), df, dst + i);
  for (; i < n; ++i) dst[i] = ElementAsF32(src, i) * scale;
}

static HWY_NOINLINE HWY_MAYBE_UNUSED void ToF32FromF32(const float* src, size_t n, float scale, float* dst) {
  ToF32T(src, n, scale, dst);
}
static HWY_NOINLINE HWY_MAYBE_UNUSED void ToF32FromBF16(const uint16_t* src, size_t n, float scale, float* dst) {
  ToF32T(reinterpret_cast<const hwy::bfloat16_t*>(src), n, scale, dst);
}
static HWY_NOINLINE HWY_MAYBE_UNUSED void ToF32FromF16(const uint16_t* src, size_t n, float scale, float* dst) {
  ToF32T(reinterpret_cast<const hwy::float16_t*>(src), n, scale, dst);
}

}  // namespace HWY_NAMESPACE
}  // namespace gemma4::ops
HWY_AFTER_NAMESPACE();

#endif  // GEMMA4_OPS_CONVERT_TOGGLE
