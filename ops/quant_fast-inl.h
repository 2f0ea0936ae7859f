// ops/quant_fast-inl.h — the `fast` numerics' MatMul on Q8_0 / Q4_0 weights: activations quantized per
// 32-block to int8, integer dot products, weights read in place (ops/numerics.h).
//
// Scalar twin and the exact definition (the order of every f32 operation): ops/quant_fast_scalar.h. Every
// path here gives the twin's bits:
//   - AVX-512 with VNNI (checked at run time): one `vpdpbusd` multiplies a pair of blocks (64 bytes) into 16
//     int32 lanes, lane 8h + i = group i of block h, exactly the twin's 16 accumulators. vpdpbusd takes
//     unsigned × signed bytes, so the weights become unsigned u = w + o and the offset is taken out with the
//     activations' group sums g_i (−o·g_i, the instruction's initial value, once per activation block):
//        Q8_0 o = 128,  Q4_0 o = 8 (u the nibble),  Q6_K o = 32 (u the 6-bit q),  Q4_K/Q5_K o = 0.
//     Highway 1.0.3 has no int8 dot product, so this kernel is plain intrinsics in a function with its own
//     `target` attribute, compiled once and called from the AVX3 target only when the CPU has VNNI.
//   - AVX2, and AVX-512 without VNNI: Highway, 256-bit vectors. The bytes are widened to int16, multiplied
//     in pairs into int32 (ReorderWidenMulAccumulate, pmaddwd on x86), and adjacent pairs added
//     (ConcatEven + ConcatOdd) — the same 8 group sums of a block; an even and an odd accumulator vector.
//   - K-quants on AVX2 / AVX-512 without VNNI, and every type on other targets, run the scalar twin.
// All paths fold the 16 accumulators with the twin's FoldSum16.

// Include guard for non-SIMD code.
#ifndef GEMMA4_OPS_QUANT_FAST_INL_H_
#define GEMMA4_OPS_QUANT_FAST_INL_H_
#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <vector>

#include "hwy/base.h"
#include "ops/dtype.h"
#include "ops/quant_fast_scalar.h"
#include "ops/threads.h"

#if HWY_ARCH_X86 && (defined(__GNUC__) || defined(__clang__))
#define GEMMA4_OPS_HAVE_VNNI 1
#include <immintrin.h>
#else
#define GEMMA4_OPS_HAVE_VNNI 0
#endif

