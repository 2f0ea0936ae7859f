// ops/quant_fast_scalar.h — the `fast` numerics' MatMul on block weights (ops/numerics.h), written out
// plainly: the definition, and the oracle the SIMD kernels (ops/quant_fast-inl.h) must match bit for bit.
//
// llama.cpp's scheme (ggml quantize_row_q8_0 + ggml_vec_dot_q8_0_q8_0 / q4_0_q8_0), our own order of sums.
// Two orders, by weight dtype: "v2" for Q8_0/Q4_0 (step 3a: one exact integer per block, one f32
// accumulator), and the group order for the K-quants (steps 3b-4: 16 accumulators of 4-weight groups).
//
//  1. Each row of activations is quantized per 32-block, as Q8_0 but with an f32 scale:
//        amax = max |x_j|,   dx = amax / 127,   q_j = round(x_j · 127/amax)   (nearest, ties to even;
//        q = 0 if amax ≤ 1e-30; activations are assumed finite)
//     so x_j ≈ dx · q_j with q_j in [−127, 127].
//  2. A weight block of 32 is 32 integers w_j, a scale per group of 4, ds_i, and for Q4_K/Q5_K a min m:
//        Q8_0  w_j = qs_j              ds_i = d
//        Q4_0  w_j = nibble_j − 8      ds_i = d
//        Q4_K  w_j = q_j (0..15)       ds_i = d·sc[s]       m = dmin·m[s]    (s the 32-weight sub-block)
//        Q5_K  w_j = q_j (0..31)       ds_i = d·sc[s]       m = dmin·m[s]
//        Q6_K  w_j = q_j − 32          ds_i = d·sc[16-weight group of i]
//     so the weights are exactly ds·w − m, llama.cpp's dequantized values (ops/quant_scalar.h).
//  3a. Q8_0 and Q4_0 (one scale d per block): the output is one f32 accumulator A, starting at 0; for each
//     block b in increasing order, with S_b = Σ_{j<32} w_j·q_j (an exact integer, |S_b| < 2^17, so exact in
//     f32 and independent of how it is summed),
//        A ← fma(f32(S_b), d_b·dx_b, A)            (d_b·dx_b one f32 multiply; one rounding for the fma)
//     and the output is A. No padding, no fold: a SIMD kernel puts 16 (AVX-512) or 8 (AVX2) weight ROWS in
//     its lanes, each lane one output's A, so nothing depends on the vector width.
//  3b. K-quants: block b contributes Σ_i ds_i·dx·s_i − m·dx·Σ_i g_i, with s_i = Σ_{j=4i..4i+3} w_j·q_j and
//     g_i = Σ_{j=4i..4i+3} q_j: group sums of 4 consecutive products (what one lane of `vpdpbusd` or of two
//     pairwise int16 multiply-adds computes), exact integers, exact in f32. 16 f32 accumulators: group i of
//     block b goes to accumulator 8·(b mod 2) + i,
//        A ← fma(f32(s_i), ds_i·dx, A),   then, for Q4_K/Q5_K,   A ← fma(f32(g_i), (−m)·dx, A)
//     (one rounding each). (A K-quant row has a multiple of 8 blocks, so the count is even.)
//  4. (K-quants) The output is the 16 accumulators folded in halves: A[i] += A[i+8], then +4, +2, +1.
//
// Steps 3-4 fix the order of every f32 operation independently of the SIMD width, the batch and the
// thread count. Cost in accuracy: x rounded to 8 bits relative to its block's largest magnitude (≈0.4% of
// amax); the f32 accumulation in 3a rounds once per block, against once per group of 4 plus the fold in 3b.
#ifndef GEMMA4_OPS_QUANT_FAST_SCALAR_H_
#define GEMMA4_OPS_QUANT_FAST_SCALAR_H_

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "ops/dtype.h"
#include "ops/quant_scalar.h"

