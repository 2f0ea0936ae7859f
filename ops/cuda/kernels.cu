// ops/cuda/kernels.cu — the CUDA kernels of a text forward: one per op in ops/ops.h, each beside the CPU
// kernel it must match (named "CPU twin" below; its readable definition is the ops/*_scalar.h of the same
// topic). All arithmetic is f32 with no fast-math (nvcc's defaults: IEEE division and square root, FMA
// contraction only where written as fmaf).
//
// Reduction order. Every reduction below (dot products, sums of squares, softmax sums, attention) has ONE
// order per output element, fixed by the kernel's shape and never by the batch: a MatMul output (t, n) is
// the same warp-strided sum whether t is one of 1 or of 512 tokens, so decode = prefill and speculative
// decoding stays lossless on the GPU. That order is not the CPU's (SIMD lanes, other widths), so GPU and
// CPU agree to f32 round-off (golden/FORMAT.md's f32 tier), not bit for bit; element-wise ops that
// round the same operations in the same order (Scale, AddScaled, Rope, ToF32, the normalization step of
// RMSNorm) do match the CPU bit for bit. cuBLAS is not used: its kernel choice (split-K, tensor-core TF32)
// depends on the batch size, which would break decode = prefill.
//
// Not yet here (the CPU runs them, see ops/cuda/backend.cu): K-quant weights (Q4_K, Q5_K, Q6_K), the `fast`
// numerics, and the host loops the blocks keep (ops/cuda/README.md).
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "ops/cuda/kernels.h"