namespace gemma4::ops {

// Rows of activations quantized for `fast` (the twin's step 1), padded to an even number of blocks nbp
// (the pad block is zero): row t has q[t·32·nbp ..] (int8), and per block 8 copies of its scale dx (d8) and
// its 8 group sums g_i = Σ of 4 consecutive q (g8), so a vector load picks up a pair of blocks.
struct FastActs {
  std::vector<int8_t> q;
  std::vector<float> d8;
  std::vector<int32_t> g8;
  size_t nb = 0, nbp = 0;
  const int8_t* Q(size_t t, size_t b) const { return q.data() + (t * nbp + b) * 32; }
  const float* D8(size_t t, size_t b) const { return d8.data() + (t * nbp + b) * 8; }
  const int32_t* G8(size_t t, size_t b) const { return g8.data() + (t * nbp + b) * 8; }
};

// The per-thread scratch a MatMul quantizes its activations into (the caller's thread; workers only read).
inline FastActs& FastActsScratch() {
  static thread_local FastActs acts;
  return acts;
}

// Prefill: how many weight rows (a multiple of 4) a thread multiplies by every 4-token tile of the
// activations before it moves on — a panel of ~256 KiB that stays in L2 (1 MiB per core here) while the
// tiles pass over it. Without panels each 4-token tile streamed the thread's whole share of the matrix
// (megabytes) from memory again: 128 times per matrix at 512 tokens. Panels change which outputs are
// computed when, never how: each output is still one tile's fixed sum over its blocks.
inline size_t FastPanelRows(size_t row_bytes) {
  return std::max<size_t>(4, (size_t{256} << 10) / std::max<size_t>(1, row_bytes) / 4 * 4);
}

// The order both SIMD paths walk a task's rows in: a panel at a time, every tile of up to 4 tokens over it.
// tile(kX, t, p, p_end) multiplies tokens [t, t + kX) by rows [p, p_end); kX a std::integral_constant.
template <class Tile>
inline void ForEachPanelTile(size_t T, size_t row_bytes, size_t n_begin, size_t n_end, const Tile& tile) {
  const size_t panel = FastPanelRows(row_bytes);
  for (size_t p = n_begin; p < n_end; p += panel) {
    const size_t p_end = std::min(n_end, p + panel);
    for (size_t t = 0; t < T; t += 4) {
      switch (std::min<size_t>(4, T - t)) {
        case 4: tile(std::integral_constant<size_t, 4>{}, t, p, p_end); break;
        case 3: tile(std::integral_constant<size_t, 3>{}, t, p, p_end); break;
        case 2: tile(std::integral_constant<size_t, 2>{}, t, p, p_end); break;
        default: tile(std::integral_constant<size_t, 1>{}, t, p, p_end); break;
      }
    }
  }
}

// Whether the AVX3 target may use the VNNI kernel: the CPU's answer, switchable off for tests (so the
// Highway AVX-512 path is tested too on a VNNI machine).
inline bool CpuHasAvx512Vnni() {
#if GEMMA4_OPS_HAVE_VNNI
  static const bool has = __builtin_cpu_supports("avx512vnni");
  return has;
#else
  return false;
#endif
}
inline std::atomic<bool>& FastUseVnni() {
  static std::atomic<bool> use{CpuHasAvx512Vnni()};
  return use;
}

#if GEMMA4_OPS_HAVE_VNNI
#define GEMMA4_OPS_VNNI_TARGET \
  __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx512vnni,avx2,fma,f16c")))

GEMMA4_OPS_VNNI_TARGET static inline float VnniF16(const uint8_t* p) {
  uint16_t bits;
  std::memcpy(&bits, p, 2);
  return _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(bits)));
}
// [d0 × 8, d1 × 8]: the f16 scales at p0 and p1 (p1 null: no second block, d1 = 0) widened by one
// conversion and spread by one permute (the scalar loads run on the integer ports).
GEMMA4_OPS_VNNI_TARGET static inline __m512 VnniPairScales(const uint8_t* p0, const uint8_t* p1) {
  uint16_t d0, d1 = 0;
  std::memcpy(&d0, p0, 2);
  if (p1) std::memcpy(&d1, p1, 2);
  const __m128 f = _mm_cvtph_ps(_mm_cvtsi32_si128(int(uint32_t(d0) | uint32_t(d1) << 16)));
  return _mm512_permutexvar_ps(_mm512_set_epi32(1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0), _mm512_castps128_ps512(f));
}

// Q4_K/Q5_K: the 8 sub-block scales d·sc[s] and −(dmin·m[s]) of the super-block at p, once per super-block.
GEMMA4_OPS_VNNI_TARGET static inline void VnniSuperBlockScales(const uint8_t* p, __m256* d1, __m256* neg_m1) {
  // KScaleMin for all 8 sub-blocks at once, a byte per sub-block in 32-bit words: with a, b, c the packed
  // bytes 0-3, 4-7, 8-11, sc[0..3] = a & 63, m[0..3] = b & 63, and for 4..7 the low nibbles (sc) or high
  // nibbles (m) of c with the top 2 bits of a (sc) or b (m) above them: (x >> 6) << 4 = (x >> 2) & 0x30.
  uint32_t a, b, c;
  std::memcpy(&a, p + 4, 4);
  std::memcpy(&b, p + 8, 4);
  std::memcpy(&c, p + 12, 4);
  const uint64_t sc = uint64_t(a & 0x3F3F3F3Fu) | uint64_t((c & 0x0F0F0F0Fu) | ((a >> 2) & 0x30303030u)) << 32;
  const uint64_t m = uint64_t(b & 0x3F3F3F3Fu) | uint64_t(((c >> 4) & 0x0F0F0F0Fu) | ((b >> 2) & 0x30303030u)) << 32;
  const __m256 scf = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_cvtsi64_si128(static_cast<long long>(sc))));
  const __m256 mf = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_cvtsi64_si128(static_cast<long long>(m))));
  *d1 = _mm256_mul_ps(_mm256_set1_ps(VnniF16(p)), scf);
  *neg_m1 = _mm256_xor_ps(_mm256_mul_ps(_mm256_set1_ps(VnniF16(p + 2)), mf), _mm256_set1_ps(-0.0f));
}

