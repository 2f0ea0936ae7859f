// ops/quant_fast-inl.h — the `fast` numerics' MatMul on block weights: activations quantized per 32-block
// to int8, integer dot products, weights read in place from the mapped file (ops/numerics.h).
//
// Scalar twin and the exact definitions (the order of every f32 operation): ops/quant_fast_scalar.h. Every
// path here gives the twin's bits. Two families, as the twin's two orders:
//   - Q8_0 / Q4_0, the block order (twin step 3a: one exact integer S_b and one fma per block, one
//     accumulator per output): weight ROWS in the lanes, so a vector of accumulators is 16 (or 8) outputs.
//       AVX-512 VNNI: VnniBlockOrderRange — 16 rows; decode (T ≤ 3) transposes each block of the 16 rows on
//         the fly (VnniRowsDecode), prefill packs each 16-row tile once into a scratch that every token
//         then reuses (VnniPackTile, VnniRowsPacked).
//       AVX2 and AVX-512 without VNNI: Avx2BlockOrderRange — 8 rows, pmaddubsw + horizontal adds, the next
//         tile prefetched; Q4_0 prefill packs each 8-row tile once as VNNI prefill does (Avx2PackTileQ4).
//   - K-quants, the group order (twin steps 3b-4: 16 group accumulators folded): on AVX-512 VNNI one
//     `vpdpbusd` multiplies a pair of blocks (64 bytes) of one row into 16 int32 lanes, lane 8h + i = group i
//     of block h, exactly the twin's 16 accumulators (VnniTile). vpdpbusd takes unsigned × signed bytes, so
//     the weights become unsigned u = w + o and the offset is taken out with the activations' group sums g_i
//     (−o·g_i, the instruction's initial value):  Q6_K o = 32 (u the 6-bit q),  Q4_K/Q5_K o = 0.
//     K-quants on AVX2 / AVX-512 without VNNI: Avx2KQuantRange — lanes = the 8 groups of a block, pmaddubsw +
//     pmaddwd by ones, an even and an odd accumulator vector, 2 rows at once in decode. Other targets run
//     the scalar twin.
// Highway 1.0.3 has no int8 dot product (nor a horizontal pair add), so the kernels are plain intrinsics:
// the VNNI ones in functions with their own `target` attribute, compiled once and called from the AVX3
// target only when the CPU has VNNI (FastUseVnni, switchable off for tests); the AVX2 one inside the
// per-target Highway code, x86 targets AVX2 and up only.

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
// (the pad block is zero): row t has q[t·32·nbp ..] (int8); per block its scale dx and its sum
// G = Σ_j q_j (the block order of Q8_0/Q4_0), and for the K-quants' group order 8 copies of dx (d8) and its
// 8 group sums g_i = Σ of 4 consecutive q (g8), so a vector load picks up a pair of blocks.
struct FastActs {
  std::vector<int8_t> q;
  std::vector<float> dx, d8;
  std::vector<int32_t> gsum, g8;
  size_t nb = 0, nbp = 0;
  const int8_t* Q(size_t t, size_t b) const { return q.data() + (t * nbp + b) * 32; }
  float Dx(size_t t, size_t b) const { return dx[t * nbp + b]; }
  int32_t G(size_t t, size_t b) const { return gsum[t * nbp + b]; }
  const float* D8(size_t t, size_t b) const { return d8.data() + (t * nbp + b) * 8; }
  const int32_t* G8(size_t t, size_t b) const { return g8.data() + (t * nbp + b) * 8; }
};

// The per-thread scratch a MatMul quantizes its activations into (the caller's thread; workers only read).
inline FastActs& FastActsScratch() {
  static thread_local FastActs acts;
  return acts;
}

// Rows [n, n + rows) of w (row_bytes each) as one tile of tile_rows rows, for the kernels that hold rows in
// their lanes: in place when the tile is whole; else a copy zero-padded to tile_rows in the calling thread's
// scratch, so every lane computes something finite and the kernel stores only the first `rows`.
inline const uint8_t* PaddedRowTile(const uint8_t* w, size_t n, size_t rows, size_t tile_rows, size_t row_bytes) {
  const uint8_t* tile = w + n * row_bytes;
  if (rows == tile_rows) return tile;
  static thread_local std::vector<uint8_t> padded;
  padded.assign(tile_rows * row_bytes, 0);
  std::memcpy(padded.data(), tile, rows * row_bytes);
  return padded.data();
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

// Q4_K/Q5_K: the 8 sub-block scales d·sc[s] and −(dmin·m[s]) of the super-block at p, once per super-block.
GEMMA4_OPS_VNNI_TARGET static inline void VnniSuperBlockScales(const uint8_t* p, __m256* d1, __m256* neg_m1) {
  uint64_t sc, m;
  KScalesMins(p + 4, &sc, &m);
  const __m256 scf = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_cvtsi64_si128(static_cast<long long>(sc))));
  const __m256 mf = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_cvtsi64_si128(static_cast<long long>(m))));
  *d1 = _mm256_mul_ps(_mm256_set1_ps(VnniF16(p)), scf);
  *neg_m1 = _mm256_xor_ps(_mm256_mul_ps(_mm256_set1_ps(VnniF16(p + 2)), mf), _mm256_set1_ps(-0.0f));
}

