// ops/quant-inl.h — MatMul and ToF32 on llama.cpp's Q8_0, Q4_0 and Q5_0 blocks (GGUF weights), read in place, and
// ToF32 for the K-quants Q4_K, Q5_K, Q6_K (widened when loaded).
//
// Scalar twins: ops/quant_scalar.h (formats, dequantization) and ops/matmul_scalar.h.
//
// Activations stay f32 and are never quantized: each weight is dequantized to f32 in a register,
//   Q8_0: w = d · q              (q int8)
//   Q4_0: w = d · (q − 8)        (q the low nibble of byte j for weight j < 16, the high nibble of byte j − 16 after)
//   Q5_0: w = d · (q − 16)       (q the Q4_0 nibble + 16 · bit j of the 32-bit qh)
// — all exact in f32 — and then multiplied into the same f32 FMA accumulators as every other dtype
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

// A block's f16 scale d (at p, unaligned) as f32. On x86 this is one F16C conversion instead of the scalar
// bit-fiddling of F32FromF16, which would cost as much as dequantizing the block's 32 weights. Highway's
// emulation on the portable targets maps Inf/NaN to finite numbers, so those use F32FromF16 (exact for all).
HWY_INLINE float BlockScale(const uint8_t* p) {
#if HWY_TARGET == HWY_SCALAR || HWY_TARGET == HWY_EMU128
  uint16_t bits;
  std::memcpy(&bits, p, 2);
  return F32FromF16(bits);
#else
  const hn::CappedTag<float, 1> d1;
  const hn::Rebind<hwy::float16_t, decltype(d1)> dh1;
  return hn::GetLane(hn::PromoteTo(d1, hn::LoadU(dh1, reinterpret_cast<const hwy::float16_t*>(p))));
#endif
}

