// ops/quant_fast-inl.h — the `fast` numerics' MatMul on block weights: activations quantized per 32-block
// to int8, integer dot products, weights read in place from the mapped file (ops/numerics.h).
//
// Scalar twin and the exact definition (the order of every f32 operation): ops/quant_fast_scalar.h. Every
// path here gives the twin's bits. One order for every block type, the block order (one exact integer S_b
// and one fma per block, a second for the K-quants' mins; one accumulator per output), so the kernels put
// weight ROWS in the lanes and a vector of accumulators is 16 (or 8) outputs:
//   - AVX-512 VNNI, Q8_0 / Q4_0: VnniBlockOrderRange — 16 rows; decode (T ≤ 3) transposes each block of
//     the 16 rows on the fly (VnniRowsDecode), prefill packs each 16-row tile once into a scratch that every
//     token then reuses (VnniPackTile, VnniRowsPacked).
//   - AVX2, and AVX-512 for the K-quants or without VNNI: Avx2BlockOrderRange — 8 rows, every block type:
//     decode by pmaddubsw + horizontal adds with the next tile prefetched (Avx2Rows8; the nibble types
//     Q4_0/Q5_0/Q4_K/Q5_K hold two rows per register, Avx2NibbleRows8); prefill of all but Q8_0 packs each
//     8-row tile once as VNNI prefill does (Avx2PackTile, Avx2RowsPacked). A K-quant
//     tile's super-block scales are transposed once per super-block for its 8 rows (Avx2KTileScales).
//   Other targets run the scalar twin.
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

// Rows of activations quantized for `fast` (the twin's step 1): row t has q[t·32·nb ..] (int8); per block
// its scale dx and the sums of its two halves, G16 = Σ_{j<16} q_j and Σ_{j≥16} q_j (for the offsets of the
// unsigned weights and the K-quants' mins).
struct FastActs {
  std::vector<int8_t> q;
  std::vector<float> dx;
  std::vector<int32_t> half_sums;
  size_t nb = 0;
  // Forced inline: the kernels call these per block, and GCC left G out of line (a call per block and
  // tile, ~1% of decode in a profile).
  HWY_INLINE const int8_t* Q(size_t t, size_t b) const { return q.data() + (t * nb + b) * 32; }
  HWY_INLINE float Dx(size_t t, size_t b) const { return dx[t * nb + b]; }
  HWY_INLINE int32_t G16(size_t t, size_t b, size_t half) const { return half_sums[2 * (t * nb + b) + half]; }
  HWY_INLINE int32_t G(size_t t, size_t b) const { return G16(t, b, 0) + G16(t, b, 1); }
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

// The twin's step 1 for T rows of K activations, into `a` (resized).
HWY_INLINE void QuantizeActs(const float* HWY_RESTRICT x, size_t T, size_t K, FastActs& a) {
  const hn::CappedTag<float, 16> df;
  const hn::Rebind<int8_t, decltype(df)> di8;
  const size_t L = hn::Lanes(df);
  a.nb = K / 32;
  a.q.resize(T * a.nb * 32);
  a.dx.resize(T * a.nb);
  a.half_sums.resize(2 * T * a.nb);
  for (size_t t = 0; t < T; ++t) {
    for (size_t b = 0; b < a.nb; ++b) {
      const float* xb = x + t * K + 32 * b;
      auto vmax = hn::Zero(df);
      for (size_t v = 0; v < 32; v += L) vmax = hn::Max(vmax, hn::Abs(hn::LoadU(df, xb + v)));
      const float amax = hn::GetLane(hn::MaxOfLanes(df, vmax));
      const auto id = hn::Set(df, amax > kMinBlockAmax ? 127.0f / amax : 0.0f);
      int8_t* q = a.q.data() + (t * a.nb + b) * 32;
      for (size_t v = 0; v < 32; v += L)
        hn::StoreU(hn::DemoteTo(di8, hn::NearestInt(hn::Mul(hn::LoadU(df, xb + v), id))), di8, q + v);
      a.dx[t * a.nb + b] = amax / 127.0f;
      for (size_t h = 0; h < 2; ++h) {
        int32_t sum = 0;
        for (size_t j = 16 * h; j < 16 * h + 16; ++j) sum += q[j];
        a.half_sums[2 * (t * a.nb + b) + h] = sum;
      }
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

// ---- Unpacking (twin step 2) for Avx2Rows8 and Avx2PackTile.

// Block b's 32 weights of one row as unsigned bytes u, byte l = weight l (the twin's DecodeWeightBlock, 32
// at once), p the row's block (Q4_0, Q5_0) or super-block (K-quants):
//   Q4_0 u = w + 8 (the nibble), Q5_0 u = w + 16, Q4_K/Q5_K u = w, Q6_K u = w + 32 (the 6-bit q).
template <DType kType>
HWY_INLINE __m256i Avx2Unsigned(const uint8_t* HWY_RESTRICT p, size_t b) {
  const __m256i low4 = _mm256_set1_epi8(0x0F);
  if constexpr (kType == DType::Q4_0 || kType == DType::Q5_0) {
    // low nibbles (weights 0-15) in the low half, high nibbles (16-31) in the high half
    const uint8_t* qs = p + (kType == DType::Q5_0 ? 6 : 2);
    const __m256i both = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(qs)));
    __m256i u = _mm256_and_si256(_mm256_srlv_epi32(both, _mm256_setr_epi32(0, 0, 0, 0, 4, 4, 4, 4)), low4);
    if constexpr (kType == DType::Q5_0) {
      // byte l takes byte l/8 of the 32-bit qh, keeps its bit l%8 and turns it into 16
      uint32_t qh;
      std::memcpy(&qh, p + 2, 4);
      const __m256i spread = _mm256_shuffle_epi8(
          _mm256_set1_epi32(static_cast<int>(qh)),
          _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3));
      const __m256i bit = _mm256_set1_epi64x(static_cast<long long>(0x8040201008040201ull));
      u = _mm256_or_si256(u, _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(spread, bit), bit), _mm256_set1_epi8(0x10)));
    }
    return u;
  } else if constexpr (kType == DType::Q6_K) {
    // Weights v0 .. v0 + 31 of the 256: low nibbles from ql (high nibble for the upper 64 of each 128),
    // 2 high bits from qh at bit 2r.
    const size_t v0 = 32 * (b % 8), h = v0 / 128, r = (v0 % 128) / 32;
    const __m256i ql = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 64 * h + 32 * (r % 2)));
    const __m256i lo = r < 2 ? _mm256_and_si256(ql, low4) : _mm256_and_si256(_mm256_srli_epi16(ql, 4), low4);
    const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 128 + 32 * h));
    // Bits 2r, 2r + 1 of each qh byte to bits 4, 5: one 16-bit shift by 4 − 2r (none for r = 2), then a
    // per-byte mask keeps only the bits that came from the same byte (shifting down by 2r, masking and
    // shifting back up took one shift more).
    const __m256i at45 = r == 2 ? qh : r < 2 ? _mm256_slli_epi16(qh, int(4 - 2 * r)) : _mm256_srli_epi16(qh, 2);
    return _mm256_or_si256(lo, _mm256_and_si256(at45, _mm256_set1_epi8(0x30)));
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

