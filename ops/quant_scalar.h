// ops/quant_scalar.h — llama.cpp's quantized block formats (GGML Q8_0, Q4_0, Q5_0, Q4_K, Q5_K, Q6_K): the exact
// byte layouts, the readable dequantization of each, and llama.cpp's reference quantizers for Q8_0 and Q4_0.
//
// Written from the format definition (ggml-common.h structs, ggml-quants.c dequantize_row_* and
// quantize_row_*_ref). A row of n weights is n / BlockSize blocks stored back to back; f16 fields are
// little-endian IEEE half. Every formula below is what llama.cpp computes, in the same float operations:
//
//   Q8_0 (32 weights, 34 bytes):  w[j] = d · qs[j]                          qs int8
//   Q4_0 (32 weights, 18 bytes):  w[j] = d · (q[j] − 8)                     q[j] = qs[j] & 15,  q[j+16] = qs[j] >> 4
//   Q5_0 (32 weights, 22 bytes):  w[j] = d · (q[j] − 16)                    q as Q4_0 + 16 · (bit j of qh, 32 bits)
//   Q4_K (256 weights, 144 bytes): w = (d·sc[s]) · q − (dmin·m[s])          8 sub-blocks s of 32, 6-bit sc/m, 4-bit q
//   Q5_K (256 weights, 176 bytes): as Q4_K with q = 4 low bits + 16 · (high bit from qh)
//   Q6_K (256 weights, 210 bytes): w = (d·sc[s]) · (q − 32)                 16 sub-blocks s of 16, int8 sc, 6-bit q
//
// Every product above is exact in f32 (an f16 has 11 significant bits; the integer factors at most 8 + 6),
// so the only rounding in a dequantized weight is the K-quants' final subtraction of the min: any correct
// implementation, fused multiply-add or not, gets llama.cpp's floats bit for bit. The SIMD twins rely on it.
#ifndef GEMMA4_OPS_QUANT_SCALAR_H_
#define GEMMA4_OPS_QUANT_SCALAR_H_

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>

#include "ops/dtype.h"

namespace gemma4::ops {

// The structs mirror ggml-common.h field for field (uint16_t holds an f16's bits); sizes are checked below.
struct BlockQ8_0 {
  uint16_t d;      // scale, f16
  int8_t qs[32];   // quants
};
struct BlockQ4_0 {
  uint16_t d;      // scale, f16
  uint8_t qs[16];  // element j in the low nibble of qs[j], element j + 16 in the high nibble
};
struct BlockQ5_0 {
  uint16_t d;      // scale, f16
  uint8_t qh[4];   // fifth bit: weight j is bit j of the little-endian word qh
  uint8_t qs[16];  // low 4 bits, as Q4_0
};
// K-quants: 256 weights in sub-blocks, each with its own scale (and min), themselves quantized against the
// super-block's f16 d (and dmin).
struct BlockQ4_K {
  uint16_t d;          // super-block scale for the sub-block scales, f16
  uint16_t dmin;       // super-block scale for the sub-block mins, f16
  uint8_t scales[12];  // 8 scales and 8 mins of 6 bits (KScaleMin)
  uint8_t qs[128];     // 4-bit quants: 64-weight chunk c in qs[32c .. 32c+31], low nibbles first
};
struct BlockQ5_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[12];  // as Q4_K
  uint8_t qh[32];      // fifth bit: weight l of sub-block s is bit s of qh[l]
  uint8_t qs[128];     // low 4 bits, as Q4_K
};
struct BlockQ6_K {
  uint8_t ql[128];     // low 4 bits
  uint8_t qh[64];      // high 2 bits
  int8_t scales[16];   // one signed 8-bit scale per 16 weights
  uint16_t d;          // super-block scale, f16
};
static_assert(sizeof(BlockQ8_0) == 34 && sizeof(BlockQ4_0) == 18 && sizeof(BlockQ5_0) == 22, "llama.cpp block sizes");

