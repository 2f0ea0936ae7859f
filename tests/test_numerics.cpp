// The `fast` numerics (ops/numerics.h): its MatMul kernels (every block type) against their scalar twin, bit for bit,
// on every SIMD target (and on AVX-512 both with and without the VNNI kernel); a token's row independent of
// the batch and the thread count; the twin itself against a hand-checkable case; how far it is from exact;
// and a whole model in fast mode: decode = prefill, exact mode untouched; and exact models of every dtype:
// decode = prefill bit for bit where prefill takes the weight panels of ops/matmul-inl.h.
#include "gemma4/gemma4.h"  // first: ops/ops.h drives Highway's per-target compilation

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "tests/test_util.h"
#include "tools/random_model.h"

using namespace gemma4;
using gemma4::test::ForEachTarget;
using gemma4::test::LogitsInChunks;
using gemma4::test::RandomFloats;
using gemma4::test::BlockRows;
using gemma4::test::RandomKQuantRows;
using gemma4::test::StoreAs;

namespace {

const DType kBlockTypes[] = {DType::Q8_0, DType::Q4_0, DType::Q5_0, DType::Q4_K, DType::Q5_K, DType::Q6_K};

// Runs body() on every target, and on AVX-512 targets a second time with the VNNI kernel switched off.
template <class Body>
void ForEachFastPath(const Body& body) {
  ForEachTarget([&] {
    const bool vnni = ops::FastUseVnni().load();
    INFO("VNNI kernel " << (vnni ? "on" : "off"));
    body();
    if (vnni) {
      ops::FastUseVnni().store(false);
      INFO("VNNI kernel off");
      body();
      ops::FastUseVnni().store(true);
    }
  });
}

bool SameBits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

// ops::MatMul in `fast` numerics gives the scalar twin's bits on every target and fast path.
void CheckFastEqualsTwin(const std::vector<float>& x, size_t T, size_t K, const std::vector<uint8_t>& w, DType t,
                         size_t N, const char* what = "") {
  std::vector<float> ref(T * N), out(T * N);
  ops::scalar::MatMulFast(x.data(), T, K, w.data(), t, N, ref.data());
  ForEachFastPath([&] {
    INFO("dtype " << DTypeName(t) << " T=" << T << " K=" << K << " N=" << N << what);
    std::fill(out.begin(), out.end(), -1.0f);
    ops::MatMul(x.data(), T, K, w.data(), t, N, out.data(), ops::Numerics::kFast);
    REQUIRE(SameBits(out, ref));
  });
}

struct NumericsScope {  // sets the process-wide mode, restores exact at scope exit
  explicit NumericsScope(ops::Numerics m) { ops::SetNumerics(m); }
  ~NumericsScope() { ops::SetNumerics(ops::Numerics::kExact); }
};

}  // namespace

TEST_CASE("numerics: names parse both ways — exact is the default", "[numerics]") {
  CHECK(ops::GetNumerics() == ops::Numerics::kExact);
  CHECK(ops::ParseNumerics("fast") == ops::Numerics::kFast);
  CHECK(ops::ParseNumerics("exact") == ops::Numerics::kExact);
  CHECK(std::string(ops::NumericsName(ops::Numerics::kFast)) == "fast");
  CHECK_THROWS_WITH(ops::ParseNumerics("quick"), Catch::Contains("\"quick\""));
}

TEST_CASE("fast twin: activations that quantize exactly give the exact dot product", "[numerics]") {
  // Each block of x holds integers with max |x| = 127, so dx = 1 and q = x; weights Q8_0 with d = 0.5.
  // Then every group sum, product and accumulation is exact in f32: out = 0.5 · Σ x·w.
  for (size_t K : {32, 96, 256}) {
    std::mt19937 rng(static_cast<uint32_t>(K));
    std::vector<float> x(K);
    std::vector<ops::BlockQ8_0> w(K / 32);
    double expected = 0;
    for (size_t k = 0; k < K; ++k) {
      x[k] = k % 32 == 5 ? -127.0f : float(int(rng() % 255) - 127);
      ops::BlockQ8_0& b = w[k / 32];
      b.d = ops::F16FromF32(0.5f);
      b.qs[k % 32] = int8_t(int(rng() % 255) - 127);
      expected += 0.5 * double(x[k]) * double(b.qs[k % 32]);
    }
    float out = 0;
    ops::scalar::MatMulFast(x.data(), 1, K, w.data(), DType::Q8_0, 1, &out);
    CHECK(double(out) == expected);
  }
}

