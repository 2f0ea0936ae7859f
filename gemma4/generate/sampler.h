// gemma4/generate/sampler.h — choosing the next token from logits, as HF generate() does.
//
// HF applies its logits processors in this order (generation/utils.py _get_logits_processor), and so do we:
//   1. repetition penalty p on every token already in the sequence (prompt included):
//        logit ← logit / p if logit > 0, else logit · p                 (RepetitionPenaltyLogitsProcessor)
//      then the suppressed tokens (generation_config.json suppress_tokens): logit ← −∞
//                                                                         (SuppressTokensLogitsProcessor)
//   2. temperature τ:   logit ← logit / τ                                (TemperatureLogitsWarper)
//   3. top-k:  drop tokens whose logit is below the k-th largest (ties with it stay)   (TopKLogitsWarper)
//   4. top-p:  keep the smallest set of most probable tokens whose probability sums to ≥ top_p
//                                                                         (TopPLogitsWarper, ≥ 1 token kept)
//   5. min-p:  drop tokens whose probability is below min_p · (largest probability)  (MinPLogitsWarper)
//   6. softmax over what is left, draw one token.
// Temperature 0 means greedy: the argmax of the (penalized) logits, first index on ties.
// vs llama.cpp: its default chain applies temperature last, so top-p/min-p see untempered probabilities
// there; the same flags can therefore give a different distribution.
//
// distribution() returns the full filtered distribution: speculative decoding's rejection rule needs the
// exact p(x) of the target and q(x) of the drafter under the same settings.
#ifndef GEMMA4_SAMPLER_H_
#define GEMMA4_SAMPLER_H_

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <numeric>
#include <string>
#include <vector>

#include "gemma4/error.h"

namespace gemma4 {

struct SamplingParams {
  double temperature = 0.0;     // 0: greedy
  int64_t top_k = 0;            // 0: off
  double top_p = 1.0;           // 1: off
  double min_p = 0.0;           // 0: off
  double repeat_penalty = 1.0;  // 1: off
  int64_t repeat_last_n = 64;   // how many recent tokens the penalty looks at (-1: all)
  uint64_t seed = 0;
  std::vector<int32_t> suppress_tokens;  // never chosen (logit −∞), greedy or sampled

  void check() const {
    if (!(temperature >= 0) || !std::isfinite(temperature)) throw Error(Str("temperature must be >= 0, got ", temperature));
    if (top_k < 0) throw Error(Str("top_k must be >= 0, got ", top_k));
    if (!(top_p > 0 && top_p <= 1)) throw Error(Str("top_p must be in (0, 1], got ", top_p));
    if (!(min_p >= 0 && min_p <= 1)) throw Error(Str("min_p must be in [0, 1], got ", min_p));
    if (!(repeat_penalty > 0)) throw Error(Str("repeat_penalty must be > 0, got ", repeat_penalty));
    if (repeat_last_n < -1) throw Error(Str("repeat_last_n must be >= -1, got ", repeat_last_n));
  }
  bool greedy() const { return temperature == 0.0; }
};

class Sampler {
 public:
  explicit Sampler(const SamplingParams& params) : params_(params), state_(params.seed) { params.check(); }

  const SamplingParams& params() const { return params_; }

  // Penalized and suppressed (step 1) logits; `history` is the sequence so far, oldest first.
  void penalize(const float* logits, size_t V, const std::vector<int32_t>& history, std::vector<double>& out) const {
    out.assign(logits, logits + V);
    for (int32_t id : params_.suppress_tokens)
      if (id >= 0 && size_t(id) < V) out[size_t(id)] = -INFINITY;
    if (params_.repeat_penalty == 1.0) return;
    const size_t n = params_.repeat_last_n < 0 ? history.size() : std::min(history.size(), size_t(params_.repeat_last_n));
    std::vector<bool> seen(V, false);
    for (size_t i = history.size() - n; i < history.size(); ++i) {
      const int32_t id = history[i];
      if (id < 0 || size_t(id) >= V || seen[size_t(id)]) continue;  // at most once per token
      seen[size_t(id)] = true;
      double& l = out[size_t(id)];
      l = l > 0 ? l / params_.repeat_penalty : l * params_.repeat_penalty;
    }
  }

