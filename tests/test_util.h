// tests/test_util.h — what several test files share: where the goldens are, temporary directories,
// running the target for every SIMD target the build carries.
#ifndef GEMMA4_TESTS_TEST_UTIL_H_
#define GEMMA4_TESTS_TEST_UTIL_H_

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "gemma4/gemma4.h"

namespace gemma4::test {

inline std::string SourceDir() { return GEMMA4_SOURCE_DIR; }
inline std::string GoldenDir() { return SourceDir() + "/golden"; }

// Target cases in golden/: directories with a golden.safetensors whose config is a target model.
inline std::vector<std::string> GoldenTargetCases() {
  std::vector<std::string> cases;
  DIR* dir = opendir(GoldenDir().c_str());
  REQUIRE(dir != nullptr);
  while (dirent* e = readdir(dir)) {
    const std::string name = e->d_name, path = GoldenDir() + "/" + name;
    if (name[0] == '.' || !IsFile(path + "/golden.safetensors") || !IsFile(path + "/config.json")) continue;
    const std::string type = ReadJsonFile(path + "/config.json").value("model_type", "");
    if (type == "gemma4_assistant" || type == "gemma4_unified_assistant") continue;
    cases.push_back(name);
  }
  closedir(dir);
  std::sort(cases.begin(), cases.end());
  return cases;
}

// n normal random floats (mean 0, standard deviation `scale`), the same for the same seed.
inline std::vector<float> RandomFloats(size_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

// Weights of a plain dtype (F32, BF16, F16) stored from `values`; in `exact` (if given) the f32 values the
// stored bytes hold.
inline std::vector<uint8_t> StoreAs(const std::vector<float>& values, DType t, std::vector<float>* exact = nullptr) {
  std::vector<uint8_t> bytes(values.size() * ops::DTypeSize(t));
  if (exact) exact->resize(values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    if (t == DType::F32) {
      std::memcpy(&bytes[4 * i], &values[i], 4);
    } else {
      const uint16_t h = t == DType::BF16 ? ops::BF16FromF32(values[i]) : ops::F16FromF32(values[i]);
      std::memcpy(&bytes[2 * i], &h, 2);
    }
    if (exact) (*exact)[i] = ops::scalar::ElementToF32(bytes.data(), t, i);
  }
  return bytes;
}

// llama.cpp's Q8_0 / Q4_0 rows of random weights (std ≈ scale), quantized by the reference quantizer.
inline std::vector<uint8_t> Quantized(DType t, size_t rows, size_t K, uint32_t seed, float scale) {
  const std::vector<float> w = RandomFloats(rows * K, seed, scale);
  std::vector<uint8_t> q(rows * ops::RowBytes(t, K));
  ops::scalar::QuantizeRow(w.data(), t, rows * K, q.data());
  return q;
}

// Random K-quant rows: random quants and packed sub-block scales, f16 super-block scales of a sane size.
inline std::vector<uint8_t> RandomKQuantRows(DType t, size_t rows, size_t K, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> bytes(rows * ops::RowBytes(t, K));
  for (uint8_t& b : bytes) b = uint8_t(rng());
  for (size_t i = 0; i < bytes.size() / ops::BlockBytes(t); ++i) {
    uint8_t* b = bytes.data() + i * ops::BlockBytes(t);
    const uint16_t d = ops::F16FromF32(0.001f * float(1 + rng() % 50)), dmin = ops::F16FromF32(0.0005f * float(rng() % 40));
    std::memcpy(b + (t == DType::Q6_K ? 208 : 0), &d, 2);
    if (t == DType::Q4_K || t == DType::Q5_K) std::memcpy(b + 2, &dmin, 2);
  }
  return bytes;
}

// Rows of any block type: llama.cpp's quantizer for Q8_0/Q4_0, random blocks (random quants, small
// scales) for Q5_0 and the K-quants.
inline std::vector<uint8_t> BlockRows(DType t, size_t rows, size_t K, uint32_t seed) {
  if (t == DType::Q8_0 || t == DType::Q4_0) return Quantized(t, rows, K, seed, 0.1f);
  return RandomKQuantRows(t, rows, K, seed);
}

// All logits of a prompt fed in chunks of `chunk` tokens ([T,V]).
inline std::vector<float> LogitsInChunks(const Gemma4ForCausalLM& lm, const std::vector<int32_t>& ids, size_t chunk) {
  Session session(lm, chunk);
  const size_t V = session.vocab_size();
  std::vector<float> all;
  for (size_t done = 0; done < ids.size(); done += chunk) {
    const size_t T = std::min(chunk, ids.size() - done);
    session.prefill(ids.data() + done, T, nullptr, /*all_rows=*/true);
    all.insert(all.end(), session.logits.begin(), session.logits.begin() + long(T * V));
  }
  return all;
}

// A fresh empty directory under the build's temp area, removed with its files at scope exit.
struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/gemma4-test-XXXXXX";
    REQUIRE(mkdtemp(tmpl) != nullptr);
    path = tmpl;
  }
  ~TempDir() { std::system(("rm -rf '" + path + "'").c_str()); }
  std::string operator/(const std::string& name) const { return path + "/" + name; }
};

inline void WriteFile(const std::string& path, const std::string& bytes) {
  FILE* f = std::fopen(path.c_str(), "wb");
  REQUIRE(f != nullptr);
  REQUIRE(std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size());
  std::fclose(f);
}

inline std::string ReadFile(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "rb");
  REQUIRE(f != nullptr);
  std::string bytes;
  char buf[65536];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) bytes.append(buf, n);
  std::fclose(f);
  return bytes;
}

// Runs body() once per SIMD target compiled into this binary and supported by this CPU.
template <class Body>
void ForEachTarget(const Body& body) {
  for (int64_t target : hwy::SupportedAndGeneratedTargets()) {
    hwy::SetSupportedTargetsForTest(target);  // the next dispatch picks `target`
    INFO("target " << hwy::TargetName(target));
    body();
  }
  hwy::SetSupportedTargetsForTest(0);
}

}  // namespace gemma4::test

#endif  // GEMMA4_TESTS_TEST_UTIL_H_