namespace gemma4::ops {

// Can `fast` multiply this weight dtype in place? Every block type; plain dtypes are computed as in `exact`.
inline bool HasFastMatMul(DType t) { return IsBlockType(t); }

// Do its weights carry a per-sub-block min (w = d1·q − m1)?
inline bool HasBlockMin(DType t) { return t == DType::Q4_K || t == DType::Q5_K; }

// Does this dtype use the one-accumulator block order (step 3a)?
inline bool HasBlockOrder(DType t) { return t == DType::Q8_0 || t == DType::Q4_0; }

// The fixed final sum of the 16 accumulators (step 4); the SIMD kernels store theirs and call this too.
inline float FoldSum16(const float* acc) {
  float a[16];
  for (int i = 0; i < 16; ++i) a[i] = acc[i];
  for (int w = 8; w >= 1; w /= 2)
    for (int i = 0; i < w; ++i) a[i] = a[i] + a[i + w];
  return a[0];
}

// A block whose largest magnitude is below this quantizes to zeros (so 127/amax cannot overflow to Inf).
constexpr float kMinBlockAmax = 1e-30f;

namespace scalar {

// Step 1 for one block of 32: writes q[0..32) and returns dx.
inline float QuantizeBlockQ8(const float* x, int8_t* q) {
  float amax = 0.0f;
  for (int j = 0; j < 32; ++j) amax = std::fmax(amax, std::fabs(x[j]));
  const float id = amax > kMinBlockAmax ? 127.0f / amax : 0.0f;
  for (int j = 0; j < 32; ++j) q[j] = static_cast<int8_t>(std::nearbyint(x[j] * id));
  return amax / 127.0f;
}

// Step 2: block b (32 weights) of a weight row of type t.
struct WeightBlock {
  int8_t w[32];
  float ds[8];
  float m = 0.0f;
};
inline void DecodeWeightBlock(const uint8_t* row, DType t, size_t b, WeightBlock* out) {
  auto f16 = [](const uint8_t* p) {
    uint16_t bits;
    std::memcpy(&bits, p, 2);
    return F32FromF16(bits);
  };
  switch (t) {
    case DType::Q8_0: case DType::Q4_0: {
      const uint8_t* p = row + b * BlockBytes(t);
      for (float& d : out->ds) d = f16(p);
      for (int j = 0; j < 16; ++j) {
        if (t == DType::Q8_0) {
          out->w[j] = static_cast<int8_t>(p[2 + j]);
          out->w[j + 16] = static_cast<int8_t>(p[18 + j]);
        } else {
          out->w[j] = static_cast<int8_t>((p[2 + j] & 0xF) - 8);
          out->w[j + 16] = static_cast<int8_t>((p[2 + j] >> 4) - 8);
        }
      }
      return;
    }
    case DType::Q4_K: case DType::Q5_K: {
      const uint8_t* p = row + b / 8 * BlockBytes(t);
      const int s = int(b % 8);
      const uint8_t* qs = p + (t == DType::Q5_K ? 48 : 16);
      uint8_t sc, m;
      KScaleMin(p + 4, s, &sc, &m);
      for (float& d : out->ds) d = f16(p) * float(sc);
      out->m = f16(p + 2) * float(m);
      for (int l = 0; l < 32; ++l) {
        int q = s % 2 ? qs[32 * (s / 2) + l] >> 4 : qs[32 * (s / 2) + l] & 0xF;
        if (t == DType::Q5_K) q |= ((p[16 + l] >> s) & 1) << 4;
        out->w[l] = static_cast<int8_t>(q);
      }
      return;
    }
    case DType::Q6_K: {
      const uint8_t* p = row + b / 8 * BlockBytes(t);
      const size_t v0 = 32 * (b % 8), h = v0 / 128, r = (v0 % 128) / 32;
      const float d = f16(p + 208);
      for (int i = 0; i < 8; ++i) out->ds[i] = d * float(static_cast<int8_t>(p[192 + (v0 + 4 * i) / 16]));
      for (size_t l = 0; l < 32; ++l) {
        const uint8_t lo = p[64 * h + 32 * (r % 2) + l];
        const int q = (r < 2 ? lo & 0xF : lo >> 4) | (((p[128 + 32 * h + l] >> (2 * r)) & 3) << 4);
        out->w[l] = static_cast<int8_t>(q - 32);
      }
      return;
    }
    default: throw std::invalid_argument(std::string("fast MatMul: ") + DTypeName(t) + " is not a block type");
  }
}

// out[t,n] = Σ_k x[t,k] · w[n,k] in `fast` numerics (steps 1-4) for weight rows n in [n_begin, n_end);
// w [N,K] of a block type, K a multiple of its block size.
inline void MatMulFastRows(const float* x, size_t T, size_t K, const void* w, DType wtype, size_t N, size_t n_begin,
                           size_t n_end, float* out) {
  if (!HasFastMatMul(wtype)) throw std::invalid_argument(std::string("MatMulFast: ") + DTypeName(wtype));
  const size_t row_bytes = RowBytes(wtype, K), nb = K / 32;
  std::vector<int8_t> q(K);
  std::vector<float> dx(nb);
  for (size_t t = 0; t < T; ++t) {
    for (size_t b = 0; b < nb; ++b) dx[b] = QuantizeBlockQ8(x + t * K + 32 * b, q.data() + 32 * b);
    for (size_t n = n_begin; n < n_end; ++n) {
      const uint8_t* row = static_cast<const uint8_t*>(w) + n * row_bytes;
      if (HasBlockOrder(wtype)) {  // step 3a
        float acc = 0.0f;
        for (size_t b = 0; b < nb; ++b) {
          WeightBlock wb;
          DecodeWeightBlock(row, wtype, b, &wb);
          const int8_t* qb = q.data() + 32 * b;
          int32_t s = 0;
          for (int j = 0; j < 32; ++j) s += int32_t(wb.w[j]) * int32_t(qb[j]);
          acc = std::fma(float(s), wb.ds[0] * dx[b], acc);
        }
        out[t * N + n] = acc;
        continue;
      }
      float acc[16] = {};  // steps 3b-4
      for (size_t b = 0; b < nb; ++b) {
        WeightBlock wb;
        DecodeWeightBlock(row, wtype, b, &wb);
        const int8_t* qb = q.data() + 32 * b;
        for (int i = 0; i < 8; ++i) {
          int32_t s = 0, g = 0;
          for (int j = 4 * i; j < 4 * i + 4; ++j) s += int32_t(wb.w[j]) * int32_t(qb[j]), g += qb[j];
          float& a = acc[8 * (b % 2) + i];
          a = std::fma(float(s), wb.ds[i] * dx[b], a);
          if (HasBlockMin(wtype)) a = std::fma(float(g), (-wb.m) * dx[b], a);
        }
      }
      out[t * N + n] = FoldSum16(acc);
    }
  }
}

inline void MatMulFast(const float* x, size_t T, size_t K, const void* w, DType wtype, size_t N, float* out) {
  MatMulFastRows(x, T, K, w, wtype, N, 0, N, out);
}

}  // namespace scalar
}  // namespace gemma4::ops

#endif  // GEMMA4_OPS_QUANT_FAST_SCALAR_H_
