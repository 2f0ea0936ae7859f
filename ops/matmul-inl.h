// ops/matmul-inl.h — MatMul: out[T,N] = x[T,K] · w[N,K]ᵀ, weights read in their stored dtype.
//
// HF nn.Linear (bias=False). Scalar twin: ops/matmul_scalar.h.
//
// Every output element out[t,n] has its own f32 vector accumulator, fed Lanes(df) products at a time in
// increasing k; the lanes are summed, then the k tail (K % Lanes) is added in scalar order. Tiles only
// decide how many accumulators run side by side (up to 4 rows of x × 4 rows of w, so a converted weight
// vector is reused for 4 tokens), never the order of the sum. So the result for a token does not depend
// on how many other tokens share the call: prefill, decode and chunked prefill agree bit for bit.
// Threads split the weight rows; each element is still computed by one thread.
//
// How a weight row is read is a policy, WeightRows<WT>: it steps Step(df) weights at a time and hands out
// each step as f32 vectors. Plain dtypes (f32, bf16, f16) step one vector; llama.cpp's block types
// (ops/quant-inl.h) step one block of 32, so its f16 scale is widened once per block. The products still
// enter each accumulator one vector at a time in increasing k, so a block-type MatMul equals, bit for bit,
// the f32 MatMul of the dequantized weights (dequantized weights are exact: ops/quant_scalar.h).

// Include guard for non-SIMD code.
#ifndef GEMMA4_OPS_MATMUL_INL_H_
#define GEMMA4_OPS_MATMUL_INL_H_
#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "ops/threads.h"
#endif  // GEMMA4_OPS_MATMUL_INL_H_

// Include guard for (potentially) SIMD code: compiled once per target.
#if defined(GEMMA4_OPS_MATMUL_TOGGLE) == defined(HWY_TARGET_TOGGLE)
#ifdef GEMMA4_OPS_MATMUL_TOGGLE
#undef GEMMA4_OPS_MATMUL_TOGGLE
#else
#define GEMMA4_OPS_MATMUL_TOGGLE
#endif

#include "hwy/cache_control.h"
#include "hwy/highway.h"
#include "ops/convert-inl.h"