// The 16 bytes at p of each of 8 rows (row 0's; rows rb bytes apart) transposed by dwords: lane r of V[j]
// is row r's bytes 4j..4j+3 (rows k and 4 + k share a register, then 32- and 64-bit unpacks).
HWY_INLINE void Avx2TransposeRows16(const uint8_t* HWY_RESTRICT p, size_t rb, __m256i (&V)[4]) {
  __m256i Z[4];  // [row k | row 4 + k]
  for (size_t k = 0; k < 4; ++k)
    Z[k] = _mm256_set_m128i(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + (4 + k) * rb)),
                            _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + k * rb)));
  const __m256i t0 = _mm256_unpacklo_epi32(Z[0], Z[1]), t1 = _mm256_unpackhi_epi32(Z[0], Z[1]);
  const __m256i t2 = _mm256_unpacklo_epi32(Z[2], Z[3]), t3 = _mm256_unpackhi_epi32(Z[2], Z[3]);
  V[0] = _mm256_unpacklo_epi64(t0, t2), V[1] = _mm256_unpackhi_epi64(t0, t2);
  V[2] = _mm256_unpacklo_epi64(t1, t3), V[3] = _mm256_unpackhi_epi64(t1, t3);
}

// v's lane r holds 4 bytes of row r: out[j][r] = its byte j, j < 4 (a 4×4 byte transposition in each half,
// then the halves' rows 0-3 and 4-7 side by side).
HWY_INLINE void Avx2StoreByteColumns(__m256i v, uint8_t (*out)[8]) {
  const __m256i by_byte = _mm256_shuffle_epi8(
      v, _mm256_setr_epi8(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15, 0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15));
  const __m128i lo = _mm256_castsi256_si128(by_byte), hi = _mm256_extracti128_si256(by_byte, 1);
  _mm_storeu_si128(reinterpret_cast<__m128i*>(out[0]), _mm_unpacklo_epi32(lo, hi));  // bytes 0, 1 of rows 0-7
  _mm_storeu_si128(reinterpret_cast<__m128i*>(out[2]), _mm_unpackhi_epi32(lo, hi));  // bytes 2, 3
}