// Q5_0 weight j's 5-bit q (0..31): the nibble as Q4_0, bit j of qh above it.
inline int Q5_0Quant(const BlockQ5_0& b, size_t j) {
  uint32_t qh;
  std::memcpy(&qh, b.qh, 4);
  const int low = j < 16 ? (b.qs[j] & 0xF) : (b.qs[j - 16] >> 4);
  return low | int((qh >> j) & 1) << 4;
}
static_assert(sizeof(BlockQ4_K) == 144 && sizeof(BlockQ5_K) == 176 && sizeof(BlockQ6_K) == 210, "llama.cpp block sizes");

// Sub-block s (0..7) of a Q4_K/Q5_K block: its 6-bit scale and min from the 12 packed bytes
// (ggml-quants.c get_scale_min_k4). Bytes 0-3 hold the scales of sub-blocks 0-3 in their low 6 bits, bytes 4-7
// their mins; sub-blocks 4-7 keep their low 4 bits in the nibbles of bytes 8-11 (scale low, min high) and
// their top 2 bits in the spare top bits of bytes 0-3 (scales) and 4-7 (mins).
inline void KScaleMin(const uint8_t* scales, int s, uint8_t* sc, uint8_t* m) {
  if (s < 4) {
    *sc = scales[s] & 63;
    *m = scales[s + 4] & 63;
  } else {
    *sc = uint8_t((scales[s + 4] & 0xF) | ((scales[s - 4] >> 6) << 4));
    *m = uint8_t((scales[s + 4] >> 4) | ((scales[s] >> 6) << 4));
  }
}

// KScaleMin for all 8 sub-blocks at once (the SIMD kernels' form): byte s of *sc / *m is sc[s] / m[s].
// With a, b, c the 12 bytes as three little-endian words, sc[0..3] = a & 63, m[0..3] = b & 63, and for 4..7
// the low nibbles (sc) or high nibbles (m) of c with the top 2 bits of a (sc) or b (m) above them:
// (x >> 6) << 4 = (x >> 2) & 0x30 per byte.
inline void KScalesMins(const uint8_t* scales, uint64_t* sc, uint64_t* m) {
  uint32_t a, b, c;
  std::memcpy(&a, scales, 4);
  std::memcpy(&b, scales + 4, 4);
  std::memcpy(&c, scales + 8, 4);
  *sc = uint64_t(a & 0x3F3F3F3Fu) | uint64_t((c & 0x0F0F0F0Fu) | ((a >> 2) & 0x30303030u)) << 32;
  *m = uint64_t(b & 0x3F3F3F3Fu) | uint64_t(((c >> 4) & 0x0F0F0F0Fu) | ((b >> 2) & 0x30303030u)) << 32;
}