// K-quants: weight blocks b, b+1 of a row as 64 unsigned bytes u = w + o (see above), their 16 per-lane
// scales ds (lane 8h + i: group i of block b + h) and, for Q4_K/Q5_K, the per-lane −m.
template <DType kType>
GEMMA4_OPS_VNNI_TARGET static inline void VnniUnpack(const uint8_t* row, size_t b, __m512i* u, __m512* ds,
                                                      __m512* neg_m, __m256 sb_d1, __m256 sb_neg_m1) {
  const __m256i nibble = _mm256_set1_epi8(0xF);
  if constexpr (kType == DType::Q4_K || kType == DType::Q5_K) {
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
constexpr int VnniOffsetShift(DType t) { return t == DType::Q6_K ? 5 : -1; }

// One step of VnniTile: blocks b, b + 1 of kW weight rows into the kX × kW accumulators.
template <size_t kX, size_t kW, DType kType>
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
    VnniUnpack<kType>(row, b, &u[j], &ds[j], &neg_m[j], sb_d1[j], sb_neg_m1[j]);
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
  for (size_t b = 0; b < nb; b += 2)  // a K-quant row has a multiple of 8 blocks
    VnniTileStep<kX, kW, kType>(a, t0, w, row_bytes, n0, b, acc, sb_d1, sb_neg_m1);
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

// ---- Q8_0 / Q4_0: the block order (twin step 3a), lanes = 16 weight ROWS.
//
// For 16 rows n..n+15 and one token, block b gives the 16 exact integers S_b (one per row) by 8 `vpdpbusd`:
// register R[g] holds, in lane r, the 4 weight bytes of group g (weights 4g..4g+3) of row r, and the
// activation's 4 bytes of group g are broadcast to all lanes, so lane r gathers Σ_g Σ_{j in g} u_j·q_j.
// vpdpbusd multiplies unsigned by signed bytes, so the weights are taken as u = w + o (Q8_0: o = 128, the
// byte with its top bit flipped; Q4_0: o = 8, the nibble itself) and the offset is taken out through the
// initial value −o·G_b, G_b = Σ_j q_j the activation block's sum:  S_b = Σ u_j·q_j − o·G_b, exact in int32
// (|Σ u·q| ≤ 32·255·127 < 2^20). Then one conversion and one fma per block for the 16 outputs:
//    acc ← fma(f32(S_b), d_b·dx_b, acc)      d_b the 16 rows' f16 scales, gathered and widened.
// Trap: rows are `row_bytes` apart, so the 16 rows × 4-byte groups are a transposition (unpack 32/64-bit
// and 128-bit shuffles), done per block for decode (kernel "A") and once per 16-row tile, into an L1/L2
// scratch, for prefill (kernel "C"), where every token then reuses it.
// Trap: a last tile of fewer than 16 rows is copied into a zero-padded 16-row scratch (scale 0: its lanes
// compute 0 and are not stored), so the hot loop never tests a row count.

// 16 rows' group registers of the block whose first weight byte (row 0) is at p; rows rb bytes apart.
template <DType kType>
GEMMA4_OPS_VNNI_TARGET static inline void VnniTransposeBlock(const uint8_t* p, size_t rb, __m512i (&R)[8]) {
  if constexpr (kType == DType::Q8_0) {
    // Z[k]: rows (k, k + 4) for k < 4, (k + 4, k + 8) for k ≥ 4, 32 bytes each; after the 32/64-bit
    // unpacks U[g] (rows 0-3, 8-11) and V[g] (rows 4-7, 12-15) hold group g in their low and g + 4 in their
    // high 128-bit halves, which two 128-bit shuffles put into row order.
    __m512i Z[8];
    for (int k = 0; k < 8; ++k) {
      const size_t r0 = k < 4 ? k : k + 4, r1 = r0 + 4;
      Z[k] = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + r0 * rb))),
                                _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + r1 * rb)), 1);
    }
    __m512i U[4], V[4];
    for (int h = 0; h < 2; ++h) {
      const __m512i* z = Z + 4 * h;
      __m512i* o = h ? V : U;
      const __m512i t0 = _mm512_unpacklo_epi32(z[0], z[1]), t1 = _mm512_unpackhi_epi32(z[0], z[1]);
      const __m512i t2 = _mm512_unpacklo_epi32(z[2], z[3]), t3 = _mm512_unpackhi_epi32(z[2], z[3]);
      o[0] = _mm512_unpacklo_epi64(t0, t2), o[1] = _mm512_unpackhi_epi64(t0, t2);
      o[2] = _mm512_unpacklo_epi64(t1, t3), o[3] = _mm512_unpackhi_epi64(t1, t3);
    }
    const __m512i flip = _mm512_set1_epi8(char(0x80));  // u = w + 128
    for (int g = 0; g < 4; ++g) {
      R[g] = _mm512_xor_si512(_mm512_shuffle_i32x4(U[g], V[g], _MM_SHUFFLE(2, 0, 2, 0)), flip);
      R[g + 4] = _mm512_xor_si512(_mm512_shuffle_i32x4(U[g], V[g], _MM_SHUFFLE(3, 1, 3, 1)), flip);
    }
  } else {
    // Q4_0: 16 bytes a row; byte 4k + e holds weight 4k + e (low nibble, group k) and 16 + 4k + e (high
    // nibble, group k + 4). Z[k] 128-bit lane l = row 4l + k; after the unpacks lane r of U[k] = row r's
    // bytes 4k..4k+3.
    __m512i Z[4];
    for (int k = 0; k < 4; ++k) {
      __m512i z = _mm512_castsi128_si512(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + k * rb)));
      z = _mm512_inserti32x4(z, _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + (4 + k) * rb)), 1);
      z = _mm512_inserti32x4(z, _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + (8 + k) * rb)), 2);
      Z[k] = _mm512_inserti32x4(z, _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + (12 + k) * rb)), 3);
    }
    const __m512i t0 = _mm512_unpacklo_epi32(Z[0], Z[1]), t1 = _mm512_unpackhi_epi32(Z[0], Z[1]);
    const __m512i t2 = _mm512_unpacklo_epi32(Z[2], Z[3]), t3 = _mm512_unpackhi_epi32(Z[2], Z[3]);
    const __m512i U[4] = {_mm512_unpacklo_epi64(t0, t2), _mm512_unpackhi_epi64(t0, t2),
                          _mm512_unpacklo_epi64(t1, t3), _mm512_unpackhi_epi64(t1, t3)};
    const __m512i m = _mm512_set1_epi8(0x0F);  // u = the nibble = w + 8
    for (int k = 0; k < 4; ++k)
      R[k] = _mm512_and_si512(U[k], m), R[k + 4] = _mm512_and_si512(_mm512_srli_epi16(U[k], 4), m);
  }
}