// One super-block of an 8-row tile, rows in the lanes: d and −dmin (f32), the integer scales c as bytes
// c[g][r] (g: Q4_K/Q5_K the 8 sub-blocks; Q6_K the 16 groups of 16, signed) and the mins m[s][r].
// Once per super-block, so the blocks read their scales with one widening load. All 8 rows at once: one
// row at a time (KScalesMins and a byte transposition) cost a quarter of the Q4_K decode kernel's time.
struct Avx2KScales {
  __m256 d, neg_dmin;
  alignas(16) uint8_t c[16][8];
  alignas(16) uint8_t m[8][8];
};
template <DType kType>
HWY_INLINE void Avx2KTileScales(const uint8_t* HWY_RESTRICT p, size_t rb, Avx2KScales* ks) {
  __m256i V[4];
  if constexpr (kType == DType::Q6_K) {
    ks->d = Avx2RowScales(p + 208, rb);
    ks->neg_dmin = _mm256_setzero_ps();
    Avx2TransposeRows16(p + 192, rb, V);  // V[j]: sc[4j .. 4j + 3]
    for (size_t j = 0; j < 4; ++j) Avx2StoreByteColumns(V[j], ks->c + 4 * j);
  } else {
    // V[0]: d | dmin << 16;  V[1..3]: the 12 bytes a, b, c of the 6-bit scales and mins (KScalesMins)
    Avx2TransposeRows16(p, rb, V);
    const __m256i low16 = _mm256_set1_epi32(0xFFFF);
    const __m256i d_dmin = _mm256_permute4x64_epi64(  // [d of rows 0-7 | dmin of rows 0-7] as f16
        _mm256_packus_epi32(_mm256_and_si256(V[0], low16), _mm256_srli_epi32(V[0], 16)), 0xD8);
    ks->d = _mm256_cvtph_ps(_mm256_castsi256_si128(d_dmin));
    ks->neg_dmin = _mm256_xor_ps(_mm256_cvtph_ps(_mm256_extracti128_si256(d_dmin, 1)), _mm256_set1_ps(-0.0f));
    const __m256i six = _mm256_set1_epi8(0x3F), four = _mm256_set1_epi8(0x0F), top2 = _mm256_set1_epi8(0x30);
    const __m256i a = V[1], b = V[2], c = V[3];
    Avx2StoreByteColumns(_mm256_and_si256(a, six), ks->c);  // scales 0-3
    Avx2StoreByteColumns(_mm256_or_si256(_mm256_and_si256(c, four), _mm256_and_si256(_mm256_srli_epi32(a, 2), top2)), ks->c + 4);
    Avx2StoreByteColumns(_mm256_and_si256(b, six), ks->m);  // mins 0-3
    Avx2StoreByteColumns(
        _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi32(c, 4), four), _mm256_and_si256(_mm256_srli_epi32(b, 2), top2)), ks->m + 4);
  }
}

// The 8 rows' bytes v[0..8) widened to int32 lanes (signed for Q6_K's scales).
template <bool kSigned>
HWY_INLINE __m256i Avx2Widen8(const uint8_t* HWY_RESTRICT v) {
  const __m128i b = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(v));
  return kSigned ? _mm256_cvtepi8_epi32(b) : _mm256_cvtepu8_epi32(b);
}

// Block b's scales for the 8 rows of a tile: d (and −dmin) and the integers c of weights 0-15 and 16-31
// and mq (Q8_0/Q4_0: c = 1, no min).
struct Avx2BlockScales {
  __m256 d, neg_dmin;
  __m256i c_lo, c_hi, mq;
};
// block: row 0's block (Q8_0/Q4_0/Q5_0: its f16 d is read here) or super-block; ks: a K-quant tile's
// current super-block scales (Avx2KTileScales).
template <DType kType>
HWY_INLINE Avx2BlockScales Avx2ScalesOf(const uint8_t* HWY_RESTRICT block, size_t rb, const Avx2KScales& ks, size_t b) {
  Avx2BlockScales s{ks.d, ks.neg_dmin, _mm256_set1_epi32(1), _mm256_set1_epi32(1), _mm256_setzero_si256()};
  if constexpr (kType == DType::Q8_0 || kType == DType::Q4_0 || kType == DType::Q5_0) {
    s.d = Avx2RowScales(block, rb);
    s.neg_dmin = _mm256_setzero_ps();
  } else if constexpr (kType == DType::Q6_K) {
    s.c_lo = Avx2Widen8<true>(ks.c[2 * (b % 8)]), s.c_hi = Avx2Widen8<true>(ks.c[2 * (b % 8) + 1]);
  } else {
    s.c_lo = s.c_hi = Avx2Widen8<false>(ks.c[b % 8]);
    s.mq = Avx2Widen8<false>(ks.m[b % 8]);
  }
  return s;
}

// The twin's step 3 for 8 rows, block b, token t, from lo and hi, the rows' Σ u·q over weights 0-15 and
// 16-31 (u the unsigned form of Avx2Unsigned; for all but Q6_K the kernels may pass the whole sum as lo
// and 0 as hi): the offsets taken out (Q4_0 −8·G_b, Q5_0 −16·G_b; Q6_K −32 times each half's activation
// sum), the integer
// scales multiplied in, S_b = c_lo·lo + c_hi·hi and M_b = mq·G_b, then one or two fmas:
//    acc ← fma(f32(S_b), d·dx_b, acc),   Q4_K/Q5_K then   acc ← fma(f32(M_b), (−dmin)·dx_b, acc).
template <DType kType>
HWY_INLINE void Avx2BlockFma(const FastActs& a, size_t t, size_t b, __m256i lo, __m256i hi, const Avx2BlockScales& s,
                             __m256& acc) {
  __m256i S;
  if constexpr (kType == DType::Q6_K) {
    lo = _mm256_sub_epi32(lo, _mm256_set1_epi32(32 * a.G16(t, b, 0)));
    hi = _mm256_sub_epi32(hi, _mm256_set1_epi32(32 * a.G16(t, b, 1)));
    S = _mm256_add_epi32(_mm256_mullo_epi32(s.c_lo, lo), _mm256_mullo_epi32(s.c_hi, hi));
  } else {
    S = _mm256_add_epi32(lo, hi);
    if constexpr (kType == DType::Q4_0) S = _mm256_sub_epi32(S, _mm256_set1_epi32(8 * a.G(t, b)));
    if constexpr (kType == DType::Q5_0) S = _mm256_sub_epi32(S, _mm256_set1_epi32(16 * a.G(t, b)));
    if constexpr (kType == DType::Q4_K || kType == DType::Q5_K) S = _mm256_mullo_epi32(s.c_lo, S);
  }
  const __m256 dx = _mm256_set1_ps(a.Dx(t, b));
  acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(S), _mm256_mul_ps(s.d, dx), acc);
  if constexpr (HasBlockMin(kType)) {
    const __m256i M = _mm256_mullo_epi32(s.mq, _mm256_set1_epi32(a.G(t, b)));
    acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(M), _mm256_mul_ps(s.neg_dmin, dx), acc);
  }
}