namespace scalar {

// Weight i of a row of block type t (the tests' oracle; the kernels dequantize whole blocks).
inline float QuantElementToF32(const void* row, DType t, size_t i) {
  const uint8_t* p = static_cast<const uint8_t*>(row) + i / BlockSize(t) * BlockBytes(t);
  switch (t) {
    case DType::Q8_0: {
      const auto* b = reinterpret_cast<const BlockQ8_0*>(p);
      return F32FromF16(b->d) * float(b->qs[i % 32]);
    }
    case DType::Q4_0: {
      const auto* b = reinterpret_cast<const BlockQ4_0*>(p);
      const size_t j = i % 32;
      const int q = j < 16 ? (b->qs[j] & 0xF) : (b->qs[j - 16] >> 4);
      return F32FromF16(b->d) * float(q - 8);
    }
    case DType::Q5_0: {
      const auto* b = reinterpret_cast<const BlockQ5_0*>(p);
      return F32FromF16(b->d) * float(Q5_0Quant(*b, i % 32) - 16);
    }
    case DType::Q4_K: case DType::Q5_K: {
      // Both start with d, dmin, scales[12]; weight j lives in chunk c = j/64, sub-block s = j/32, lane l = j%32.
      const auto* b = reinterpret_cast<const BlockQ4_K*>(p);
      const size_t j = i % 256, c = j / 64, s = j / 32, l = j % 32;
      uint8_t sc, m;
      KScaleMin(b->scales, int(s), &sc, &m);
      const uint8_t* qs = t == DType::Q4_K ? b->qs : reinterpret_cast<const BlockQ5_K*>(p)->qs;
      int q = (s % 2 == 0) ? (qs[32 * c + l] & 0xF) : (qs[32 * c + l] >> 4);
      if (t == DType::Q5_K) q += ((reinterpret_cast<const BlockQ5_K*>(p)->qh[l] >> s) & 1) ? 16 : 0;
      const float d1 = F32FromF16(b->d) * float(sc), m1 = F32FromF16(b->dmin) * float(m);
      return d1 * float(q) - m1;
    }
    case DType::Q6_K: {
      // 128-weight half h; within it, quarter r = (j%128)/32 takes ql's low (r even) or high (r odd) nibble
      // from ql[64h + 32·(r%2) + l] and 2 bits at position 2r of qh[32h + l].
      const auto* b = reinterpret_cast<const BlockQ6_K*>(p);
      const size_t j = i % 256, h = j / 128, r = (j % 128) / 32, l = j % 32;
      const uint8_t lo = b->ql[64 * h + 32 * (r % 2) + l];
      const int q = ((r < 2 ? lo & 0xF : lo >> 4) | (((b->qh[32 * h + l] >> (2 * r)) & 3) << 4)) - 32;
      return F32FromF16(b->d) * float(b->scales[j / 16]) * float(q);
    }
    default: return 0.0f;
  }
}

// dst[0..n) = the n weights of a row of block type t (n a multiple of BlockSize(t)); llama.cpp's
// dequantize_row_q8_0 / q4_0 / q5_0 / q4_K / q5_K / q6_K.
inline void DequantizeRow(const void* src, DType t, size_t n, float* dst) {
  if (!IsBlockType(t)) throw std::invalid_argument(std::string("DequantizeRow: ") + DTypeName(t) + " is not a block type");
  const size_t blocks = RowBytes(t, n) / BlockBytes(t);
  const uint8_t* p = static_cast<const uint8_t*>(src);
  for (size_t ib = 0; ib < blocks; ++ib, p += BlockBytes(t)) {
    float* y = dst + ib * BlockSize(t);
    switch (t) {
      case DType::Q8_0: {
        const auto* b = reinterpret_cast<const BlockQ8_0*>(p);
        const float d = F32FromF16(b->d);
        for (int j = 0; j < 32; ++j) y[j] = d * float(b->qs[j]);
        break;
      }
      case DType::Q4_0: {
        const auto* b = reinterpret_cast<const BlockQ4_0*>(p);
        const float d = F32FromF16(b->d);
        for (int j = 0; j < 16; ++j) {
          y[j] = d * float((b->qs[j] & 0xF) - 8);
          y[j + 16] = d * float((b->qs[j] >> 4) - 8);
        }
        break;
      }
      case DType::Q5_0: {
        const auto* b = reinterpret_cast<const BlockQ5_0*>(p);
        const float d = F32FromF16(b->d);
        for (size_t j = 0; j < 32; ++j) y[j] = d * float(Q5_0Quant(*b, j) - 16);
        break;
      }
      case DType::Q4_K: case DType::Q5_K: {
        const auto* b = reinterpret_cast<const BlockQ4_K*>(p);
        const BlockQ5_K* b5 = t == DType::Q5_K ? reinterpret_cast<const BlockQ5_K*>(p) : nullptr;
        const uint8_t* qs = b5 ? b5->qs : b->qs;
        const float d = F32FromF16(b->d), dmin = F32FromF16(b->dmin);
        for (int c = 0; c < 4; ++c) {  // chunk of 64 = sub-blocks 2c (low nibbles) and 2c+1 (high nibbles)
          for (int half = 0; half < 2; ++half) {
            const int s = 2 * c + half;
            uint8_t sc, m;
            KScaleMin(b->scales, s, &sc, &m);
            const float d1 = d * float(sc), m1 = dmin * float(m);
            for (int l = 0; l < 32; ++l) {
              int q = half ? qs[32 * c + l] >> 4 : qs[32 * c + l] & 0xF;
              if (b5 && ((b5->qh[l] >> s) & 1)) q += 16;
              y[32 * s + l] = d1 * float(q) - m1;
            }
          }
        }
        break;
      }
      case DType::Q6_K: {
        const auto* b = reinterpret_cast<const BlockQ6_K*>(p);
        const float d = F32FromF16(b->d);
        for (int h = 0; h < 2; ++h) {
          const uint8_t* ql = b->ql + 64 * h;
          const uint8_t* qh = b->qh + 32 * h;
          for (int l = 0; l < 32; ++l) {
            const int q[4] = {((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32,
                              ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32,
                              ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32,
                              ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32};
            for (int r = 0; r < 4; ++r) {
              const int j = 128 * h + 32 * r + l;
              y[j] = d * float(b->scales[j / 16]) * float(q[r]);
            }
          }
        }
        break;
      }
      default: break;
    }
  }
}

// llama.cpp's quantize_row_q8_0_ref, so our files match llama.cpp's byte for byte:
//   d = max|x| / 127, stored as f16 (round to nearest even);  q = round(x · (1/d)), halves away from zero.
// 1/d is taken from the f32 d, not the stored f16, exactly as llama.cpp does. n must be a multiple of 32.
// (The scalar code is built for the baseline instruction set, without FMA, since the project never uses
// -march=native; so Q4_0's x·id + 8.5 is rounded twice, as in llama.cpp's own x86-64 build.)
inline void QuantizeRowQ8_0(const float* x, size_t n, void* dst) {
  const size_t blocks = RowBytes(DType::Q8_0, n) / sizeof(BlockQ8_0);
  for (size_t ib = 0; ib < blocks; ++ib) {
    const float* xb = x + 32 * ib;
    float amax = 0.0f;
    for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(xb[j]));
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    BlockQ8_0 b;
    b.d = F16FromF32(d);
    for (int j = 0; j < 32; ++j) b.qs[j] = static_cast<int8_t>(std::round(xb[j] * id));
    std::memcpy(static_cast<uint8_t*>(dst) + ib * sizeof b, &b, sizeof b);
  }
}

// llama.cpp's quantize_row_q4_0_ref: m = the first element of largest magnitude (with its sign);
//   d = m / −8 (so m itself maps to q = 0, i.e. −8·d = m);  q = min(15, trunc(x · (1/d) + 8.5)).
// The truncation of a value ≥ 0 rounds to nearest with halves up; the min catches x = −m (q would be 16).
inline void QuantizeRowQ4_0(const float* x, size_t n, void* dst) {
  const size_t blocks = RowBytes(DType::Q4_0, n) / sizeof(BlockQ4_0);
  for (size_t ib = 0; ib < blocks; ++ib) {
    const float* xb = x + 32 * ib;
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < 32; ++j) {
      if (amax < std::fabs(xb[j])) {
        amax = std::fabs(xb[j]);
        max = xb[j];
      }
    }
    const float d = max / -8.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    BlockQ4_0 b;
    b.d = F16FromF32(d);
    for (int j = 0; j < 16; ++j) {
      const float x0 = xb[j] * id, x1 = xb[j + 16] * id;
      const int q0 = std::min(15, static_cast<int>(static_cast<int8_t>(x0 + 8.5f)));
      const int q1 = std::min(15, static_cast<int>(static_cast<int8_t>(x1 + 8.5f)));
      b.qs[j] = static_cast<uint8_t>(q0 | (q1 << 4));
    }
    std::memcpy(static_cast<uint8_t*>(dst) + ib * sizeof b, &b, sizeof b);
  }
}

// Quantize a row of n f32 weights to Q8_0 or Q4_0 (the types gemma4-quantize writes).
inline void QuantizeRow(const float* x, DType t, size_t n, void* dst) {
  switch (t) {
    case DType::Q8_0: return QuantizeRowQ8_0(x, n, dst);
    case DType::Q4_0: return QuantizeRowQ4_0(x, n, dst);
    default: throw std::invalid_argument(std::string("QuantizeRow: cannot quantize to ") + DTypeName(t));
  }
}

}  // namespace scalar

// Quantizing and dequantizing have no SIMD twin (quantizing is done once, when a file is written), so they are
// also reachable as ops::QuantizeRow etc.
using scalar::DequantizeRow;
using scalar::QuantizeRow;
using scalar::QuantizeRowQ4_0;
using scalar::QuantizeRowQ8_0;

}  // namespace gemma4::ops

#endif  // GEMMA4_OPS_QUANT_SCALAR_H_
