// Kernels against their scalar twins, on every SIMD target this build carries, over sizes around vector
// multiples and the real model dimensions; plus the properties the model relies on (a token's MatMul row
// does not depend on the other rows or the thread count; exact dtype conversions).
#include "gemma4/gemma4.h"  // first: ops/ops.h drives Highway's per-target compilation

#include <atomic>
#include <cmath>
#include <cstring>
#include <random>
#include <thread>
#include <vector>

#include "tests/test_util.h"

using namespace gemma4;
using gemma4::test::ForEachTarget;
using gemma4::test::RandomFloats;
using gemma4::test::Quantized;
using gemma4::test::RandomKQuantRows;
using gemma4::test::StoreAs;

namespace {

// |ours − ref| ≤ abs + rel·|ref|, element by element.
void CheckClose(const float* ours, const float* ref, size_t n, double abs, double rel) {
  for (size_t i = 0; i < n; ++i) {
    INFO("element " << i << " of " << n);
    REQUIRE(std::fabs(double(ours[i]) - double(ref[i])) <= abs + rel * std::fabs(double(ref[i])));
  }
}

const std::vector<size_t> kSizes = {1, 2, 3, 7, 8, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 256, 704};

}  // namespace

TEST_CASE("the build carries AVX-512, AVX2 and a portable target on x86-64", "[ops]") {
#if HWY_ARCH_X86_64
  const auto targets = hwy::SupportedAndGeneratedTargets();
  bool has_fallback = false;
  for (int64_t t : targets) has_fallback |= (t == HWY_SCALAR || t == HWY_EMU128);
  CHECK(has_fallback);
  // This machine class has AVX-512; elsewhere at least AVX2 or the fallback must be chosen.
  if (hwy::SupportedTargets() & HWY_AVX3) CHECK(std::string(ops::TargetName()).rfind("AVX3", 0) == 0);
#endif
}

TEST_CASE("bf16 and f16 conversions round to nearest even and widen exactly", "[ops]") {
  CHECK(ops::BF16FromF32(1.0f) == 0x3F80);
  CHECK(ops::BF16FromF32(ops::F32FromBits(0x3F808000)) == 0x3F80);  // tie → even
  CHECK(ops::BF16FromF32(ops::F32FromBits(0x3F818000)) == 0x3F82);  // tie → even (up)
  CHECK(ops::BF16FromF32(ops::F32FromBits(0x3F808001)) == 0x3F81);
  CHECK(std::isnan(ops::F32FromBF16(ops::BF16FromF32(NAN))));
  CHECK(ops::F16FromF32(1.0f) == 0x3C00);
  CHECK(ops::F16FromF32(65504.0f) == 0x7BFF);
  CHECK(ops::F16FromF32(65520.0f) == 0x7C00);                     // rounds up to Inf
  CHECK(ops::F32FromF16(0x0001) == std::ldexp(1.0f, -24));        // smallest subnormal
  CHECK(ops::F16FromF32(std::ldexp(1.0f, -25)) == 0x0000);        // tie → even (zero)
  CHECK(ops::F16FromF32(std::ldexp(3.0f, -25)) == 0x0002);        // 1.5 ulp → 2
  for (uint32_t h = 0; h < 0x7C00; ++h) {                          // every finite positive half round-trips
    REQUIRE(ops::F16FromF32(ops::F32FromF16(uint16_t(h))) == h);
  }
}

TEST_CASE("MatMul matches the scalar oracle for every weight dtype and target", "[ops]") {
  for (DType t : {DType::F32, DType::BF16, DType::F16}) {
    for (size_t K : kSizes) {
      const size_t T = 1 + K % 6, N = 1 + (K * 7) % 13;
      const std::vector<float> x = RandomFloats(T * K, uint32_t(K));
      std::vector<float> w_exact;
      const std::vector<uint8_t> w = StoreAs(RandomFloats(N * K, uint32_t(K) + 1, 0.1f), t, &w_exact);
      std::vector<float> ref(T * N), out(T * N);
      ops::scalar::MatMul(x.data(), T, K, w.data(), t, N, ref.data());
      ForEachTarget([&] {
        INFO("dtype " << DTypeName(t) << " T=" << T << " K=" << K << " N=" << N);
        ops::MatMul(x.data(), T, K, w.data(), t, N, out.data());
        // f32 accumulation of K products of size ~0.1: error ≲ K·ε·Σ|x·w|
        CheckClose(out.data(), ref.data(), T * N, 1e-6 * double(K), 1e-5);
      });
    }
  }
}