  // The distribution the next token is drawn from ([V], sums to 1). Greedy: all mass on the argmax.
  void distribution(const float* logits, size_t V, const std::vector<int32_t>& history, std::vector<double>& probs) const {
    penalize(logits, V, history, probs);
    if (params_.greedy()) {
      const size_t best = size_t(std::max_element(probs.begin(), probs.end()) - probs.begin());
      std::fill(probs.begin(), probs.end(), 0.0);
      probs[best] = 1.0;
      return;
    }
    for (double& l : probs) l /= params_.temperature;
    std::vector<bool> keep(V, true);
    if (params_.top_k > 0 && size_t(params_.top_k) < V) {
      std::vector<double> sorted(probs);
      std::nth_element(sorted.begin(), sorted.begin() + (params_.top_k - 1), sorted.end(), std::greater<double>());
      const double kth = sorted[size_t(params_.top_k - 1)];
      for (size_t i = 0; i < V; ++i) keep[i] = probs[i] >= kth;
    }
    Softmax(probs, keep);
    if (params_.top_p < 1.0) {
      std::vector<size_t> order;
      for (size_t i = 0; i < V; ++i)
        if (keep[i]) order.push_back(i);
      // most probable first; ties by index, so the choice is reproducible
      std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return probs[a] > probs[b] || (probs[a] == probs[b] && a < b); });
      double cumulative = 0;
      size_t kept = 0;
      for (size_t i : order) {
        if (kept > 0 && cumulative >= params_.top_p) keep[i] = false;
        else ++kept, cumulative += probs[i];
      }
      Softmax(probs, keep, /*from_probs=*/true);
    }
    if (params_.min_p > 0.0) {
      const double top = *std::max_element(probs.begin(), probs.end());
      for (size_t i = 0; i < V; ++i)
        if (keep[i] && probs[i] < params_.min_p * top) keep[i] = false;
      Softmax(probs, keep, /*from_probs=*/true);
    }
  }

  // Draws the next token.
  int32_t sample(const float* logits, size_t V, const std::vector<int32_t>& history) {
    distribution(logits, V, history, probs_);
    if (params_.greedy()) return int32_t(std::max_element(probs_.begin(), probs_.end()) - probs_.begin());
    return Draw(probs_);
  }

  // A token drawn from probs (need not be normalized exactly); uses and advances this sampler's random stream.
  int32_t Draw(const std::vector<double>& probs) {
    const double total = std::accumulate(probs.begin(), probs.end(), 0.0);
    const double u = Uniform() * total;
    double cumulative = 0;
    size_t last = 0;
    for (size_t i = 0; i < probs.size(); ++i) {
      if (probs[i] <= 0) continue;
      cumulative += probs[i];
      last = i;
      if (u < cumulative) return int32_t(i);
    }
    return int32_t(last);  // u rounded up to the total
  }

  // Uniform in [0, 1), 53 random bits (splitmix64: the same stream on every platform for a given seed).
  double Uniform() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return double(z >> 11) * (1.0 / 9007199254740992.0);
  }

 private:
  // probs ← softmax over the kept entries (0 elsewhere); from_probs: renormalize probabilities instead.
  static void Softmax(std::vector<double>& probs, const std::vector<bool>& keep, bool from_probs = false) {
    double max = -INFINITY, sum = 0;
    for (size_t i = 0; i < probs.size(); ++i)
      if (keep[i]) max = std::max(max, probs[i]);
    for (size_t i = 0; i < probs.size(); ++i) {
      probs[i] = !keep[i] ? 0.0 : from_probs ? probs[i] : std::exp(probs[i] - max);
      sum += probs[i];
    }
    for (double& p : probs) p /= sum;
  }

  SamplingParams params_;
  uint64_t state_;
  std::vector<double> probs_;
};

}  // namespace gemma4

#endif  // GEMMA4_SAMPLER_H_