// Weight blocks b, b+1 of a row as 64 unsigned bytes u = w + o (see above), their 16 per-lane scales ds
// (lane 8h + i: group i of block b + h) and, for Q4_K/Q5_K, the per-lane −m. kPair false: block b + 1 does
// not exist (an odd count, Q8_0/Q4_0 only) and has scale 0 (its activations are the zero pad block).
template <DType kType, bool kPair>
GEMMA4_OPS_VNNI_TARGET static inline void VnniUnpack(const uint8_t* row, size_t b, __m512i* u, __m512* ds,
                                                      __m512* neg_m, __m256 sb_d1, __m256 sb_neg_m1) {
  const __m256i nibble = _mm256_set1_epi8(0xF);
  if constexpr (kType == DType::Q8_0 || kType == DType::Q4_0) {
    constexpr size_t kBlockBytes = kType == DType::Q4_0 ? 18 : 34;
    const uint8_t* p0 = row + b * kBlockBytes;
    const uint8_t* p1 = p0 + kBlockBytes;
    *ds = VnniPairScales(p0, kPair ? p1 : nullptr);
    if constexpr (kType == DType::Q4_0) {
      const __m128i r0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p0 + 2));
      const __m128i r1 = kPair ? _mm_loadu_si128(reinterpret_cast<const __m128i*>(p1 + 2)) : _mm_setzero_si128();
      const __m256i raw = _mm256_inserti128_si256(_mm256_castsi128_si256(r0), r1, 1);  // [qs0, qs1]
      // [qs0, qs0, qs1, qs1], the 2nd and 4th shifted right by 4: [lo0, hi0, lo1, hi1] after the mask
      const __m512i z = _mm512_shuffle_i64x2(_mm512_castsi256_si512(raw), _mm512_castsi256_si512(raw), _MM_SHUFFLE(1, 1, 0, 0));
      const __m512i shift = _mm512_set_epi32(0x40004, 0x40004, 0x40004, 0x40004, 0, 0, 0, 0,
                                             0x40004, 0x40004, 0x40004, 0x40004, 0, 0, 0, 0);
      *u = _mm512_and_si512(_mm512_srlv_epi16(z, shift), _mm512_set1_epi8(0xF));
    } else {
      const __m256i q0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p0 + 2));
      const __m256i q1 = kPair ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p1 + 2)) : _mm256_setzero_si256();
      *u = _mm512_xor_si512(_mm512_inserti64x4(_mm512_castsi256_si512(q0), q1, 1), _mm512_set1_epi8(char(0x80)));
    }
    (void)neg_m, (void)sb_d1, (void)sb_neg_m1, (void)nibble;
  } else if constexpr (kType == DType::Q4_K || kType == DType::Q5_K) {
    // Blocks b = 2c, 2c + 1 of a super-block are chunk c: the low and the high nibbles of qs[32c .. 32c + 31].
    const uint8_t* p = row + b / 8 * (kType == DType::Q5_K ? 176 : 144);
    const int s = int(b % 8), c = s / 2;
    const __m512i lanes = _mm512_add_epi32(_mm512_set_epi32(1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0),
                                           _mm512_set1_epi32(s));  // [s × 8, s+1 × 8]
    *ds = _mm512_permutexvar_ps(lanes, _mm512_castps256_ps512(sb_d1));
    *neg_m = _mm512_permutexvar_ps(lanes, _mm512_castps256_ps512(sb_neg_m1));
    const __m256i raw = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + (kType == DType::Q5_K ? 48 : 16) + 32 * c));
    __m256i lo = _mm256_and_si256(raw, nibble), hi = _mm256_and_si256(_mm256_srli_epi16(raw, 4), nibble);
    if constexpr (kType == DType::Q5_K) {
      const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 16));
      const __m256i one = _mm256_set1_epi8(1);
      lo = _mm256_or_si256(lo, _mm256_slli_epi16(_mm256_and_si256(_mm256_srl_epi16(qh, _mm_cvtsi32_si128(s)), one), 4));
      hi = _mm256_or_si256(hi, _mm256_slli_epi16(_mm256_and_si256(_mm256_srl_epi16(qh, _mm_cvtsi32_si128(s + 1)), one), 4));
    }
    *u = _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
  } else {  // Q6_K: blocks b = 2c', 2c'+1 are quarters r0 = 2·(c' mod 2), r0 + 1 of half h
    const uint8_t* p = row + b / 8 * 210;
    const size_t bb = b % 8, h = bb / 4, r0 = bb % 4;
    const __m256i ql0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 64 * h));       // quarter r0 (r0 % 2 = 0)
    const __m256i ql1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 64 * h + 32));  // quarter r0 + 1
    const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 128 + 32 * h));
    const __m256i three = _mm256_set1_epi8(3);
    __m256i lo0 = r0 < 2 ? _mm256_and_si256(ql0, nibble) : _mm256_and_si256(_mm256_srli_epi16(ql0, 4), nibble);
    __m256i lo1 = r0 < 2 ? _mm256_and_si256(ql1, nibble) : _mm256_and_si256(_mm256_srli_epi16(ql1, 4), nibble);
    lo0 = _mm256_or_si256(lo0, _mm256_slli_epi16(_mm256_and_si256(_mm256_srl_epi16(qh, _mm_cvtsi32_si128(int(2 * r0))), three), 4));
    lo1 = _mm256_or_si256(lo1, _mm256_slli_epi16(_mm256_and_si256(_mm256_srl_epi16(qh, _mm_cvtsi32_si128(int(2 * r0 + 2))), three), 4));
    *u = _mm512_inserti64x4(_mm512_castsi256_si512(lo0), lo1, 1);
    // groups of 4 lanes share a 16-weight scale: sc[2·bb .. 2·bb + 3]
    int32_t sc4;
    std::memcpy(&sc4, p + 192 + 2 * bb, 4);
    const __m128 dsc = _mm_mul_ps(_mm_set1_ps(VnniF16(p + 208)), _mm_cvtepi32_ps(_mm_cvtepi8_epi32(_mm_cvtsi32_si128(sc4))));
    const __m512i quad = _mm512_set_epi32(3, 3, 3, 3, 2, 2, 2, 2, 1, 1, 1, 1, 0, 0, 0, 0);
    *ds = _mm512_permutexvar_ps(quad, _mm512_castps128_ps512(dsc));
  }
}