TEST_CASE("MatMul: a token's row does not depend on the other rows or the thread count", "[ops]") {
  const size_t K = 320, N = 67, T = 21;  // T ≥ ops::kMatMulPanelMinTokens: the batch goes through panels
  REQUIRE(T >= ops::kMatMulPanelMinTokens);
  const std::vector<float> x = RandomFloats(T * K, 5);
  std::vector<float> w_exact;
  const std::vector<uint8_t> w = StoreAs(RandomFloats(N * K, 6, 0.1f), DType::BF16, &w_exact);
  std::vector<float> all(T * N), one(N);
  ForEachTarget([&] {
    ops::MatMul(x.data(), T, K, w.data(), DType::BF16, N, all.data());
    for (size_t t = 0; t < T; ++t) {
      ops::MatMul(x.data() + t * K, 1, K, w.data(), DType::BF16, N, one.data());
      REQUIRE(std::memcmp(one.data(), all.data() + t * N, N * sizeof(float)) == 0);
    }
    const size_t threads = ops::Pool().NumThreads();
    ops::SetNumThreads(1);
    std::vector<float> single(T * N);
    ops::MatMul(x.data(), T, K, w.data(), DType::BF16, N, single.data());
    ops::SetNumThreads(threads);
    REQUIRE(std::memcmp(single.data(), all.data(), all.size() * sizeof(float)) == 0);
  });
}

TEST_CASE("Q8_0 and Q4_0 MatMul match the oracle and equal the f32 MatMul of the dequantized weights", "[ops][quant]") {
  for (DType t : {DType::Q8_0, DType::Q4_0}) {
    for (size_t K : {32, 64, 96, 160, 256, 512, 1536, 2112, 4096}) {
      for (size_t T : {1, 3, 17}) {
        const size_t N = 1 + (K / 32 * 6) % 14;  // odd, 1..13: full 4-row tiles and leftovers
        const std::vector<float> x = RandomFloats(T * K, uint32_t(K + T));
        const std::vector<uint8_t> w = Quantized(t, N, K, uint32_t(K) + 1, 0.1f);
        std::vector<float> w_f32(N * K);
        ops::scalar::DequantizeRow(w.data(), t, N * K, w_f32.data());
        std::vector<float> ref(T * N), out(T * N), out_f32(T * N);
        ops::scalar::MatMul(x.data(), T, K, w.data(), t, N, ref.data());
        ForEachTarget([&] {
          INFO("dtype " << DTypeName(t) << " T=" << T << " K=" << K << " N=" << N);
          ops::MatMul(x.data(), T, K, w.data(), t, N, out.data());
          CheckClose(out.data(), ref.data(), T * N, 1e-6 * double(K), 1e-5);  // as for f32/bf16/f16 above
          // Dequantized weights are exact in f32 and enter the same accumulators in the same order.
          ops::MatMul(x.data(), T, K, w_f32.data(), DType::F32, N, out_f32.data());
          REQUIRE(std::memcmp(out.data(), out_f32.data(), out.size() * sizeof(float)) == 0);
        });
      }
    }
  }
}

TEST_CASE("Q4_0 MatMul: a token's row does not depend on the other rows or the thread count", "[ops][quant]") {
  const size_t K = 320, N = 67, T = 21;  // as above: the batch widens panels, a single token does not
  REQUIRE(T >= ops::kMatMulPanelMinTokens);
  const std::vector<float> x = RandomFloats(T * K, 15);
  const std::vector<uint8_t> w = Quantized(DType::Q4_0, N, K, 16, 0.1f);
  std::vector<float> all(T * N), one(N), single(T * N);
  ForEachTarget([&] {
    ops::MatMul(x.data(), T, K, w.data(), DType::Q4_0, N, all.data());
    for (size_t t = 0; t < T; ++t) {
      ops::MatMul(x.data() + t * K, 1, K, w.data(), DType::Q4_0, N, one.data());
      REQUIRE(std::memcmp(one.data(), all.data() + t * N, N * sizeof(float)) == 0);
    }
    const size_t threads = ops::Pool().NumThreads();
    ops::SetNumThreads(1);
    ops::MatMul(x.data(), T, K, w.data(), DType::Q4_0, N, single.data());
    ops::SetNumThreads(threads);
    REQUIRE(std::memcmp(single.data(), all.data(), all.size() * sizeof(float)) == 0);
  });
}