// The 16 rows' scales d_b of the block at p (row 0's f16), rows rb bytes apart. Read by integer loads and
// packed 4 to a 64-bit word on the integer ports: the transposition keeps the vector shuffle ports busy
// (on Zen 4 a gather of 16 here cost a quarter of the decode kernel's time).
GEMMA4_OPS_VNNI_TARGET static inline __m512 VnniRowScales(const uint8_t* p, size_t rb) {
  uint64_t d4[4];
  for (int k = 0; k < 4; ++k) {
    uint16_t h[4];
    for (int r = 0; r < 4; ++r) std::memcpy(&h[r], p + (4 * k + r) * rb, 2);
    d4[k] = uint64_t(h[0]) | uint64_t(h[1]) << 16 | uint64_t(h[2]) << 32 | uint64_t(h[3]) << 48;
  }
  const __m256i d16 = _mm256_set_epi64x(static_cast<long long>(d4[3]), static_cast<long long>(d4[2]),
                                        static_cast<long long>(d4[1]), static_cast<long long>(d4[0]));
  return _mm512_cvtph_ps(d16);
}

// One token's block b for 16 rows: acc ← fma(f32(S_b), d·dx_b, acc).
template <DType kType>
GEMMA4_OPS_VNNI_TARGET static inline void VnniRowsBlockFma(const __m512i (&R)[8], __m512 d, const FastActs& a,
                                                           size_t t, size_t b, __m512& acc) {
  constexpr int kShift = kType == DType::Q8_0 ? 7 : 3;  // o = 128 or 8
  const int32_t* x4 = reinterpret_cast<const int32_t*>(a.Q(t, b));
  __m512i s = _mm512_set1_epi32(-(a.G(t, b) * (1 << kShift)));
  for (int g = 0; g < 8; ++g) s = _mm512_dpbusd_epi32(s, R[g], _mm512_set1_epi32(x4[g]));
  acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), _mm512_mul_ps(d, _mm512_set1_ps(a.Dx(t, b))), acc);
}

// The outputs of tokens t0..t0+kX−1 for the 16 rows at `rows` (rb bytes apart), to out[t·N + n ..], the
// first `valid` lanes. Kernel A: each block transposed once for the kX tokens.
template <size_t kX, DType kType>
GEMMA4_OPS_VNNI_TARGET static inline void VnniRowsDecode(const FastActs& a, size_t t0, const uint8_t* rows, size_t rb,
                                                          float* out, size_t N, size_t n, __mmask16 valid) {
  constexpr size_t kBB = kType == DType::Q8_0 ? 34 : 18;
  __m512 acc[kX];
  for (size_t i = 0; i < kX; ++i) acc[i] = _mm512_setzero_ps();
  for (size_t b = 0; b < a.nb; ++b) {
    const uint8_t* p = rows + b * kBB;
    // A mapped file has 4 KiB pages, where the hardware prefetcher stops: ask (into L2) for the next
    // tile's b-th slice, the 16·kBB bytes at 16·rb + b·16·kBB, so the next tile streams in while this one runs.
    const uint8_t* next = rows + 16 * rb + b * 16 * kBB;
    for (size_t l = 0; l < 16 * kBB; l += 64) _mm_prefetch(reinterpret_cast<const char*>(next + l), _MM_HINT_T1);
    __m512i R[8];
    VnniTransposeBlock<kType>(p + 2, rb, R);
    const __m512 d = VnniRowScales(p, rb);
    for (size_t i = 0; i < kX; ++i) VnniRowsBlockFma<kType>(R, d, a, t0 + i, b, acc[i]);
  }
  for (size_t i = 0; i < kX; ++i) _mm512_mask_storeu_ps(out + (t0 + i) * N + n, valid, acc[i]);
}

// Kernel C's scratch: per block, the 16 scales (f32) and the 8 group registers: 576 bytes.
constexpr size_t kVnniPackedBlock = 64 + 8 * 64;

template <DType kType>
GEMMA4_OPS_VNNI_TARGET static inline void VnniPackTile(const uint8_t* rows, size_t rb, size_t nb, uint8_t* dst) {
  constexpr size_t kBB = kType == DType::Q8_0 ? 34 : 18;
  for (size_t b = 0; b < nb; ++b) {
    const uint8_t* p = rows + b * kBB;
    uint8_t* o = dst + b * kVnniPackedBlock;
    __m512i R[8];
    VnniTransposeBlock<kType>(p + 2, rb, R);
    _mm512_store_ps(o, VnniRowScales(p, rb));
    for (int g = 0; g < 8; ++g) _mm512_store_si512(o + 64 + 64 * g, R[g]);
  }
}

// Tokens t0..t0+kX−1 over a packed tile.
template <size_t kX, DType kType>
GEMMA4_OPS_VNNI_TARGET static inline void VnniRowsPacked(const FastActs& a, size_t t0, const uint8_t* tile,
                                                          float* out, size_t N, size_t n, __mmask16 valid) {
  __m512 acc[kX];
  for (size_t i = 0; i < kX; ++i) acc[i] = _mm512_setzero_ps();
  for (size_t b = 0; b < a.nb; ++b) {
    const uint8_t* o = tile + b * kVnniPackedBlock;
    __m512i R[8];
    for (int g = 0; g < 8; ++g) R[g] = _mm512_load_si512(o + 64 + 64 * g);
    const __m512 d = _mm512_load_ps(o);
    for (size_t i = 0; i < kX; ++i) VnniRowsBlockFma<kType>(R, d, a, t0 + i, b, acc[i]);
  }
  for (size_t i = 0; i < kX; ++i) _mm512_mask_storeu_ps(out + (t0 + i) * N + n, valid, acc[i]);
}

// Up to this many tokens, kernel A (transpose per block and token tile); above, kernel C (transpose once).
constexpr size_t kVnniDecodeMaxT = 3;