// FoldSum16 in registers: the same tree of adds in the same order (lane i + lane i+8, then i + i+4, i + i+2,
// 0 + 1), so the same bits, without storing the 16 lanes and adding them one by one.
GEMMA4_OPS_VNNI_TARGET static inline float VnniFoldSum16(__m512 v) {
  const __m256 s8 = _mm256_add_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1));
  const __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps(s8, 1));
  const __m128 s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
  return _mm_cvtss_f32(_mm_add_ss(s2, _mm_movehdup_ps(s2)));
}

// The offset o of the unsigned weights, as a shift: −o·g = −(g << shift); −1 for none.
constexpr int VnniOffsetShift(DType t) {
  return t == DType::Q8_0 ? 7 : t == DType::Q4_0 ? 3 : t == DType::Q6_K ? 5 : -1;
}

// One step of VnniTile: blocks b, b + 1 (kPair false: b is the last, odd block) of kW weight rows into the
// kX × kW accumulators. (A function, not a branch inside the loop: the odd block is rare, and with `pair` a
// run-time bool the compiler kept a test and a second load path per row in the hot loop.)
template <size_t kX, size_t kW, DType kType, bool kPair>
GEMMA4_OPS_VNNI_TARGET static inline void VnniTileStep(const FastActs& a, size_t t0, const uint8_t* w, size_t row_bytes,
                                                        size_t n0, size_t b, __m512 (&acc)[kX][kW], __m256 (&sb_d1)[kW],
                                                        __m256 (&sb_neg_m1)[kW]) {
  constexpr bool kMin = kType == DType::Q4_K || kType == DType::Q5_K;
  constexpr int kShift = VnniOffsetShift(kType);
  const size_t nb = a.nb;
  __m512i u[kW];
  __m512 ds[kW], neg_m[kW];
  for (size_t j = 0; j < kW; ++j) {
    neg_m[j] = _mm512_setzero_ps();
    const uint8_t* row = w + (n0 + j) * row_bytes;
    // A mapped file has 4 KiB pages, where the hardware prefetcher stops. The next tile reads the rows
    // right after these (kW rows on): ask now for the bytes it will read at this block, one tile ahead.
    // (Before: 16 blocks ahead in the same row, ~0.5 KiB, clamped at the row's end, so every tile began
    // on cold rows. A prefetch past the matrix is harmless: it never faults.)
    _mm_prefetch(reinterpret_cast<const char*>(row + kW * row_bytes + b * row_bytes / nb), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(row + kW * row_bytes + (b + 1) * row_bytes / nb), _MM_HINT_T0);
    if constexpr (kMin)
      if (b % 8 == 0) VnniSuperBlockScales(row + b / 8 * (kType == DType::Q5_K ? 176 : 144), &sb_d1[j], &sb_neg_m1[j]);
    VnniUnpack<kType, kPair>(row, b, &u[j], &ds[j], &neg_m[j], sb_d1[j], sb_neg_m1[j]);
  }
  for (size_t i = 0; i < kX; ++i) {
    const __m512i xq = _mm512_loadu_si512(a.Q(t0 + i, b));
    const __m512i g = _mm512_loadu_si512(a.G8(t0 + i, b));
    const __m512 dx = _mm512_loadu_ps(a.D8(t0 + i, b));
    const __m512i init = kShift < 0 ? _mm512_setzero_si512()
                                    : _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_slli_epi32(g, kShift < 0 ? 0 : kShift));
    const __m512 gf = kMin ? _mm512_cvtepi32_ps(g) : _mm512_setzero_ps();
    for (size_t j = 0; j < kW; ++j) {
      const __m512i s = _mm512_dpbusd_epi32(init, u[j], xq);
      acc[i][j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), _mm512_mul_ps(ds[j], dx), acc[i][j]);
      if constexpr (kMin) acc[i][j] = _mm512_fmadd_ps(gf, _mm512_mul_ps(neg_m[j], dx), acc[i][j]);
    }
  }
}

