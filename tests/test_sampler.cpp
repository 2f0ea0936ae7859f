// The sampler: HF's processor order and semantics, reproducible draws, and draws that follow the
// distribution it reports (the property speculative decoding's rejection rule relies on).
#include "gemma4/generate/sampler.h"

#include <cmath>
#include <vector>

#include <catch2/catch.hpp>

using namespace gemma4;

namespace {
std::vector<double> Dist(const SamplingParams& p, const std::vector<float>& logits, const std::vector<int32_t>& history = {}) {
  std::vector<double> probs;
  Sampler(p).distribution(logits.data(), logits.size(), history, probs);
  return probs;
}
}  // namespace

TEST_CASE("greedy picks the first maximum — the penalty can change it", "[sampler]") {
  SamplingParams p;
  Sampler s(p);
  const std::vector<float> logits = {1, 3, 3, -2};
  CHECK(s.sample(logits.data(), 4, {}) == 1);
  p.repeat_penalty = 2.0;  // 3 → 1.5 for token 1, which was already seen
  CHECK(Sampler(p).sample(logits.data(), 4, {1}) == 2);
  // negative logits are multiplied: −2 · 2 = −4
  std::vector<double> out;
  Sampler(p).penalize(logits.data(), 4, {3, 3}, out);
  CHECK(out[3] == -4.0);
  CHECK(out[0] == 1.0);
  p.repeat_last_n = 1;  // only the last token counts
  Sampler(p).penalize(logits.data(), 4, {1, 0}, out);
  CHECK(out[1] == 3.0);
  CHECK(out[0] == 0.5);
}

TEST_CASE("suppressed tokens are never chosen, greedy or sampled (HF SuppressTokensLogitsProcessor)", "[sampler]") {
  const std::vector<float> logits = {1, 5, 3, 4};
  SamplingParams p;
  p.suppress_tokens = {1, 3};
  CHECK(Sampler(p).sample(logits.data(), 4, {}) == 2);  // the best not suppressed
  p.temperature = 1.0;
  const std::vector<double> probs = Dist(p, logits);
  CHECK(probs[1] == 0.0);
  CHECK(probs[3] == 0.0);
  CHECK(probs[0] + probs[2] == Approx(1.0));
  CHECK(probs[2] == Approx(std::exp(3.0) / (std::exp(1.0) + std::exp(3.0))));
  Sampler s(p);
  for (int i = 0; i < 200; ++i) {
    const int32_t t = s.sample(logits.data(), 4, {});
    CHECK((t == 0 || t == 2));
  }
}

TEST_CASE("temperature, top-k (ties kept), top-p and min-p, in HF's order", "[sampler]") {
  const std::vector<float> logits = {2.0f, 1.0f, 1.0f, 0.0f, -1.0f};
  SamplingParams p;
  p.temperature = 1.0;
  std::vector<double> d = Dist(p, logits);
  double z = 0;
  for (float l : logits) z += std::exp(double(l));
  for (size_t i = 0; i < logits.size(); ++i) CHECK(d[i] == Approx(std::exp(double(logits[i])) / z));

  p.temperature = 0.5;
  d = Dist(p, logits);
  CHECK(d[0] / d[1] == Approx(std::exp(2.0)));  // logits doubled

  p = SamplingParams();
  p.temperature = 1.0;
  p.top_k = 2;  // the 2nd largest is 1.0, held by two tokens: both stay
  d = Dist(p, logits);
  CHECK(d[1] > 0);
  CHECK(d[2] > 0);
  CHECK(d[3] == 0);
  CHECK(d[0] + d[1] + d[2] == Approx(1.0));

  p = SamplingParams();
  p.temperature = 1.0;
  p.top_p = 0.5;  // p(token 0) = 0.53 ≥ 0.5 alone
  d = Dist(p, logits);
  CHECK(d[0] == 1.0);
  p.top_p = 0.6;  // needs a second token: token 1 (lower index of the tie)
  d = Dist(p, logits);
  CHECK(d[1] > 0);
  CHECK(d[2] == 0);

  p = SamplingParams();
  p.temperature = 1.0;
  p.min_p = 0.3;  // keeps tokens with p ≥ 0.3 · p_max = e^(l−2) ≥ 0.3 → l ≥ 0.796
  d = Dist(p, logits);
  CHECK(d[2] > 0);
  CHECK(d[3] == 0);
  for (double x : d) CHECK(x >= 0);
}

TEST_CASE("bad sampling settings are refused with the setting named", "[sampler]") {
  SamplingParams p;
  p.temperature = -1;
  CHECK_THROWS_WITH(Sampler(p), Catch::Contains("temperature"));
  p = SamplingParams();
  p.top_p = 0;
  CHECK_THROWS_WITH(Sampler(p), Catch::Contains("top_p"));
  p = SamplingParams();
  p.min_p = 2;
  CHECK_THROWS_WITH(Sampler(p), Catch::Contains("min_p"));
}

TEST_CASE("draws are reproducible for a seed and follow the reported distribution", "[sampler]") {
  const std::vector<float> logits = {0.5f, 1.5f, -0.3f, 1.0f, 0.0f, -2.0f};
  SamplingParams p;
  p.temperature = 0.8;
  p.seed = 1234;
  Sampler a(p), b(p);
  for (int i = 0; i < 100; ++i) REQUIRE(a.sample(logits.data(), 6, {}) == b.sample(logits.data(), 6, {}));

  const std::vector<double> d = Dist(p, logits);
  const int n = 200000;
  std::vector<int> counts(6, 0);
  Sampler s(p);
  for (int i = 0; i < n; ++i) counts[size_t(s.sample(logits.data(), 6, {}))]++;
  // Pearson's chi-square with 5 degrees of freedom: P(χ² > 25.7) = 1e-4, so a correct sampler fails this
  // once in ten thousand seeds; with this fixed seed it either always passes or never does.
  double chi2 = 0;
  for (size_t i = 0; i < 6; ++i) chi2 += (counts[i] - n * d[i]) * (counts[i] - n * d[i]) / (n * d[i]);
  CHECK(chi2 < 25.7);
  // ... and a distribution shifted by 1% in one token is caught by the same statistic
  std::vector<double> wrong = d;
  wrong[0] += 0.01, wrong[1] -= 0.01;
  double chi2_wrong = 0;
  for (size_t i = 0; i < 6; ++i) chi2_wrong += (counts[i] - n * wrong[i]) * (counts[i] - n * wrong[i]) / (n * wrong[i]);
  CHECK(chi2_wrong > 25.7);
}
