// ops/quant-inl.h — MatMul and ToF32 on llama.cpp's Q8_0 and Q4_0 blocks (GGUF weights), read in place.
//
// Scalar twins: ops/quant_scalar.h (formats, dequantization) and ops/matmul_scalar.h.
//
// Activations stay f32 and are never quantized: each weight is dequantized to f32 in a register,
//   Q8_0: w = d · q              (q int8)
//   Q4_0: w = d · (q − 8)        (q the low nibble of byte j for weight j < 16, the high nibble of byte j − 16 after)
// — both exact in f32 — and then multiplied into the same f32 FMA accumulators as every other dtype
// (ops/matmul-inl.h, WeightRows). So out = x · dequantize(w)ᵀ computed exactly like an f32 MatMul: the same
// summation order for any batch and thread count, and bit-identical to the f32 MatMul of the dequantized
// weights. This is the reference choice; llama.cpp instead quantizes x to Q8 and sums integer products,
// which is faster and less accurate.
//
// Speed: decode is bound by reading weights, and a Q4_0 row is read once, at 18 bytes per 32 weights
// (4.5 bits each); a vector step widens Lanes bytes to i32, shifts out the nibble, converts and scales.

// Include guard for non-SIMD code.
#ifndef GEMMA4_OPS_QUANT_INL_H_
#define GEMMA4_OPS_QUANT_INL_H_
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "ops/dtype.h"
#include "ops/quant_scalar.h"
#endif  // GEMMA4_OPS_QUANT_INL_H_

// Include guard for (potentially) SIMD code: compiled once per target.
#if defined(GEMMA4_OPS_QUANT_TOGGLE) == defined(HWY_TARGET_TOGGLE)
#ifdef GEMMA4_OPS_QUANT_TOGGLE
#undef GEMMA4_OPS_QUANT_TOGGLE
#else
#define GEMMA4_OPS_QUANT_TOGGLE
#endif

#include "hwy/highway.h"
#include "ops/matmul-inl.h"

HWY_BEFORE_NAMESPACE();
namespace gemma4::ops {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Rows of K weights stored as K/32 blocks of 34 bytes: f16 d, then int8 qs[32].
template <>
struct WeightRows<BlockQ8_0> {
  const uint8_t* HWY_RESTRICT w;
  size_t K;
  template <class DF>
  static size_t Step(DF) { return 32; }
  struct Cursor { const int8_t* qs; float d; };
  Cursor At(size_t n, size_t k) const {
    const uint8_t* b = w + (n * (K / 32) + k / 32) * sizeof(BlockQ8_0);
    uint16_t d;
    std::memcpy(&d, b, 2);
    return {reinterpret_cast<const int8_t*>(b + 2), F32FromF16(d)};
  }
  // Weights v .. v + Lanes − 1 of the block: d · q.
  template <class DF>
  static hn::Vec<DF> Load(DF df, const Cursor& c, size_t v) {
    const hn::Rebind<int8_t, DF> di8;
    const hn::Rebind<int32_t, DF> di32;
    const auto q = hn::PromoteTo(di32, hn::LoadU(di8, c.qs + v));
    return hn::Mul(hn::Set(df, c.d), hn::ConvertTo(df, q));
  }
  float Element(size_t n, size_t k) const { return scalar::QuantElementToF32(w + n * RowBytes(DType::Q8_0, K), DType::Q8_0, k); }
};

// Rows of K weights stored as K/32 blocks of 18 bytes: f16 d, then uint8 qs[16] holding weight j in the low
// nibble of qs[j] and weight j + 16 in the high nibble.
template <>
struct WeightRows<BlockQ4_0> {
  const uint8_t* HWY_RESTRICT w;
  size_t K;
  template <class DF>
  static size_t Step(DF) { return 32; }
  struct Cursor { const uint8_t* qs; float d; };
  Cursor At(size_t n, size_t k) const {
    const uint8_t* b = w + (n * (K / 32) + k / 32) * sizeof(BlockQ4_0);
    uint16_t d;
    std::memcpy(&d, b, 2);
    return {b + 2, F32FromF16(d)};
  }
  // Weights v .. v + Lanes − 1 of the block (Lanes ≤ 16 divides 16, so they share one nibble half):
  // bytes v % 16 onwards, low nibbles for v < 16, high nibbles after; d · (q − 8).
  template <class DF>
  static hn::Vec<DF> Load(DF df, const Cursor& c, size_t v) {
    const hn::Rebind<uint8_t, DF> du8;
    const hn::Rebind<int32_t, DF> di32;
    const auto bytes = hn::PromoteTo(di32, hn::LoadU(du8, c.qs + v % 16));
    const auto q = hn::And(hn::ShiftRightSame(bytes, v < 16 ? 0 : 4), hn::Set(di32, 0xF));
    return hn::Mul(hn::Set(df, c.d), hn::ConvertTo(df, hn::Sub(q, hn::Set(di32, 8))));
  }
  float Element(size_t n, size_t k) const { return scalar::QuantElementToF32(w + n * RowBytes(DType::Q4_0, K), DType::Q4_0, k); }
};

// dst[i] = dequantize(row)[i] · scale for a row of n weights (n a multiple of 32), block by block.
template <typename BT>
HWY_INLINE void BlocksToF32(const uint8_t* HWY_RESTRICT src, size_t n, float scale, float* HWY_RESTRICT dst) {
  const hn::CappedTag<float, 32> df;  // as in MatMulRows: a vector never straddles two blocks
  const size_t L = hn::Lanes(df);
  const WeightRows<BT> row{src, n};
  const auto vscale = hn::Set(df, scale);
  for (size_t k = 0; k < n; k += 32) {
    const auto c = row.At(0, k);
    for (size_t v = 0; v < 32; v += L) hn::StoreU(hn::Mul(WeightRows<BT>::Load(df, c, v), vscale), df, dst + k + v);
  }
}

static HWY_NOINLINE HWY_MAYBE_UNUSED void MatMulQ8_0(const float* x, size_t T, size_t K, const uint8_t* w, size_t N,
                                                     float* out) {
  MatMulRows(x, T, K, WeightRows<BlockQ8_0>{w, K}, N, out);
}
static HWY_NOINLINE HWY_MAYBE_UNUSED void MatMulQ4_0(const float* x, size_t T, size_t K, const uint8_t* w, size_t N,
                                                     float* out) {
  MatMulRows(x, T, K, WeightRows<BlockQ4_0>{w, K}, N, out);
}
static HWY_NOINLINE HWY_MAYBE_UNUSED void ToF32FromQ8_0(const uint8_t* src, size_t n, float scale, float* dst) {
  BlocksToF32<BlockQ8_0>(src, n, scale, dst);
}
static HWY_NOINLINE HWY_MAYBE_UNUSED void ToF32FromQ4_0(const uint8_t* src, size_t n, float scale, float* dst) {
  BlocksToF32<BlockQ4_0>(src, n, scale, dst);
}

}  // namespace HWY_NAMESPACE
}  // namespace gemma4::ops
HWY_AFTER_NAMESPACE();

#endif  // GEMMA4_OPS_QUANT_TOGGLE