namespace gemma4::ops::cuda {
namespace {

constexpr unsigned kFullMask = 0xffffffffu;
constexpr int kWarp = 32;

__device__ __forceinline__ float F32FromF16Bits(uint16_t h) { return __half2float(__ushort_as_half(h)); }
__device__ __forceinline__ float F32FromBF16Bits(uint16_t b) { return __uint_as_float(uint32_t(b) << 16); }
// Little-endian u16 at any even or odd byte address (block scales sit at 34- and 18-byte strides).
__device__ __forceinline__ uint16_t U16At(const uint8_t* p) { return uint16_t(p[0] | (uint16_t(p[1]) << 8)); }

// Weight k of a stored row, widened exactly to f32 (CPU twin: ops/convert_scalar.h, ops/quant_scalar.h
// QuantElementToF32):
//   F32 as is; BF16 = bits << 16; F16 exactly (IEEE half → float)
//   Q8_0 (34-byte blocks of 32): d · qs[j]          d f16, qs int8
//   Q4_0 (18-byte blocks of 32): d · (q[j] − 8)     q[j] = qs[j] & 15 (j < 16), qs[j − 16] >> 4 (j ≥ 16)
// d · q is exact in f32 (an 11-bit mantissa times an integer below 2^8), so a quantized MatMul equals the
// f32 MatMul of the dequantized weights, as on the CPU.
template <DType kT>
__device__ __forceinline__ float WeightAt(const uint8_t* row, size_t k) {
  if constexpr (kT == DType::F32) {
    return reinterpret_cast<const float*>(row)[k];
  } else if constexpr (kT == DType::BF16) {
    return F32FromBF16Bits(reinterpret_cast<const uint16_t*>(row)[k]);
  } else if constexpr (kT == DType::F16) {
    return F32FromF16Bits(reinterpret_cast<const uint16_t*>(row)[k]);
  } else if constexpr (kT == DType::Q8_0) {
    const uint8_t* b = row + (k / 32) * 34;
    return F32FromF16Bits(U16At(b)) * float(int8_t(b[2 + k % 32]));
  } else {  // Q4_0
    const uint8_t* b = row + (k / 32) * 18;
    const size_t j = k % 32;
    const int q = j < 16 ? (b[2 + j] & 0xF) : (b[2 + j - 16] >> 4);
    return F32FromF16Bits(U16At(b)) * float(q - 8);
  }
}

// Sum over a warp by the xor butterfly 16, 8, 4, 2, 1: every lane ends with the same bits (each step adds
// the same two partials in both lanes, and f32 addition commutes).
__device__ __forceinline__ float WarpSum(float v) {
  for (int off = kWarp / 2; off > 0; off >>= 1) v += __shfl_xor_sync(kFullMask, v, off);
  return v;
}
__device__ __forceinline__ float WarpMax(float v) {
  for (int off = kWarp / 2; off > 0; off >>= 1) v = fmaxf(v, __shfl_xor_sync(kFullMask, v, off));
  return v;
}

// Sum (or max) over a block of kThreads threads, returned to every thread: each warp's butterfly, then the
// kThreads/32 warp partials by one more butterfly. A fixed tree for a fixed kThreads.
template <int kThreads, bool kMax>
__device__ __forceinline__ float BlockReduce(float v) {
  static_assert(kThreads % kWarp == 0 && kThreads <= 32 * kWarp, "block size");
  __shared__ float partial[kThreads / kWarp];
  const int lane = threadIdx.x % kWarp, warp = threadIdx.x / kWarp;
  v = kMax ? WarpMax(v) : WarpSum(v);
  if (lane == 0) partial[warp] = v;
  __syncthreads();
  const float identity = kMax ? -INFINITY : 0.0f;
  float s = lane < kThreads / kWarp ? partial[lane] : identity;
  s = kMax ? WarpMax(s) : WarpSum(s);
  __syncthreads();  // partial[] may be reused by the next call
  return s;
}

// ---- MatMul: out[T,N] = x[T,K] · w[N,K]ᵀ (CPU twin: ops/matmul-inl.h, ops/quant-inl.h; definition
// ops/matmul_scalar.h). One warp per output column n and up to kTokens rows t: lane l accumulates
// x[t,k]·w[n,k] for k = l, l + 32, l + 64, … in order with fmaf (weight widened once per k, used for every
// row of the tile), then the 32 lane sums are added by WarpSum. The order depends on K only.
constexpr int kMatMulWarps = 8;
constexpr int kMatMulTokens = 4;

template <DType kT>
__global__ void MatMulKernel(const float* __restrict__ x, size_t T, size_t K, const uint8_t* __restrict__ w,
                             size_t row_bytes, size_t N, float* __restrict__ out) {
  const int lane = threadIdx.x % kWarp, warp = threadIdx.x / kWarp;
  const size_t n = size_t(blockIdx.x) * kMatMulWarps + size_t(warp);
  const size_t t0 = size_t(blockIdx.y) * kMatMulTokens;
  if (n >= N) return;  // the whole warp leaves together
  const size_t rows = T - t0 < size_t(kMatMulTokens) ? T - t0 : size_t(kMatMulTokens);
  const uint8_t* row = w + n * row_bytes;
  float acc[kMatMulTokens] = {};
  for (size_t k = size_t(lane); k < K; k += kWarp) {
    const float wk = WeightAt<kT>(row, k);
#pragma unroll
    for (int i = 0; i < kMatMulTokens; ++i)
      if (size_t(i) < rows) acc[i] = fmaf(x[(t0 + size_t(i)) * K + k], wk, acc[i]);
  }
#pragma unroll
  for (int i = 0; i < kMatMulTokens; ++i) {
    const float s = WarpSum(acc[i]);
    if (lane == 0 && size_t(i) < rows) out[(t0 + size_t(i)) * N + n] = s;
  }
}

// ---- ToF32: dst[i] = weight(i) · scale (CPU twin: ops/convert-inl.h, the same single f32 multiply).
// The embedding gather: one call per token row, rows of a table already on the device.
template <DType kT>
__global__ void ToF32Kernel(const uint8_t* __restrict__ src, size_t n, float scale, float* __restrict__ dst) {
  const size_t i = size_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) dst[i] = WeightAt<kT>(src, i) * scale;
}

// ---- RMSNorm (CPU twin: ops/norm-inl.h RMSNormRow): one block per row.
//   ss = Σ x²  (thread-strided fmaf partials, then BlockReduce)
//   factor = f32(1 / √(f64(ss) / n + eps))   (in double, as the CPU computes it)
//   y = (x · factor) · w,  or x · factor without a weight (v_norm, the router's norm)
constexpr int kRowThreads = 256;

__global__ void RMSNormKernel(const float* __restrict__ x, size_t n, const float* __restrict__ weight, float eps,
                              float* __restrict__ y) {
  const float* xr = x + size_t(blockIdx.x) * n;
  float* yr = y + size_t(blockIdx.x) * n;
  float ss = 0.0f;
  for (size_t i = threadIdx.x; i < n; i += kRowThreads) ss = fmaf(xr[i], xr[i], ss);
  ss = BlockReduce<kRowThreads, false>(ss);
  const float factor = static_cast<float>(1.0 / sqrt(double(ss) / double(n) + double(eps)));
  for (size_t i = threadIdx.x; i < n; i += kRowThreads) yr[i] = weight ? (xr[i] * factor) * weight[i] : xr[i] * factor;
}

// ---- GeluTanhMul: x ← gelu_tanh(x) · y (CPU twin: ops/activation-inl.h GeluTanh, same formula and
// constants): gelu(x) = x · (0.5 + 0.5 · tanh(x · (√(2/π) + 0.044715·√(2/π) · x²))). tanhf is CUDA's
// (≤ 2 ulp), Highway's Tanh another approximation: f32-tier agreement, not bits.
__device__ __forceinline__ float GeluTanh(float x) {
  const float inner = x * fmaf(0.035677408136300125f, x * x, 0.7978845608028654f);
  return x * fmaf(0.5f, tanhf(inner), 0.5f);
}
__global__ void GeluTanhMulKernel(float* __restrict__ x, const float* __restrict__ y, size_t n) {
  const size_t i = size_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) x[i] = y ? GeluTanh(x[i]) * y[i] : GeluTanh(x[i]);
}

