// tests/test_cuda.cpp — the CUDA backend (ops/cuda/) against the CPU ops, on a machine with an NVIDIA GPU.
// Built only when CMake/Meson find nvcc; exits 77 (skipped) with one line when no device is usable.
//
//   test_cuda                       every kernel on random inputs, through the same ops:: calls the blocks
//                                   make, device on vs off: bit-equal where the GPU rounds the same operations
//                                   in the same order (Scale, AddScaled, Copy, Rope, ToF32, Argmax), else the
//                                   f32 tier's kind of bound (1e-4 of the output's scale); and decode = prefill
//                                   on the GPU bit for bit (MatMul rows, attention queries, one at a time or all).
//   test_cuda --golden EVAL RUN DIR gemma4-eval golden --device cuda on every golden under DIR (targets and
//                                   drafters), and gemma4-run --device cuda: speculative greedy = plain greedy.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include <sys/wait.h>

#include "ops/ops.h"
#include "ops/cuda/cuda.h"

using namespace gemma4;
using ops::DType;

namespace {

int failures = 0;
const ops::DeviceOps* gpu = nullptr;

template <class T>
using Buf = ops::Buffer<T>;

// A buffer on the GPU (managed memory) holding a copy of v.
template <class T>
Buf<T> OnGpu(const std::vector<T>& v) {
  ops::SetDevice(gpu);
  Buf<T> b(v.begin(), v.end());
  ops::SetDevice(nullptr);
  return b;
}

std::vector<float> Random(size_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, scale);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

// Runs f with the device on (GPU) or off (CPU).
template <class F>
void OnDevice(bool on, F f) {
  ops::SetDevice(on ? gpu : nullptr);
  f();
  ops::SetDevice(nullptr);
}

template <class A, class B>
void Expect(const std::string& what, const A& cpu, const B& got, bool bits) {
  double max_ref = 1.0, max_err = 0.0;
  size_t differ = 0;
  for (size_t i = 0; i < cpu.size(); ++i) {
    max_ref = std::fmax(max_ref, std::fabs(double(cpu[i])));
    const double e = std::fabs(double(cpu[i]) - double(got[i]));
    if (!(e <= max_err)) max_err = std::isnan(e) ? INFINITY : e;
    if (std::memcmp(&cpu[i], &got[i], sizeof(cpu[i])) != 0) ++differ;
  }
  const bool ok = cpu.size() == got.size() && (bits ? differ == 0 : max_err <= 1e-4 * max_ref);
  std::printf("%s %-44s max |gpu − cpu| %.3g (scale %.3g), %zu of %zu differ in bits%s\n", ok ? "ok  " : "FAIL",
              what.c_str(), max_err, max_ref, differ, cpu.size(), bits ? " (must be 0)" : "");
  if (!ok) ++failures;
}

// Weight rows [N,K] of random values stored as t.
std::vector<uint8_t> Weights(size_t N, size_t K, DType t, uint32_t seed) {
  const std::vector<float> w = Random(N * K, seed, 0.1f);
  std::vector<uint8_t> out(N * ops::RowBytes(t, K));
  for (size_t n = 0; n < N; ++n) {
    uint8_t* row = out.data() + n * ops::RowBytes(t, K);
    for (size_t k = 0; k < K; ++k) {
      if (t == DType::F32) std::memcpy(row + 4 * k, &w[n * K + k], 4);
      if (t == DType::BF16) { const uint16_t b = ops::BF16FromF32(w[n * K + k]); std::memcpy(row + 2 * k, &b, 2); }
      if (t == DType::F16) { const uint16_t h = ops::F16FromF32(w[n * K + k]); std::memcpy(row + 2 * k, &h, 2); }
    }
    if (ops::IsBlockType(t)) ops::scalar::QuantizeRow(w.data() + n * K, t, K, row);
  }
  return out;
}

void TestMatMul() {
  const size_t T = 7, K = 256, N = 96;
  const std::vector<float> x = Random(T * K, 1);
  for (DType t : {DType::F32, DType::BF16, DType::F16, DType::Q8_0, DType::Q4_0}) {
    const std::vector<uint8_t> w = Weights(N, K, t, 2);
    std::vector<float> cpu(T * N);
    ops::MatMul(x.data(), T, K, w.data(), t, N, cpu.data());
    // weights from host memory (copied to the device on first use, as a mapped checkpoint's are)
    Buf<float> gx = OnGpu(x), prefill = OnGpu(std::vector<float>(T * N)), decode = OnGpu(std::vector<float>(T * N));
    OnDevice(true, [&] {
      ops::MatMul(gx.data(), T, K, w.data(), t, N, prefill.data());
      for (size_t r = 0; r < T; ++r) ops::MatMul(gx.data() + r * K, 1, K, w.data(), t, N, decode.data() + r * N);
    });
    const std::string name = std::string("MatMul ") + ops::DTypeName(t);
    Expect(name + " vs CPU", cpu, prefill, false);
    Expect(name + " decode = prefill", prefill, decode, true);
    ops::ForgetDeviceCopies(w.data(), w.size());  // w is freed next: its address may hold other weights
  }
}

void TestToF32() {
  const size_t n = 512;
  for (DType t : {DType::F32, DType::BF16, DType::F16, DType::Q8_0, DType::Q4_0}) {
    const std::vector<uint8_t> w = Weights(1, n, t, 3);
    std::vector<float> cpu(n);
    ops::ToF32(w.data(), t, n, 39.25f, cpu.data());
    Buf<uint8_t> gw = OnGpu(w);  // a table already on the device: the gather runs there
    Buf<float> got = OnGpu(std::vector<float>(n));
    OnDevice(true, [&] { ops::ToF32(gw.data(), t, n, 39.25f, got.data()); });
    Expect(std::string("ToF32 (embedding gather) ") + ops::DTypeName(t), cpu, got, true);
  }
}

void TestElementwise() {
  const size_t rows = 5, n = 1536;
  const std::vector<float> x = Random(rows * n, 4), y = Random(rows * n, 5), w = Random(n, 6, 0.5f);
  for (bool with_weight : {true, false}) {
    std::vector<float> cpu(rows * n);
    ops::RMSNorm(x.data(), rows, n, with_weight ? w.data() : nullptr, 1e-6f, cpu.data());
    Buf<float> gx = OnGpu(x), got = OnGpu(std::vector<float>(rows * n));
    OnDevice(true, [&] { ops::RMSNorm(gx.data(), rows, n, with_weight ? w.data() : nullptr, 1e-6f, got.data()); });
    Expect(with_weight ? "RMSNorm with weight" : "RMSNorm without weight", cpu, got, false);
  }
  struct Case {
    const char* name;
    bool bits;
    void (*op)(float* x, const float* y, size_t n);
  };
  const Case cases[] = {
      {"GeluTanhMul", false, [](float* a, const float* b, size_t m) { ops::GeluTanhMul(a, b, m); }},
      {"GeluTanh (no y)", false, [](float* a, const float*, size_t m) { ops::GeluTanhMul(a, nullptr, m); }},
      {"Softcap 30", false, [](float* a, const float*, size_t m) { ops::Softcap(a, m, 30.0f); }},
      {"AddScaled", true, [](float* a, const float* b, size_t m) { ops::AddScaled(a, b, 0.37f, m); }},
      {"Scale", true, [](float* a, const float*, size_t m) { ops::Scale(a, m, 0.7071f); }},
      {"Copy", true, [](float* a, const float* b, size_t m) { ops::Copy(a, b, m); }},
      {"Softmax (one row of 128)", false, [](float* a, const float*, size_t) { ops::Softmax(a, 128); }},
  };
  for (const Case& c : cases) {
    std::vector<float> cpu = x;
    std::vector<float> scaled(x.size());
    for (size_t i = 0; i < x.size(); ++i) scaled[i] = x[i] * 20.0f;  // softcap needs values near the cap
    if (std::string(c.name).rfind("Softcap", 0) == 0) cpu = scaled;
    Buf<float> got = OnGpu(cpu), gy = OnGpu(y);
    c.op(cpu.data(), y.data(), cpu.size());
    OnDevice(true, [&] { c.op(got.data(), gy.data(), got.size()); });
    Expect(c.name, cpu, got, c.bits);
  }
  std::vector<float> logits = Random(262144, 7);
  logits[200000] = logits[100] = 9.0f;  // a tie: the first index wins
  Buf<float> gl = OnGpu(logits);
  size_t g = 0;
  OnDevice(true, [&] { g = ops::Argmax(gl.data(), gl.size()); });
  Expect("Argmax (tie: first index)", std::vector<float>{float(ops::Argmax(logits.data(), logits.size()))},
         std::vector<float>{float(g)}, true);
}

void TestRope() {
  const size_t T = 3, H = 4, D = 64, pairs = 8;  // proportional: 8 of 32 pairs rotate
  const std::vector<float> x = Random(T * H * D, 8), ang = Random(T * pairs, 9);
  std::vector<float> c(T * pairs), s(T * pairs);
  for (size_t i = 0; i < ang.size(); ++i) c[i] = std::cos(ang[i]), s[i] = std::sin(ang[i]);
  std::vector<float> cpu = x;
  ops::Rope(cpu.data(), T, H, D, c.data(), s.data(), pairs);
  Buf<float> got = OnGpu(x), gc = OnGpu(c), gs = OnGpu(s);
  OnDevice(true, [&] { ops::Rope(got.data(), T, H, D, gc.data(), gs.data(), pairs); });
  Expect("Rope (partial, 8 of 32 pairs)", cpu, got, true);
}

// Sliding (a ring of two blocks, window 6) and full attention, GQA 8 heads on 2 KV heads; prefill of T
// queries vs T single-query calls over the same store.
void TestAttention() {
  const size_t nH = 8, KV = 2, D = 64, ctx = 20, T = 5;
  const std::vector<float> q = Random(T * nH * D, 10), k = Random(ctx * KV * D, 11), v = Random(ctx * KV * D, 12);
  Buf<float> gq = OnGpu(q), gk = OnGpu(k), gv = OnGpu(v);
  for (size_t window : {size_t(0), size_t(6)}) {
    // sliding: a ring of 12 slots holding positions 8..19, wrapped as gemma4/cache.h stores them: 8..11 in
    // slots 8..11 (the ring's end), 12..19 in slots 0..7 (its start)
    auto blocks = [&](const float* K, const float* V, ops::KVBlock* b) {
      if (!window) {
        b[0] = {K, V, 0, ctx};
        return size_t(1);
      }
      b[0] = {K + 8 * KV * D, V + 8 * KV * D, 8, 4};
      b[1] = {K, V, 12, 8};
      return size_t(2);
    };
    ops::KVBlock cb[2], gb[2];
    const size_t nb = blocks(k.data(), v.data(), cb), gnb = blocks(gk.data(), gv.data(), gb);
    const size_t pos0 = ctx - T;
    std::vector<float> cpu(T * nH * D);
    ops::Attention(q.data(), T, nH, D, pos0, cb, nb, KV, window, 1.0f, cpu.data());
    Buf<float> prefill = OnGpu(std::vector<float>(T * nH * D)), decode = OnGpu(std::vector<float>(T * nH * D));
    OnDevice(true, [&] {
      ops::Attention(gq.data(), T, nH, D, pos0, gb, gnb, KV, window, 1.0f, prefill.data());
      for (size_t t = 0; t < T; ++t)
        ops::Attention(gq.data() + t * nH * D, 1, nH, D, pos0 + t, gb, gnb, KV, window, 1.0f,
                       decode.data() + t * nH * D);
    });
    const std::string name = window ? "Attention sliding (ring, W 6)" : "Attention full";
    Expect(name + " vs CPU", cpu, prefill, false);
    Expect(name + " decode = prefill", prefill, decode, true);
  }
}

int Run(const std::string& cmd) {
  std::printf("$ %s\n", cmd.c_str());
  std::fflush(stdout);
  const int status = std::system(cmd.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

// Every golden through gemma4-eval golden --device cuda, and speculative greedy = plain greedy on the GPU.
int Goldens(const std::string& eval, const std::string& run, const std::string& dir) {
  const char* targets[] = {"e2b_like", "dense_31b_like", "moe_26b_like", "unified_12b_like", "trained_e2b",
                           "trained_moe"};
  const char* drafters[][2] = {{"assistant", "e2b_like"}, {"assistant_31b", "dense_31b_like"},
                               {"assistant_12b", "unified_12b_like"}, {"trained_e2b-assistant", "trained_e2b"}};
  for (const char* t : targets)
    if (Run(eval + " golden --device cuda -m " + dir + "/" + t) != 0) ++failures;
  for (const auto& d : drafters)
    if (Run(eval + " golden --device cuda -m " + dir + "/" + d[1] + " --draft " + dir + "/" + d[0]) != 0) ++failures;
  // greedy (gemma4-run's default sampling); the first line of output is the ids, the drafter's statistics follow
  const std::string common = run + " --device cuda -m " + dir + "/trained_e2b --raw -n 40 --print-ids -p 'And God said'";
  const std::string plain = "gemma4_cuda_plain.txt", spec = "gemma4_cuda_spec.txt";
  if (Run(common + " 2>/dev/null | head -1 > " + plain) != 0 ||
      Run(common + " --draft " + dir + "/trained_e2b-assistant --draft-max 3 2>/dev/null | head -1 > " + spec) != 0 ||
      Run("test -s " + plain + " && cmp " + plain + " " + spec) != 0)
    ++failures;
  return failures;
}

}  // namespace

int main(int argc, char** argv) {
  std::string why;
  gpu = ops::cuda::Device(&why);
  if (!gpu) {
    std::printf("SKIP: no CUDA device found (%s)\n", why.c_str());
    return 77;
  }
  if (argc == 5 && std::string(argv[1]) == "--golden") {
    Goldens(argv[2], argv[3], argv[4]);
  } else {
    TestMatMul();
    TestToF32();
    TestElementwise();
    TestRope();
    TestAttention();
  }
  std::printf("%s: %d failure%s\n", failures ? "FAIL" : "PASS", failures, failures == 1 ? "" : "s");
  return failures ? 1 : 0;
}
