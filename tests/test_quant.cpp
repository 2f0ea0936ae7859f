// llama.cpp's block formats (ops/quant_scalar.h), plain C++, no kernels: sizes, row lengths, dequantization
// checked against blocks built by hand from the format definition (ggml-common.h, ggml-quants.c), and the
// reference quantizers' rounding rules and error bounds. The SIMD kernels are held against these in
// test_ops.cpp.
#include "ops/scalar.h"

#include <cmath>
#include <cstring>
#include <random>
#include <stdexcept>
#include <vector>

#include <catch2/catch.hpp>

using namespace gemma4;
using ops::DType;

namespace {

constexpr uint16_t kHalfOne = 0x3C00, kHalfHalf = 0x3800;  // f16 1.0 and 0.5

std::vector<float> Dequantize(const void* blocks, DType t, size_t n) {
  std::vector<float> y(n);
  ops::scalar::DequantizeRow(blocks, t, n, y.data());
  return y;
}

// The same values through the element accessor and through ToF32 (scale 1), which the oracle MatMul uses.
void CheckAllPaths(const void* blocks, DType t, const std::vector<float>& expected) {
  const std::vector<float> y = Dequantize(blocks, t, expected.size());
  std::vector<float> z(expected.size());
  ops::scalar::ToF32(blocks, t, expected.size(), 1.0f, z.data());
  for (size_t j = 0; j < expected.size(); ++j) {
    INFO(ops::DTypeName(t) << " weight " << j);
    REQUIRE(y[j] == expected[j]);
    REQUIRE(z[j] == expected[j]);
    REQUIRE(ops::scalar::ElementToF32(blocks, t, j) == expected[j]);
  }
}

// Sub-block scales and mins chosen so that sub-blocks 0-3 use all 6 bits (values ≥ 32, so a missing
// `& 63` would leak sub-blocks 4-7's top bits in) and sub-blocks 4-7 have both top bits and low nibbles set.
const int kSc[8] = {1, 2, 63, 10, 33, 47, 63, 21};
const int kMin[8] = {0, 3, 62, 17, 48, 1, 63, 32};
// Packed by hand (get_scale_min_k4's layout):
//   bytes 0-3:  sc[s]  | (sc[s+4] >> 4) << 6      bytes 4-7: m[s] | (m[s+4] >> 4) << 6
//   bytes 8-11: (sc[s+4] & 15) | (m[s+4] & 15) << 4
const uint8_t kScalesPacked[12] = {
    1 | 2 << 6,  2 | 2 << 6,  63 | 3 << 6, 10 | 1 << 6,   // 0x81 0x82 0xFF 0x4A
    0 | 3 << 6,  3 | 0 << 6,  62 | 3 << 6, 17 | 2 << 6,   // 0xC0 0x03 0xFE 0x91
    1 | 0 << 4,  15 | 1 << 4, 15 | 15 << 4, 5 | 0 << 4};  // 0x01 0x1F 0xFF 0x05

}  // namespace