// ---- Softcap: x ← cap · tanh(x / cap) (CPU twin: ops/activation-inl.h SoftcapF32).
__global__ void SoftcapKernel(float* __restrict__ x, size_t n, float cap) {
  const size_t i = size_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) x[i] = cap * tanhf(x[i] / cap);
}

// ---- AddScaled: x ← fma(s, y, x); Scale: x ← x · s (CPU twins: ops/activation-inl.h, same roundings).
__global__ void AddScaledKernel(float* __restrict__ x, const float* __restrict__ y, float s, size_t n) {
  const size_t i = size_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) x[i] = fmaf(s, y[i], x[i]);
}
__global__ void ScaleKernel(float* __restrict__ x, size_t n, float s) {
  const size_t i = size_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) x[i] *= s;
}

// ---- Softmax of one row (CPU twin: ops/activation-inl.h SoftmaxF32): m = max x; e = exp(x − m);
// x ← e · (1 / Σe). One block; the sum is thread-strided partials then BlockReduce.
// x ← exp(x − max x) in place over one block's row of n; returns Σ of the new x (thread-strided partials,
// then BlockReduce, whose __syncthreads() also publishes the new x to every thread). Softmax and attention.
template <int kThreads>
__device__ float ExpShiftedInPlace(float* x, size_t n) {
  float m = -INFINITY;
  for (size_t i = threadIdx.x; i < n; i += kThreads) m = fmaxf(m, x[i]);
  m = BlockReduce<kThreads, true>(m);
  float sum = 0.0f;
  for (size_t i = threadIdx.x; i < n; i += kThreads) {
    const float e = expf(x[i] - m);
    x[i] = e;
    sum += e;
  }
  return BlockReduce<kThreads, false>(sum);
}

__global__ void SoftmaxKernel(float* __restrict__ x, size_t n) {
  const float sum = ExpShiftedInPlace<kRowThreads>(x, n);
  const float inv = 1.0f / sum;
  for (size_t i = threadIdx.x; i < n; i += kRowThreads) x[i] *= inv;
}