// out[t0+i, n0+j] for kX activation rows × kW weight rows of `row_bytes`.
template <size_t kX, size_t kW, DType kType>
GEMMA4_OPS_VNNI_TARGET static inline void VnniTile(const FastActs& a, size_t t0, const uint8_t* w,
                                                    size_t row_bytes, size_t n0, float* out, size_t N) {
  const size_t nb = a.nb;
  __m512 acc[kX][kW];
  for (size_t i = 0; i < kX; ++i)
    for (size_t j = 0; j < kW; ++j) acc[i][j] = _mm512_setzero_ps();
  __m256 sb_d1[kW], sb_neg_m1[kW];  // Q4_K/Q5_K: the current super-block's 8 scales and −mins per row
  for (size_t j = 0; j < kW; ++j) sb_d1[j] = sb_neg_m1[j] = _mm256_setzero_ps();
  size_t b = 0;
  for (; b + 1 < nb; b += 2) VnniTileStep<kX, kW, kType, true>(a, t0, w, row_bytes, n0, b, acc, sb_d1, sb_neg_m1);
  if (b < nb) VnniTileStep<kX, kW, kType, false>(a, t0, w, row_bytes, n0, b, acc, sb_d1, sb_neg_m1);
  for (size_t i = 0; i < kX; ++i)
    for (size_t j = 0; j < kW; ++j) out[(t0 + i) * N + n0 + j] = VnniFoldSum16(acc[i][j]);
}