// Rows [n_begin, n_end) of every token, 16 rows at a time.
template <DType kType>
GEMMA4_OPS_VNNI_TARGET static inline void VnniBlockOrderRange(const FastActs& a, size_t T, const uint8_t* w,
                                                               size_t row_bytes, size_t n_begin, size_t n_end,
                                                               float* out, size_t N) {
  static thread_local std::vector<uint8_t> packed;  // kernel C's scratch (64-byte aligned within)
  for (size_t n = n_begin; n < n_end; n += 16) {
    const size_t rows = std::min<size_t>(16, n_end - n);
    const uint8_t* tile = PaddedRowTile(w, n, rows, 16, row_bytes);
    const __mmask16 valid = __mmask16((1u << rows) - 1);
    if (T <= kVnniDecodeMaxT) {
      switch (T) {
        case 3: VnniRowsDecode<3, kType>(a, 0, tile, row_bytes, out, N, n, valid); break;
        case 2: VnniRowsDecode<2, kType>(a, 0, tile, row_bytes, out, N, n, valid); break;
        default: VnniRowsDecode<1, kType>(a, 0, tile, row_bytes, out, N, n, valid); break;
      }
      continue;
    }
    packed.resize(a.nb * kVnniPackedBlock + 64);
    uint8_t* pk = packed.data() + (64 - reinterpret_cast<uintptr_t>(packed.data()) % 64) % 64;
    VnniPackTile<kType>(tile, row_bytes, a.nb, pk);
    size_t t = 0;
    for (; t + 8 <= T; t += 8) VnniRowsPacked<8, kType>(a, t, pk, out, N, n, valid);
    if (t + 4 <= T) VnniRowsPacked<4, kType>(a, t, pk, out, N, n, valid), t += 4;
    if (t + 2 <= T) VnniRowsPacked<2, kType>(a, t, pk, out, N, n, valid), t += 2;
    if (t < T) VnniRowsPacked<1, kType>(a, t, pk, out, N, n, valid);
  }
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
  a.dx.assign(T * a.nbp, 0.0f);
  a.gsum.assign(T * a.nbp, 0);
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
      int32_t sum = 0;
      for (int i = 0; i < 8; ++i) {
        d8[i] = dx;
        g8[i] = int32_t(q[4 * i]) + q[4 * i + 1] + q[4 * i + 2] + q[4 * i + 3];
        sum += g8[i];
      }
      a.dx[t * a.nbp + b] = dx;
      a.gsum[t * a.nbp + b] = sum;
    }
  }
}

// The first `valid` lanes of acc (8 rows' outputs of one token) to out: a last tile of fewer than 8 rows
// stores only its rows.
HWY_INLINE void Avx2StoreRows(float* HWY_RESTRICT out, __m256 acc, size_t valid) {
  if (valid == 8) return _mm256_storeu_ps(out, acc);
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, acc);
  std::memcpy(out, lanes, valid * sizeof(float));
}

// The 8 rows' f16 scales d_b of the block at p (row 0's first byte), rows rb bytes apart, widened.
HWY_INLINE __m256 Avx2RowScales(const uint8_t* HWY_RESTRICT p, size_t rb) {
  alignas(16) uint16_t d16[8];
  for (size_t r = 0; r < 8; ++r) std::memcpy(&d16[r], p + r * rb, 2);
  return _mm256_cvtph_ps(_mm_load_si128(reinterpret_cast<const __m128i*>(d16)));
}

// Q8_0 / Q4_0 on AVX2 and AVX-512 without VNNI: the block order (twin step 3a), lanes = 8 weight ROWS.
// Per row and token, `pmaddubsw` multiplies 32 unsigned by 32 signed bytes into 16 int16 pair sums:
//   Q4_0: the nibbles u = w + 8 (0..15) as they are, times q; a pair sum is ≤ 2·15·127 in magnitude.
//   Q8_0: |w| times q with w's sign (the sign trick: pmaddubsw's first operand is unsigned), ≤ 2·128·127.
// Horizontal adds then turn 8 rows' partial sums into one vector, lane r = row r's sum (integer sums are
// exact, so their order is free):
//   Q4_0: three levels of 16-bit `phaddw` (a sum of 16 products is ≤ 30480 < 2^15), each 128-bit half then
//         holds rows 0-7's sums of its 16 weights; the halves widened to int32 and added, −8·G_b taken out:
//         S_b = Σ u·q − 8·Σ q.
//   Q8_0: `pmaddwd` by ones to 8 int32 partials per row (16-bit sums could overflow), three levels of
//         `phaddd`, the two 128-bit halves added.
// Then, as the twin, one conversion and one fma per block:
//    acc ← fma(f32(S_b), d_b·dx_b, acc)   for the 8 outputs at once.
// Written with AVX2 intrinsics: Highway 1.0.3 has no horizontal pair add. Trap: as in the VNNI kernel, a
// last tile of fewer than 8 rows is computed on a zero-padded copy and only its rows are stored.
template <size_t kX, bool kQ4>
HWY_INLINE void Avx2Rows8(const FastActs& a, size_t t0, const uint8_t* HWY_RESTRICT rows, size_t rb,
                              float* HWY_RESTRICT out, size_t N, size_t n, size_t valid) {
  constexpr size_t kBB = kQ4 ? 18 : 34;
  const __m256i low4 = _mm256_set1_epi8(0x0F), ones = _mm256_set1_epi16(1);
  const __m256i nibble_shift = _mm256_setr_epi32(0, 0, 0, 0, 4, 4, 4, 4);
  __m256 acc[kX];
  for (size_t i = 0; i < kX; ++i) acc[i] = _mm256_setzero_ps();
  for (size_t b = 0; b < a.nb; ++b) {
    __m256i x[kX];
    for (size_t i = 0; i < kX; ++i) x[i] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.Q(t0 + i, b)));
    // As the VNNI kernel: ask for the next tile's b-th slice (the hardware prefetcher stops at 4 KiB pages).
    const uint8_t* next = rows + 8 * rb + b * 8 * kBB;
    for (size_t l = 0; l < 8 * kBB; l += 64) _mm_prefetch(reinterpret_cast<const char*>(next + l), _MM_HINT_T0);
    __m256i h[kX][4];  // per token, the first horizontal add of rows 2k, 2k + 1 (few live registers)
    for (size_t k = 0; k < 4; ++k) {
      __m256i p[kX][2];  // per token and row: Q4_0 16 int16, Q8_0 8 int32 partial sums
      for (size_t r = 0; r < 2; ++r) {
        const uint8_t* blk = rows + (2 * k + r) * rb + b * kBB;
        if constexpr (kQ4) {
          // low nibbles (weights 0-15) in the low half, high nibbles (16-31) in the high half
          const __m256i both = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + 2)));
          const __m256i u = _mm256_and_si256(_mm256_srlv_epi32(both, nibble_shift), low4);
          for (size_t i = 0; i < kX; ++i) p[i][r] = _mm256_maddubs_epi16(u, x[i]);
        } else {
          const __m256i w = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 2));
          const __m256i u = _mm256_abs_epi8(w);
          for (size_t i = 0; i < kX; ++i)
            p[i][r] = _mm256_madd_epi16(_mm256_maddubs_epi16(u, _mm256_sign_epi8(x[i], w)), ones);
        }
      }
      for (size_t i = 0; i < kX; ++i)
        h[i][k] = kQ4 ? _mm256_hadd_epi16(p[i][0], p[i][1]) : _mm256_hadd_epi32(p[i][0], p[i][1]);
    }
    const __m256 d = Avx2RowScales(rows + b * kBB, rb);
    for (size_t i = 0; i < kX; ++i) {
      __m256i s;
      if constexpr (kQ4) {
        const __m256i h2 = _mm256_hadd_epi16(_mm256_hadd_epi16(h[i][0], h[i][1]), _mm256_hadd_epi16(h[i][2], h[i][3]));
        // each 128-bit half: rows 0-7's sums of its 16 weights
        s = _mm256_add_epi32(_mm256_cvtepi16_epi32(_mm256_castsi256_si128(h2)), _mm256_cvtepi16_epi32(_mm256_extracti128_si256(h2, 1)));
        s = _mm256_sub_epi32(s, _mm256_set1_epi32(8 * a.G(t0 + i, b)));
      } else {
        // [rows 0-3 | rows 0-3] and [rows 4-7 | rows 4-7], low and high 128-bit halves of each row's sums
        const __m256i q0 = _mm256_hadd_epi32(h[i][0], h[i][1]), q1 = _mm256_hadd_epi32(h[i][2], h[i][3]);
        s = _mm256_add_epi32(_mm256_permute2x128_si256(q0, q1, 0x20), _mm256_permute2x128_si256(q0, q1, 0x31));
      }
      acc[i] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), _mm256_mul_ps(d, _mm256_set1_ps(a.Dx(t0 + i, b))), acc[i]);
    }
  }
  for (size_t i = 0; i < kX; ++i) Avx2StoreRows(out + (t0 + i) * N + n, acc[i], valid);
}