// The types whose blocks are nibbles (plus a fifth bit): their decode holds two rows per register
// (Avx2NibbleRows8, below); the others, Q8_0 and Q6_K, one (Avx2Rows8).
constexpr bool HasNibbleRowPairs(DType t) {
  return t == DType::Q4_0 || t == DType::Q5_0 || t == DType::Q4_K || t == DType::Q5_K;
}

// The block order (twin steps 1-3) on AVX2 and AVX-512 without VNNI for Q8_0 and Q6_K decode, lanes = 8
// weight ROWS, one row per register. Per row and token, `pmaddubsw` multiplies 32 unsigned by 32 signed
// bytes into 16 int16 pair sums:
//   Q6_K: the 6-bit u = w + 32 of Avx2Unsigned (a pair sum is ≤ 2·63·127 < 2^15).
//   Q8_0: |w| times q with w's sign (the sign trick: pmaddubsw's first operand is unsigned), ≤ 2·128·127.
// `pmaddwd` by ones makes 8 int32 partials per row (Q8_0's 16-bit sums of more could overflow; Q6_K first
// adds two rows' pairs in int16 with one `phaddw`, sums of 4 ≤ 4·63·127, and widens after), and levels of
// `phaddd` with the 128-bit halves regrouped turn 8 rows' partials into two vectors with lane r = row r
// (integer sums are exact, so their order is free): weights 0-15 (lo) and 16-31 (hi).
// Then Avx2BlockFma (offsets, scales, the twin's fmas) for the 8 outputs at once. Written with AVX2
// intrinsics: Highway 1.0.3 has no horizontal pair add. Trap: as in the VNNI kernel, a last tile of fewer
// than 8 rows is computed on a zero-padded copy (scales 0) and only its rows are stored.
template <size_t kX, DType kType>
HWY_INLINE void Avx2Rows8(const FastActs& a, size_t t0, const uint8_t* HWY_RESTRICT rows, size_t rb,
                          float* HWY_RESTRICT out, size_t N, size_t n, size_t valid) {
  constexpr bool kKQuant = kType == DType::Q4_K || kType == DType::Q5_K || kType == DType::Q6_K;
  static_assert(!HasNibbleRowPairs(kType), "the nibble types decode in Avx2NibbleRows8");
  const __m256i ones = _mm256_set1_epi16(1);
  const size_t tile_bytes_per_block = 8 * rb / a.nb;
  __m256 acc[kX];
  for (size_t i = 0; i < kX; ++i) acc[i] = _mm256_setzero_ps();
  Avx2KScales ks;  // K-quants: the current super-block's
  for (size_t b = 0; b < a.nb; ++b) {
    __m256i x[kX];
    for (size_t i = 0; i < kX; ++i) x[i] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.Q(t0 + i, b)));
    // As the VNNI kernel: ask for the next tile's b-th slice (the hardware prefetcher stops at 4 KiB pages).
    const uint8_t* next = rows + 8 * rb + b * tile_bytes_per_block;
    for (size_t l = 0; l < tile_bytes_per_block; l += 64) _mm_prefetch(reinterpret_cast<const char*>(next + l), _MM_HINT_T0);
    const uint8_t* block = rows + (kKQuant ? b / 8 * BlockBytes(kType) : b * BlockBytes(kType));  // row 0's
    if constexpr (kKQuant)
      if (b % 8 == 0) Avx2KTileScales<kType>(block, rb, &ks);
    __m256i h[kX][4];  // per token, the first horizontal add of rows 2k, 2k + 1 (few live registers)
    for (size_t k = 0; k < 4; ++k) {
      __m256i p[kX][2];  // per token and row: 8 int32 partial sums (Q6_K: 16 int16 pair sums)
      for (size_t r = 0; r < 2; ++r) {
        const uint8_t* blk = block + (2 * k + r) * rb;
        __m256i u;  // the unsigned first operand of pmaddubsw; w its sign for Q8_0
        __m256i w = _mm256_setzero_si256();
        if constexpr (kType == DType::Q8_0) {
          w = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 2));
          u = _mm256_abs_epi8(w);
        } else {
          u = Avx2Unsigned<kType>(blk, b);
        }
        for (size_t i = 0; i < kX; ++i) {
          const __m256i pairs = _mm256_maddubs_epi16(u, kType == DType::Q8_0 ? _mm256_sign_epi8(x[i], w) : x[i]);
          p[i][r] = kType == DType::Q6_K ? pairs : _mm256_madd_epi16(pairs, ones);
        }
      }
      // Q6_K adds the two rows' pair sums in int16 first (sums of 4 products ≤ 4·63·127 < 2^15), then
      // widens: one pmaddwd per two rows. Q8_0's sums of 4 (≤ 4·128·127) could overflow.
      for (size_t i = 0; i < kX; ++i)
        h[i][k] = kType == DType::Q6_K ? _mm256_madd_epi16(_mm256_hadd_epi16(p[i][0], p[i][1]), ones)
                                       : _mm256_hadd_epi32(p[i][0], p[i][1]);
    }
    const Avx2BlockScales s = Avx2ScalesOf<kType>(block, rb, ks, b);
    for (size_t i = 0; i < kX; ++i) {
      // [rows 0-3 | rows 0-3] and [rows 4-7 | rows 4-7], weights 0-15 in the low and 16-31 in the high halves;
      // lo, hi: lane r = row r's Σ over weights 0-15, 16-31
      const __m256i q0 = _mm256_hadd_epi32(h[i][0], h[i][1]), q1 = _mm256_hadd_epi32(h[i][2], h[i][3]);
      const __m256i lo = _mm256_permute2x128_si256(q0, q1, 0x20), hi = _mm256_permute2x128_si256(q0, q1, 0x31);
      Avx2BlockFma<kType>(a, t0 + i, b, lo, hi, s, acc[i]);
    }
  }
  for (size_t i = 0; i < kX; ++i) Avx2StoreRows(out + (t0 + i) * N + n, acc[i], valid);
}