template <size_t kX, DType kType>
GEMMA4_OPS_VNNI_TARGET static inline void VnniRows(const FastActs& a, size_t t0, const uint8_t* w, size_t row_bytes,
                                                    size_t n_begin, size_t n_end, float* out, size_t N) {
  size_t n = n_begin;
  for (; n + 4 <= n_end; n += 4) VnniTile<kX, 4, kType>(a, t0, w, row_bytes, n, out, N);
  for (; n < n_end; ++n) VnniTile<kX, 1, kType>(a, t0, w, row_bytes, n, out, N);
}

template <DType kType>
GEMMA4_OPS_VNNI_TARGET static inline void VnniRange(const FastActs& a, size_t T, const uint8_t* w, size_t row_bytes,
                                                     size_t n_begin, size_t n_end, float* out, size_t N) {
  // (The lambda is compiled without the VNNI target attribute; it only calls VnniRows, which has it.)
  ForEachPanelTile(T, row_bytes, n_begin, n_end, [&](auto kX, size_t t, size_t p, size_t p_end) {
    VnniRows<decltype(kX)::value, kType>(a, t, w, row_bytes, p, p_end, out, N);
  });
}
#endif  // GEMMA4_OPS_HAVE_VNNI

}  // namespace gemma4::ops
#endif  // GEMMA4_OPS_QUANT_FAST_INL_H_

// Include guard for (potentially) SIMD code: compiled once per target.
#if defined(GEMMA4_OPS_QUANT_FAST_TOGGLE) == defined(HWY_TARGET_TOGGLE)
#ifdef GEMMA4_OPS_QUANT_FAST_TOGGLE
#undef GEMMA4_OPS_QUANT_FAST_TOGGLE
#else
#define GEMMA4_OPS_QUANT_FAST_TOGGLE
#endif

#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace gemma4::ops {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX2
#define GEMMA4_OPS_FAST_SIMD 1

// The twin's step 1 for T rows of K activations, into `a` (resized; the pad block zeroed).
HWY_INLINE void QuantizeActs(const float* HWY_RESTRICT x, size_t T, size_t K, FastActs& a) {
  const hn::CappedTag<float, 16> df;
  const hn::Rebind<int32_t, decltype(df)> di32;
  const hn::Rebind<int8_t, decltype(df)> di8;
  const size_t L = hn::Lanes(df);
  a.nb = K / 32;
  a.nbp = a.nb + a.nb % 2;
  a.q.assign(T * a.nbp * 32, 0);
  a.d8.assign(T * a.nbp * 8, 0.0f);
  a.g8.assign(T * a.nbp * 8, 0);
  for (size_t t = 0; t < T; ++t) {
    for (size_t b = 0; b < a.nb; ++b) {
      const float* xb = x + t * K + 32 * b;
      auto vmax = hn::Zero(df);
      for (size_t v = 0; v < 32; v += L) vmax = hn::Max(vmax, hn::Abs(hn::LoadU(df, xb + v)));
      const float amax = hn::GetLane(hn::MaxOfLanes(df, vmax));
      const auto id = hn::Set(df, amax > kMinBlockAmax ? 127.0f / amax : 0.0f);
      int8_t* q = a.q.data() + (t * a.nbp + b) * 32;
      for (size_t v = 0; v < 32; v += L)
        hn::StoreU(hn::DemoteTo(di8, hn::NearestInt(hn::Mul(hn::LoadU(df, xb + v), id))), di8, q + v);
      (void)di32;
      const float dx = amax / 127.0f;
      float* d8 = a.d8.data() + (t * a.nbp + b) * 8;
      int32_t* g8 = a.g8.data() + (t * a.nbp + b) * 8;
      for (int i = 0; i < 8; ++i) {
        d8[i] = dx;
        g8[i] = int32_t(q[4 * i]) + q[4 * i + 1] + q[4 * i + 2] + q[4 * i + 3];
      }
    }
  }
}