// Q4_0 prefill on AVX2: each 8-row tile packed once, so the tokens run without horizontal adds. Per block
// the 8 rows' scales (f32) and 8 group registers: lane r of R[g] holds row r's 4 unsigned nibbles of group
// g (weights 4g..4g+3), a 4×(8×8) transposition done once per tile. Per token, `pmaddubsw` of R[g] with the
// token's 4 bytes of group g broadcast gives, in lane r, 2 int16 pair sums of row r; the 8 groups add up in
// int16 (8·2·15·127 = 30480 < 2^15), `pmaddwd` by ones makes lane r = row r's Σ u·q, −8·G_b takes out the
// offset: S_b of the 8 rows, exact, then the twin's one fma per block.
constexpr size_t kAvx2PackedBlock = 32 + 8 * 32;

HWY_INLINE void Avx2PackTileQ4(const uint8_t* HWY_RESTRICT rows, size_t rb, size_t nb, uint8_t* HWY_RESTRICT dst) {
  const __m256i low4 = _mm256_set1_epi8(0x0F);
  for (size_t b = 0; b < nb; ++b) {
    const uint8_t* p = rows + b * 18;
    uint8_t* o = dst + b * kAvx2PackedBlock;
    _mm256_store_ps(reinterpret_cast<float*>(o), Avx2RowScales(p, rb));
    // Z[k] = [row k | row 4 + k] (16 bytes each: byte 4j + e holds weight 4j + e, low nibble, group j, and
    // 16 + 4j + e, high nibble, group j + 4); after the unpacks lane r of U[j] = row r's bytes 4j..4j+3.
    __m256i Z[4];
    for (size_t k = 0; k < 4; ++k)
      Z[k] = _mm256_set_m128i(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 2 + (4 + k) * rb)),
                              _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 2 + k * rb)));
    const __m256i t0 = _mm256_unpacklo_epi32(Z[0], Z[1]), t1 = _mm256_unpackhi_epi32(Z[0], Z[1]);
    const __m256i t2 = _mm256_unpacklo_epi32(Z[2], Z[3]), t3 = _mm256_unpackhi_epi32(Z[2], Z[3]);
    const __m256i U[4] = {_mm256_unpacklo_epi64(t0, t2), _mm256_unpackhi_epi64(t0, t2),
                          _mm256_unpacklo_epi64(t1, t3), _mm256_unpackhi_epi64(t1, t3)};
    for (size_t j = 0; j < 4; ++j) {
      _mm256_store_si256(reinterpret_cast<__m256i*>(o + 32 + 32 * j), _mm256_and_si256(U[j], low4));
      _mm256_store_si256(reinterpret_cast<__m256i*>(o + 32 + 32 * (j + 4)), _mm256_and_si256(_mm256_srli_epi16(U[j], 4), low4));
    }
  }
}