TEST_CASE("fast MatMul equals its scalar twin bit for bit, on every target", "[numerics]") {
  for (DType t : kBlockTypes) {
    for (size_t K : {32, 64, 96, 160, 256, 1536, 2112}) {
      if (K % ops::BlockSize(t)) continue;
      for (size_t T : {1, 2, 3, 4, 5, 9}) {
        const size_t N = 1 + (K / 32 * 6 + T) % 14;  // 1..14: full 4-row tiles and leftovers
        std::vector<float> x = RandomFloats(T * K, uint32_t(K + T));
        for (size_t k = 0; k < std::min<size_t>(K, 32); ++k) x[k] = 0.0f;  // an all-zero block
        if (K > 64) x[40] = 1e30f, x[41] = -1e-30f;                          // a huge and a tiny value
        CheckFastEqualsTwin(x, T, K, BlockRows(t, N, K, uint32_t(K) + 1), t, N);
      }
    }
    // A larger matrix: many row tiles, long rows (32 K-quant super-blocks).
    const size_t K = 8192, N = 130, T = 6;
    const std::vector<float> x = RandomFloats(T * K, 77);
    CheckFastEqualsTwin(x, T, K, BlockRows(t, N, K, 78), t, N, " (large)");
  }
}

TEST_CASE("fast MatMul: whole and partial row tiles (16 rows VNNI, 8 AVX2), every token tiling", "[numerics]") {
  // The kernels put weight rows in lanes: N around multiples of 8 and 16 hits full tiles and zero-padded
  // tails; T from decode (per-block transposition) past the prefill threshold (packed tile, token tiles of
  // 8, 4, 2, 1).
  for (DType t : kBlockTypes) {
    for (size_t K : {32, 96, 256, 2112, 2304}) {
      if (K % ops::BlockSize(t)) continue;
      for (size_t N : {8, 15, 16, 17, 24, 31, 32, 33, 47}) {
        const std::vector<uint8_t> w = BlockRows(t, N, K, uint32_t(K * 3 + N));
        for (size_t T : {1, 2, 3, 4, 5, 7, 8, 11, 16, 17}) {
          CheckFastEqualsTwin(RandomFloats(T * K, uint32_t(K + 100 * T + N)), T, K, w, t, N);
        }
      }
    }
  }
}

TEST_CASE("fast MatMul: extreme weights and activations overflow no 16-bit sum", "[numerics]") {
  // The AVX2 kernels form 16-bit sums (pmaddubsw pairs; Q4_0/Q4_K sums of 16 products): weights at the ends of
  // their range (Q8_0 −128 and 127, nibbles 0 and 15, 6-bit 63) against activations at ±127 (every block
  // of x has its amax at both signs) reach the largest magnitudes those sums can hold.
  const size_t K = 512, N = 17;
  for (DType t : kBlockTypes) {
    std::vector<uint8_t> w = BlockRows(t, N, K, 5);
    const size_t bb = ops::BlockBytes(t), blocks = w.size() / bb;
    for (size_t i = 0; i < blocks; ++i) {  // keep each block's scales; its quants all min, all max, mixed
      uint8_t* b = w.data() + i * bb;
      const uint8_t q = i % 3 == 0 ? 0x00 : i % 3 == 1 ? 0xFF : 0x0F;  // packed nibbles / bit fields
      switch (t) {
        case DType::Q8_0: for (int j = 0; j < 32; ++j) b[2 + j] = i % 3 == 0 || (i % 3 == 2 && j % 2) ? 0x80 : 0x7F; break;
        case DType::Q4_0: std::memset(b + 2, q, 16); break;
        case DType::Q5_0: std::memset(b + 2, q, 20); break;
        case DType::Q4_K: std::memset(b + 16, q, 128); break;
        case DType::Q5_K: std::memset(b + 16, q, 160); break;
        case DType::Q6_K: std::memset(b, q, 192); break;
        default: break;
      }
    }
    for (size_t T : {1, 2, 5}) {
      std::vector<float> x(T * K);  // blocks of all +1, all −1, alternating: q = ±127
      for (size_t k = 0; k < x.size(); ++k) {
        const size_t kind = (k / 32 + k / K) % 3;
        x[k] = kind == 0 || (kind == 2 && k % 2) ? 1.0f : -1.0f;
      }
      CheckFastEqualsTwin(x, T, K, w, t, N, " (extremes)");
    }
  }
}