// Decode on AVX2 for the nibble types (Q4_0, Q5_0, Q4_K, Q5_K): Avx2Rows8 with two rows per register. Rows
// k and 4 + k share one register, [row k | row 4 + k], 16 bytes each, and its low and high nibbles hold
// 16 weights of each row:
//   Q4_0/Q5_0: the block's 16 bytes; low nibbles = weights 0-15, high = 16-31 (Q5_0: plus the fifth bits,
//     spread from qh to bytes).
//   Q4_K/Q5_K: two registers, bytes 0-15 and 16-31 of a 32-byte chunk, which holds sub-blocks 2c (low
//     nibbles) and 2c + 1 (high nibbles): so two blocks at a time (Q5_K: plus bit s of qh[l]).
// `pmaddubsw` by the token's weights 0-15 and 16-31 (in both halves) and one add give per row 8 int16 sums
// of 4 products (≤ 4·31·127); then horizontal adds in the order that leaves lane r = row r: u ≤ 15 two
// levels of `phaddw` (sums of 16 products ≤ 30480) and `pmaddwd` by ones; u ≤ 31 one level (sums of 8 ≤
// 31496; of 16 could overflow), `pmaddwd` by ones, one `phaddd`. Half the horizontal adds of Avx2Rows8's
// one row per register (Q4_0 decode of one matrix 1.9 → 1.45 ms); the same integers, finished by
// Avx2BlockFma in block order.
constexpr size_t NibbleBlocksPerStep(DType t) { return t == DType::Q4_K || t == DType::Q5_K ? 2 : 1; }