// Tokens t0..t0+kX−1 over a packed 8-row tile.
template <size_t kX>
HWY_INLINE void Avx2RowsPackedQ4(const FastActs& a, size_t t0, const uint8_t* HWY_RESTRICT tile,
                                 float* HWY_RESTRICT out, size_t N, size_t n, size_t valid) {
  const __m256i ones = _mm256_set1_epi16(1);
  __m256 acc[kX];
  for (size_t i = 0; i < kX; ++i) acc[i] = _mm256_setzero_ps();
  for (size_t b = 0; b < a.nb; ++b) {
    const uint8_t* o = tile + b * kAvx2PackedBlock;
    __m256i R[8];
    for (size_t g = 0; g < 8; ++g) R[g] = _mm256_load_si256(reinterpret_cast<const __m256i*>(o + 32 + 32 * g));
    const __m256 d = _mm256_load_ps(reinterpret_cast<const float*>(o));
    for (size_t i = 0; i < kX; ++i) {
      const int32_t* x4 = reinterpret_cast<const int32_t*>(a.Q(t0 + i, b));
      __m256i s16 = _mm256_maddubs_epi16(R[0], _mm256_set1_epi32(x4[0]));
      for (size_t g = 1; g < 8; ++g) s16 = _mm256_add_epi16(s16, _mm256_maddubs_epi16(R[g], _mm256_set1_epi32(x4[g])));
      const __m256i s = _mm256_sub_epi32(_mm256_madd_epi16(s16, ones), _mm256_set1_epi32(8 * a.G(t0 + i, b)));
      acc[i] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), _mm256_mul_ps(d, _mm256_set1_ps(a.Dx(t0 + i, b))), acc[i]);
    }
  }
  for (size_t i = 0; i < kX; ++i) Avx2StoreRows(out + (t0 + i) * N + n, acc[i], valid);
}

// From this many tokens on, Q4_0 packs each 8-row tile (below, it multiplies the stored rows in pairs).
constexpr size_t kAvx2PackMinT = 4;

// Rows [n_begin, n_end) of every token, 8 rows at a time; each 8-row tile (in L1/L2 after the first token
// pair) is multiplied by all the tokens, two at a time, or for Q4_0 from kAvx2PackMinT tokens on, packed
// once and multiplied by tiles of 4 tokens.
template <bool kQ4>
HWY_INLINE void Avx2BlockOrderRange(const FastActs& a, size_t T, const uint8_t* w, size_t row_bytes,
                                    size_t n_begin, size_t n_end, float* out, size_t N) {
  static thread_local std::vector<uint8_t> packed;  // the packed tile (32-byte aligned within)
  for (size_t n = n_begin; n < n_end; n += 8) {
    const size_t rows = std::min<size_t>(8, n_end - n);
    const uint8_t* tile = PaddedRowTile(w, n, rows, 8, row_bytes);
    size_t t = 0;
    if (kQ4 && T >= kAvx2PackMinT) {
      packed.resize(a.nb * kAvx2PackedBlock + 32);
      uint8_t* pk = packed.data() + (32 - reinterpret_cast<uintptr_t>(packed.data()) % 32) % 32;
      Avx2PackTileQ4(tile, row_bytes, a.nb, pk);
      for (; t + 4 <= T; t += 4) Avx2RowsPackedQ4<4>(a, t, pk, out, N, n, rows);
      switch (T - t) {
        case 3: Avx2RowsPackedQ4<3>(a, t, pk, out, N, n, rows); break;
        case 2: Avx2RowsPackedQ4<2>(a, t, pk, out, N, n, rows); break;
        case 1: Avx2RowsPackedQ4<1>(a, t, pk, out, N, n, rows); break;
        default: break;
      }
      continue;
    }
    for (; t + 2 <= T; t += 2) Avx2Rows8<2, kQ4>(a, t, tile, row_bytes, out, N, n, rows);
    if (t < T) Avx2Rows8<1, kQ4>(a, t, tile, row_bytes, out, N, n, rows);
  }
}

// K-quants on AVX2 and AVX-512 without VNNI: the group order (twin steps 3b-4), lanes = the 8 groups of one
// block. Per row and 32-block the 32 weights are unpacked in a vector register as unsigned bytes u = w + o
// (Avx2KQuantUnsigned; Q4_K/Q5_K o = 0, Q6_K o = 32), and `pmaddubsw` (unsigned × signed bytes to int16 pair
// sums, no saturation: |2·63·127| < 2^15) then `pmaddwd` by ones give the 8 group sums Σ u·q in lane order;
// Q6_K takes out its offset with the activations' group sums, s_i = Σ u·q − 32·g_i. Then exactly the twin's
// operations, into the even (b even) or the odd accumulator vector:
//    acc ← fma(f32(s_i), ds_i·dx, acc);   Q4_K/Q5_K then   acc ← fma(f32(g_i), (−m)·dx, acc)
// and the 16 lanes folded by FoldSum16. A row's blocks are unpacked once per tile of up to 4 tokens.
// The scales of one super-block (256 weights, 8 blocks) at p, as the twin's DecodeWeightBlock computes
// them, once per super-block: Q6_K ds[0..15] the 16-weight scales d·sc (block k's groups 0-3 use ds[2k],
// 4-7 ds[2k + 1]); Q4_K/Q5_K ds[k] = d·sc[k] and neg_m[k] = −(dmin·m[k]).
template <DType kType>
HWY_INLINE void Avx2SuperBlockScales(const uint8_t* HWY_RESTRICT p, float* HWY_RESTRICT ds, float* HWY_RESTRICT neg_m) {
  const auto f16 = [](const uint8_t* at) {
    uint16_t bits;
    std::memcpy(&bits, at, 2);
    return _mm256_set1_ps(F32FromF16(bits));
  };
  const auto bytes_to_f32 = [](uint64_t bytes, bool is_signed) {
    const __m128i v = _mm_cvtsi64_si128(static_cast<long long>(bytes));
    return _mm256_cvtepi32_ps(is_signed ? _mm256_cvtepi8_epi32(v) : _mm256_cvtepu8_epi32(v));
  };
  if constexpr (kType == DType::Q6_K) {
    const __m256 d = f16(p + 208);
    uint64_t lo, hi;
    std::memcpy(&lo, p + 192, 8);
    std::memcpy(&hi, p + 200, 8);
    _mm256_storeu_ps(ds, _mm256_mul_ps(d, bytes_to_f32(lo, true)));
    _mm256_storeu_ps(ds + 8, _mm256_mul_ps(d, bytes_to_f32(hi, true)));
  } else {
    uint64_t sc, m;
    KScalesMins(p + 4, &sc, &m);
    _mm256_storeu_ps(ds, _mm256_mul_ps(f16(p), bytes_to_f32(sc, false)));
    _mm256_storeu_ps(neg_m, _mm256_xor_ps(_mm256_mul_ps(f16(p + 2), bytes_to_f32(m, false)), _mm256_set1_ps(-0.0f)));
  }
}