TEST_CASE("MatMul prefill through weight panels equals decode bit for bit, every dtype, target and thread count",
          "[ops][quant]") {
  // T ≥ kMatMulPanelMinTokens takes each thread's rows a panel at a time (block types widened once to f32,
  // plain dtypes read in place); T = 1 reads the stored rows directly. Sizes: T odd (4-token tiles and a
  // tail of 3), N = 75 (no multiple of 4 or of a panel), K of ~8192 so a panel is only 4–8 rows and every
  // task of either thread count spans several panels, the last one partial; plain dtypes get a k tail of 3.
  const size_t T = 19, N = 75;
  REQUIRE(T >= ops::kMatMulPanelMinTokens);
  for (DType t : {DType::F32, DType::BF16, DType::F16, DType::Q8_0, DType::Q4_0, DType::Q5_0, DType::Q4_K, DType::Q5_K,
                  DType::Q6_K}) {
    const bool block = ops::IsBlockType(t);
    const size_t K = block ? 8192 : 8195;
    REQUIRE(ops::MatMulPanelRows(K) <= 8);
    const std::vector<float> x = RandomFloats(T * K, uint32_t(K) + 3);
    std::vector<float> w_exact;
    const std::vector<uint8_t> w =
        t == DType::Q8_0 || t == DType::Q4_0 ? Quantized(t, N, K, 41, 0.1f)
        : block                              ? RandomKQuantRows(t, N, K, 42)
                                             : StoreAs(RandomFloats(N * K, 43, 0.1f), t, &w_exact);
    if (block) {
      w_exact.resize(N * K);
      ops::scalar::DequantizeRow(w.data(), t, N * K, w_exact.data());
    }
    // The double-precision oracle, and the worst case of K f32 roundings of Σ|x·w| around it.
    std::vector<float> ref(T * N), all(T * N), one(N), single(T * N);
    std::vector<double> bound(T * N);
    ops::scalar::MatMul(x.data(), T, K, w.data(), t, N, ref.data());
    for (size_t i = 0; i < T; ++i)
      for (size_t n = 0; n < N; ++n) {
        double abs_sum = 0;
        for (size_t k = 0; k < K; ++k) abs_sum += std::fabs(double(x[i * K + k]) * double(w_exact[n * K + k]));
        bound[i * N + n] = double(K) * 6e-8 * abs_sum;
      }
    ForEachTarget([&] {
      INFO("dtype " << DTypeName(t) << " T=" << T << " K=" << K << " N=" << N);
      ops::MatMul(x.data(), T, K, w.data(), t, N, all.data(), ops::Numerics::kExact);
      for (size_t e = 0; e < T * N; ++e) REQUIRE(std::fabs(double(all[e]) - double(ref[e])) <= bound[e]);
      for (size_t i = 0; i < T; ++i) {
        INFO("token " << i);
        ops::MatMul(x.data() + i * K, 1, K, w.data(), t, N, one.data(), ops::Numerics::kExact);
        REQUIRE(std::memcmp(one.data(), all.data() + i * N, N * sizeof(float)) == 0);
      }
      const size_t threads = ops::Pool().NumThreads();
      ops::SetNumThreads(1);
      ops::MatMul(x.data(), T, K, w.data(), t, N, single.data(), ops::Numerics::kExact);
      ops::SetNumThreads(threads);
      REQUIRE(std::memcmp(single.data(), all.data(), all.size() * sizeof(float)) == 0);
    });
  }
}

TEST_CASE("ToF32 dequantizes every block type exactly like the scalar twin, on every target", "[ops][quant]") {
  std::mt19937 rng(3);
  for (DType t : {DType::Q8_0, DType::Q4_0, DType::Q5_0, DType::Q4_K, DType::Q5_K, DType::Q6_K}) {
    const size_t n = 4 * 256;
    // Any bytes are a valid block except for the f16 scales; make those finite (and of mixed sign).
    std::vector<uint8_t> blocks(ops::RowBytes(t, n));
    for (uint8_t& b : blocks) b = uint8_t(rng());
    for (size_t ib = 0; ib < n / ops::BlockSize(t); ++ib) {
      uint8_t* b = blocks.data() + ib * ops::BlockBytes(t);
      for (size_t off : t == DType::Q6_K ? std::vector<size_t>{208} : t == DType::Q4_K || t == DType::Q5_K
                                               ? std::vector<size_t>{0, 2} : std::vector<size_t>{0}) {
        const uint16_t h = ops::F16FromF32(std::normal_distribution<float>(0.0f, 0.01f)(rng));
        std::memcpy(b + off, &h, 2);
      }
    }
    for (float scale : {1.0f, 39.25f}) {
      std::vector<float> ref(n), out(n);
      ops::scalar::ToF32(blocks.data(), t, n, scale, ref.data());
      ForEachTarget([&] {
        INFO("dtype " << DTypeName(t) << " scale " << scale);
        std::fill(out.begin(), out.end(), NAN);
        ops::ToF32(blocks.data(), t, n, scale, out.data());
        REQUIRE(std::memcmp(out.data(), ref.data(), n * sizeof(float)) == 0);
        // One row of an embedding table at an odd block offset (rows are read in place).
        ops::ToF32(blocks.data() + ops::RowBytes(t, 256), t, 256, scale, out.data());
        REQUIRE(std::memcmp(out.data(), ref.data() + 256, 256 * sizeof(float)) == 0);
      });
    }
  }
}