// ---- Argmax: the first index of the largest element (CPU twin: ops/activation-inl.h ArgmaxF32, the
// scalar twin's `x[i] > x[best]`). Each thread keeps the first maximum of its stride, then a tree keeps
// the larger value, the lower index on ties. Exact: no arithmetic, so it matches the CPU exactly.
__global__ void ArgmaxKernel(const float* __restrict__ x, size_t n, size_t* __restrict__ index) {
  __shared__ float best_v[kRowThreads];
  __shared__ size_t best_i[kRowThreads];
  float bv = -INFINITY;
  size_t bi = size_t(-1);
  for (size_t i = threadIdx.x; i < n; i += kRowThreads)
    if (bi == size_t(-1) || x[i] > bv) bv = x[i], bi = i;
  best_v[threadIdx.x] = bv;
  best_i[threadIdx.x] = bi;
  __syncthreads();
  for (int half = kRowThreads / 2; half > 0; half >>= 1) {
    if (int(threadIdx.x) < half) {
      const float ov = best_v[threadIdx.x + half];
      const size_t oi = best_i[threadIdx.x + half];
      const bool take = oi != size_t(-1) &&
                        (best_i[threadIdx.x] == size_t(-1) || ov > best_v[threadIdx.x] ||
                         (ov == best_v[threadIdx.x] && oi < best_i[threadIdx.x]));
      if (take) best_v[threadIdx.x] = ov, best_i[threadIdx.x] = oi;
    }
    __syncthreads();
  }
  if (threadIdx.x == 0) *index = best_i[0] == size_t(-1) ? 0 : best_i[0];
}

// ---- RoPE, half-split (CPU twin: ops/rope-inl.h, same two roundings per output):
//   x[j] ← fma(−x[j+D/2], s, x[j]·c);  x[j+D/2] ← fma(x[j], s, x[j+D/2]·c)   for pairs j < rotary_pairs;
// pairs j ≥ rotary_pairs (proportional RoPE's unrotated part) are left as they are. One thread per pair.
__global__ void RopeKernel(float* __restrict__ x, size_t T, size_t num_heads, size_t head_dim,
                           const float* __restrict__ cos, const float* __restrict__ sin, size_t rotary_pairs) {
  const size_t id = size_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (id >= T * num_heads * rotary_pairs) return;
  const size_t j = id % rotary_pairs, th = id / rotary_pairs, t = th / num_heads;
  float* v = x + th * head_dim;
  const float c = cos[t * rotary_pairs + j], s = sin[t * rotary_pairs + j];
  const float x1 = v[j], x2 = v[j + head_dim / 2];
  v[j] = fmaf(-x2, s, x1 * c);
  v[j + head_dim / 2] = fmaf(x1, s, x2 * c);
}

// ---- Attention (CPU twin: ops/attention-inl.h; definition ops/attention_scalar.h). One block per
// (query t, head h); GQA: head h reads KV head h / (num_heads / num_kv_heads). The keys a query at
// position p sees are kp ≤ p and, with a window W > 0, kp > p − W: in the KV store's blocks (position
// order; a sliding ring is two blocks, a KV-shared layer reads its source's blocks) they are one run of
// positions, numbered j = 0, 1, … in position order.
//   scores[j] = scale · Σ_d q[d]·k_j[d]   one warp per key (warps take j = w, w + 4, …), lanes stride d
//   m = max scores;  e_j = exp(scores[j] − m);  Σ = Σ_j e_j
//   out[d] = (Σ_j e_j · v_j[d]) / Σ    one thread per d, j in order
// Each (t, h) is computed the same way whatever T is: decode = prefill.
constexpr int kAttentionThreads = 128;

struct KVBlocks {
  KVBlock block[2];
  int count;
};