// Block b's 32 weights as unsigned bytes u = w + o (the twin's DecodeWeightBlock, 32 at once), p its
// super-block.
template <DType kType>
HWY_INLINE __m256i Avx2KQuantUnsigned(const uint8_t* HWY_RESTRICT p, size_t b) {
  const __m256i low4 = _mm256_set1_epi8(0x0F);
  if constexpr (kType == DType::Q6_K) {
    // Weights v0 .. v0 + 31 of the 256: low nibbles from ql (high nibble for the upper 64 of each 128),
    // 2 high bits from qh at bit 2r.
    const size_t v0 = 32 * (b % 8), h = v0 / 128, r = (v0 % 128) / 32;
    const __m256i ql = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 64 * h + 32 * (r % 2)));
    const __m256i lo = r < 2 ? _mm256_and_si256(ql, low4) : _mm256_and_si256(_mm256_srli_epi16(ql, 4), low4);
    const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 128 + 32 * h));
    // 16-bit shifts, then a per-byte mask: a byte keeps only its own bits 2r, 2r + 1 (2r + 1 ≤ 7).
    const __m256i hi = _mm256_and_si256(_mm256_srl_epi16(qh, _mm_cvtsi32_si128(int(2 * r))), _mm256_set1_epi8(3));
    return _mm256_or_si256(lo, _mm256_slli_epi16(hi, 4));
  } else {
    const int s = int(b % 8);  // the 32-weight sub-block
    const uint8_t* qs = p + (kType == DType::Q5_K ? 48 : 16) + 32 * (s / 2);
    const __m256i raw = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qs));
    __m256i q = s % 2 ? _mm256_and_si256(_mm256_srli_epi16(raw, 4), low4) : _mm256_and_si256(raw, low4);
    if constexpr (kType == DType::Q5_K) {
      const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 16));
      const __m256i bit = _mm256_and_si256(_mm256_srl_epi16(qh, _mm_cvtsi32_si128(s)), _mm256_set1_epi8(1));
      q = _mm256_or_si256(q, _mm256_slli_epi16(bit, 4));
    }
    return q;
  }
}

// FoldSum16 (step 4) of the accumulators lo (0-7) and hi (8-15), in registers: the same adds in the same
// order (lane i + lane i+8, then i + i+4, i + i+2, 0 + 1), so the same bits.
HWY_INLINE float Avx2FoldSum16(__m256 lo, __m256 hi) {
  const __m256 s8 = _mm256_add_ps(lo, hi);
  const __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps(s8, 1));
  const __m128 s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
  return _mm_cvtss_f32(_mm_add_ss(s2, _mm_shuffle_ps(s2, s2, 1)));
}

// Block b of one row (its unsigned weights u, group scales ds, −m) for token t, into A: the twin's fmas.
template <DType kType>
HWY_INLINE void Avx2KQuantBlockFma(const FastActs& a, size_t t, size_t b, __m256i u, __m256 ds,
                                   const float* HWY_RESTRICT neg_m, __m256& A) {
  const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.Q(t, b)));
  __m256i s = _mm256_madd_epi16(_mm256_maddubs_epi16(u, q), _mm256_set1_epi16(1));
  const __m256i g = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.G8(t, b)));
  if constexpr (kType == DType::Q6_K) s = _mm256_sub_epi32(s, _mm256_slli_epi32(g, 5));
  const __m256 dx = _mm256_broadcast_ss(&a.dx[t * a.nbp + b]);
  A = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), _mm256_mul_ps(ds, dx), A);
  if constexpr (kType == DType::Q4_K || kType == DType::Q5_K)
    A = _mm256_fmadd_ps(_mm256_cvtepi32_ps(g), _mm256_mul_ps(_mm256_broadcast_ss(neg_m), dx), A);
}

// Block k of a super-block: its groups' scales (Q6_K: groups 0-3 and 4-7 have their own).
template <DType kType>
HWY_INLINE __m256 Avx2KQuantGroupScales(const float* HWY_RESTRICT sb_ds, size_t k) {
  if constexpr (kType == DType::Q6_K) return _mm256_set_m128(_mm_broadcast_ss(&sb_ds[2 * k + 1]), _mm_broadcast_ss(&sb_ds[2 * k]));
  return _mm256_broadcast_ss(&sb_ds[k]);
}

// out[t0 + i, n] for kX tokens (up to 4: a row's blocks unpacked once per 4 tokens) and the one weight row
// `row`. Blocks in pairs (a K-quant row has a multiple of 8), so that acc[i][h] has a constant index and
// stays in a register.
template <size_t kX, DType kType>
HWY_INLINE void Avx2KQuantTile(const FastActs& a, size_t t0, const uint8_t* HWY_RESTRICT row, size_t row_bytes,
                               float* HWY_RESTRICT out, size_t N, size_t n) {
  __m256 acc[kX][2];  // [token][b % 2]: the twin's accumulators 0-7 and 8-15
  for (size_t i = 0; i < kX; ++i) acc[i][0] = acc[i][1] = _mm256_setzero_ps();
  alignas(32) float sb_ds[16], sb_neg_m[8];  // the current super-block's scales
  for (size_t b0 = 0; b0 < a.nb; b0 += 2) {
    const uint8_t* p = row + b0 / 8 * BlockBytes(kType);
    // The next row's bytes at this point (past the matrix is harmless: a prefetch never faults).
    _mm_prefetch(reinterpret_cast<const char*>(p + row_bytes + b0 % 8 * 32), _MM_HINT_T0);
    if (b0 % 8 == 0) Avx2SuperBlockScales<kType>(p, sb_ds, sb_neg_m);
    for (size_t h = 0; h < 2; ++h) {
      const size_t b = b0 + h, k = b % 8;
      const __m256 ds = Avx2KQuantGroupScales<kType>(sb_ds, k);
      const __m256i u = Avx2KQuantUnsigned<kType>(p, b);
      for (size_t i = 0; i < kX; ++i) Avx2KQuantBlockFma<kType>(a, t0 + i, b, u, ds, &sb_neg_m[k], acc[i][h]);
    }
  }
  for (size_t i = 0; i < kX; ++i) out[(t0 + i) * N + n] = Avx2FoldSum16(acc[i][0], acc[i][1]);
}