// The weights of rows k (at p_k: its block, or its super-block for a K-quant) and 4 + k for block b (and
// b + 1 for a K-quant, b even): u[h][0] weights 0-15 and u[h][1] weights 16-31 of block b + h.
template <DType kType>
HWY_INLINE void Avx2NibbleRowPair(const uint8_t* HWY_RESTRICT p_k, const uint8_t* HWY_RESTRICT p_4k, size_t b,
                                  __m256i (&u)[NibbleBlocksPerStep(kType)][2]) {
  const __m256i low4 = _mm256_set1_epi8(0x0F), sixteen = _mm256_set1_epi8(0x10);
  const auto pair = [](const uint8_t* a, const uint8_t* c) {
    return _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a))),
                                   _mm_loadu_si128(reinterpret_cast<const __m128i*>(c)), 1);
  };
  if constexpr (kType == DType::Q4_0 || kType == DType::Q5_0) {
    constexpr size_t kQs = kType == DType::Q5_0 ? 6 : 2;
    const __m256i both = pair(p_k + kQs, p_4k + kQs);
    u[0][0] = _mm256_and_si256(both, low4);
    u[0][1] = _mm256_and_si256(_mm256_srli_epi16(both, 4), low4);
    if constexpr (kType == DType::Q5_0) {
      int32_t qh_k, qh_4k;
      std::memcpy(&qh_k, p_k + 2, 4);
      std::memcpy(&qh_4k, p_4k + 2, 4);
      const __m256i qh = _mm256_set_m128i(_mm_set1_epi32(qh_4k), _mm_set1_epi32(qh_k));
      const __m256i bit = _mm256_set1_epi64x(static_cast<long long>(0x8040201008040201ull));
      // byte l of a half takes byte l/8 of qh (weights 0-15: bytes 0, 1; 16-31: bytes 2, 3), keeps bit l%8
      const __m256i at = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1,
                                          1, 1, 1, 1, 1);
      for (size_t half = 0; half < 2; ++half) {
        const __m256i spread = _mm256_shuffle_epi8(qh, _mm256_add_epi8(at, _mm256_set1_epi8(char(2 * half))));
        u[0][half] = _mm256_or_si256(u[0][half], _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(spread, bit), bit), sixteen));
      }
    }
  } else {
    const size_t s = b % 8, qs = (kType == DType::Q5_K ? 48 : 16) + 32 * (s / 2);
    for (size_t half = 0; half < 2; ++half) {
      const __m256i both = pair(p_k + qs + 16 * half, p_4k + qs + 16 * half);
      u[0][half] = _mm256_and_si256(both, low4);                          // sub-block s
      u[1][half] = _mm256_and_si256(_mm256_srli_epi16(both, 4), low4);  // sub-block s + 1
      if constexpr (kType == DType::Q5_K) {
        const __m256i qh = pair(p_k + 16 + 16 * half, p_4k + 16 + 16 * half);  // bit s of qh[l]: weight l of sub-block s
        const __m256i one = _mm256_set1_epi8(1);
        for (size_t h = 0; h < 2; ++h) {
          const __m256i fifth = _mm256_and_si256(_mm256_srl_epi16(qh, _mm_cvtsi32_si128(int(s + h))), one);
          u[h][half] = _mm256_or_si256(u[h][half], _mm256_slli_epi16(fifth, 4));
        }
      }
    }
  }
  (void)sixteen;
}

template <size_t kX, DType kType>
HWY_INLINE void Avx2NibbleRows8(const FastActs& a, size_t t0, const uint8_t* HWY_RESTRICT rows, size_t rb,
                                float* HWY_RESTRICT out, size_t N, size_t n, size_t valid) {
  constexpr bool kKQuant = kType == DType::Q4_K || kType == DType::Q5_K;
  constexpr bool kSum16 = kType == DType::Q4_0 || kType == DType::Q4_K;  // u ≤ 15
  constexpr size_t kStep = NibbleBlocksPerStep(kType);
  const __m256i ones = _mm256_set1_epi16(1);
  const size_t tile_bytes_per_block = 8 * rb / a.nb;
  __m256 acc[kX];
  for (size_t i = 0; i < kX; ++i) acc[i] = _mm256_setzero_ps();
  Avx2KScales ks;  // K-quants: the current super-block's
  for (size_t b0 = 0; b0 < a.nb; b0 += kStep) {
    const uint8_t* next = rows + 8 * rb + b0 * tile_bytes_per_block;
    for (size_t l = 0; l < kStep * tile_bytes_per_block; l += 64)
      _mm_prefetch(reinterpret_cast<const char*>(next + l), _MM_HINT_T0);
    const uint8_t* block = rows + (kKQuant ? b0 / 8 * BlockBytes(kType) : b0 * BlockBytes(kType));  // row 0's
    if constexpr (kKQuant)
      if (b0 % 8 == 0) Avx2KTileScales<kType>(block, rb, &ks);
    __m256i m[kStep][kX][4];  // per block, token and row pair k: [row k: 8 sums of 4 | row 4 + k: 8 sums of 4]
    for (size_t k = 0; k < 4; ++k) {
      __m256i u[kStep][2];
      Avx2NibbleRowPair<kType>(block + k * rb, block + (4 + k) * rb, b0, u);
      for (size_t h = 0; h < kStep; ++h)
        for (size_t i = 0; i < kX; ++i) {
          const int8_t* x = a.Q(t0 + i, b0 + h);
          const __m256i x_lo = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x)));
          const __m256i x_hi = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x + 16)));
          m[h][i][k] = _mm256_add_epi16(_mm256_maddubs_epi16(u[h][0], x_lo), _mm256_maddubs_epi16(u[h][1], x_hi));
        }
    }
    for (size_t h = 0; h < kStep; ++h) {
      const Avx2BlockScales s = Avx2ScalesOf<kType>(block, rb, ks, b0 + h);
      for (size_t i = 0; i < kX; ++i) {
        // [rows 0, 1 | rows 4, 5] and [rows 2, 3 | rows 6, 7], 4 sums of 8 products each
        const __m256i h01 = _mm256_hadd_epi16(m[h][i][0], m[h][i][1]), h23 = _mm256_hadd_epi16(m[h][i][2], m[h][i][3]);
        // [rows 0-3 | rows 4-7]: rows 0-7 in order
        const __m256i sum = kSum16 ? _mm256_madd_epi16(_mm256_hadd_epi16(h01, h23), ones)
                                   : _mm256_hadd_epi32(_mm256_madd_epi16(h01, ones), _mm256_madd_epi16(h23, ones));
        Avx2BlockFma<kType>(a, t0 + i, b0 + h, sum, _mm256_setzero_si256(), s, acc[i]);
      }
    }
  }
  for (size_t i = 0; i < kX; ++i) Avx2StoreRows(out + (t0 + i) * N + n, acc[i], valid);
}