__device__ __forceinline__ void KeyAt(const KVBlocks& kv, size_t lo, size_t j, int* b, size_t* i) {
  // the j-th visible key: position lo + j, in block b at row i
  const size_t kp = lo + j;
  for (int c = 0; c < kv.count; ++c)
    if (kp >= kv.block[c].first_pos && kp < kv.block[c].first_pos + kv.block[c].count) {
      *b = c;
      *i = kp - kv.block[c].first_pos;
      return;
    }
  *b = -1;
}

__global__ void AttentionKernel(const float* __restrict__ q, size_t num_heads, size_t head_dim, size_t q_pos0,
                                KVBlocks kv, size_t num_kv_heads, size_t window, float scale,
                                float* __restrict__ out, float* __restrict__ scores_all, size_t max_keys) {
  const size_t t = blockIdx.x / num_heads, h = blockIdx.x % num_heads;
  const size_t kvh = h / (num_heads / num_kv_heads);
  const size_t pos = q_pos0 + t;
  const float* qv = q + (t * num_heads + h) * head_dim;
  float* scores = scores_all + size_t(blockIdx.x) * max_keys;
  // the visible run of positions [lo, hi]
  size_t first = size_t(-1), last = 0;
  for (int c = 0; c < kv.count; ++c)
    if (kv.block[c].count) {
      first = min(first, kv.block[c].first_pos);
      last = max(last, kv.block[c].first_pos + kv.block[c].count - 1);
    }
  size_t lo = first, hi = min(last, pos);
  if (window > 0 && pos + 1 > window) lo = max(lo, pos + 1 - window);
  const size_t keys = first == size_t(-1) || lo > hi ? 0 : hi - lo + 1;
  const int lane = threadIdx.x % kWarp, warp = threadIdx.x / kWarp;
  const size_t row = num_kv_heads * head_dim;
  for (size_t j = size_t(warp); j < keys; j += kAttentionThreads / kWarp) {
    int b;
    size_t i;
    KeyAt(kv, lo, j, &b, &i);
    if (b < 0) {  // a gap in the store (never made by gemma4/cache.h): the key is masked
      if (lane == 0) scores[j] = -INFINITY;
      continue;
    }
    const float* k = kv.block[b].k + i * row + kvh * head_dim;
    float dot = 0.0f;
    for (size_t d = size_t(lane); d < head_dim; d += kWarp) dot = fmaf(qv[d], k[d], dot);
    dot = WarpSum(dot);
    if (lane == 0) scores[j] = dot * scale;
  }
  __syncthreads();
  const float sum = ExpShiftedInPlace<kAttentionThreads>(scores, keys);  // (publishes scores[])
  float* o = out + (t * num_heads + h) * head_dim;
  for (size_t d = threadIdx.x; d < head_dim; d += kAttentionThreads) {
    float acc = 0.0f;
    for (size_t j = 0; j < keys; ++j) {
      int b;
      size_t i;
      KeyAt(kv, lo, j, &b, &i);
      if (b >= 0) acc = fmaf(scores[j], kv.block[b].v[i * row + kvh * head_dim + d], acc);
    }
    o[d] = keys ? acc / sum : 0.0f;
  }
}

constexpr int kElementThreads = 256;
inline unsigned Blocks(size_t n, size_t per_block) { return unsigned((n + per_block - 1) / per_block); }

}  // namespace

void LaunchMatMul(const float* x, size_t T, size_t K, const void* w, DType wtype, size_t N, float* out) {
  const dim3 grid(Blocks(N, kMatMulWarps), Blocks(T, kMatMulTokens));
  const dim3 block(kMatMulWarps * kWarp);
  const auto* bytes = static_cast<const uint8_t*>(w);
  const size_t row_bytes = RowBytes(wtype, K);
  switch (wtype) {
    case DType::F32: MatMulKernel<DType::F32><<<grid, block>>>(x, T, K, bytes, row_bytes, N, out); break;
    case DType::BF16: MatMulKernel<DType::BF16><<<grid, block>>>(x, T, K, bytes, row_bytes, N, out); break;
    case DType::F16: MatMulKernel<DType::F16><<<grid, block>>>(x, T, K, bytes, row_bytes, N, out); break;
    case DType::Q8_0: MatMulKernel<DType::Q8_0><<<grid, block>>>(x, T, K, bytes, row_bytes, N, out); break;
    default: MatMulKernel<DType::Q4_0><<<grid, block>>>(x, T, K, bytes, row_bytes, N, out); break;
  }
}

