// ops/ops.h — the kernels' public face: compiles every ops/*-inl.h once per SIMD target (through Highway's
// foreach_target) and owns the dispatch tables. gemma4/ calls only the functions in namespace gemma4::ops
// declared at the bottom of this file; each picks the best target this CPU supports at run time.
//
// This file must be included before any other Highway header, and it deliberately has no #pragma once:
// foreach_target.h re-includes it once per target. See ops/README.md for the pattern and its cost.
#ifndef GEMMA4_OPS_OPS_H_
#define GEMMA4_OPS_OPS_H_
#ifdef HWY_HIGHWAY_INCLUDED
#error "include ops/ops.h before hwy/highway.h"
#endif

#include <cstddef>
#include <cstdint>

#include "ops/device.h"   // cpu or a device backend (process-wide, like the numerics mode)
#include "ops/numerics.h" // exact or fast (process-wide, like the thread count)
#include "ops/scalar.h"   // every ops/*_scalar.h (plain C++), plus DType and KVBlock
#include "ops/threads.h"  // the shared thread pool

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "ops/ops.h"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#endif  // GEMMA4_OPS_OPS_H_

// Per-target part: everything below up to HWY_ONCE is compiled once for each target.
#include "hwy/highway.h"
#include "ops/activation-inl.h"
#include "ops/attention-inl.h"
#include "ops/convert-inl.h"
#include "ops/matmul-inl.h"
#include "ops/matmul_group-inl.h"
#include "ops/norm-inl.h"
#include "ops/quant-inl.h"
#include "ops/quant_fast-inl.h"
#include "ops/rope-inl.h"

// Include guard for this file's own per-target code (a second #include of ops/ops.h compiles nothing).
#if defined(GEMMA4_OPS_OPS_TOGGLE) == defined(HWY_TARGET_TOGGLE)
#ifdef GEMMA4_OPS_OPS_TOGGLE
#undef GEMMA4_OPS_OPS_TOGGLE
#else
#define GEMMA4_OPS_OPS_TOGGLE
#endif
HWY_BEFORE_NAMESPACE();
namespace gemma4::ops {
namespace HWY_NAMESPACE {
static HWY_NOINLINE HWY_MAYBE_UNUSED const char* TargetNameHere() { return hwy::TargetName(HWY_TARGET); }
}  // namespace HWY_NAMESPACE
}  // namespace gemma4::ops
HWY_AFTER_NAMESPACE();
#endif  // GEMMA4_OPS_OPS_TOGGLE

#if HWY_ONCE && !defined(GEMMA4_OPS_TABLES_)
#define GEMMA4_OPS_TABLES_
#include <cstring>
#include <stdexcept>
#include <string>