TEST_CASE("block types: sizes, names and row lengths", "[quant]") {
  CHECK(ops::BlockSize(DType::Q8_0) == 32);
  CHECK(ops::BlockSize(DType::Q4_0) == 32);
  CHECK(ops::BlockSize(DType::Q5_0) == 32);
  CHECK(ops::BlockSize(DType::Q4_K) == 256);
  CHECK(ops::BlockSize(DType::Q5_K) == 256);
  CHECK(ops::BlockSize(DType::Q6_K) == 256);
  CHECK(ops::BlockSize(DType::BF16) == 1);
  CHECK(ops::BlockBytes(DType::Q8_0) == 34);
  CHECK(ops::BlockBytes(DType::Q4_0) == 18);
  CHECK(ops::BlockBytes(DType::Q5_0) == 22);
  CHECK(ops::BlockBytes(DType::Q4_K) == 144);
  CHECK(ops::BlockBytes(DType::Q5_K) == 176);
  CHECK(ops::BlockBytes(DType::Q6_K) == 210);
  CHECK(ops::BlockBytes(DType::F32) == 4);
  CHECK(ops::DTypeSize(DType::Q8_0) == 0);
  CHECK(ops::IsBlockType(DType::Q5_K));
  CHECK(ops::IsBlockType(DType::Q5_0));
  CHECK(std::string(ops::DTypeName(DType::Q5_0)) == "Q5_0");
  CHECK_FALSE(ops::IsBlockType(DType::F16));
  CHECK(std::string(ops::DTypeName(DType::Q4_K)) == "Q4_K");
  CHECK(ops::IsWeightDType(DType::Q4_0));
  CHECK(ops::IsWeightDType(DType::Q6_K));  // K-quants too are multiplied in place
  // An E2B row of 1536 weights: 48 blocks of Q8_0 (1632 bytes), 6 super-blocks of Q6_K.
  CHECK(ops::RowBytes(DType::Q8_0, 1536) == 48 * 34);
  CHECK(ops::RowBytes(DType::Q4_0, 1536) == 48 * 18);
  CHECK(ops::RowBytes(DType::Q6_K, 1536) == 6 * 210);
  CHECK(ops::RowBytes(DType::BF16, 7) == 14);
  CHECK(ops::RowBytes(DType::Q4_K, 0) == 0);
}

TEST_CASE("RowBytes rejects rows that are not whole blocks, naming the type", "[quant]") {
  CHECK_THROWS_AS(ops::RowBytes(DType::Q8_0, 33), std::invalid_argument);
  CHECK_THROWS_WITH(ops::RowBytes(DType::Q4_0, 16), Catch::Contains("Q4_0") && Catch::Contains("32"));
  CHECK_THROWS_WITH(ops::RowBytes(DType::Q6_K, 128), Catch::Contains("Q6_K") && Catch::Contains("256"));
  CHECK_THROWS_AS(ops::RowBytes(DType::Q4_K, 2816 + 32), std::invalid_argument);
  std::vector<float> y(40);
  const std::vector<uint8_t> block(2 * 34);
  CHECK_THROWS_AS(ops::scalar::DequantizeRow(block.data(), DType::Q8_0, 40, y.data()), std::invalid_argument);
  CHECK_THROWS_AS(ops::scalar::QuantizeRowQ4_0(y.data(), 40, nullptr), std::invalid_argument);
  CHECK_THROWS_AS(ops::scalar::DequantizeRow(block.data(), DType::F32, 8, y.data()), std::invalid_argument);
}

TEST_CASE("Q8_0 and Q4_0 blocks decode as d·q and d·(q−8), by hand", "[quant]") {
  // Q8_0: d = 0.5; qs = −128, −1, 0, 1, 127, then j − 16 for the rest.
  uint8_t q8[34];
  std::memcpy(q8, &kHalfHalf, 2);
  const int8_t first[5] = {-128, -1, 0, 1, 127};
  for (int j = 0; j < 32; ++j) q8[2 + j] = uint8_t(j < 5 ? first[j] : int8_t(j - 16));
  std::vector<float> expected = {-64.0f, -0.5f, 0.0f, 0.5f, 63.5f};
  for (int j = 5; j < 32; ++j) expected.push_back(0.5f * float(j - 16));
  CheckAllPaths(q8, DType::Q8_0, expected);

  // Q4_0: d = −2 (0xC000). Byte j holds weight j (low nibble) and weight j + 16 (high nibble):
  // qs[0] = 0xF0 → w0 = (0 − 8)·−2 = 16, w16 = (15 − 8)·−2 = −14; qs[j] = j | (15 − j) << 4 otherwise.
  uint8_t q4[18] = {0x00, 0xC0, 0xF0};
  for (int j = 1; j < 16; ++j) q4[2 + j] = uint8_t(j | (15 - j) << 4);
  expected.assign(32, 0.0f);
  expected[0] = 16.0f;
  expected[16] = -14.0f;
  for (int j = 1; j < 16; ++j) {
    expected[j] = -2.0f * float(j - 8);
    expected[j + 16] = -2.0f * float(15 - j - 8);
  }
  CheckAllPaths(q4, DType::Q4_0, expected);
}

