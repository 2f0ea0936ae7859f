// ops/quant_fast_scalar.h — the `fast` numerics' MatMul on block weights (ops/numerics.h), written out
// plainly: the definition, and the oracle the SIMD kernels (ops/quant_fast-inl.h) must match bit for bit.
//
// llama.cpp's scheme (ggml quantize_row_q8_0 + ggml_vec_dot_q8_0_q8_0 / q4_0_q8_0 / q4_K_q8_K), our own
// order of sums: one order, "the block order", for every block type.
//
//  1. Each row of activations is quantized per 32-block, as Q8_0 but with an f32 scale:
//        amax = max |x_j|,   dx = amax / 127,   q_j = round(x_j · 127/amax)   (nearest, ties to even;
//        q = 0 if amax ≤ 1e-30; activations are assumed finite)
//     so x_j ≈ dx · q_j with q_j in [−127, 127]. (The K-quants too: llama.cpp's q8_K has one scale per
//     256, ours one per 32, so the activations round no worse than for Q8_0.)
//  2. A weight block of 32 (for a K-quant, the 32-weight sub-block s of its 256-weight super-block) is 32
//     integers w_j, an integer scale c_j per weight (one per 16 weights), an f32 scale d, and for
//     Q4_K/Q5_K an integer min mq and an f32 scale of the mins dmin:
//        Q8_0  w_j = qs_j              c_j = 1                    d the block's f16
//        Q4_0  w_j = nibble_j − 8      c_j = 1                    d the block's f16
//        Q5_0  w_j = q5_j − 16         c_j = 1                    d the block's f16
//        Q4_K  w_j = q_j (0..15)       c_j = sc[s] (0..63)        d, dmin the super-block's;  mq = m[s]
//        Q5_K  w_j = q_j (0..31)       c_j = sc[s]                d, dmin;                    mq = m[s]
//        Q6_K  w_j = q_j − 32          c_j = sc[16-weight group]  d the super-block's f16 (sc signed)
//     so the weights are exactly d·c_j·w_j − dmin·mq, llama.cpp's dequantized values (ops/quant_scalar.h).
//  3. The output is one f32 accumulator A, starting at 0; for each block b in increasing order, with the
//     exact integers
//        S_b = Σ_{j<32} c_j·w_j·q_j      (|S_b| ≤ 2·128·16·32·127 < 2^24: exact in f32 too, and the same
//                                         however a kernel sums it)
//        M_b = mq·Σ_{j<32} q_j           (Q4_K/Q5_K; |M_b| ≤ 63·32·127)
//     it takes one or two fmas, each rounded once (d·dx_b and (−dmin)·dx_b one f32 multiply each):
//        A ← fma(f32(S_b), d·dx_b, A),   then, for Q4_K/Q5_K,   A ← fma(f32(M_b), (−dmin)·dx_b, A)
//     and the output is A. No padding, no fold: a SIMD kernel puts 16 (AVX-512) or 8 (AVX2) weight ROWS in
//     its lanes, each lane one output's A, so nothing depends on the vector width, the batch or the thread
//     count.
// Cost in accuracy: x rounded to 8 bits relative to its block's largest magnitude (≈0.4% of amax); the f32
// accumulation rounds once per block (twice for Q4_K/Q5_K).
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

// Do its weights carry a per-sub-block min (w = d·c·q − dmin·mq, step 2)?
constexpr bool HasBlockMin(DType t) { return t == DType::Q4_K || t == DType::Q5_K; }

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
  int32_t c[2];     // the integer scale of weights 0-15 and of 16-31
  float d = 0.0f;
  int32_t mq = 0;   // Q4_K/Q5_K: the integer min and its scale
  float dmin = 0.0f;
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
      out->d = f16(p);
      out->c[0] = out->c[1] = 1;
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
    case DType::Q5_0: {
      const auto* p = reinterpret_cast<const BlockQ5_0*>(row + b * BlockBytes(t));
      out->d = F32FromF16(p->d);
      out->c[0] = out->c[1] = 1;
      for (size_t j = 0; j < 32; ++j) out->w[j] = static_cast<int8_t>(Q5_0Quant(*p, j) - 16);
      return;
    }
    case DType::Q4_K: case DType::Q5_K: {
      const uint8_t* p = row + b / 8 * BlockBytes(t);
      const int s = int(b % 8);
      const uint8_t* qs = p + (t == DType::Q5_K ? 48 : 16);
      uint8_t sc, m;
      KScaleMin(p + 4, s, &sc, &m);
      out->d = f16(p);
      out->dmin = f16(p + 2);
      out->c[0] = out->c[1] = sc;
      out->mq = m;
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
      out->d = f16(p + 208);
      for (size_t k = 0; k < 2; ++k) out->c[k] = static_cast<int8_t>(p[192 + v0 / 16 + k]);
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

// out[t,n] = Σ_k x[t,k] · w[n,k] in `fast` numerics (steps 1-3) for weight rows n in [n_begin, n_end);
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
      float acc = 0.0f;
      for (size_t b = 0; b < nb; ++b) {
        WeightBlock wb;
        DecodeWeightBlock(row, wtype, b, &wb);
        const int8_t* qb = q.data() + 32 * b;
        int32_t s = 0, g = 0;
        for (int j = 0; j < 32; ++j) s += wb.c[j / 16] * int32_t(wb.w[j]) * int32_t(qb[j]), g += qb[j];
        acc = std::fma(float(s), wb.d * dx[b], acc);
        if (HasBlockMin(wtype)) acc = std::fma(float(wb.mq * g), (-wb.dmin) * dx[b], acc);
      }
      out[t * N + n] = acc;
    }
  }
}

inline void MatMulFast(const float* x, size_t T, size_t K, const void* w, DType wtype, size_t N, float* out) {
  MatMulFastRows(x, T, K, w, wtype, N, 0, N, out);
}

}  // namespace scalar
}  // namespace gemma4::ops

#endif  // GEMMA4_OPS_QUANT_FAST_SCALAR_H_
