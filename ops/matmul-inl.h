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
//
// Prefill reads each weight once per call, not once per 4-token tile: a thread takes its rows a panel at a
// time (~256 KiB of f32, kept in the 1 MiB L2 per core here) and runs every token tile over the panel. A
// block-type panel is widened once into a thread-local f32 scratch, read through WeightRows<float>: the
// scratch holds exactly the f32 values the direct path widens in registers (Load for the vector steps,
// Element for the tail), so every out[t,n] gets the same vector FMAs in increasing k, the same scalar k tail
// and the same lane sum. Decode (T < kMatMulPanelMinTokens) reads the stored rows directly.

// Include guard for non-SIMD code.
#ifndef GEMMA4_OPS_MATMUL_INL_H_
#define GEMMA4_OPS_MATMUL_INL_H_
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "ops/threads.h"

namespace gemma4::ops {

// Prefill panels (MatMulRowRange). From this many tokens on, a call takes a thread's weight rows a panel at
// a time; below it, each weight is read (and a block type widened in registers) once per 4-token tile.
// Measured (one thread, CPU time, E2B shapes 2048/6144×1536 and 1536×6144; README "Numerics"): widening a
// Q8_0/Q4_0 panel to f32 breaks even at ~16–24 tokens (the f32 panel is 4 bytes a weight from L2, the
// direct path ~1 byte and a few ALU ops) and is 10–13% faster at 128; Q4_K/Q6_K win from ~8 tokens, 1.6–2.1×
// at 128. So decode and speculative verification (2–9 tokens) stay direct.
inline constexpr size_t kMatMulPanelMinTokens = 16;

// Weight rows (a multiple of 4, at least 4) per panel: ~256 KiB of f32, a quarter of the 1 MiB L2 per core,
// so the panel, a 4-token tile of x (4·K floats) and the outputs stay in L2 while every tile passes over it
// (64–512 KiB measured within a few % of each other).
inline size_t MatMulPanelRows(size_t K) {
  return std::max<size_t>(4, (size_t{256} << 10) / (sizeof(float) * std::max<size_t>(1, K)) / 4 * 4);
}

// The calling thread's f32 panel scratch, at least `floats` long: grown on first use, kept for the thread's
// life (pool workers live as long as the pool), never shared.
inline float* MatMulPanelScratch(size_t floats) {
  thread_local std::vector<float> scratch;
  if (scratch.size() < floats) scratch.resize(floats);
  return scratch.data();
}

}  // namespace gemma4::ops
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

// Every token tile of x against weight rows [n_begin, n_end) of w, as read by w's policy.
template <class DF, class Rows>
HWY_INLINE void MatMulTokenTiles(DF df, const float* HWY_RESTRICT x, size_t T, size_t K, const Rows& w, size_t N,
                                 size_t n_begin, size_t n_end, float* HWY_RESTRICT out) {
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

// panel[(n − n_begin)·K + k] = the f32 value MatMulTile would widen w[n,k] to: Load for the k of whole
// steps, Element for the tail. Exactly those values, so the panel's tile sums the same products.
template <class DF, class Rows>
HWY_INLINE void WidenPanel(DF df, const Rows& w, size_t K, size_t n_begin, size_t n_end, float* HWY_RESTRICT panel) {
  const size_t L = hn::Lanes(df), S = Rows::Step(df);
  const size_t k_vec_end = K - K % S;
  for (size_t n = n_begin; n < n_end; ++n) {
    float* HWY_RESTRICT row = panel + (n - n_begin) * K;
    for (size_t k = 0; k < k_vec_end; k += S) {
      const typename Rows::Cursor c = w.At(n, k);
      for (size_t v = 0; v < S; v += L) hn::StoreU(Rows::Load(df, c, v), df, row + k + v);
    }
    for (size_t k = k_vec_end; k < K; ++k) row[k] = w.Element(n, k);
  }
}

// Output columns [n_begin, n_end) of every token, on the calling thread: what one task of MatMulRows does.
//
// Decode reads w's rows directly. Prefill (T ≥ kMatMulPanelMinTokens) takes them a panel at a time and runs
// every token tile over the panel before moving on, so a thread's rows stream from memory once per call, not
// once per 4 tokens. A block-type panel is widened once into an f32 scratch and read as WeightRows<float>:
// the same tile code, the same FMAs in the same order, bit-identical to the direct path (tests/test_ops.cpp).
// Plain dtypes are read in place, panel by panel: widening bf16/f16 costs one instruction, while an f32 copy
// would double the bytes each tile reads from L2 (measured 10–15% slower than in place at 128 tokens).
// Trap: the f32 tile splits K at K − K % Lanes, w's at K − K % Step(w). They agree because a block type's
// K is whole blocks (K % Step = 0, and Step is a multiple of Lanes); a policy with a partial step would move
// elements between the vector body and the scalar tail and change the sum order.
template <class Rows>
HWY_INLINE void MatMulRowRange(const float* HWY_RESTRICT x, size_t T, size_t K, const Rows& w, size_t N,
                               size_t n_begin, size_t n_end, float* HWY_RESTRICT out) {
  // At most 32 lanes, so a vector never straddles two 32-weight blocks (x86 has at most 16).
  const hn::CappedTag<float, 32> df;
  if (T < kMatMulPanelMinTokens) return MatMulTokenTiles(df, x, T, K, w, N, n_begin, n_end, out);
  const size_t panel_rows = MatMulPanelRows(K);
  constexpr bool kInPlace = std::is_same<Rows, WeightRows<float>>::value ||
                            std::is_same<Rows, WeightRows<hwy::bfloat16_t>>::value ||
                            std::is_same<Rows, WeightRows<hwy::float16_t>>::value;
  float* HWY_RESTRICT panel = kInPlace ? nullptr : MatMulPanelScratch(panel_rows * K);
  for (size_t p = n_begin; p < n_end; p += panel_rows) {
    const size_t p_end = std::min(n_end, p + panel_rows);
    if constexpr (kInPlace) {
      MatMulTokenTiles(df, x, T, K, w, N, p, p_end, out);
    } else {
      HWY_DASSERT(K % Rows::Step(df) == K % hn::Lanes(df));
      WidenPanel(df, w, K, p, p_end, panel);
      // Panel row j is output column p + j: the tiles write through out + p.
      MatMulTokenTiles(df, x, T, K, WeightRows<float>{panel, K}, N, 0, p_end - p, out + p);
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