// Decode: out[t, n], out[t, n + 1] for one token and 2 rows, their blocks interleaved. Trap: an accumulator
// takes one or two dependent fmas per block, so one row alone waits on the fma latency. (Avx2KQuantTile's
// loop with 2 rows was as fast here, but its 4-token shape then spilled registers: 25% slower prefill.)
template <DType kType>
HWY_INLINE void Avx2KQuantRows2(const FastActs& a, size_t t, const uint8_t* HWY_RESTRICT rows, size_t row_bytes,
                                float* HWY_RESTRICT out, size_t N, size_t n) {
  __m256 acc[2][2];  // [row][b % 2]
  for (auto& row_acc : acc) row_acc[0] = row_acc[1] = _mm256_setzero_ps();
  alignas(32) float sb_ds[2][16], sb_neg_m[2][8];
  for (size_t b0 = 0; b0 < a.nb; b0 += 2) {
    const uint8_t* p[2];
    for (size_t r = 0; r < 2; ++r) {
      p[r] = rows + r * row_bytes + b0 / 8 * BlockBytes(kType);
      _mm_prefetch(reinterpret_cast<const char*>(p[r] + 2 * row_bytes + b0 % 8 * 32), _MM_HINT_T0);
      if (b0 % 8 == 0) Avx2SuperBlockScales<kType>(p[r], sb_ds[r], sb_neg_m[r]);
    }
    for (size_t h = 0; h < 2; ++h) {
      const size_t b = b0 + h, k = b % 8;
      for (size_t r = 0; r < 2; ++r)
        Avx2KQuantBlockFma<kType>(a, t, b, Avx2KQuantUnsigned<kType>(p[r], b), Avx2KQuantGroupScales<kType>(sb_ds[r], k),
                                  &sb_neg_m[r][k], acc[r][h]);
    }
  }
  for (size_t r = 0; r < 2; ++r) out[t * N + n + r] = Avx2FoldSum16(acc[r][0], acc[r][1]);
}

// Rows [n_begin, n_end): below 4 tokens, 2 rows at a time, token by token; else row by row, tokens 4 at a
// time (and a row left over alone).
template <DType kType>
HWY_INLINE void Avx2KQuantRange(const FastActs& a, size_t T, const uint8_t* w, size_t row_bytes, size_t n_begin,
                                size_t n_end, float* out, size_t N) {
  size_t n = n_begin;
  if (T < 4)
    for (; n + 2 <= n_end; n += 2)
      for (size_t t = 0; t < T; ++t) Avx2KQuantRows2<kType>(a, t, w + n * row_bytes, row_bytes, out, N, n);
  for (; n < n_end; ++n) {
    const uint8_t* row = w + n * row_bytes;
    size_t t = 0;
    for (; t + 4 <= T; t += 4) Avx2KQuantTile<4, kType>(a, t, row, row_bytes, out, N, n);
    switch (T - t) {
      case 3: Avx2KQuantTile<3, kType>(a, t, row, row_bytes, out, N, n); break;
      case 2: Avx2KQuantTile<2, kType>(a, t, row, row_bytes, out, N, n); break;
      case 1: Avx2KQuantTile<1, kType>(a, t, row, row_bytes, out, N, n); break;
      default: break;
    }
  }
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
  constexpr bool kVnniTarget = GEMMA4_OPS_HAVE_VNNI && (HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL);
  const bool vnni = kVnniTarget && FastUseVnni().load(std::memory_order_relaxed);
  if constexpr (kType == DType::Q8_0 || kType == DType::Q4_0) {
#if GEMMA4_OPS_HAVE_VNNI && (HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL)
    if (vnni) return VnniBlockOrderRange<kType>(a, T, w, row_bytes, n_begin, n_end, out, N);
#endif
    return Avx2BlockOrderRange<kType == DType::Q4_0>(a, T, w, row_bytes, n_begin, n_end, out, N);
  } else {
#if GEMMA4_OPS_HAVE_VNNI && (HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL)
    if (vnni) return VnniRange<kType>(a, T, w, row_bytes, n_begin, n_end, out, N);
#endif
    (void)vnni;
    (void)x;
    return Avx2KQuantRange<kType>(a, T, w, row_bytes, n_begin, n_end, out, N);
  }
#else
  (void)a;
  scalar::MatMulFastRows(x, T, K, w, kType, N, n_begin, n_end, out);
#endif
}

// x quantized into `a` (the calling thread's FastActsScratch) where a SIMD kernel reads it; the twin
// quantizes x itself. Once per MatMulFastT call, once per MatMulGroup.
HWY_INLINE void QuantizeActsForKernels(const float* HWY_RESTRICT x, size_t T, size_t K, FastActs& a) {
#if defined(GEMMA4_OPS_FAST_SIMD)
  QuantizeActs(x, T, K, a);
#else
  (void)x, (void)T, (void)K, (void)a;
#endif
}

template <DType kType>
HWY_INLINE void MatMulFastT(const float* HWY_RESTRICT x, size_t T, size_t K, const uint8_t* HWY_RESTRICT w,
                            size_t N, float* HWY_RESTRICT out) {
  FastActs& a = FastActsScratch();
  QuantizeActsForKernels(x, T, K, a);
  // At least ~64k multiply-adds per task, as in MatMulRows; Q8_0/Q4_0 tasks of whole 16-row tiles.
  const size_t grain = std::max<size_t>(4, (size_t{1} << 16) / std::max<size_t>(1, K * T));
  ParallelRanges(N, grain, HasBlockOrder(kType) ? 16 : 4, [&](size_t n_begin, size_t n_end) {
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