TEST_CASE("Q5_0 dequantizes to d·(q − 16), the fifth bit of weight j being bit j of qh, by hand", "[quant]") {
  // d = 0.5 (0x3800). qs as Q4_0: qs[j] = j | (15 − j) << 4. qh = 0x8000_0001 (little-endian bytes
  // 01 00 00 80): the fifth bit of weight 0 (low nibble of qs[0]) and of weight 31 (high nibble of qs[15]):
  // llama.cpp's xh_0 = bit j, xh_1 = bit j + 16, for the weights j and j + 16 of byte j.
  uint8_t q5[22] = {0x00, 0x38, 0x01, 0x00, 0x00, 0x80};
  for (int j = 0; j < 16; ++j) q5[6 + j] = uint8_t(j | (15 - j) << 4);
  std::vector<float> expected(32);
  for (int j = 0; j < 16; ++j) {
    expected[j] = 0.5f * float(j + (j == 0 ? 16 : 0) - 16);
    expected[j + 16] = 0.5f * float(15 - j + (j == 15 ? 16 : 0) - 16);
  }
  CHECK(expected[0] == 0.0f);    // q = 0 + 16
  CHECK(expected[31] == 0.0f);   // q = 0 + 16 (high nibble of qs[15] is 15 − 15)
  CHECK(expected[16] == -0.5f);  // q = 15
  CheckAllPaths(q5, DType::Q5_0, expected);
  // Every bit of qh on its own: only its weight moves up by 16·d.
  for (int bit = 0; bit < 32; ++bit) {
    uint8_t one[22] = {0x00, 0x38};
    const uint32_t qh = 1u << bit;
    std::memcpy(one + 2, &qh, 4);
    const std::vector<float> y = Dequantize(one, DType::Q5_0, 32);
    for (int j = 0; j < 32; ++j) {
      INFO("bit " << bit << " weight " << j);
      CHECK(y[j] == (j == bit ? 0.0f : -8.0f));
    }
  }
}

TEST_CASE("Q4_K and Q5_K: 6-bit scales and mins of sub-blocks 0-3 and 4-7 unpack as packed", "[quant]") {
  for (int s = 0; s < 8; ++s) {
    INFO("sub-block " << s);
    uint8_t sc = 0, m = 0;
    ops::KScaleMin(kScalesPacked, s, &sc, &m);
    CHECK(int(sc) == kSc[s]);
    CHECK(int(m) == kMin[s]);
  }
  // The kernels' form, all 8 at once, on these bytes and on every byte value in every position.
  uint64_t sc8 = 0, m8 = 0;
  ops::KScalesMins(kScalesPacked, &sc8, &m8);
  for (int s = 0; s < 8; ++s) {
    CHECK(int((sc8 >> (8 * s)) & 0xFF) == kSc[s]);
    CHECK(int((m8 >> (8 * s)) & 0xFF) == kMin[s]);
  }
  for (int pos = 0; pos < 12; ++pos) {
    for (int v = 0; v < 256; ++v) {
      uint8_t packed[12];
      for (int i = 0; i < 12; ++i) packed[i] = uint8_t(i * 37 + 11);
      packed[pos] = uint8_t(v);
      ops::KScalesMins(packed, &sc8, &m8);
      for (int s = 0; s < 8; ++s) {
        uint8_t sc = 0, m = 0;
        ops::KScaleMin(packed, s, &sc, &m);
        REQUIRE(int((sc8 >> (8 * s)) & 0xFF) == int(sc));
        REQUIRE(int((m8 >> (8 * s)) & 0xFF) == int(m));
      }
    }
  }
}