TEST_CASE("block-type MatMul and ToF32 reject what they cannot do, naming the type", "[ops][quant]") {
  const std::vector<uint8_t> w = Quantized(DType::Q8_0, 2, 64, 1, 1.0f);
  std::vector<float> x(64, 1.0f), out(4);
  CHECK_THROWS_WITH(ops::MatMul(x.data(), 1, 48, w.data(), DType::Q8_0, 2, out.data()), Catch::Contains("Q8_0"));
  CHECK_THROWS_WITH(ops::MatMul(x.data(), 1, 128, w.data(), DType::Q4_K, 1, out.data()),
                    Catch::Contains("Q4_K needs a multiple of 256"));
  CHECK_THROWS_WITH(ops::MatMul(x.data(), 1, 48, w.data(), DType::Q4_0, 1, out.data(), ops::Numerics::kFast),
                    Catch::Contains("Q4_0"));
  CHECK_THROWS_WITH(ops::MatMul(x.data(), 1, 64, w.data(), DType::I8, 1, out.data()), Catch::Contains("I8"));
  CHECK_THROWS_WITH(ops::ToF32(w.data(), DType::Q4_0, 40, 1.0f, x.data()), Catch::Contains("Q4_0"));
  CHECK_THROWS_WITH(ops::ToF32(w.data(), DType::Q6_K, 64, 1.0f, x.data()), Catch::Contains("Q6_K"));
}

TEST_CASE("RMSNorm matches the oracle, with and without a weight, in place", "[ops]") {
  for (size_t n : kSizes) {
    const size_t rows = 3;
    const std::vector<float> x = RandomFloats(rows * n, uint32_t(n), 3.0f), w = RandomFloats(n, 99);
    for (const float* weight : {w.data(), static_cast<const float*>(nullptr)}) {
      std::vector<float> ref(rows * n);
      ops::scalar::RMSNorm(x.data(), rows, n, weight, 1e-6f, ref.data());
      ForEachTarget([&] {
        std::vector<float> y = x;
        ops::RMSNorm(y.data(), rows, n, weight, 1e-6f, y.data());
        CheckClose(y.data(), ref.data(), rows * n, 1e-6, 2e-6);
      });
    }
  }
  // the weight is used as stored: Gemma 4 dropped Gemma 2/3's (1 + w)
  const float x[4] = {1, 1, 1, 1}, w[4] = {0.5f, 0, 2, -1};
  float y[4];
  ops::RMSNorm(x, 1, 4, w, 0.0f, y);
  CHECK(y[0] == Approx(0.5f));
  CHECK(y[1] == 0.0f);
  CHECK(y[3] == Approx(-1.0f));
}