TEST_CASE("fast twin: one accumulator, one fma per block (two with a min), blocks in order", "[numerics]") {
  // The definition (quant_fast_scalar.h step 3) written out again for one row from the decoded blocks:
  // A ← fma(f32(S_b), d·dx_b, A), S_b = Σ c_j·w_j·q_j exact; Q4_K/Q5_K then A ← fma(f32(mq·G_b), −dmin·dx_b, A).
  for (DType t : kBlockTypes) {
    const size_t K = ops::BlockSize(t) == 32 ? 7 * 32 : 3 * 256;  // an odd block (super-block) count
    const std::vector<float> x = RandomFloats(K, 31);
    const std::vector<uint8_t> w = BlockRows(t, 1, K, 32);
    float acc = 0.0f;
    for (size_t b = 0; b < K / 32; ++b) {
      int8_t q[32];
      const float dx = ops::scalar::QuantizeBlockQ8(x.data() + 32 * b, q);
      ops::scalar::WeightBlock wb;
      ops::scalar::DecodeWeightBlock(w.data(), t, b, &wb);
      int32_t s = 0, g = 0;
      for (int j = 0; j < 32; ++j) s += wb.c[j / 16] * int32_t(wb.w[j]) * q[j], g += q[j];
      acc = std::fma(float(s), wb.d * dx, acc);
      if (t == DType::Q4_K || t == DType::Q5_K) acc = std::fma(float(wb.mq * g), -wb.dmin * dx, acc);
    }
    float out = -1.0f;
    ops::scalar::MatMulFast(x.data(), 1, K, w.data(), t, 1, &out);
    INFO(DTypeName(t));
    CHECK(std::memcmp(&out, &acc, sizeof(float)) == 0);
  }
}

TEST_CASE("fast MatMul: a token's row does not depend on the other rows or the thread count", "[numerics]") {
  const size_t K = 1536, N = 67, T = 11;
  const std::vector<float> x = RandomFloats(T * K, 15);
  for (DType t : kBlockTypes) {
    INFO(DTypeName(t));
    const std::vector<uint8_t> w = BlockRows(t, N, K, 16);
    std::vector<float> all(T * N), one(N), single(T * N);
    ForEachFastPath([&] {
      ops::MatMul(x.data(), T, K, w.data(), t, N, all.data(), ops::Numerics::kFast);
      for (size_t tok = 0; tok < T; ++tok) {
        ops::MatMul(x.data() + tok * K, 1, K, w.data(), t, N, one.data(), ops::Numerics::kFast);
        REQUIRE(std::memcmp(one.data(), all.data() + tok * N, N * sizeof(float)) == 0);
      }
      const size_t threads = ops::Pool().NumThreads();
      for (size_t n : {1, 3}) {
        ops::SetNumThreads(n);
        ops::MatMul(x.data(), T, K, w.data(), t, N, single.data(), ops::Numerics::kFast);
        REQUIRE(SameBits(single, all));
      }
      ops::SetNumThreads(threads);
    });
  }
}

TEST_CASE("fast MatMul stays within int8 rounding of exact — plain dtypes ignore the mode", "[numerics]") {
  const size_t K = 2048, N = 64, T = 3;
  const std::vector<float> x = RandomFloats(T * K, 21);
  for (DType t : kBlockTypes) {
    const std::vector<uint8_t> w = BlockRows(t, N, K, 22);
    std::vector<float> exact(T * N), fast(T * N), wf(N * K);
    ops::scalar::DequantizeRow(w.data(), t, N * K, wf.data());
    ops::MatMul(x.data(), T, K, w.data(), t, N, exact.data(), ops::Numerics::kExact);
    ops::MatMul(x.data(), T, K, w.data(), t, N, fast.data(), ops::Numerics::kFast);
    REQUIRE(!SameBits(exact, fast));  // it is a different computation ...
    for (size_t tk = 0; tk < T; ++tk)
      for (size_t n = 0; n < N; ++n) {
        // ... whose error is at most half a quantization step per activation: Σ_k |w|·amax_block/254.
        double bound = 0;
        for (size_t k = 0; k < K; ++k) {
          float amax = 0;
          for (size_t j = k / 32 * 32; j < k / 32 * 32 + 32; ++j) amax = std::max(amax, std::fabs(x[tk * K + j]));
          bound += std::fabs(double(wf[n * K + k])) * double(amax) / 254.0;
        }
        INFO(DTypeName(t) << " t=" << tk << " n=" << n);
        CHECK(std::fabs(double(fast[tk * N + n]) - double(exact[tk * N + n])) <= bound * 1.01 + 1e-5);
      }
  }
  // BF16 weights: the same bits in both modes.
  std::vector<uint16_t> wb(N * K);
  const std::vector<float> wr = RandomFloats(N * K, 23);
  for (size_t i = 0; i < wb.size(); ++i) wb[i] = ops::BF16FromF32(wr[i]);
  std::vector<float> a(T * N), b(T * N);
  ops::MatMul(x.data(), T, K, wb.data(), DType::BF16, N, a.data(), ops::Numerics::kExact);
  ops::MatMul(x.data(), T, K, wb.data(), DType::BF16, N, b.data(), ops::Numerics::kFast);
  CHECK(SameBits(a, b));
}