TEST_CASE("Q4_K dequantizes to (d·sc)·q − dmin·m, by hand", "[quant]") {
  // Two super-blocks: readable scales (d = 1, dmin = 0.5), then f16 scales that make the subtraction round.
  const uint16_t d_bits[2] = {kHalfOne, 0x3555}, dmin_bits[2] = {kHalfHalf, 0x2E66};  // 0x3555 ≈ 0.3333, 0x2E66 ≈ 0.1
  std::vector<ops::BlockQ4_K> blocks(2);
  std::vector<int> q(512);
  for (int j = 0; j < 512; ++j) q[j] = (j * 7 + j / 64) % 16;
  for (int b = 0; b < 2; ++b) {
    blocks[b].d = d_bits[b];
    blocks[b].dmin = dmin_bits[b];
    std::memcpy(blocks[b].scales, kScalesPacked, 12);
    // 64-weight chunk c: byte 32c + l holds weight 64c + l (low nibble) and weight 64c + 32 + l (high).
    for (int c = 0; c < 4; ++c)
      for (int l = 0; l < 32; ++l)
        blocks[b].qs[32 * c + l] = uint8_t(q[256 * b + 64 * c + l] | q[256 * b + 64 * c + 32 + l] << 4);
  }
  std::vector<float> expected(512);
  for (int j = 0; j < 512; ++j) {
    const int b = j / 256, s = (j % 256) / 32;
    const double d = ops::F32FromF16(d_bits[b]), dmin = ops::F32FromF16(dmin_bits[b]);
    // The products are exact, so the one rounding is that of the difference.
    expected[j] = float(d * kSc[s] * q[j] - dmin * kMin[s]);
  }
  // Spot checks, read off the formula: weight 0 (s 0, q 0) = 0; weight 40 (s 1, q 40·7 % 16 = 8) = 2·8 − 1.5;
  // weight 170 (s 5, q (170·7 + 2) % 16 = 8) = 47·8 − 0.5.
  CHECK(expected[0] == 0.0f);
  CHECK(expected[40] == 14.5f);
  CHECK(expected[170] == 375.5f);
  CheckAllPaths(blocks.data(), DType::Q4_K, expected);
}

TEST_CASE("Q5_K adds the high bit: weight l of sub-block s has bit s of qh[l]", "[quant]") {
  ops::BlockQ5_K block;
  block.d = kHalfOne;
  block.dmin = kHalfHalf;
  std::memcpy(block.scales, kScalesPacked, 12);
  std::vector<int> q(256);
  for (int j = 0; j < 256; ++j) q[j] = (j * 13 + 5) % 32;  // 5-bit values
  std::memset(block.qh, 0, 32);
  for (int c = 0; c < 4; ++c)
    for (int l = 0; l < 32; ++l) block.qs[32 * c + l] = uint8_t((q[64 * c + l] & 15) | (q[64 * c + 32 + l] & 15) << 4);
  for (int j = 0; j < 256; ++j) block.qh[j % 32] |= uint8_t((q[j] >> 4) << (j / 32));
  std::vector<float> expected(256);
  for (int j = 0; j < 256; ++j) expected[j] = float(kSc[j / 32] * q[j] - 0.5 * kMin[j / 32]);
  // Spot checks: weight 1 (s 0, q 18 — high bit set) = 18; weight 255 (s 7, q (255·13 + 5) % 32 = 24) = 21·24 − 16.
  CHECK(expected[1] == 18.0f);
  CHECK(expected[255] == 488.0f);
  CheckAllPaths(&block, DType::Q5_K, expected);
  // A literal byte: qh[3] = 0b10000001 sets the high bit of weights 3 (s 0) and 227 (s 7) only.
  ops::BlockQ5_K zero;
  std::memset(&zero, 0, sizeof zero);
  zero.d = kHalfOne;
  std::memcpy(zero.scales, kScalesPacked, 12);  // dmin = 0: no mins
  zero.qh[3] = 0x81;
  const std::vector<float> y = Dequantize(&zero, DType::Q5_K, 256);
  for (int j = 0; j < 256; ++j) {
    INFO("weight " << j);
    CHECK(y[j] == (j == 3 ? 16.0f * kSc[0] : j == 227 ? 16.0f * kSc[7] : 0.0f));
  }
}