namespace gemma4::ops {

// One table per entry point: a pointer per compiled target, chosen on first call.
HWY_EXPORT(MatMulF32);
HWY_EXPORT(MatMulBF16);
HWY_EXPORT(MatMulF16);
HWY_EXPORT(MatMulQ8_0);
HWY_EXPORT(MatMulQ4_0);
HWY_EXPORT(MatMulQ5_0);
HWY_EXPORT(MatMulQ4_K);
HWY_EXPORT(MatMulQ5_K);
HWY_EXPORT(MatMulQ6_K);
HWY_EXPORT(MatMulQ8_0Fast);
HWY_EXPORT(MatMulQ4_0Fast);
HWY_EXPORT(MatMulQ5_0Fast);
HWY_EXPORT(MatMulQ4_KFast);
HWY_EXPORT(MatMulQ5_KFast);
HWY_EXPORT(MatMulQ6_KFast);
HWY_EXPORT(MatMulGroupF32);
HWY_EXPORT(ToF32FromF32);
HWY_EXPORT(ToF32FromBF16);
HWY_EXPORT(ToF32FromF16);
HWY_EXPORT(ToF32FromQ8_0);
HWY_EXPORT(ToF32FromQ4_0);
HWY_EXPORT(ToF32FromQ5_0);
HWY_EXPORT(ToF32FromQ4_K);
HWY_EXPORT(ToF32FromQ5_K);
HWY_EXPORT(ToF32FromQ6_K);
HWY_EXPORT(RMSNormF32);
HWY_EXPORT(GeluTanhMulF32);
HWY_EXPORT(SoftcapF32);
HWY_EXPORT(SoftmaxF32);
HWY_EXPORT(AddScaledF32);
HWY_EXPORT(ScaleF32);
HWY_EXPORT(ArgmaxF32);
HWY_EXPORT(RopeF32);
HWY_EXPORT(AttentionF32);
HWY_EXPORT(TargetNameHere);

// The SIMD target the dispatcher picks on this machine (e.g. "AVX3", "AVX2", "SCALAR").
static inline const char* TargetName() { return HWY_DYNAMIC_DISPATCH(TargetNameHere)(); }

// out[T,N] = x[T,K] · w[N,K]ᵀ, w read in place in its stored dtype (HF nn.Linear, bias=False): F32, BF16, F16,
// or llama.cpp's Q8_0 / Q4_0 / Q5_0 blocks (K a multiple of 32, else std::invalid_argument) or Q4_K / Q5_K / Q6_K
// super-blocks (K a multiple of 256), in the given numerics
// (ops/numerics.h; MatMul without it uses the process-wide GetNumerics()). `fast` changes only block types.
// Every wrapper below first offers its call to the active device (ops/device.h); `fast` is CPU-only.
static inline void MatMul(const float* x, size_t T, size_t K, const void* w, DType wtype, size_t N, float* out,
                          Numerics numerics) {
  const auto* bytes = static_cast<const uint8_t*>(w);
  if (!(numerics == Numerics::kFast && HasFastMatMul(wtype)) &&
      OnDevice(&DeviceOps::matmul, x, T, K, w, wtype, N, out))
    return;
  if (numerics == Numerics::kFast && HasFastMatMul(wtype)) {
    RowBytes(wtype, K);  // throws unless K is a whole number of blocks
    switch (wtype) {
      case DType::Q8_0: return HWY_DYNAMIC_DISPATCH(MatMulQ8_0Fast)(x, T, K, bytes, N, out);
      case DType::Q4_0: return HWY_DYNAMIC_DISPATCH(MatMulQ4_0Fast)(x, T, K, bytes, N, out);
      case DType::Q5_0: return HWY_DYNAMIC_DISPATCH(MatMulQ5_0Fast)(x, T, K, bytes, N, out);
      case DType::Q4_K: return HWY_DYNAMIC_DISPATCH(MatMulQ4_KFast)(x, T, K, bytes, N, out);
      case DType::Q5_K: return HWY_DYNAMIC_DISPATCH(MatMulQ5_KFast)(x, T, K, bytes, N, out);
      default: return HWY_DYNAMIC_DISPATCH(MatMulQ6_KFast)(x, T, K, bytes, N, out);
    }
  }
  switch (wtype) {
    case DType::F32: return HWY_DYNAMIC_DISPATCH(MatMulF32)(x, T, K, static_cast<const float*>(w), N, out);
    case DType::BF16: return HWY_DYNAMIC_DISPATCH(MatMulBF16)(x, T, K, static_cast<const uint16_t*>(w), N, out);
    case DType::F16: return HWY_DYNAMIC_DISPATCH(MatMulF16)(x, T, K, static_cast<const uint16_t*>(w), N, out);
    case DType::Q8_0: RowBytes(wtype, K);  // throws unless K is a whole number of blocks
      return HWY_DYNAMIC_DISPATCH(MatMulQ8_0)(x, T, K, bytes, N, out);
    case DType::Q4_0: RowBytes(wtype, K);
      return HWY_DYNAMIC_DISPATCH(MatMulQ4_0)(x, T, K, bytes, N, out);
    case DType::Q5_0: RowBytes(wtype, K); return HWY_DYNAMIC_DISPATCH(MatMulQ5_0)(x, T, K, bytes, N, out);
    case DType::Q4_K: RowBytes(wtype, K); return HWY_DYNAMIC_DISPATCH(MatMulQ4_K)(x, T, K, bytes, N, out);
    case DType::Q5_K: RowBytes(wtype, K); return HWY_DYNAMIC_DISPATCH(MatMulQ5_K)(x, T, K, bytes, N, out);
    case DType::Q6_K: RowBytes(wtype, K); return HWY_DYNAMIC_DISPATCH(MatMulQ6_K)(x, T, K, bytes, N, out);
    default: throw std::invalid_argument(std::string("MatMul: unsupported weight dtype ") + DTypeName(wtype));
  }
}
static inline void MatMul(const float* x, size_t T, size_t K, const void* w, DType wtype, size_t N, float* out) {
  MatMul(x, T, K, w, wtype, N, out, GetNumerics());
}

// out_i[T,N_i] = x[T,K] · w_iᵀ for every part i (ops/matmul_group-inl.h: MatMulPart {w, dtype, N, out}): the
// same bits as one MatMul per part with these numerics, in one call — the threads split the rows of all
// parts at once, so layers hand q/k/v and gate/up to the pool once each instead of once per matrix.
// With a device active, each part is offered to it as a plain MatMul (and runs on the CPU if declined).
static inline void MatMulGroup(const float* x, size_t T, size_t K, const MatMulPart* parts, size_t num_parts,
                               Numerics numerics) {
  if (ActiveDevice()) {
    for (size_t i = 0; i < num_parts; ++i)
      MatMul(x, T, K, parts[i].w, parts[i].dtype, parts[i].N, parts[i].out, numerics);
    return;
  }
  for (size_t i = 0; i < num_parts; ++i) {  // MatMul's checks, before any part runs
    const DType t = parts[i].dtype;
    if (!IsWeightDType(t))
      throw std::invalid_argument(std::string("MatMul: unsupported weight dtype ") + DTypeName(t));
    if (IsBlockType(t)) RowBytes(t, K);  // throws unless K is a whole number of blocks
  }
  HWY_DYNAMIC_DISPATCH(MatMulGroupF32)(x, T, K, parts, num_parts, numerics == Numerics::kFast);
}
static inline void MatMulGroup(const float* x, size_t T, size_t K, const MatMulPart* parts, size_t num_parts) {
  MatMulGroup(x, T, K, parts, num_parts, GetNumerics());
}

// dst[i] = f32(src[i]) · scale for a row of n stored elements (embedding lookups, norm weights, widening
// K-quants on load); a block type needs n a multiple of its block size (else std::invalid_argument).
static inline void ToF32(const void* src, DType t, size_t n, float scale, float* dst) {
  if (OnDevice(&DeviceOps::to_f32, src, t, n, scale, dst)) return;
  const auto* bytes = static_cast<const uint8_t*>(src);
  switch (t) {
    case DType::F32: return HWY_DYNAMIC_DISPATCH(ToF32FromF32)(static_cast<const float*>(src), n, scale, dst);
    case DType::BF16: return HWY_DYNAMIC_DISPATCH(ToF32FromBF16)(static_cast<const uint16_t*>(src), n, scale, dst);
    case DType::F16: return HWY_DYNAMIC_DISPATCH(ToF32FromF16)(static_cast<const uint16_t*>(src), n, scale, dst);
    case DType::Q8_0: RowBytes(t, n); return HWY_DYNAMIC_DISPATCH(ToF32FromQ8_0)(bytes, n, scale, dst);
    case DType::Q4_0: RowBytes(t, n); return HWY_DYNAMIC_DISPATCH(ToF32FromQ4_0)(bytes, n, scale, dst);
    case DType::Q5_0: RowBytes(t, n); return HWY_DYNAMIC_DISPATCH(ToF32FromQ5_0)(bytes, n, scale, dst);
    case DType::Q4_K: RowBytes(t, n); return HWY_DYNAMIC_DISPATCH(ToF32FromQ4_K)(bytes, n, scale, dst);
    case DType::Q5_K: RowBytes(t, n); return HWY_DYNAMIC_DISPATCH(ToF32FromQ5_K)(bytes, n, scale, dst);
    case DType::Q6_K: RowBytes(t, n); return HWY_DYNAMIC_DISPATCH(ToF32FromQ6_K)(bytes, n, scale, dst);
    default: return scalar::ToF32(src, t, n, scale, dst);  // F64 (rare, small tensors only)
  }
}

// y[r] = x[r] · (mean(x[r]²) + eps)^-½ · weight, for `rows` rows of n; weight == nullptr: no scale.
static inline void RMSNorm(const float* x, size_t rows, size_t n, const float* weight, float eps, float* y) {
  if (OnDevice(&DeviceOps::rms_norm, x, rows, n, weight, eps, y)) return;
  HWY_DYNAMIC_DISPATCH(RMSNormF32)(x, rows, n, weight, eps, y);
}
// x ← gelu_tanh(x) · y  (y == nullptr: x ← gelu_tanh(x)).
static inline void GeluTanhMul(float* x, const float* y, size_t n) {
  if (OnDevice(&DeviceOps::gelu_tanh_mul, x, y, n)) return;
  HWY_DYNAMIC_DISPATCH(GeluTanhMulF32)(x, y, n);
}
// x ← cap · tanh(x / cap).
static inline void Softcap(float* x, size_t n, float cap) {
  if (OnDevice(&DeviceOps::softcap, x, n, cap)) return;
  HWY_DYNAMIC_DISPATCH(SoftcapF32)(x, n, cap);
}
// x ← softmax(x).
static inline void Softmax(float* x, size_t n) {
  if (OnDevice(&DeviceOps::softmax, x, n)) return;
  HWY_DYNAMIC_DISPATCH(SoftmaxF32)(x, n);
}
// x ← x + s · y.
static inline void AddScaled(float* x, const float* y, float s, size_t n) {
  if (OnDevice(&DeviceOps::add_scaled, x, y, s, n)) return;
  HWY_DYNAMIC_DISPATCH(AddScaledF32)(x, y, s, n);
}
// x ← x + y.
static inline void Add(float* x, const float* y, size_t n) { AddScaled(x, y, 1.0f, n); }
// x ← x · s.
static inline void Scale(float* x, size_t n, float s) {
  if (OnDevice(&DeviceOps::scale, x, n, s)) return;
  HWY_DYNAMIC_DISPATCH(ScaleF32)(x, n, s);
}
// dst ← src (n floats; the two do not overlap): the KV cache's stores, K = V on attention_k_eq_v layers.
static inline void Copy(float* dst, const float* src, size_t n) {
  if (OnDevice(&DeviceOps::copy, dst, src, n)) return;
  std::memcpy(dst, src, n * sizeof(float));
}
// First index of the maximum.
static inline size_t Argmax(const float* x, size_t n) {
  size_t index = 0;
  if (OnDevice(&DeviceOps::argmax, x, n, &index)) return index;
  return HWY_DYNAMIC_DISPATCH(ArgmaxF32)(x, n);
}
// RoPE on x [T, num_heads, head_dim]; cos/sin [T, rotary_pairs].
static inline void Rope(float* x, size_t T, size_t num_heads, size_t head_dim, const float* cos, const float* sin,
                        size_t rotary_pairs) {
  if (OnDevice(&DeviceOps::rope, x, T, num_heads, head_dim, cos, sin, rotary_pairs)) return;
  HWY_DYNAMIC_DISPATCH(RopeF32)(x, T, num_heads, head_dim, cos, sin, rotary_pairs);
}
// Attention of q [T, num_heads, head_dim] (positions q_pos0 + t) over KV blocks; out like q.
static inline void Attention(const float* q, size_t T, size_t num_heads, size_t head_dim, size_t q_pos0,
                             const KVBlock* blocks, size_t num_blocks, size_t num_kv_heads, size_t window,
                             float scale, float* out) {
  if (OnDevice(&DeviceOps::attention, q, T, num_heads, head_dim, q_pos0, blocks, num_blocks, num_kv_heads, window,
               scale, out))
    return;
  HWY_DYNAMIC_DISPATCH(AttentionF32)(q, T, num_heads, head_dim, q_pos0, blocks, num_blocks, num_kv_heads, window,
                                     scale, out);
}

}  // namespace gemma4::ops
#endif  // HWY_ONCE