// A 4-layer model with every kind of layer the E2B has (sliding and full attention, KV sharing, PLE), K of
// one to three 32-blocks (hidden 64, intermediate 96, per-layer input 32).
namespace {
nlohmann::json TinyHybridConfig() {
  return {{"model_type", "gemma4_text"}, {"vocab_size", 96}, {"hidden_size", 64}, {"intermediate_size", 96},
          {"num_hidden_layers", 4}, {"num_attention_heads", 2}, {"num_key_value_heads", 1}, {"head_dim", 32},
          {"global_head_dim", 64}, {"sliding_window", 5}, {"hidden_size_per_layer_input", 32},
          {"vocab_size_per_layer_input", 96}, {"num_kv_shared_layers", 2}, {"final_logit_softcapping", 30.0},
          {"layer_types", {"sliding_attention", "full_attention", "sliding_attention", "full_attention"}}};
}
// The same with a MoE block in every layer (before, only test_model's random configurations held the
// experts to decode = prefill, in `exact` BF16 and to 1e-5; in `fast`, nothing did).
nlohmann::json TinyMoeConfig() {
  nlohmann::json config = TinyHybridConfig();
  config.update({{"enable_moe_block", true}, {"num_experts", 4}, {"top_k_experts", 3}, {"moe_intermediate_size", 32},
                 {"tie_word_embeddings", false}});
  return config;
}
}  // namespace

TEST_CASE("a Q8_0 / Q4_0 model in fast numerics: decode = prefill = chunked, any thread count", "[numerics][model]") {
  for (const bool moe : {false, true}) {
    for (DType t : {DType::Q8_0, DType::Q4_0}) {
      INFO(DTypeName(t) << (moe ? " MoE" : ""));
      const nlohmann::json config = moe ? TinyMoeConfig() : TinyHybridConfig();
      auto lm = Gemma4ForCausalLM::from_checkpoint(tools::RandomCheckpoint(config, t, 5));
      std::vector<int32_t> ids(17);
      for (size_t i = 0; i < ids.size(); ++i) ids[i] = int32_t((i * 37 + 2) % 96);
      const std::vector<float> exact = LogitsInChunks(*lm, ids, ids.size());
      NumericsScope fast_mode(ops::Numerics::kFast);
      const std::vector<float> prefill = LogitsInChunks(*lm, ids, ids.size());
      REQUIRE(!SameBits(prefill, exact));
      double max_diff = 0;
      for (size_t i = 0; i < exact.size(); ++i) max_diff = std::max(max_diff, std::fabs(double(prefill[i] - exact[i])));
      // Logits of a random model are O(10); int8 activations move them a little: 0.028 (Q8_0) and 0.034 (Q4_0)
      // measured. A kernel fed stale quantized activations moved them 0.6-0.7, so the bound is tight.
      CHECK(max_diff < 0.1);
      CHECK(SameBits(LogitsInChunks(*lm, ids, 1), prefill));
      CHECK(SameBits(LogitsInChunks(*lm, ids, 4), prefill));
      const size_t threads = ops::Pool().NumThreads();
      ops::SetNumThreads(1);
      CHECK(SameBits(LogitsInChunks(*lm, ids, ids.size()), prefill));
      ops::SetNumThreads(threads);
    }
  }
}