TEST_CASE("element-wise kernels match the oracle", "[ops]") {
  for (size_t n : kSizes) {
    const std::vector<float> x = RandomFloats(n, uint32_t(n), 4.0f), y = RandomFloats(n, uint32_t(n) + 7);
    ForEachTarget([&] {
      std::vector<float> a = x, b = x;
      ops::GeluTanhMul(a.data(), y.data(), n);
      ops::scalar::GeluTanhMul(b.data(), y.data(), n);
      CheckClose(a.data(), b.data(), n, 1e-6, 1e-5);
      a = x, b = x;
      ops::GeluTanhMul(a.data(), nullptr, n);
      ops::scalar::GeluTanhMul(b.data(), nullptr, n);
      CheckClose(a.data(), b.data(), n, 1e-6, 1e-5);
      a = x, b = x;
      ops::Softcap(a.data(), n, 3.0f);
      ops::scalar::Softcap(b.data(), n, 3.0f);
      CheckClose(a.data(), b.data(), n, 1e-6, 1e-5);
      a = x, b = x;
      ops::Softmax(a.data(), n);
      ops::scalar::Softmax(b.data(), n);
      CheckClose(a.data(), b.data(), n, 1e-7, 1e-5);
      a = x, b = x;
      ops::AddScaled(a.data(), y.data(), 0.3f, n);
      ops::scalar::AddScaled(b.data(), y.data(), 0.3f, n);
      CheckClose(a.data(), b.data(), n, 1e-6, 1e-6);
      CHECK(ops::Argmax(x.data(), n) == ops::scalar::Argmax(x.data(), n));
    });
  }
  // GELU-tanh at known points (PyTorch gelu(approximate="tanh"))
  float g[3] = {1.0f, -1.0f, 3.0f};
  ops::GeluTanhMul(g, nullptr, 3);
  CHECK(g[0] == Approx(0.8411920).epsilon(1e-6));
  CHECK(g[1] == Approx(-0.1588080).epsilon(1e-5));
  CHECK(g[2] == Approx(2.9963627).epsilon(1e-6));
  // argmax takes the first of equal maxima
  const float ties[5] = {1, 3, 2, 3, 0};
  CHECK(ops::Argmax(ties, 5) == 1);
}

TEST_CASE("RoPE matches the oracle — pairs beyond rotary_pairs are untouched", "[ops]") {
  for (size_t head_dim : {2, 16, 32, 34, 256, 512}) {
    const size_t T = 3, heads = 2, pairs = std::max<size_t>(1, head_dim / 8);
    const std::vector<float> x = RandomFloats(T * heads * head_dim, uint32_t(head_dim));
    const std::vector<float> c = RandomFloats(T * pairs, 1), s = RandomFloats(T * pairs, 2);
    std::vector<float> ref = x;
    ops::scalar::Rope(ref.data(), T, heads, head_dim, c.data(), s.data(), pairs);
    ForEachTarget([&] {
      std::vector<float> y = x;
      ops::Rope(y.data(), T, heads, head_dim, c.data(), s.data(), pairs);
      CheckClose(y.data(), ref.data(), y.size(), 1e-6, 1e-6);
      for (size_t r = 0; r < T * heads; ++r)
        for (size_t j = pairs; j < head_dim / 2; ++j) {
          REQUIRE(y[r * head_dim + j] == x[r * head_dim + j]);
          REQUIRE(y[r * head_dim + head_dim / 2 + j] == x[r * head_dim + head_dim / 2 + j]);
        }
    });
  }
}

TEST_CASE("attention matches the oracle, with windows, GQA and a wrapped ring", "[ops]") {
  const size_t D = 32, heads = 4, kv_heads = 2, T = 5, past = 11;
  const std::vector<float> q = RandomFloats(T * heads * D, 1);
  const std::vector<float> k = RandomFloats((past + T) * kv_heads * D, 2), v = RandomFloats((past + T) * kv_heads * D, 3);
  // positions 0..15 split as a ring would store them: [9..15] then [0..8]... given in position order
  const size_t split = 9;
  const ops::KVBlock two[2] = {{k.data(), v.data(), 0, split},
                               {k.data() + split * kv_heads * D, v.data() + split * kv_heads * D, split, past + T - split}};
  const ops::KVBlock one[1] = {{k.data(), v.data(), 0, past + T}};
  for (size_t window : {0, 1, 4, 8, 100}) {
    std::vector<float> ref(T * heads * D), out(T * heads * D), out1(T * heads * D);
    ops::scalar::Attention(q.data(), T, heads, D, past, one, 1, kv_heads, window, 1.0f, ref.data());
    ForEachTarget([&] {
      ops::Attention(q.data(), T, heads, D, past, two, 2, kv_heads, window, 1.0f, out.data());
      ops::Attention(q.data(), T, heads, D, past, one, 1, kv_heads, window, 1.0f, out1.data());
      CheckClose(out.data(), ref.data(), out.size(), 1e-6, 1e-5);
      REQUIRE(std::memcmp(out.data(), out1.data(), out.size() * sizeof(float)) == 0);  // layout-independent
    });
  }
  // window 1: a query sees only its own key, so the output is its own value row
  std::vector<float> out(T * heads * D);
  ops::Attention(q.data(), T, heads, D, past, one, 1, kv_heads, 1, 1.0f, out.data());
  for (size_t t = 0; t < T; ++t)
    for (size_t h = 0; h < heads; ++h)
      for (size_t d = 0; d < D; ++d)
        REQUIRE(out[(t * heads + h) * D + d] == v[((past + t) * kv_heads + h / 2) * D + d]);
}

