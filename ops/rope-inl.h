// ops/rope-inl.h — rotary position embedding on [T, heads, head_dim] rows.
//
// HF apply_rotary_pos_emb with rotate_half: pair (j, j + D/2), angle pos · inv_freq_j:
//   x[j] ← x[j]·cos − x[j+D/2]·sin,   x[j+D/2] ← x[j+D/2]·cos + x[j]·sin.
// Only the first `rotary_pairs` pairs rotate; proportional RoPE's other pairs have inv_freq 0 (identity)
// and are left untouched. cos/sin come precomputed per token (gemma4/rotary_embedding.h).
// Scalar twin: ops/rope_scalar.h.

// Include guard for non-SIMD code.
#ifndef GEMMA4_OPS_ROPE_INL_H_
#define GEMMA4_OPS_ROPE_INL_H_
#include <cstddef>

#include "ops/threads.h"
#endif  // GEMMA4_OPS_ROPE_INL_H_

// Include guard for (potentially) SIMD code: compiled once per target.
#if defined(GEMMA4_OPS_ROPE_TOGGLE) == defined(HWY_TARGET_TOGGLE)
#ifdef GEMMA4_OPS_ROPE_TOGGLE
#undef GEMMA4_OPS_ROPE_TOGGLE
#else
#define GEMMA4_OPS_ROPE_TOGGLE
#endif

#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace gemma4::ops {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

template <class D>
HWY_INLINE void RopePairs(D d, float* HWY_RESTRICT x1p, float* HWY_RESTRICT x2p, const float* HWY_RESTRICT cp,
                          const float* HWY_RESTRICT sp) {
  const auto x1 = hn::LoadU(d, x1p), x2 = hn::LoadU(d, x2p);
  const auto c = hn::LoadU(d, cp), s = hn::LoadU(d, sp);
  hn::StoreU(hn::NegMulAdd(x2, s, hn::Mul(x1, c)), d, x1p);  // x1·c − x2·s
  hn::StoreU(hn::MulAdd(x1, s, hn::Mul(x2, c)), d, x2p);     // x2·c + x1·s
}

static HWY_NOINLINE HWY_MAYBE_UNUSED void RopeF32(float* x, size_t T, size_t num_heads, size_t head_dim,
                                                  const float* cos, const float* sin, size_t rotary_pairs) {
  const hn::ScalableTag<float> df;
  const hn::CappedTag<float, 1> d1;
  const size_t half = head_dim / 2;
  ParallelRanges(T * num_heads, 64, 1, [&](size_t r0, size_t r1) {
    const size_t L = hn::Lanes(df);
    for (size_t r = r0; r < r1; ++r) {
      const size_t t = r / num_heads;
      float* v = x + r * head_dim;
      const float* c = cos + t * rotary_pairs;
      const float* s = sin + t * rotary_pairs;
      size_t j = 0;
      for (; j + L <= rotary_pairs; j += L) RopePairs(df, v + j, v + half + j, c + j, s + j);
      for (; j < rotary_pairs; ++j) RopePairs(d1, v + j, v + half + j, c + j, s + j);
    }
  });
}

}  // namespace HWY_NAMESPACE
}  // namespace gemma4::ops
HWY_AFTER_NAMESPACE();

#endif  // GEMMA4_OPS_ROPE_TOGGLE
