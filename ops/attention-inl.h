// ops/attention-inl.h — attention of T queries over a position-ordered KV store.
//
// For query t at position p = q_pos0 + t and head h (kv head h / (num_heads / num_kv_heads)):
//   scores_j = scale · q·k_j over visible keys (kp ≤ p, and kp > p − window when window > 0),
//   out = Σ_j softmax(scores)_j · v_j.
// Keys are visited in increasing position whatever the store's layout (a ring buffer is two blocks), so a
// query's result does not depend on how the context was fed: prefill, decode and chunked prefill agree.
// Scalar twin: ops/attention_scalar.h (which also defines KVBlock).

// Include guard for non-SIMD code.
#ifndef GEMMA4_OPS_ATTENTION_INL_H_
#define GEMMA4_OPS_ATTENTION_INL_H_
#include <cstddef>
#include <vector>

#include "ops/attention_scalar.h"
#include "ops/threads.h"
#endif  // GEMMA4_OPS_ATTENTION_INL_H_

// Include guard for (potentially) SIMD code: compiled once per target.
#if defined(GEMMA4_OPS_ATTENTION_TOGGLE) == defined(HWY_TARGET_TOGGLE)
#ifdef GEMMA4_OPS_ATTENTION_TOGGLE
#undef GEMMA4_OPS_ATTENTION_TOGGLE
#else
#define GEMMA4_OPS_ATTENTION_TOGGLE
#endif

#include "hwy/highway.h"
#include "ops/activation-inl.h"

HWY_BEFORE_NAMESPACE();
namespace gemma4::ops {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

template <class DF>
HWY_INLINE float Dot(DF df, const float* HWY_RESTRICT a, const float* HWY_RESTRICT b, size_t n) {
  const size_t L = hn::Lanes(df);
  auto acc = hn::Zero(df);
  size_t i = 0;
  for (; i + L <= n; i += L) acc = hn::MulAdd(hn::LoadU(df, a + i), hn::LoadU(df, b + i), acc);
  const hn::CappedTag<float, 1> d1;  // tail with an explicit FMA (see matmul-inl.h)
  auto tail = hn::Zero(d1);
  for (; i < n; ++i) tail = hn::MulAdd(hn::LoadU(d1, a + i), hn::LoadU(d1, b + i), tail);
  return hn::GetLane(hn::SumOfLanes(df, acc)) + hn::GetLane(tail);
}

static HWY_NOINLINE HWY_MAYBE_UNUSED void AttentionF32(const float* q, size_t T, size_t num_heads,
                                                       size_t head_dim, size_t q_pos0, const KVBlock* blocks,
                                                       size_t num_blocks, size_t num_kv_heads, size_t window,
                                                       float scale, float* out) {
  const hn::ScalableTag<float> df;
  const size_t group = num_heads / num_kv_heads;
  ParallelRanges(T * num_heads, 1, 1, [&](size_t r0, size_t r1) {
    // Per-thread score buffer; it grows to the longest context seen and is then reused.
    thread_local std::vector<float> scores;
    const size_t L = hn::Lanes(df);
    for (size_t r = r0; r < r1; ++r) {
      const size_t t = r / num_heads, h = r % num_heads, kvh = h / group;
      const size_t pos = q_pos0 + t;
      const float* qv = q + r * head_dim;
      scores.clear();
      for (size_t b = 0; b < num_blocks; ++b)
        for (size_t i = 0; i < blocks[b].count; ++i) {
          const size_t kp = blocks[b].first_pos + i;
          if (kp > pos || (window > 0 && kp + window <= pos)) continue;
          scores.push_back(scale * Dot(df, qv, blocks[b].k + (i * num_kv_heads + kvh) * head_dim, head_dim));
        }
      SoftmaxRow(df, scores.data(), scores.size());
      float* o = out + r * head_dim;
      for (size_t d = 0; d < head_dim; ++d) o[d] = 0.0f;
      size_t j = 0;
      for (size_t b = 0; b < num_blocks; ++b)
        for (size_t i = 0; i < blocks[b].count; ++i) {
          const size_t kp = blocks[b].first_pos + i;
          if (kp > pos || (window > 0 && kp + window <= pos)) continue;
          const float* vv = blocks[b].v + (i * num_kv_heads + kvh) * head_dim;
          const auto p = hn::Set(df, scores[j++]);
          size_t d = 0;
          for (; d + L <= head_dim; d += L) hn::StoreU(hn::MulAdd(p, hn::LoadU(df, vv + d), hn::LoadU(df, o + d)), df, o + d);
          const hn::CappedTag<float, 1> d1;
          for (; d < head_dim; ++d)
            hn::StoreU(hn::MulAdd(hn::Set(d1, hn::GetLane(p)), hn::LoadU(d1, vv + d), hn::LoadU(d1, o + d)), d1, o + d);
        }
    }
  });
}

}  // namespace HWY_NAMESPACE
}  // namespace gemma4::ops
HWY_AFTER_NAMESPACE();

#endif  // GEMMA4_OPS_ATTENTION_TOGGLE