HWY_BEFORE_NAMESPACE();
namespace gemma4::ops {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Rows of plain stored weights (f32, bf16, f16): row n is w[n·K .. n·K + K).
template <typename WT>
struct WeightRows {
  const WT* HWY_RESTRICT w;
  size_t K;
  template <class DF>
  static size_t Step(DF df) { return hn::Lanes(df); }
  struct Cursor { const WT* p; };  // the step of row n that starts at k
  Cursor At(size_t n, size_t k) const { return {w + n * K + k}; }
  // MatMulTile's prefetch: none for plain dtypes (their rows are read at the bandwidth ceiling already).
  static constexpr size_t kStepBytes = 0;
  const uint8_t* StepBytes(size_t, size_t) const { return nullptr; }
  // Lanes(df) weights from element v (< Step) of the step, as f32.
  template <class DF>
  static hn::Vec<DF> Load(DF df, const Cursor& c, size_t v) { return LoadAsF32(df, c.p + v); }
  float Element(size_t n, size_t k) const { return ElementAsF32(w + n * K, k); }
};

// out[t,n] for kRowsX consecutive tokens × kRowsW consecutive weight rows starting at n0.
template <size_t kRowsX, size_t kRowsW, class DF, class Rows>
HWY_INLINE void MatMulTile(DF df, const float* HWY_RESTRICT x, size_t K, const Rows& w, size_t n0,
                           float* HWY_RESTRICT out, size_t N) {
  const size_t L = hn::Lanes(df), S = Rows::Step(df);
  const size_t k_vec_end = K - K % S;
  hn::Vec<DF> acc[kRowsX][kRowsW];
  for (size_t i = 0; i < kRowsX; ++i)
    for (size_t j = 0; j < kRowsW; ++j) acc[i][j] = hn::Zero(df);
  for (size_t k = 0; k < k_vec_end; k += S) {
    // Block types: ask for the bytes the next tile (the kRowsW rows after these) reads at this k, one tile
    // ahead: a mapped file has 4 KiB pages, where the hardware prefetcher stops, and without this each
    // tile started on cold rows. No effect on any result; a prefetch past the matrix never faults.
    if constexpr (Rows::kStepBytes > 0)
      for (size_t j = 0; j < kRowsW; ++j)
        for (size_t b = 0; b < Rows::kStepBytes; b += 64) hwy::Prefetch(w.StepBytes(n0 + kRowsW + j, k) + b);
    typename Rows::Cursor c[kRowsW];
    for (size_t j = 0; j < kRowsW; ++j) c[j] = w.At(n0 + j, k);
    for (size_t v = 0; v < S; v += L) {
      hn::Vec<DF> wv[kRowsW];
      for (size_t j = 0; j < kRowsW; ++j) wv[j] = Rows::Load(df, c[j], v);
      for (size_t i = 0; i < kRowsX; ++i) {
        const auto xv = hn::LoadU(df, x + i * K + k + v);
        for (size_t j = 0; j < kRowsW; ++j) acc[i][j] = hn::MulAdd(xv, wv[j], acc[i][j]);
      }
    }
  }
  // The k tail goes through a one-lane vector with an explicit FMA, like the body: plain `sum += x*w`
  // would let the compiler decide whether to fuse, and then f32 and bf16 weights could round differently.
  const hn::CappedTag<float, 1> d1;
  for (size_t i = 0; i < kRowsX; ++i)
    for (size_t j = 0; j < kRowsW; ++j) {
      auto tail = hn::Zero(d1);
      for (size_t k = k_vec_end; k < K; ++k)
        tail = hn::MulAdd(hn::Set(d1, x[i * K + k]), hn::Set(d1, w.Element(n0 + j, k)), tail);
      out[i * N + n0 + j] = hn::GetLane(hn::SumOfLanes(df, acc[i][j])) + hn::GetLane(tail);
    }
}

template <size_t kRowsX, class DF, class Rows>
HWY_INLINE void MatMulRowsOfX(DF df, const float* x, size_t K, const Rows& w, size_t n_begin, size_t n_end,
                              float* out, size_t N) {
  size_t n = n_begin;
  for (; n + 4 <= n_end; n += 4) MatMulTile<kRowsX, 4>(df, x, K, w, n, out, N);
  for (; n < n_end; ++n) MatMulTile<kRowsX, 1>(df, x, K, w, n, out, N);
}

// Output columns [n_begin, n_end) of every token, on the calling thread: what one task of MatMulRows does.
template <class Rows>
HWY_INLINE void MatMulRowRange(const float* HWY_RESTRICT x, size_t T, size_t K, const Rows& w, size_t N,
                               size_t n_begin, size_t n_end, float* HWY_RESTRICT out) {
  // At most 32 lanes, so a vector never straddles two 32-weight blocks (x86 has at most 16).
  const hn::CappedTag<float, 32> df;
  for (size_t t = 0; t < T; t += 4) {
    const float* xt = x + t * K;
    float* ot = out + t * N;
    switch (std::min<size_t>(4, T - t)) {
      case 4: MatMulRowsOfX<4>(df, xt, K, w, n_begin, n_end, ot, N); break;
      case 3: MatMulRowsOfX<3>(df, xt, K, w, n_begin, n_end, ot, N); break;
      case 2: MatMulRowsOfX<2>(df, xt, K, w, n_begin, n_end, ot, N); break;
      default: MatMulRowsOfX<1>(df, xt, K, w, n_begin, n_end, ot, N); break;
    }
  }
}

template <class Rows>
HWY_INLINE void MatMulRows(const float* HWY_RESTRICT x, size_t T, size_t K, const Rows& w, size_t N,
                           float* HWY_RESTRICT out) {
  // At least ~64k multiply-adds per task, so tiny matrices are not worth waking threads for.
  const size_t grain = std::max<size_t>(4, (size_t{1} << 16) / std::max<size_t>(1, K * T));
  ParallelRanges(N, grain, 4, [&](size_t n_begin, size_t n_end) { MatMulRowRange(x, T, K, w, N, n_begin, n_end, out); });
}

template <typename WT>
HWY_INLINE void MatMulT(const float* HWY_RESTRICT x, size_t T, size_t K, const WT* HWY_RESTRICT w, size_t N,
                        float* HWY_RESTRICT out) {
  MatMulRows(x, T, K, WeightRows<WT>{w, K}, N, out);
}

static HWY_NOINLINE HWY_MAYBE_UNUSED void MatMulF32(const float* x, size_t T, size_t K, const float* w, size_t N,
                                                    float* out) {
  MatMulT(x, T, K, w, N, out);
}
static HWY_NOINLINE HWY_MAYBE_UNUSED void MatMulBF16(const float* x, size_t T, size_t K, const uint16_t* w,
                                                     size_t N, float* out) {
  MatMulT(x, T, K, reinterpret_cast<const hwy::bfloat16_t*>(w), N, out);
}
static HWY_NOINLINE HWY_MAYBE_UNUSED void MatMulF16(const float* x, size_t T, size_t K, const uint16_t* w,
                                                    size_t N, float* out) {
  MatMulT(x, T, K, reinterpret_cast<const hwy::float16_t*>(w), N, out);
}

}  // namespace HWY_NAMESPACE
}  // namespace gemma4::ops
HWY_AFTER_NAMESPACE();

#endif  // GEMMA4_OPS_MATMUL_TOGGLE