// The AVX2 / non-VNNI path: kX × kW outputs, each an even and an odd 8-lane accumulator.
template <size_t kX, size_t kW, bool kQ4>
HWY_INLINE void PortableTile(const FastActs& a, size_t t0, const uint8_t* HWY_RESTRICT w, size_t row_bytes,
                             size_t n0, float* HWY_RESTRICT out, size_t N) {
  const hn::FixedTag<float, 8> df;
  const hn::FixedTag<int32_t, 8> d32;
  const hn::FixedTag<int16_t, 16> d16;
  const hn::FixedTag<int8_t, 32> d8;
  const hn::FixedTag<int8_t, 16> d8h;
  const hn::FixedTag<uint8_t, 16> du8h;
  constexpr size_t kBlockBytes = kQ4 ? 18 : 34;
  const size_t nb = a.nb;
  hn::Vec<decltype(df)> acc[kX][kW][2];
  for (size_t i = 0; i < kX; ++i)
    for (size_t j = 0; j < kW; ++j) acc[i][j][0] = acc[i][j][1] = hn::Zero(df);
  for (size_t b = 0; b < nb; ++b) {
    const size_t h = b % 2;
    hn::Vec<decltype(d16)> wlo[kW], whi[kW];
    float dw[kW];
    for (size_t j = 0; j < kW; ++j) {
      const uint8_t* p = w + (n0 + j) * row_bytes + b * kBlockBytes;
      uint16_t bits;
      std::memcpy(&bits, p, 2);
      dw[j] = F32FromF16(bits);
      if constexpr (kQ4) {
        const auto r = hn::PromoteTo(d16, hn::LoadU(du8h, p + 2));
        wlo[j] = hn::Sub(hn::And(r, hn::Set(d16, 0xF)), hn::Set(d16, 8));
        whi[j] = hn::Sub(hn::ShiftRight<4>(r), hn::Set(d16, 8));
      } else {
        const auto q = hn::LoadU(d8, reinterpret_cast<const int8_t*>(p + 2));
        wlo[j] = hn::PromoteTo(d16, hn::LowerHalf(d8h, q));
        whi[j] = hn::PromoteTo(d16, hn::UpperHalf(d8h, q));
      }
    }
    for (size_t i = 0; i < kX; ++i) {
      const auto xq = hn::LoadU(d8, a.Q(t0 + i, b));
      const auto xlo = hn::PromoteTo(d16, hn::LowerHalf(d8h, xq)), xhi = hn::PromoteTo(d16, hn::UpperHalf(d8h, xq));
      const float dx = a.D8(t0 + i, b)[0];
      for (size_t j = 0; j < kW; ++j) {
        auto unused0 = hn::Zero(d32), unused1 = hn::Zero(d32);
        const auto plo = hn::ReorderWidenMulAccumulate(d32, wlo[j], xlo, hn::Zero(d32), unused0);
        const auto phi = hn::ReorderWidenMulAccumulate(d32, whi[j], xhi, hn::Zero(d32), unused1);
        const auto s = hn::Add(hn::ConcatEven(d32, phi, plo), hn::ConcatOdd(d32, phi, plo));
        acc[i][j][h] = hn::MulAdd(hn::ConvertTo(df, s), hn::Set(df, dw[j] * dx), acc[i][j][h]);
      }
    }
  }
  for (size_t i = 0; i < kX; ++i)
    for (size_t j = 0; j < kW; ++j) {
      if (nb % 2) acc[i][j][1] = hn::MulAdd(hn::Zero(df), hn::Zero(df), acc[i][j][1]);  // the pad block
      HWY_ALIGN float lanes[16];
      hn::Store(acc[i][j][0], df, lanes);
      hn::Store(acc[i][j][1], df, lanes + 8);
      out[(t0 + i) * N + n0 + j] = FoldSum16(lanes);
    }
}

template <size_t kX, bool kQ4>
HWY_INLINE void PortableRows(const FastActs& a, size_t t0, const uint8_t* w, size_t row_bytes, size_t n_begin,
                             size_t n_end, float* out, size_t N) {
  size_t n = n_begin;
  for (; n + 4 <= n_end; n += 4) PortableTile<kX, 4, kQ4>(a, t0, w, row_bytes, n, out, N);
  for (; n < n_end; ++n) PortableTile<kX, 1, kQ4>(a, t0, w, row_bytes, n, out, N);
}