// Prefill (every block type but Q8_0) on AVX2: each 8-row tile packed once, so the tokens run without
// horizontal adds. Per block the 8 rows' scales and 8 group registers: lane r of u[g] holds row r's 4
// unsigned weights of group g (weights 4g..4g+3), a transposition done once per tile. Per token,
// `pmaddubsw` of u[g] with the token's 4 bytes of group g broadcast gives, in lane r, 2 int16 pair sums of
// row r; groups add up in int16 Avx2PackChunk at a time (the largest sum < 2^15: Q4 8·2·15·127 = 30480,
// Q5 4·2·31·127 = 31496, Q6_K 2·2·63·127 = 32004), `pmaddwd` by ones widens each chunk into row r's
// lane, and Avx2BlockFma finishes the block as in Avx2Rows8. (Q8_0 is not packed: its unsigned form
// w + 128 would overflow the int16 pair sums.)
constexpr bool HasAvx2Packing(DType t) { return t != DType::Q8_0; }
constexpr size_t Avx2PackChunk(DType t) { return t == DType::Q6_K ? 2 : t == DType::Q5_K || t == DType::Q5_0 ? 4 : 8; }
struct alignas(32) Avx2PackedBlock {
  float d[8], neg_dmin[8];
  int32_t c_lo[8], c_hi[8], mq[8];
  uint8_t u[8][32];
};

// out[j] = lane j of every v[r] (lane r of out[j] = v[r]'s dword j): an 8×8 transposition of 32-bit lanes.
HWY_INLINE void Avx2TransposeDwords8x8(const __m256i (&v)[8], __m256i (&out)[8]) {
  __m256i q[8];  // after two levels of unpacks: q[4h + j] = dwords j and 4 + j of rows 4h..4h+3
  for (size_t h = 0; h < 2; ++h) {
    const __m256i* r = v + 4 * h;
    const __m256i t0 = _mm256_unpacklo_epi32(r[0], r[1]), t1 = _mm256_unpackhi_epi32(r[0], r[1]);
    const __m256i t2 = _mm256_unpacklo_epi32(r[2], r[3]), t3 = _mm256_unpackhi_epi32(r[2], r[3]);
    q[4 * h + 0] = _mm256_unpacklo_epi64(t0, t2), q[4 * h + 1] = _mm256_unpackhi_epi64(t0, t2);
    q[4 * h + 2] = _mm256_unpacklo_epi64(t1, t3), q[4 * h + 3] = _mm256_unpackhi_epi64(t1, t3);
  }
  for (size_t j = 0; j < 4; ++j) {
    out[j] = _mm256_permute2x128_si256(q[j], q[4 + j], 0x20);
    out[4 + j] = _mm256_permute2x128_si256(q[j], q[4 + j], 0x31);
  }
}

template <DType kType>
HWY_INLINE void Avx2PackTile(const uint8_t* HWY_RESTRICT rows, size_t rb, size_t nb, Avx2PackedBlock* HWY_RESTRICT dst) {
  constexpr bool kKQuant = kType == DType::Q4_K || kType == DType::Q5_K || kType == DType::Q6_K;
  Avx2KScales ks;
  for (size_t b = 0; b < nb; ++b) {
    Avx2PackedBlock& o = dst[b];
    const uint8_t* p = rows + (kKQuant ? b / 8 * BlockBytes(kType) : b * BlockBytes(kType));  // row 0's
    if constexpr (kKQuant)
      if (b % 8 == 0) Avx2KTileScales<kType>(p, rb, &ks);
    const Avx2BlockScales s = Avx2ScalesOf<kType>(p, rb, ks, b);
    __m256i R[8], U[8];  // row r's 32 unsigned weights; transposed, lane r of U[g] = row r's group g
    for (size_t r = 0; r < 8; ++r) R[r] = Avx2Unsigned<kType>(p + r * rb, b);
    Avx2TransposeDwords8x8(R, U);
    _mm256_store_ps(o.d, s.d);
    _mm256_store_ps(o.neg_dmin, s.neg_dmin);
    _mm256_store_si256(reinterpret_cast<__m256i*>(o.c_lo), s.c_lo);
    _mm256_store_si256(reinterpret_cast<__m256i*>(o.c_hi), s.c_hi);
    _mm256_store_si256(reinterpret_cast<__m256i*>(o.mq), s.mq);
    for (size_t g = 0; g < 8; ++g) _mm256_store_si256(reinterpret_cast<__m256i*>(o.u[g]), U[g]);
  }
}