TEST_CASE("an exact model of every weight dtype: decode = prefill = chunked bit for bit, prefill through panels",
          "[numerics][model]") {
  // A prefill of 23 tokens multiplies weight panels (block types widened once to f32, ops/matmul-inl.h);
  // decode and chunks of 4 read the stored rows directly. Every logit must carry the same bits.
  const nlohmann::json config = TinyHybridConfig();
  std::vector<int32_t> ids(23);
  for (size_t i = 0; i < ids.size(); ++i) ids[i] = int32_t((i * 37 + 2) % 96);
  REQUIRE(ids.size() >= ops::kMatMulPanelMinTokens);
  for (const bool moe : {false, true}) {
    for (DType t : {DType::F32, DType::BF16, DType::F16, DType::Q8_0, DType::Q4_0}) {
      INFO(DTypeName(t) << (moe ? " MoE" : ""));
      auto lm = Gemma4ForCausalLM::from_checkpoint(tools::RandomCheckpoint(moe ? TinyMoeConfig() : config, t, 9));
      const std::vector<float> prefill = LogitsInChunks(*lm, ids, ids.size());
      CHECK(SameBits(LogitsInChunks(*lm, ids, 1), prefill));
      CHECK(SameBits(LogitsInChunks(*lm, ids, 4), prefill));
      CHECK(SameBits(LogitsInChunks(*lm, ids, 17), prefill));  // a panel chunk, then a direct one
      const size_t threads = ops::Pool().NumThreads();
      ops::SetNumThreads(1);
      CHECK(SameBits(LogitsInChunks(*lm, ids, ids.size()), prefill));
      ops::SetNumThreads(threads);
    }
  }
}

TEST_CASE("K-quant MatMul reads weights in place: equal to the f32 MatMul of the dequantized weights", "[numerics][quant]") {
  for (DType t : {DType::Q4_K, DType::Q5_K, DType::Q6_K}) {
    for (size_t K : {256, 512, 1536}) {
      for (size_t T : {1, 3, 6}) {
        const size_t N = 1 + (K / 256 * 5 + T) % 9;
        const std::vector<float> x = RandomFloats(T * K, uint32_t(K + T));
        const std::vector<uint8_t> w = RandomKQuantRows(t, N, K, uint32_t(K * 7 + T));
        std::vector<float> wf(N * K), ref(T * N), out(T * N), out_f32(T * N);
        ops::scalar::DequantizeRow(w.data(), t, N * K, wf.data());
        ops::scalar::MatMul(x.data(), T, K, w.data(), t, N, ref.data());
        ForEachTarget([&] {
          INFO(DTypeName(t) << " T=" << T << " K=" << K << " N=" << N);
          ops::MatMul(x.data(), T, K, w.data(), t, N, out.data(), ops::Numerics::kExact);
          ops::MatMul(x.data(), T, K, wf.data(), DType::F32, N, out_f32.data());
          REQUIRE(SameBits(out, out_f32));
          // and close to the double-precision oracle: within the worst case of K f32 roundings of Σ|x·w|
          for (size_t tk = 0; tk < T; ++tk)
            for (size_t n = 0; n < N; ++n) {
              double abs_sum = 0;
              for (size_t k = 0; k < K; ++k) abs_sum += std::fabs(double(x[tk * K + k]) * double(wf[n * K + k]));
              REQUIRE(std::fabs(double(out[tk * N + n]) - double(ref[tk * N + n])) <= double(K) * 6e-8 * abs_sum);
            }
        });
      }
    }
  }
}

// ops::MatMulGroup (q/k/v, gate/up in one call) against one ops::MatMul per part: every output bit, both
// numerics, every dtype, batches 1..64, 1..3 threads, on every target (and with the VNNI kernel off).
namespace {
// Weights of any MatMul dtype: plain types stored from random values, block types as BlockRows makes them.
std::vector<uint8_t> AnyRows(DType t, size_t rows, size_t K, uint32_t seed) {
  return ops::IsBlockType(t) ? BlockRows(t, rows, K, seed) : StoreAs(RandomFloats(rows * K, seed, 0.1f), t);
}

struct GroupCase {
  std::vector<DType> dtypes;
  std::vector<size_t> rows;
};

// Runs the group and the separate MatMuls on the same x and requires the same bits.
void CheckGroupEqualsSeparate(const GroupCase& c, size_t T, size_t K, ops::Numerics numerics, uint32_t seed) {
  const size_t n = c.dtypes.size();
  const std::vector<float> x = RandomFloats(T * K, seed);
  std::vector<std::vector<uint8_t>> w(n);
  std::vector<std::vector<float>> want(n), got(n);
  std::vector<ops::MatMulPart> parts(n);
  for (size_t i = 0; i < n; ++i) {
    w[i] = AnyRows(c.dtypes[i], c.rows[i], K, seed + 1 + uint32_t(i));
    want[i].assign(T * c.rows[i], NAN);
    got[i].assign(T * c.rows[i], NAN);  // an output the group skipped stays NaN and fails
    parts[i] = {w[i].data(), c.dtypes[i], c.rows[i], got[i].data()};
  }
  // Trap: `fast` keeps x quantized in a scratch, so a group run right after MatMuls of the same x would pass
  // even if it never quantized x itself. A product of another input first leaves other values there.
  const std::vector<float> other_x = RandomFloats(T * K, seed + 100);
  std::vector<float> other_out(T * c.rows[0]);
  for (size_t threads : {1, 2, 3}) {
    ops::SetNumThreads(threads);
    ops::MatMul(other_x.data(), T, K, w[0].data(), c.dtypes[0], c.rows[0], other_out.data(), numerics);
    ops::MatMulGroup(x.data(), T, K, parts.data(), n, numerics);
    for (size_t i = 0; i < n; ++i)
      ops::MatMul(x.data(), T, K, w[i].data(), c.dtypes[i], c.rows[i], want[i].data(), numerics);
    for (size_t i = 0; i < n; ++i) {
      INFO("part " << i << " " << DTypeName(c.dtypes[i]) << " N=" << c.rows[i] << " T=" << T << " threads "
                   << threads << " " << ops::NumericsName(numerics));
      REQUIRE(SameBits(got[i], want[i]));
    }
  }
}
}  // namespace

