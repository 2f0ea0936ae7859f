// ops/matmul_scalar.h — the readable definition of MatMul, and the oracle its SIMD twin is tested against.
//
// HF: nn.Linear without bias, `out = x @ w.T`. Weights are [N,K] row-major (PyTorch's [out,in]) in their
// stored dtype (F32, BF16, F16, or llama.cpp's Q8_0/Q4_0 blocks, K a multiple of 32); x and out are f32.
// Accumulates in double, so it is at least as accurate as any f32 kernel.
#ifndef GEMMA4_OPS_MATMUL_SCALAR_H_
#define GEMMA4_OPS_MATMUL_SCALAR_H_

#include <cstddef>
#include <cstdint>

#include "ops/convert_scalar.h"
#include "ops/dtype.h"

namespace gemma4::ops::scalar {

// out[t,n] = Σ_k x[t,k] · w[n,k]      x: [T,K] f32, w: [N,K] of dtype wtype, out: [T,N] f32
inline void MatMul(const float* x, size_t T, size_t K, const void* w, DType wtype, size_t N, float* out) {
  const size_t row_bytes = RowBytes(wtype, K);
  for (size_t n = 0; n < N; ++n) {
    const void* w_row = static_cast<const uint8_t*>(w) + n * row_bytes;
    for (size_t t = 0; t < T; ++t) {
      double sum = 0.0;
      for (size_t k = 0; k < K; ++k) sum += double(x[t * K + k]) * double(ElementToF32(w_row, wtype, k));
      out[t * N + n] = static_cast<float>(sum);
    }
  }
}

}  // namespace gemma4::ops::scalar

#endif  // GEMMA4_OPS_MATMUL_SCALAR_H_
