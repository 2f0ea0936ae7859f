// ops/matmul_group-inl.h — MatMulGroup: one x[T,K] times several weight matrices (q/k/v, gate/up), in one
// call: out_i[T,N_i] = x · w_iᵀ, each w_i in its own stored dtype.
//
// Why one call: each separate MatMul hands its rows to the thread pool and waits for them, so q/k/v was
// three hand-overs and three waits per layer. Here the rows of all parts, concatenated, are split once
// (ParallelRanges) and every range is cut at the part boundaries it crosses.
//
// Same bits as the separate calls, by construction: a range of one part's rows runs exactly the code one
// task of that part's MatMul runs (MatMulRowRange, or MatMulFastRowRange for `fast` block types), and
// neither depends on where its range starts or ends (ops/matmul-inl.h, ops/quant_fast-inl.h). In `fast`
// numerics x is quantized once for the whole group, as each MatMul would have quantized it. No scalar twin
// of its own: the twin is the separate MatMul calls, and tests/test_ops.cpp holds the group to them.

// Include guard for non-SIMD code.
#ifndef GEMMA4_OPS_MATMUL_GROUP_INL_H_
#define GEMMA4_OPS_MATMUL_GROUP_INL_H_
#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "ops/dtype.h"
#include "ops/threads.h"

namespace gemma4::ops {
// One weight matrix of a MatMulGroup and where its product goes: out[T,N] = x · wᵀ.
struct MatMulPart {
  const void* w;
  DType dtype;
  size_t N;
  float* out;
};
}  // namespace gemma4::ops
#endif  // GEMMA4_OPS_MATMUL_GROUP_INL_H_

// Include guard for (potentially) SIMD code: compiled once per target.
#if defined(GEMMA4_OPS_MATMUL_GROUP_TOGGLE) == defined(HWY_TARGET_TOGGLE)
#ifdef GEMMA4_OPS_MATMUL_GROUP_TOGGLE
#undef GEMMA4_OPS_MATMUL_GROUP_TOGGLE
#else
#define GEMMA4_OPS_MATMUL_GROUP_TOGGLE
#endif

#include "hwy/highway.h"
#include "ops/matmul-inl.h"
#include "ops/quant-inl.h"
#include "ops/quant_fast-inl.h"

HWY_BEFORE_NAMESPACE();
namespace gemma4::ops {
namespace HWY_NAMESPACE {

// Rows [n_begin, n_end) of one part, on the calling thread: what one task of that part's MatMul does.
// fast: the `fast` numerics' kernel for block types (ops::MatMul's choice), `a` holding x quantized.
HWY_INLINE void MatMulPartRange(const FastActs& a, const float* x, size_t T, size_t K, const MatMulPart& p,
                                bool fast, size_t n_begin, size_t n_end) {
  const auto* bytes = static_cast<const uint8_t*>(p.w);
  if (fast) {
    switch (p.dtype) {
      case DType::Q8_0: return MatMulFastRowRange<DType::Q8_0>(a, x, T, K, bytes, p.N, n_begin, n_end, p.out);
      case DType::Q4_0: return MatMulFastRowRange<DType::Q4_0>(a, x, T, K, bytes, p.N, n_begin, n_end, p.out);
      case DType::Q5_0: return MatMulFastRowRange<DType::Q5_0>(a, x, T, K, bytes, p.N, n_begin, n_end, p.out);
      case DType::Q4_K: return MatMulFastRowRange<DType::Q4_K>(a, x, T, K, bytes, p.N, n_begin, n_end, p.out);
      case DType::Q5_K: return MatMulFastRowRange<DType::Q5_K>(a, x, T, K, bytes, p.N, n_begin, n_end, p.out);
      default: return MatMulFastRowRange<DType::Q6_K>(a, x, T, K, bytes, p.N, n_begin, n_end, p.out);
    }
  }
  switch (p.dtype) {
    case DType::F32:
      return MatMulRowRange(x, T, K, WeightRows<float>{static_cast<const float*>(p.w), K}, p.N, n_begin, n_end, p.out);
    case DType::BF16:
      return MatMulRowRange(x, T, K, WeightRows<hwy::bfloat16_t>{static_cast<const hwy::bfloat16_t*>(p.w), K}, p.N,
                            n_begin, n_end, p.out);
    case DType::F16:
      return MatMulRowRange(x, T, K, WeightRows<hwy::float16_t>{static_cast<const hwy::float16_t*>(p.w), K}, p.N,
                            n_begin, n_end, p.out);
    case DType::Q8_0:
      return MatMulRowRange(x, T, K, WeightRows<BlockQ8_0>{bytes, K}, p.N, n_begin, n_end, p.out);
    case DType::Q4_0:
      return MatMulRowRange(x, T, K, WeightRows<BlockQ4_0>{bytes, K}, p.N, n_begin, n_end, p.out);
    case DType::Q5_0:
      return MatMulRowRange(x, T, K, WeightRows<BlockQ5_0>{bytes, K}, p.N, n_begin, n_end, p.out);
    case DType::Q4_K:
      return MatMulRowRange(x, T, K, WeightRows<BlockQ4_K>{{bytes, K}}, p.N, n_begin, n_end, p.out);
    case DType::Q5_K:
      return MatMulRowRange(x, T, K, WeightRows<BlockQ5_K>{{bytes, K}}, p.N, n_begin, n_end, p.out);
    default: return MatMulRowRange(x, T, K, WeightRows<BlockQ6_K>{bytes, K}, p.N, n_begin, n_end, p.out);
  }
}

// The parts' dtypes are checked by ops::MatMulGroup (ops/ops.h); fast: `fast` numerics.
static HWY_NOINLINE HWY_MAYBE_UNUSED void MatMulGroupF32(const float* x, size_t T, size_t K,
                                                         const MatMulPart* parts, size_t num_parts, bool fast) {
  size_t rows = 0;
  bool any_fast = false;
  for (size_t i = 0; i < num_parts; ++i) {
    rows += parts[i].N;
    any_fast |= fast && HasFastMatMul(parts[i].dtype);
  }
  FastActs& a = FastActsScratch();
  if (any_fast) QuantizeActsForKernels(x, T, K, a);
  // The grain and alignment of MatMulRows / MatMulFastT: at least ~64k multiply-adds per task, and tasks of
  // whole 16-row tiles where a `fast` part runs (its kernels hold 16 or 8 rows in the lanes; a range
  // cut elsewhere gives the same bits, only a padded tile more).
  const size_t grain = std::max<size_t>(4, (size_t{1} << 16) / std::max<size_t>(1, K * T));
  ParallelRanges(rows, grain, any_fast ? 16 : 4, [&](size_t begin, size_t end) {
    size_t first = 0;  // row `first` of the concatenation is row 0 of part i
    for (size_t i = 0; i < num_parts && first < end; first += parts[i].N, ++i) {
      const size_t n_begin = std::max(begin, first), n_end = std::min(end, first + parts[i].N);
      if (n_begin >= n_end) continue;
      MatMulPartRange(a, x, T, K, parts[i], fast && HasFastMatMul(parts[i].dtype), n_begin - first, n_end - first);
    }
  });
}

}  // namespace HWY_NAMESPACE
}  // namespace gemma4::ops
HWY_AFTER_NAMESPACE();

#endif  // GEMMA4_OPS_MATMUL_GROUP_TOGGLE
