// ops/dtype.h — the element types a weight can be stored in, and exact scalar conversions.
//
// Plain C++ (no SIMD): included by the scalar twins, by gemma4/tensor.h and by the Highway kernels.
// Activations are always f32. Weights stay in the dtype they were stored in and are read in place;
// kernels widen them to f32 on the fly.
//
// bf16 = the top 16 bits of an IEEE f32 (1 sign, 8 exponent, 7 mantissa bits), so widening is a shift.
// f16  = IEEE half (1 sign, 5 exponent, 10 mantissa bits), widened exactly (subnormals included).
// Narrowing rounds to nearest, ties to even (Highway 1.0.3's DemoteTo(bf16) truncates; we do not use it).
//
// Block types (llama.cpp's GGML quantizations, read from GGUF files): a row of n elements is n / BlockSize
// blocks of BlockBytes each, so they have no per-element size (DTypeSize is 0) and a row's length must be a
// multiple of the block size. All of them (Q8_0, Q4_0, Q5_0 and the K-quants Q4_K, Q5_K, Q6_K) are read in place
// by MatMul and ToF32. Layouts and formulas: ops/quant_scalar.h.
#ifndef GEMMA4_OPS_DTYPE_H_
#define GEMMA4_OPS_DTYPE_H_

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>

namespace gemma4::ops {

enum class DType { F32, F16, BF16, F64, I64, I32, I16, I8, U8, BOOL, Q8_0, Q4_0, Q4_K, Q5_K, Q6_K, Q5_0 };

inline const char* DTypeName(DType t) {
  switch (t) {
    case DType::F32: return "F32";
    case DType::F16: return "F16";
    case DType::BF16: return "BF16";
    case DType::F64: return "F64";
    case DType::I64: return "I64";
    case DType::I32: return "I32";
    case DType::I16: return "I16";
    case DType::I8: return "I8";
    case DType::U8: return "U8";
    case DType::BOOL: return "BOOL";
    case DType::Q8_0: return "Q8_0";
    case DType::Q4_0: return "Q4_0";
    case DType::Q5_0: return "Q5_0";
    case DType::Q4_K: return "Q4_K";
    case DType::Q5_K: return "Q5_K";
    case DType::Q6_K: return "Q6_K";
  }
  return "?";
}

// Bytes per element; 0 for block types (use RowBytes).
inline size_t DTypeSize(DType t) {
  switch (t) {
    case DType::F64: case DType::I64: return 8;
    case DType::F32: case DType::I32: return 4;
    case DType::F16: case DType::BF16: case DType::I16: return 2;
    case DType::I8: case DType::U8: case DType::BOOL: return 1;
    default: return 0;
  }
}

inline bool IsBlockType(DType t) {
  return t == DType::Q8_0 || t == DType::Q4_0 || t == DType::Q5_0 || t == DType::Q4_K || t == DType::Q5_K ||
         t == DType::Q6_K;
}

// Elements per block: 32 for Q8_0/Q4_0/Q5_0 (QK8_0, QK4_0, QK5_0), 256 for the K-quants' super-blocks (QK_K); 1
// otherwise.
inline size_t BlockSize(DType t) {
  switch (t) {
    case DType::Q8_0: case DType::Q4_0: case DType::Q5_0: return 32;
    case DType::Q4_K: case DType::Q5_K: case DType::Q6_K: return 256;
    default: return 1;
  }
}

// Bytes per block (llama.cpp's sizeof(block_*)); the element size for plain types.
inline size_t BlockBytes(DType t) {
  switch (t) {
    case DType::Q8_0: return 34;   // f16 d + 32 × int8
    case DType::Q4_0: return 18;   // f16 d + 32 × 4 bits
    case DType::Q5_0: return 22;   // f16 d + 32 high bits + 32 × 4 bits
    case DType::Q4_K: return 144;  // f16 d, dmin + 12 bytes of 6-bit scales/mins + 256 × 4 bits
    case DType::Q5_K: return 176;  // Q4_K + 256 high bits
    case DType::Q6_K: return 210;  // 256 × 6 bits + 16 int8 scales + f16 d
    default: return DTypeSize(t);
  }
}

// Bytes of a row of n elements; throws std::invalid_argument when n is not a whole number of blocks.
inline size_t RowBytes(DType t, size_t n) {
  const size_t block = BlockSize(t);
  if (n % block != 0)
    throw std::invalid_argument(std::string("a row of ") + DTypeName(t) + " needs a multiple of " +
                                std::to_string(block) + " elements, got " + std::to_string(n));
  return n / block * BlockBytes(t);
}

// Can a matrix of this dtype be a Linear weight (read in place by MatMul) or an embedding table?
inline bool IsWeightDType(DType t) {
  return t == DType::F32 || t == DType::F16 || t == DType::BF16 || IsBlockType(t);
}

inline float F32FromBits(uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}
inline uint32_t BitsFromF32(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  return bits;
}

inline float F32FromBF16(uint16_t bf) { return F32FromBits(uint32_t{bf} << 16); }

// Round to nearest even; NaN stays NaN (quiet bit forced so truncation cannot turn it into Inf).
inline uint16_t BF16FromF32(float f) {
  const uint32_t bits = BitsFromF32(f);
  if (std::isnan(f)) return static_cast<uint16_t>((bits >> 16) | 0x40);
  const uint32_t rounding = 0x7FFF + ((bits >> 16) & 1);
  return static_cast<uint16_t>((bits + rounding) >> 16);
}

inline float F32FromF16(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000) << 16;
  const uint32_t exp = (h >> 10) & 0x1F;
  const uint32_t mant = h & 0x3FF;
  if (exp == 0) {  // zero or subnormal: mant * 2^-24, exact in f32
    const float mag = std::ldexp(static_cast<float>(mant), -24);
    return sign ? -mag : mag;
  }
  if (exp == 31) return F32FromBits(sign | 0x7F800000 | (mant << 13));  // Inf / NaN
  return F32FromBits(sign | ((exp + 112) << 23) | (mant << 13));
}

// Round to nearest even, with overflow to Inf and gradual underflow.
inline uint16_t F16FromF32(float f) {
  const uint32_t bits = BitsFromF32(f);
  const uint16_t sign = static_cast<uint16_t>((bits >> 16) & 0x8000);
  const uint32_t abs = bits & 0x7FFFFFFF;
  if (abs >= 0x7F800000) return sign | (abs > 0x7F800000 ? 0x7E00 : 0x7C00);
  if (abs >= 0x477FF000) return sign | 0x7C00;  // rounds to >= 65520: Inf
  if (abs < 0x38800000) {                         // below 2^-14: subnormal half
    const float mag = F32FromBits(abs);
    // nearbyint rounds to nearest even under the default rounding mode.
    return sign | static_cast<uint16_t>(std::nearbyint(std::ldexp(mag, 24)));
  }
  const uint32_t rounded = abs + 0xFFF + ((abs >> 13) & 1);
  return sign | static_cast<uint16_t>((rounded - (112u << 23)) >> 13);
}

}  // namespace gemma4::ops

#endif  // GEMMA4_OPS_DTYPE_H_