// Tokens t0..t0+kX−1 over a packed 8-row tile.
template <size_t kX, DType kType>
HWY_INLINE void Avx2RowsPacked(const FastActs& a, size_t t0, const Avx2PackedBlock* HWY_RESTRICT tile,
                               float* HWY_RESTRICT out, size_t N, size_t n, size_t valid) {
  constexpr size_t kChunk = Avx2PackChunk(kType);
  const __m256i ones = _mm256_set1_epi16(1);
  __m256 acc[kX];
  for (size_t i = 0; i < kX; ++i) acc[i] = _mm256_setzero_ps();
  for (size_t b = 0; b < a.nb; ++b) {
    const Avx2PackedBlock& o = tile[b];
    const Avx2BlockScales s{_mm256_load_ps(o.d), _mm256_load_ps(o.neg_dmin),
                            _mm256_load_si256(reinterpret_cast<const __m256i*>(o.c_lo)),
                            _mm256_load_si256(reinterpret_cast<const __m256i*>(o.c_hi)),
                            _mm256_load_si256(reinterpret_cast<const __m256i*>(o.mq))};
    for (size_t i = 0; i < kX; ++i) {
      const int32_t* x4 = reinterpret_cast<const int32_t*>(a.Q(t0 + i, b));
      __m256i half[2] = {_mm256_setzero_si256(), _mm256_setzero_si256()};  // weights 0-15, 16-31 (kChunk 8: all)
      for (size_t g0 = 0; g0 < 8; g0 += kChunk) {
        __m256i s16 = _mm256_setzero_si256();
        for (size_t g = g0; g < g0 + kChunk; ++g)
          s16 = _mm256_add_epi16(s16, _mm256_maddubs_epi16(_mm256_load_si256(reinterpret_cast<const __m256i*>(o.u[g])),
                                                           _mm256_set1_epi32(x4[g])));
        half[g0 / 4] = _mm256_add_epi32(half[g0 / 4], _mm256_madd_epi16(s16, ones));
      }
      Avx2BlockFma<kType>(a, t0 + i, b, half[0], half[1], s, acc[i]);
    }
  }
  for (size_t i = 0; i < kX; ++i) Avx2StoreRows(out + (t0 + i) * N + n, acc[i], valid);
}

// From this many tokens on, all but Q8_0 pack each 8-row tile (below, it multiplies the stored
// rows in pairs).
constexpr size_t kAvx2PackMinT = 4;

// Rows [n_begin, n_end) of every token, 8 rows at a time; each 8-row tile (in L1/L2 after the first token
// pair) is multiplied by all the tokens, two at a time, or from kAvx2PackMinT tokens on packed once and
// multiplied by tiles of 4 tokens.
template <DType kType>
HWY_INLINE void Avx2BlockOrderRange(const FastActs& a, size_t T, const uint8_t* w, size_t row_bytes,
                                    size_t n_begin, size_t n_end, float* out, size_t N) {
  static thread_local std::vector<Avx2PackedBlock> packed;  // the packed tile
  for (size_t n = n_begin; n < n_end; n += 8) {
    const size_t rows = std::min<size_t>(8, n_end - n);
    const uint8_t* tile = PaddedRowTile(w, n, rows, 8, row_bytes);
    size_t t = 0;
    if (HasAvx2Packing(kType) && T >= kAvx2PackMinT) {
      packed.resize(a.nb);
      Avx2PackTile<kType>(tile, row_bytes, a.nb, packed.data());
      for (; t + 4 <= T; t += 4) Avx2RowsPacked<4, kType>(a, t, packed.data(), out, N, n, rows);
      switch (T - t) {
        case 3: Avx2RowsPacked<3, kType>(a, t, packed.data(), out, N, n, rows); break;
        case 2: Avx2RowsPacked<2, kType>(a, t, packed.data(), out, N, n, rows); break;
        case 1: Avx2RowsPacked<1, kType>(a, t, packed.data(), out, N, n, rows); break;
        default: break;
      }
      continue;
    }
    if constexpr (HasNibbleRowPairs(kType)) {
      for (; t + 2 <= T; t += 2) Avx2NibbleRows8<2, kType>(a, t, tile, row_bytes, out, N, n, rows);
      if (t < T) Avx2NibbleRows8<1, kType>(a, t, tile, row_bytes, out, N, n, rows);
    } else {
      for (; t + 2 <= T; t += 2) Avx2Rows8<2, kType>(a, t, tile, row_bytes, out, N, n, rows);
      if (t < T) Avx2Rows8<1, kType>(a, t, tile, row_bytes, out, N, n, rows);
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
#if GEMMA4_OPS_HAVE_VNNI && (HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL)
  if constexpr (kType == DType::Q8_0 || kType == DType::Q4_0)
    if (vnni) return VnniBlockOrderRange<kType>(a, T, w, row_bytes, n_begin, n_end, out, N);
#endif
  (void)vnni;
  (void)x;
  return Avx2BlockOrderRange<kType>(a, T, w, row_bytes, n_begin, n_end, out, N);
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
  // At least ~64k multiply-adds per task, as in MatMulRows; tasks of whole 16-row tiles.
  const size_t grain = std::max<size_t>(4, (size_t{1} << 16) / std::max<size_t>(1, K * T));
  ParallelRanges(N, grain, 16, [&](size_t n_begin, size_t n_end) {
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
static HWY_NOINLINE HWY_MAYBE_UNUSED void MatMulQ5_0Fast(const float* x, size_t T, size_t K, const uint8_t* w,
                                                         size_t N, float* out) {
  MatMulFastT<DType::Q5_0>(x, T, K, w, N, out);
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