TEST_CASE("the thread pool runs every task exactly once", "[ops]") {
  for (size_t threads : {1, 2, 3, 8}) {
    ops::ThreadPool pool(threads);
    for (size_t tasks : {0, 1, 5, 100}) {
      std::vector<std::atomic<int>> hits(tasks);
      pool.Run(tasks, [&](size_t i) { hits[i]++; });
      for (size_t i = 0; i < tasks; ++i) REQUIRE(hits[i] == 1);
    }
    pool.Resize(threads + 1);
    std::atomic<int> total{0};
    pool.Run(50, [&](size_t) { total++; });
    REQUIRE(total == 50);
  }
}

// The pool's hand-over (ops/threads.h): workers spin a while for the next job, then sleep. These runs go
// through both paths: back to back (the spinning hand-over) and with pauses longer than the spin (the
// condition variables), with Resize in between and two callers at once. ThreadSanitizer runs them in CI.
namespace {
// Runs `tasks` tasks that each write their own sums and checks every one, so a task run twice, skipped, or
// run with another job's function fails.
void RunAndCheck(ops::ThreadPool& pool, size_t tasks, size_t job) {
  std::vector<size_t> out(tasks, 0);
  pool.Run(tasks, [&](size_t i) { out[i] += job * 1000 + i; });
  for (size_t i = 0; i < tasks; ++i) REQUIRE(out[i] == job * 1000 + i);
}
}  // namespace

TEST_CASE("the thread pool: many back-to-back jobs, jobs after it slept, and Resize while idle", "[ops][threads]") {
  ops::ThreadPool pool(2);
  for (size_t threads : {2, 3, 1, 4, 2}) {
    pool.Resize(threads);
    REQUIRE(pool.NumThreads() == threads);
    for (size_t job = 0; job < 2000; ++job) RunAndCheck(pool, 1 + job % 9, job);
    for (size_t job = 0; job < 5; ++job) {  // longer than the spin: the workers and the caller sleep and wake
      std::this_thread::sleep_for(ops::ThreadPool::kSpin * 20);
      RunAndCheck(pool, 7, job);
    }
  }
  // A caller that waits for a slow task sleeps on the condition variable, and is woken by the worker.
  std::vector<size_t> out(2, 0);
  pool.Run(2, [&](size_t i) {
    if (i == 1) std::this_thread::sleep_for(ops::ThreadPool::kSpin * 20);
    out[i] = i + 1;
  });
  REQUIRE(out == std::vector<size_t>{1, 2});
}

TEST_CASE("the thread pool: two callers at once both get their own results", "[ops][threads]") {
  ops::ThreadPool pool(3);
  std::vector<size_t> failures(2, 0);
  auto caller = [&](size_t who) {
    for (size_t job = 0; job < 1500; ++job) {
      const size_t tasks = 2 + job % 11;
      std::vector<size_t> out(tasks, 0);
      pool.Run(tasks, [&](size_t i) { out[i] += who * 100000 + job * 100 + i; });
      for (size_t i = 0; i < tasks; ++i) failures[who] += out[i] != who * 100000 + job * 100 + i;
    }
  };
  std::thread other(caller, 1);
  caller(0);
  other.join();
  REQUIRE(failures == std::vector<size_t>{0, 0});
}

TEST_CASE("MatMul through the process pool gives the same bits at 1, 2 and 3 threads, job after job", "[ops][threads]") {
  const size_t threads = ops::Pool().NumThreads();
  const size_t T = 3, K = 512, N = 200;  // 5 tasks of 44 rows at 2 threads
  const std::vector<float> x = RandomFloats(T * K, 11), w = RandomFloats(N * K, 12);
  std::vector<float> want(T * N), got(T * N);
  ops::SetNumThreads(1);
  ops::MatMul(x.data(), T, K, w.data(), DType::F32, N, want.data());
  for (size_t n : {2, 3}) {
    ops::SetNumThreads(n);
    for (int rep = 0; rep < 200; ++rep) {
      std::fill(got.begin(), got.end(), 0.0f);
      ops::MatMul(x.data(), T, K, w.data(), DType::F32, N, got.data());
      REQUIRE(std::memcmp(got.data(), want.data(), got.size() * sizeof(float)) == 0);
    }
  }
  ops::SetNumThreads(threads);
}