// Rows of K weights stored as K/32 blocks of 34 bytes: f16 d, then int8 qs[32].
template <>
struct WeightRows<BlockQ8_0> {
  const uint8_t* HWY_RESTRICT w;
  size_t K;
  template <class DF>
  static size_t Step(DF) { return 32; }
  struct Cursor { const int8_t* qs; float d; };
  // The stored bytes of the step at (n, k), for MatMulTile's prefetch.
  static constexpr size_t kStepBytes = sizeof(BlockQ8_0);
  const uint8_t* StepBytes(size_t n, size_t k) const { return w + (n * (K / 32) + k / 32) * sizeof(BlockQ8_0); }
  Cursor At(size_t n, size_t k) const {
    const uint8_t* b = w + (n * (K / 32) + k / 32) * sizeof(BlockQ8_0);
    return {reinterpret_cast<const int8_t*>(b + 2), BlockScale(b)};
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
  static constexpr size_t kStepBytes = sizeof(BlockQ4_0);
  const uint8_t* StepBytes(size_t n, size_t k) const { return w + (n * (K / 32) + k / 32) * sizeof(BlockQ4_0); }
  Cursor At(size_t n, size_t k) const {
    const uint8_t* b = w + (n * (K / 32) + k / 32) * sizeof(BlockQ4_0);
    return {b + 2, BlockScale(b)};
  }
  // Weights v .. v + Lanes − 1 of the block (Lanes ≤ 16 divides 16, so they share one nibble half):
  // bytes v % 16 onwards, low nibbles for v < 16, high nibbles after; d · (q − 8).
  template <class DF>
  static hn::Vec<DF> Load(DF df, const Cursor& c, size_t v) {
    const hn::Rebind<uint8_t, DF> du8;
    const hn::Rebind<int32_t, DF> di32;
    const auto bytes = hn::PromoteTo(di32, hn::LoadU(du8, c.qs + v % 16));
    const auto q = hn::And(v < 16 ? bytes : hn::ShiftRight<4>(bytes), hn::Set(di32, 0xF));
#if HWY_ARCH_X86
    if constexpr (hn::MaxLanes(DF()) == 16) {
      // AVX-512: one vector holds the block's whole codebook (q − 8)·d for q = 0..15 (exact products, as
      // below), so a permute replaces subtract, convert and multiply.
      const auto codebook = hn::Mul(hn::ConvertTo(df, hn::Sub(hn::Iota(di32, 0), hn::Set(di32, 8))), hn::Set(df, c.d));
      return hn::TableLookupLanes(codebook, hn::IndicesFromVec(df, q));
    }
#endif
    return hn::Mul(hn::Set(df, c.d), hn::ConvertTo(df, hn::Sub(q, hn::Set(di32, 8))));
  }
  float Element(size_t n, size_t k) const { return scalar::QuantElementToF32(w + n * RowBytes(DType::Q4_0, K), DType::Q4_0, k); }
};

// Rows of K weights stored as K/32 blocks of 22 bytes: f16 d, the 32-bit word qh (bit j: weight j's fifth
// bit), then qs[16] as Q4_0.
template <>
struct WeightRows<BlockQ5_0> {
  const uint8_t* HWY_RESTRICT w;
  size_t K;
  template <class DF>
  static size_t Step(DF) { return 32; }
  struct Cursor { const uint8_t* qs; uint32_t qh; float d; };
  static constexpr size_t kStepBytes = sizeof(BlockQ5_0);
  const uint8_t* StepBytes(size_t n, size_t k) const { return w + (n * (K / 32) + k / 32) * sizeof(BlockQ5_0); }
  Cursor At(size_t n, size_t k) const {
    const uint8_t* b = StepBytes(n, k);
    uint32_t qh;
    std::memcpy(&qh, b + 2, 4);
    return {b + 6, qh, BlockScale(b)};
  }
  // Weights v .. v + Lanes − 1 (Lanes ≤ 16 divides 16): the nibbles as Q4_0, bits v .. v + Lanes − 1 of qh
  // above them; d · (q − 16).
  template <class DF>
  static hn::Vec<DF> Load(DF df, const Cursor& c, size_t v) {
    const hn::Rebind<uint8_t, DF> du8;
    const hn::Rebind<uint32_t, DF> du32;
    const hn::Rebind<int32_t, DF> di32;
    const auto bytes = hn::PromoteTo(du32, hn::LoadU(du8, c.qs + v % 16));
    const auto low = hn::And(v < 16 ? bytes : hn::ShiftRight<4>(bytes), hn::Set(du32, 0xF));
    const auto bit = hn::And(hn::Shr(hn::Set(du32, c.qh), hn::Iota(du32, uint32_t(v))), hn::Set(du32, 1));
    const auto q = hn::BitCast(di32, hn::Or(low, hn::ShiftLeft<4>(bit)));
    return hn::Mul(hn::Set(df, c.d), hn::ConvertTo(df, hn::Sub(q, hn::Set(di32, 16))));
  }
  float Element(size_t n, size_t k) const { return scalar::QuantElementToF32(w + n * RowBytes(DType::Q5_0, K), DType::Q5_0, k); }
};

// K-quants, read in place for MatMul: a step is one 256-weight super-block; the cursor unpacks its sub-block
// scales (and mins) once, and Load widens Lanes weights at a time with the formulas of ops/quant_scalar.h.
// A vector (at most 16 lanes on x86) never straddles a Q6_K scale (16 weights) or a Q4_K/Q5_K sub-block
// (32). The products d·sc·q are exact in f32, so the weights equal llama.cpp's dequantized floats and a
// K-quant MatMul is bit-identical to the f32 MatMul of the dequantized matrix, as for Q8_0/Q4_0.

// Q4_K (kHighBit false) and Q5_K (true): sub-block s = v/32 of chunk v/64 takes nibble s%2 of qs[32·(v/64) + v%32]
// (+ 16 · bit s of qh[v%32] for Q5_K); w = (d·sc[s])·q − dmin·m[s].
template <bool kHighBit>
struct KQuant45Rows {
  const uint8_t* HWY_RESTRICT w;
  size_t K;
  static constexpr size_t kBlockBytes = kHighBit ? sizeof(BlockQ5_K) : sizeof(BlockQ4_K);
  template <class DF>
  static size_t Step(DF) { return 256; }
  struct Cursor { const uint8_t* qs; const uint8_t* qh; float d1[8], m1[8]; };
  static constexpr size_t kStepBytes = kBlockBytes;
  const uint8_t* StepBytes(size_t n, size_t k) const { return w + (n * (K / 256) + k / 256) * kBlockBytes; }
  Cursor At(size_t n, size_t k) const {
    const uint8_t* b = w + (n * (K / 256) + k / 256) * kBlockBytes;
    Cursor c;
    c.qh = b + 16;
    c.qs = b + (kHighBit ? 48 : 16);
    const float d = BlockScale(b), dmin = BlockScale(b + 2);
    for (int s = 0; s < 8; ++s) {
      uint8_t sc, m;
      KScaleMin(b + 4, s, &sc, &m);
      c.d1[s] = d * float(sc);
      c.m1[s] = dmin * float(m);
    }
    return c;
  }
  template <class DF>
  static hn::Vec<DF> Load(DF df, const Cursor& c, size_t v) {
    const hn::Rebind<uint8_t, DF> du8;
    const hn::Rebind<int32_t, DF> di32;
    const size_t s = v / 32, l = v % 32;
    const auto bytes = hn::PromoteTo(di32, hn::LoadU(du8, c.qs + 32 * (v / 64) + l));
    auto q = hn::And(s % 2 ? hn::ShiftRight<4>(bytes) : bytes, hn::Set(di32, 0xF));
    if (kHighBit) {
      const auto high = hn::PromoteTo(di32, hn::LoadU(du8, c.qh + l));
      q = hn::Or(q, hn::ShiftLeft<4>(hn::And(hn::ShiftRightSame(high, int(s)), hn::Set(di32, 1))));
    }
    return hn::Sub(hn::Mul(hn::Set(df, c.d1[s]), hn::ConvertTo(df, q)), hn::Set(df, c.m1[s]));
  }
  float Element(size_t n, size_t k) const {
    return scalar::QuantElementToF32(w + n * RowBytes(kHighBit ? DType::Q5_K : DType::Q4_K, K),
                                     kHighBit ? DType::Q5_K : DType::Q4_K, k);
  }
};
template <> struct WeightRows<BlockQ4_K> : KQuant45Rows<false> {};
template <> struct WeightRows<BlockQ5_K> : KQuant45Rows<true> {};

// Q6_K: weight v = 128h + 32r + l has q = (nibble r/2 of ql[64h + 32·(r%2) + l]) | (bits 2r.. of qh[32h + l]) << 4,
// w = (d·sc[v/16])·(q − 32).
template <>
struct WeightRows<BlockQ6_K> {
  const uint8_t* HWY_RESTRICT w;
  size_t K;
  template <class DF>
  static size_t Step(DF) { return 256; }
  struct Cursor { const uint8_t* b; float ds[16]; };
  static constexpr size_t kStepBytes = sizeof(BlockQ6_K);
  const uint8_t* StepBytes(size_t n, size_t k) const { return w + (n * (K / 256) + k / 256) * sizeof(BlockQ6_K); }
  Cursor At(size_t n, size_t k) const {
    Cursor c;
    c.b = w + (n * (K / 256) + k / 256) * sizeof(BlockQ6_K);
    const float d = BlockScale(c.b + 208);
    for (int i = 0; i < 16; ++i) c.ds[i] = d * float(reinterpret_cast<const int8_t*>(c.b + 192)[i]);
    return c;
  }
  template <class DF>
  static hn::Vec<DF> Load(DF df, const Cursor& c, size_t v) {
    const hn::Rebind<uint8_t, DF> du8;
    const hn::Rebind<int32_t, DF> di32;
    const size_t h = v / 128, r = (v % 128) / 32, l = v % 32;
    const auto lo = hn::PromoteTo(di32, hn::LoadU(du8, c.b + 64 * h + 32 * (r % 2) + l));
    const auto hi = hn::PromoteTo(di32, hn::LoadU(du8, c.b + 128 + 32 * h + l));
    const auto q = hn::Or(hn::And(r < 2 ? lo : hn::ShiftRight<4>(lo), hn::Set(di32, 0xF)),
                          hn::ShiftLeft<4>(hn::And(hn::ShiftRightSame(hi, int(2 * r)), hn::Set(di32, 3))));
    return hn::Mul(hn::Set(df, c.ds[v / 16]), hn::ConvertTo(df, hn::Sub(q, hn::Set(di32, 32))));
  }
  float Element(size_t n, size_t k) const { return scalar::QuantElementToF32(w + n * RowBytes(DType::Q6_K, K), DType::Q6_K, k); }
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

// K-quants, only ever widened (load time, embedding rows): the formulas of ops/quant_scalar.h, a vector of
// weights at a time. Vectors of at most 16 lanes never straddle a Q6_K scale (16 weights) or a Q4_K/Q5_K
// sub-block (32 weights).

// Q4_K (kHighBit false) and Q5_K (true): sub-block s = 2c + half of chunk c holds weights 32s + l with
// q = nibble `half` of qs[32c + l] (+ 16 · bit s of qh[l] for Q5_K); w = (d·sc[s])·q − dmin·m[s].
template <bool kHighBit>
HWY_INLINE void KQuant45ToF32(const uint8_t* HWY_RESTRICT src, size_t n, float scale, float* HWY_RESTRICT dst) {
  const hn::CappedTag<float, 16> df;
  const hn::Rebind<uint8_t, decltype(df)> du8;
  const hn::Rebind<int32_t, decltype(df)> di32;
  const size_t L = hn::Lanes(df);
  const size_t block_bytes = kHighBit ? sizeof(BlockQ5_K) : sizeof(BlockQ4_K);
  const auto vscale = hn::Set(df, scale);
  for (size_t ib = 0; ib < n / 256; ++ib) {
    const uint8_t* b = src + ib * block_bytes;
    const uint8_t* scales = b + 4;
    const uint8_t* qh = b + 16;                        // Q5_K only
    const uint8_t* qs = b + (kHighBit ? 48 : 16);
    const float d = BlockScale(b), dmin = BlockScale(b + 2);
    for (int sub = 0; sub < 8; ++sub) {
      uint8_t sc, m;
      KScaleMin(scales, sub, &sc, &m);
      const auto d1 = hn::Set(df, d * float(sc)), m1 = hn::Set(df, dmin * float(m));
      for (size_t l = 0; l < 32; l += L) {
        const auto bytes = hn::PromoteTo(di32, hn::LoadU(du8, qs + 32 * (sub / 2) + l));
        auto q = hn::And(sub % 2 ? hn::ShiftRight<4>(bytes) : bytes, hn::Set(di32, 0xF));
        if (kHighBit) {
          const auto high = hn::PromoteTo(di32, hn::LoadU(du8, qh + l));
          q = hn::Or(q, hn::ShiftLeft<4>(hn::And(hn::ShiftRightSame(high, sub), hn::Set(di32, 1))));
        }
        const auto w = hn::Sub(hn::Mul(d1, hn::ConvertTo(df, q)), m1);
        hn::StoreU(hn::Mul(w, vscale), df, dst + 256 * ib + 32 * sub + l);
      }
    }
  }
}

// Q6_K: weight 128h + 32r + l has q = (nibble r/2 of ql[64h + 32·(r%2) + l]) | (bits 2r..2r+1 of qh[32h + l]) << 4
// and w = (d·sc[j/16])·(q − 32).
HWY_INLINE void Q6_KToF32(const uint8_t* HWY_RESTRICT src, size_t n, float scale, float* HWY_RESTRICT dst) {
  const hn::CappedTag<float, 16> df;
  const hn::Rebind<uint8_t, decltype(df)> du8;
  const hn::Rebind<int32_t, decltype(df)> di32;
  const size_t L = hn::Lanes(df);
  const auto vscale = hn::Set(df, scale);
  for (size_t ib = 0; ib < n / 256; ++ib) {
    const uint8_t* b = src + ib * sizeof(BlockQ6_K);
    const uint8_t* ql = b;
    const uint8_t* qh = b + 128;
    const int8_t* sc = reinterpret_cast<const int8_t*>(b + 192);
    const float d = BlockScale(b + 208);
    for (int h = 0; h < 2; ++h) {
      for (int r = 0; r < 4; ++r) {
        for (size_t l = 0; l < 32; l += L) {
          const size_t j = 128 * h + 32 * r + l;
          const auto lo = hn::PromoteTo(di32, hn::LoadU(du8, ql + 64 * h + 32 * (r % 2) + l));
          const auto hi = hn::PromoteTo(di32, hn::LoadU(du8, qh + 32 * h + l));
          const auto q = hn::Or(hn::And(r < 2 ? lo : hn::ShiftRight<4>(lo), hn::Set(di32, 0xF)),
                                hn::ShiftLeft<4>(hn::And(hn::ShiftRightSame(hi, 2 * r), hn::Set(di32, 3))));
          const auto w = hn::Mul(hn::Set(df, d * float(sc[j / 16])), hn::ConvertTo(df, hn::Sub(q, hn::Set(di32, 32))));
          hn::StoreU(hn::Mul(w, vscale), df, dst + 256 * ib + j);
        }
      }
    }
  }
}

static HWY_NOINLINE HWY_MAYBE_UNUSED void ToF32FromQ4_K(const uint8_t* src, size_t n, float scale, float* dst) {
  KQuant45ToF32<false>(src, n, scale, dst);
}
static HWY_NOINLINE HWY_MAYBE_UNUSED void ToF32FromQ5_K(const uint8_t* src, size_t n, float scale, float* dst) {
  KQuant45ToF32<true>(src, n, scale, dst);
}
static HWY_NOINLINE HWY_MAYBE_UNUSED void ToF32FromQ6_K(const uint8_t* src, size_t n, float scale, float* dst) {
  Q6_KToF32(src, n, scale, dst);
}

static HWY_NOINLINE HWY_MAYBE_UNUSED void MatMulQ8_0(const float* x, size_t T, size_t K, const uint8_t* w, size_t N,
                                                     float* out) {
  MatMulRows(x, T, K, WeightRows<BlockQ8_0>{w, K}, N, out);
}
static HWY_NOINLINE HWY_MAYBE_UNUSED void MatMulQ4_0(const float* x, size_t T, size_t K, const uint8_t* w, size_t N,
                                                     float* out) {
  MatMulRows(x, T, K, WeightRows<BlockQ4_0>{w, K}, N, out);
}
static HWY_NOINLINE HWY_MAYBE_UNUSED void MatMulQ5_0(const float* x, size_t T, size_t K, const uint8_t* w, size_t N,
                                                     float* out) {
  MatMulRows(x, T, K, WeightRows<BlockQ5_0>{w, K}, N, out);
}
static HWY_NOINLINE HWY_MAYBE_UNUSED void MatMulQ4_K(const float* x, size_t T, size_t K, const uint8_t* w, size_t N,
                                                     float* out) {
  MatMulRows(x, T, K, WeightRows<BlockQ4_K>{{w, K}}, N, out);
}
static HWY_NOINLINE HWY_MAYBE_UNUSED void MatMulQ5_K(const float* x, size_t T, size_t K, const uint8_t* w, size_t N,
                                                     float* out) {
  MatMulRows(x, T, K, WeightRows<BlockQ5_K>{{w, K}}, N, out);
}
static HWY_NOINLINE HWY_MAYBE_UNUSED void MatMulQ6_K(const float* x, size_t T, size_t K, const uint8_t* w, size_t N,
                                                     float* out) {
  MatMulRows(x, T, K, WeightRows<BlockQ6_K>{w, K}, N, out);
}
static HWY_NOINLINE HWY_MAYBE_UNUSED void ToF32FromQ8_0(const uint8_t* src, size_t n, float scale, float* dst) {
  BlocksToF32<BlockQ8_0>(src, n, scale, dst);
}
static HWY_NOINLINE HWY_MAYBE_UNUSED void ToF32FromQ4_0(const uint8_t* src, size_t n, float scale, float* dst) {
  BlocksToF32<BlockQ4_0>(src, n, scale, dst);
}
static HWY_NOINLINE HWY_MAYBE_UNUSED void ToF32FromQ5_0(const uint8_t* src, size_t n, float scale, float* dst) {
  BlocksToF32<BlockQ5_0>(src, n, scale, dst);
}

}  // namespace HWY_NAMESPACE
}  // namespace gemma4::ops
HWY_AFTER_NAMESPACE();

#endif  // GEMMA4_OPS_QUANT_TOGGLE
