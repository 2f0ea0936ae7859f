// ops/cuda/kernels.h — the launchers of the CUDA kernels (ops/cuda/kernels.cu), called by the backend
// (ops/cuda/backend.cu) with pointers the GPU can read and write. Plain C++: no CUDA types.
//
// Each launcher enqueues its kernel on the default stream and returns; the backend waits for it. Every
// pointer is device-addressable (device or managed memory); `w` is a weight already copied to the device.
#ifndef GEMMA4_OPS_CUDA_KERNELS_H_
#define GEMMA4_OPS_CUDA_KERNELS_H_

#include <cstddef>

#include "ops/attention_scalar.h"  // KVBlock
#include "ops/dtype.h"

namespace gemma4::ops::cuda {

// The weight dtypes the CUDA MatMul and ToF32 read in place (others stay on the CPU).
inline bool HasKernelFor(DType t) {
  return t == DType::F32 || t == DType::BF16 || t == DType::F16 || t == DType::Q8_0 || t == DType::Q4_0;
}

void LaunchMatMul(const float* x, size_t T, size_t K, const void* w, DType wtype, size_t N, float* out);
void LaunchToF32(const void* src, DType t, size_t n, float scale, float* dst);
void LaunchRMSNorm(const float* x, size_t rows, size_t n, const float* weight, float eps, float* y);
void LaunchGeluTanhMul(float* x, const float* y, size_t n);
void LaunchSoftcap(float* x, size_t n, float cap);
void LaunchSoftmax(float* x, size_t n);
void LaunchAddScaled(float* x, const float* y, float s, size_t n);
void LaunchScale(float* x, size_t n, float s);
// *index (device memory, one size_t) ← first index of the maximum.
void LaunchArgmax(const float* x, size_t n, size_t* index);
void LaunchRope(float* x, size_t T, size_t num_heads, size_t head_dim, const float* cos, const float* sin,
                size_t rotary_pairs);
// scores: device scratch of T · num_heads · (positions in the blocks) floats.
void LaunchAttention(const float* q, size_t T, size_t num_heads, size_t head_dim, size_t q_pos0,
                     const KVBlock* blocks, size_t num_blocks, size_t num_kv_heads, size_t window, float scale,
                     float* out, float* scores);

}  // namespace gemma4::ops::cuda

#endif  // GEMMA4_OPS_CUDA_KERNELS_H_