void LaunchToF32(const void* src, DType t, size_t n, float scale, float* dst) {
  const auto* bytes = static_cast<const uint8_t*>(src);
  const unsigned grid = Blocks(n, kElementThreads);
  switch (t) {
    case DType::F32: ToF32Kernel<DType::F32><<<grid, kElementThreads>>>(bytes, n, scale, dst); break;
    case DType::BF16: ToF32Kernel<DType::BF16><<<grid, kElementThreads>>>(bytes, n, scale, dst); break;
    case DType::F16: ToF32Kernel<DType::F16><<<grid, kElementThreads>>>(bytes, n, scale, dst); break;
    case DType::Q8_0: ToF32Kernel<DType::Q8_0><<<grid, kElementThreads>>>(bytes, n, scale, dst); break;
    default: ToF32Kernel<DType::Q4_0><<<grid, kElementThreads>>>(bytes, n, scale, dst); break;
  }
}

void LaunchRMSNorm(const float* x, size_t rows, size_t n, const float* weight, float eps, float* y) {
  if (rows) RMSNormKernel<<<unsigned(rows), kRowThreads>>>(x, n, weight, eps, y);
}
void LaunchGeluTanhMul(float* x, const float* y, size_t n) {
  if (n) GeluTanhMulKernel<<<Blocks(n, kElementThreads), kElementThreads>>>(x, y, n);
}
void LaunchSoftcap(float* x, size_t n, float cap) {
  if (n) SoftcapKernel<<<Blocks(n, kElementThreads), kElementThreads>>>(x, n, cap);
}
void LaunchSoftmax(float* x, size_t n) {
  if (n) SoftmaxKernel<<<1, kRowThreads>>>(x, n);
}
void LaunchAddScaled(float* x, const float* y, float s, size_t n) {
  if (n) AddScaledKernel<<<Blocks(n, kElementThreads), kElementThreads>>>(x, y, s, n);
}
void LaunchScale(float* x, size_t n, float s) {
  if (n) ScaleKernel<<<Blocks(n, kElementThreads), kElementThreads>>>(x, n, s);
}
void LaunchArgmax(const float* x, size_t n, size_t* index) { ArgmaxKernel<<<1, kRowThreads>>>(x, n, index); }
void LaunchRope(float* x, size_t T, size_t num_heads, size_t head_dim, const float* cos, const float* sin,
                size_t rotary_pairs) {
  const size_t n = T * num_heads * rotary_pairs;
  if (n) RopeKernel<<<Blocks(n, kElementThreads), kElementThreads>>>(x, T, num_heads, head_dim, cos, sin, rotary_pairs);
}
void LaunchAttention(const float* q, size_t T, size_t num_heads, size_t head_dim, size_t q_pos0,
                     const KVBlock* blocks, size_t num_blocks, size_t num_kv_heads, size_t window, float scale,
                     float* out, float* scores) {
  KVBlocks kv{};
  size_t max_keys = 0;
  kv.count = int(num_blocks);
  for (size_t b = 0; b < num_blocks; ++b) {
    kv.block[b] = blocks[b];
    max_keys += blocks[b].count;
  }
  if (T * num_heads != 0)
    AttentionKernel<<<unsigned(T * num_heads), kAttentionThreads>>>(q, num_heads, head_dim, q_pos0, kv,
                                                                    num_kv_heads, window, scale, out, scores,
                                                                    max_keys);
}

}  // namespace gemma4::ops::cuda