TEST_CASE("Q6_K dequantizes to d·sc·(q − 32) with signed 8-bit scales, by hand", "[quant]") {
  ops::BlockQ6_K block;
  block.d = 0x3555;  // ≈ 0.3333
  const int8_t scales[16] = {-128, -1, 0, 1, 127, 64, -64, 5, -7, 9, -11, 13, 100, -100, 2, -2};
  std::memcpy(block.scales, scales, 16);
  std::vector<int> q(256);
  for (int j = 0; j < 256; ++j) q[j] = (j * 11 + 3) % 64;  // 6-bit values, 0 and 63 included
  // llama.cpp's packing: per 128-weight half h, weights 128h + 32r + l (r = 0..3) share qh[32h + l]
  // (2 bits at position 2r); r = 0, 2 share ql[64h + l] (low, high nibble), r = 1, 3 share ql[64h + 32 + l].
  for (int h = 0; h < 2; ++h)
    for (int l = 0; l < 32; ++l) {
      const int* w = &q[128 * h + l];
      block.ql[64 * h + l] = uint8_t((w[0] & 15) | (w[64] & 15) << 4);
      block.ql[64 * h + 32 + l] = uint8_t((w[32] & 15) | (w[96] & 15) << 4);
      block.qh[32 * h + l] = uint8_t((w[0] >> 4) | (w[32] >> 4) << 2 | (w[64] >> 4) << 4 | (w[96] >> 4) << 6);
    }
  const double d = ops::F32FromF16(block.d);
  std::vector<float> expected(256);
  for (int j = 0; j < 256; ++j) expected[j] = float(d * scales[j / 16] * (q[j] - 32));
  CheckAllPaths(&block, DType::Q6_K, expected);

  // Literal bytes for the first weights of each quarter: ql[0] = 0x21, ql[32] = 0x43, qh[0] = 0b11100100:
  // weight 0 = 0x1 | 00 << 4 = 1, weight 32 = 0x3 | 01 << 4 = 19, weight 64 = 0x2 | 10 << 4 = 34,
  // weight 96 = 0x4 | 11 << 4 = 52; every other weight has q = 0 (−32).
  ops::BlockQ6_K lit;
  std::memset(&lit, 0, sizeof lit);
  lit.d = kHalfOne;
  for (int i = 0; i < 16; ++i) lit.scales[i] = int8_t(i % 2 ? -1 : 1);
  lit.ql[0] = 0x21;
  lit.ql[32] = 0x43;
  lit.qh[0] = 0xE4;
  const std::vector<float> y = Dequantize(&lit, DType::Q6_K, 256);
  CHECK(y[0] == 1.0f * (1 - 32));    // scale 0: +1
  CHECK(y[32] == 1.0f * (19 - 32));  // scale 2: +1
  CHECK(y[64] == 1.0f * (34 - 32));  // scale 4: +1
  CHECK(y[96] == 1.0f * (52 - 32));  // scale 6: +1
  CHECK(y[16] == -1.0f * (0 - 32));  // scale 1: −1
  CHECK(y[200] == 1.0f * (0 - 32));  // scale 12: +1
}