TEST_CASE("MatMulGroup gives the bits of one MatMul per part: every dtype, mixed, exact and fast", "[numerics][ops]") {
  const size_t threads = ops::Pool().NumThreads();
  const size_t K = 256;  // one K-quant super-block, 8 Q8_0 blocks
  std::vector<GroupCase> cases;
  for (DType t : {DType::F32, DType::BF16, DType::F16, DType::Q8_0, DType::Q4_0, DType::Q5_0, DType::Q4_K, DType::Q5_K,
                  DType::Q6_K})
    cases.push_back({{t, t, t}, {260, 36, 37}});  // q/k/v-like: task ranges cross the part boundaries
  const std::vector<DType> mixed = {DType::Q4_K, DType::BF16, DType::Q8_0, DType::F32, DType::Q6_K,
                                    DType::F16,  DType::Q4_0, DType::Q5_K, DType::Q5_0};
  cases.push_back({mixed, {44, 37, 300, 5, 21, 9, 64, 3, 40}});
  for (ops::Numerics numerics : {ops::Numerics::kExact, ops::Numerics::kFast})
    for (size_t T : {1, 3, 7, 64})
      ForEachFastPath([&] {
        for (size_t i = 0; i < cases.size(); ++i) CheckGroupEqualsSeparate(cases[i], T, K, numerics, uint32_t(T * 100 + i));
      });
  ops::SetNumThreads(threads);
}

TEST_CASE("MatMulGroup checks every part before it runs any, and offers each part to a device", "[numerics][ops]") {
  const size_t T = 2, K = 48;  // not a whole number of Q8_0 blocks
  const std::vector<float> x = RandomFloats(T * K, 3), wf = RandomFloats(8 * K, 4);
  std::vector<uint8_t> wq(8 * 34 * 2);
  std::vector<float> a(T * 8, NAN), b(T * 8, NAN);
  ops::MatMulPart parts[] = {{wf.data(), DType::F32, 8, a.data()}, {wq.data(), DType::Q8_0, 8, b.data()}};
  CHECK_THROWS_WITH(ops::MatMulGroup(x.data(), T, K, parts, 2), Catch::Contains("Q8_0"));
  for (float v : a) REQUIRE(std::isnan(v));  // nothing half-written
  parts[1] = {wq.data(), DType::F64, 8, b.data()};
  CHECK_THROWS_WITH(ops::MatMulGroup(x.data(), T, K, parts, 2), Catch::Contains("F64"));

  // A device that declines every MatMul but counts the offers: each part is offered once, then runs here.
  static int offers = 0;
  ops::DeviceOps counting;
  counting.name = "counting";
  counting.matmul = [](const float*, size_t, size_t, const void*, DType, size_t, float*) {
    ++offers;
    return false;
  };
  const std::vector<float> w2 = RandomFloats(8 * K, 5);
  std::vector<float> want(T * 8);
  ops::MatMul(x.data(), T, K, w2.data(), DType::F32, 8, want.data());
  ops::MatMulPart two[] = {{wf.data(), DType::F32, 8, a.data()}, {w2.data(), DType::F32, 8, b.data()}};
  ops::SetDevice(&counting);
  ops::MatMulGroup(x.data(), T, K, two, 2);
  ops::SetDevice(nullptr);
  CHECK(offers == 2);
  CHECK(SameBits(b, want));
}