template <bool kQ4>
HWY_INLINE void PortableRange(const FastActs& a, size_t T, const uint8_t* w, size_t row_bytes, size_t n_begin,
                              size_t n_end, float* out, size_t N) {
  ForEachPanelTile(T, row_bytes, n_begin, n_end, [&](auto kX, size_t t, size_t p, size_t p_end) {
    PortableRows<decltype(kX)::value, kQ4>(a, t, w, row_bytes, p, p_end, out, N);
  });
}
#endif  // HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX2

// Output columns [n_begin, n_end) of every token, on the calling thread: what one task of MatMulFastT does.
// `a`: x already quantized by QuantizeActs (read only where a SIMD kernel runs; the twin quantizes x itself).
template <DType kType>
HWY_INLINE void MatMulFastRowRange(const FastActs& a, const float* HWY_RESTRICT x, size_t T, size_t K,
                                   const uint8_t* HWY_RESTRICT w, size_t N, size_t n_begin, size_t n_end,
                                   float* HWY_RESTRICT out) {
#if defined(GEMMA4_OPS_FAST_SIMD)
  const size_t row_bytes = RowBytes(kType, K);
#if GEMMA4_OPS_HAVE_VNNI && (HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL)
  if (FastUseVnni().load(std::memory_order_relaxed)) return VnniRange<kType>(a, T, w, row_bytes, n_begin, n_end, out, N);
#endif
  if constexpr (kType == DType::Q8_0 || kType == DType::Q4_0)
    return PortableRange<kType == DType::Q4_0>(a, T, w, row_bytes, n_begin, n_end, out, N);
#endif
  (void)a;
  scalar::MatMulFastRows(x, T, K, w, kType, N, n_begin, n_end, out);
}

template <DType kType>
HWY_INLINE void MatMulFastT(const float* HWY_RESTRICT x, size_t T, size_t K, const uint8_t* HWY_RESTRICT w,
                            size_t N, float* HWY_RESTRICT out) {
  FastActs& a = FastActsScratch();
#if defined(GEMMA4_OPS_FAST_SIMD)
  QuantizeActs(x, T, K, a);
#endif
  // At least ~64k multiply-adds per task, as in MatMulRows.
  const size_t grain = std::max<size_t>(4, (size_t{1} << 16) / std::max<size_t>(1, K * T));
  ParallelRanges(N, grain, 4, [&](size_t n_begin, size_t n_end) {
    MatMulFastRowRange<kType>(a, x, T, K, w, N, n_begin, n_end, out);
  });
}

static HWY_NOINLINE HWY_MAYBE_UNUSED void MatMulQ8_0Fast(const float* x, size_t T, size_t K, const uint8_t* w,
                                                         size_t N, float* out) {
  MatMulFastT<DType::Q8_0>(x, T, K, w, N, out);
}
static HWY_NOINLINE HWY_MAYBE_UNUSED void MatMulQ4_0Fast(const float* x, size_t T, size_t K, const uint8_t* w,
                                                         size_t N, float* out) {
  MatMulFastT<DType::Q4_0>(x, T, K, w, N, out);
}
static HWY_NOINLINE HWY_MAYBE_UNUSED void MatMulQ4_KFast(const float* x, size_t T, size_t K, const uint8_t* w,
                                                         size_t N, float* out) {
  MatMulFastT<DType::Q4_K>(x, T, K, w, N, out);
}
static HWY_NOINLINE HWY_MAYBE_UNUSED void MatMulQ5_KFast(const float* x, size_t T, size_t K, const uint8_t* w,
                                                         size_t N, float* out) {
  MatMulFastT<DType::Q5_K>(x, T, K, w, N, out);
}
static HWY_NOINLINE HWY_MAYBE_UNUSED void MatMulQ6_KFast(const float* x, size_t T, size_t K, const uint8_t* w,
                                                         size_t N, float* out) {
  MatMulFastT<DType::Q6_K>(x, T, K, w, N, out);
}

#undef GEMMA4_OPS_FAST_SIMD

}  // namespace HWY_NAMESPACE
}  // namespace gemma4::ops
HWY_AFTER_NAMESPACE();

#endif  // GEMMA4_OPS_QUANT_FAST_TOGGLE
