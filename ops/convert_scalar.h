// ops/convert_scalar.h — widening a stored row to f32 (embedding lookups, norm weights, loaders).
#ifndef GEMMA4_OPS_CONVERT_SCALAR_H_
#define GEMMA4_OPS_CONVERT_SCALAR_H_

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "ops/dtype.h"
#include "ops/quant_scalar.h"

namespace gemma4::ops::scalar {

// Element i of a row of floating-point or block dtype t, as f32 (exact, except F64, which is rounded).
inline float ElementToF32(const void* row, DType t, size_t i) {
  const uint8_t* p = static_cast<const uint8_t*>(row);
  switch (t) {
    case DType::F32: { float f; std::memcpy(&f, p + 4 * i, 4); return f; }
    case DType::BF16: { uint16_t h; std::memcpy(&h, p + 2 * i, 2); return F32FromBF16(h); }
    case DType::F16: { uint16_t h; std::memcpy(&h, p + 2 * i, 2); return F32FromF16(h); }
    case DType::F64: { double d; std::memcpy(&d, p + 8 * i, 8); return static_cast<float>(d); }
    default: return IsBlockType(t) ? QuantElementToF32(row, t, i) : 0.0f;  // callers check IsWeightDType first
  }
}

// dst[i] = f32(src[i]) · scale, for n elements of dtype t (a block type: n a multiple of its block size).
inline void ToF32(const void* src, DType t, size_t n, float scale, float* dst) {
  if (IsBlockType(t)) {
    DequantizeRow(src, t, n, dst);
    for (size_t i = 0; i < n; ++i) dst[i] *= scale;
    return;
  }
  for (size_t i = 0; i < n; ++i) dst[i] = ElementToF32(src, t, i) * scale;
}

}  // namespace gemma4::ops::scalar

#endif  // GEMMA4_OPS_CONVERT_SCALAR_H_