TEST_CASE("the reference quantizers follow llama.cpp's rounding rules", "[quant]") {
  // Q8_0: d = max|x| / 127; q = round(x/d), halves away from zero.
  std::vector<float> x(32, 0.0f);
  x[0] = 127.0f;
  x[1] = -63.5f;
  x[2] = 0.5f;
  x[3] = -0.49f;
  x[4] = 2.5f;
  ops::BlockQ8_0 b8;
  ops::scalar::QuantizeRowQ8_0(x.data(), 32, &b8);
  CHECK(b8.d == kHalfOne);
  CHECK(int(b8.qs[0]) == 127);
  CHECK(int(b8.qs[1]) == -64);
  CHECK(int(b8.qs[2]) == 1);
  CHECK(int(b8.qs[3]) == 0);
  CHECK(int(b8.qs[4]) == 3);
  CHECK(int(b8.qs[5]) == 0);

  // Q4_0: m = the first element of largest magnitude, d = m / −8, q = min(15, trunc(x/d + 8.5)).
  x.assign(32, 0.0f);
  x[3] = -4.0f;   // first of the largest magnitude: d = −4 / −8 = 0.5
  x[5] = 4.0f;    // 4/0.5 + 8.5 = 16.5 → 16 → clamped to 15
  x[6] = 0.25f;   // 0.5 + 8.5 = 9
  x[7] = 0.24f;   // 8.98 → 8
  x[20] = -0.26f; // 7.98 → 7 (weight 20: high nibble of byte 4)
  ops::BlockQ4_0 b4;
  ops::scalar::QuantizeRowQ4_0(x.data(), 32, &b4);
  CHECK(b4.d == kHalfHalf);
  CHECK((b4.qs[3] & 15) == 0);
  CHECK((b4.qs[5] & 15) == 15);
  CHECK((b4.qs[6] & 15) == 9);
  CHECK((b4.qs[7] & 15) == 8);
  CHECK((b4.qs[4] >> 4) == 7);
  CHECK((b4.qs[0] & 15) == 8);  // zero
  // Swap the order: now +4 comes first, d = −0.5 and the signs flip.
  std::swap(x[3], x[5]);
  ops::scalar::QuantizeRowQ4_0(x.data(), 32, &b4);
  CHECK(b4.d == (kHalfHalf | 0x8000));
  CHECK((b4.qs[3] & 15) == 0);
  CHECK((b4.qs[5] & 15) == 15);
  // An all-zero block: d = 0, every weight decodes to 0.
  x.assign(32, 0.0f);
  ops::scalar::QuantizeRowQ4_0(x.data(), 32, &b4);
  ops::scalar::QuantizeRowQ8_0(x.data(), 32, &b8);
  for (float v : Dequantize(&b4, DType::Q4_0, 32)) CHECK(v == 0.0f);
  for (float v : Dequantize(&b8, DType::Q8_0, 32)) CHECK(v == 0.0f);
}

TEST_CASE("quantize → dequantize stays within the format's bound, and re-quantizing is exact", "[quant]") {
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  const size_t n = 4096;
  for (float scale : {1e-3f, 0.02f, 1.0f, 300.0f}) {
    std::vector<float> x(n);
    for (float& v : x) v = normal(rng) * scale;
    x[100] = 0.0f;
    for (DType t : {DType::Q8_0, DType::Q4_0}) {
      INFO(ops::DTypeName(t) << " scale " << scale);
      std::vector<uint8_t> q(ops::RowBytes(t, n)), q2(q.size());
      ops::scalar::QuantizeRow(x.data(), t, n, q.data());
      const std::vector<float> y = Dequantize(q.data(), t, n);
      for (size_t ib = 0; ib < n / 32; ++ib) {
        // d as computed (f32) and as stored (f16); q·d16 differs from q·d by at most |q|·|d − d16|.
        double amax = 0.0, max = 0.0;
        for (size_t j = 32 * ib; j < 32 * ib + 32; ++j)
          if (std::fabs(x[j]) > amax) { amax = std::fabs(x[j]); max = x[j]; }
        const double d = t == DType::Q8_0 ? amax / 127.0 : max / -8.0;
        uint16_t d16_bits;
        std::memcpy(&d16_bits, q.data() + ib * ops::BlockBytes(t), 2);
        const double d16 = ops::F32FromF16(d16_bits);
        // Q8_0 rounds to nearest: error ≤ d/2. Q4_0 too, except x = −m, clamped from q − 8 = 8 to 7: ≤ |d|.
        const double bound = (t == DType::Q8_0 ? 0.5 * std::fabs(d) + 127.0 * std::fabs(d - d16)
                                               : std::fabs(d) + 8.0 * std::fabs(d - d16)) +
                             1e-6 * amax;
        for (size_t j = 32 * ib; j < 32 * ib + 32; ++j) {
          INFO("weight " << j);
          REQUIRE(std::fabs(double(x[j]) - double(y[j])) <= bound);
        }
      }
      // Dequantized values are fixed points of the quantizer: same bytes again.
      ops::scalar::QuantizeRow(y.data(), t, n, q2.data());
      REQUIRE(q2 == q);
    }
  }
}
