// tools/perplexity.h — perplexity over a token sequence with a sliding context, and KL divergence against
// saved base log-probabilities (the llama-perplexity --kl-divergence workflow), for gemma4-eval ppl.
//
// Windows of `ctx` tokens start every `stride` tokens (Hugging Face's strided perplexity): each window is
// run from an empty cache and scores only the tokens no earlier window scored, so every scored token after
// the first window has at least ctx − stride tokens of context. Token q is scored by the logits at q − 1:
//   NLL(q) = logsumexp(z) − z[ids[q]],   ppl = exp(mean NLL),
// with the standard error of the mean NLL carried to ppl as ppl · se (first order).
// The base file (safetensors, golden/FORMAT.md "Perplexity base files") holds `ids` [N] and `logprobs`
// [M, V] (f32, log-softmax of every scored row, in order) with the ctx/stride they were made with;
//   KL(base ‖ ours) = Σ_v p_base(v) · (log p_base(v) − log p_ours(v))   per scored token.
#ifndef GEMMA4_TOOLS_PERPLEXITY_H_
#define GEMMA4_TOOLS_PERPLEXITY_H_

#include <algorithm>
#include <cctype>
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "gemma4/gemma4.h"
#include "tools/args.h"

namespace gemma4::tools {

struct PerplexityOptions {
  size_t ctx = 512;    // tokens per window
  size_t stride = 0;   // window step (0: ctx / 2)
  size_t batch = 64;   // tokens per forward (memory: batch × vocab floats of logits)
  size_t max_windows = 0;  // 0: all
};

struct PerplexityResult {
  size_t scored = 0;
  double nll_sum = 0, nll_sq_sum = 0;
  // Against a base file:
  bool has_base = false;
  double kl_sum = 0, kl_max = 0, base_nll_sum = 0;
  size_t top1_same = 0;

  double mean_nll() const { return nll_sum / double(scored); }
  double ppl() const { return std::exp(mean_nll()); }
  double ppl_error() const {  // first-order error of exp(mean) from the standard error of the mean
    const double n = double(scored), var = std::max(0.0, nll_sq_sum / n - mean_nll() * mean_nll());
    return scored > 1 ? ppl() * std::sqrt(var / (n - 1)) : 0.0;
  }
};

// The base log-probabilities one run saves and another compares against.
struct PerplexityBase {
  std::vector<int32_t> ids;
  size_t ctx = 0, stride = 0, vocab = 0;
  std::vector<float> logprobs;  // [scored, vocab]
};

inline void LogSoftmax(const float* z, size_t V, double* out) {
  double mx = -INFINITY;
  for (size_t v = 0; v < V; ++v) mx = std::max(mx, double(z[v]));
  double sum = 0;
  for (size_t v = 0; v < V; ++v) sum += std::exp(double(z[v]) - mx);
  const double lse = mx + std::log(sum);
  for (size_t v = 0; v < V; ++v) out[v] = double(z[v]) - lse;
}

// Runs the windows. `base` (optional) is compared row by row; `save` (optional) receives our log-probs.
// `progress(done_windows, total_windows, result_so_far)` is called after each window.
inline PerplexityResult Perplexity(const Gemma4ForCausalLM& lm, const std::vector<int32_t>& ids, PerplexityOptions o,
                                   const PerplexityBase* base, PerplexityBase* save,
                                   const std::function<void(size_t, size_t, const PerplexityResult&)>& progress = {}) {
  if (o.stride == 0) o.stride = o.ctx / 2;
  if (o.ctx < 2) throw Error("--ctx must be at least 2");
  if (o.stride < 1 || o.stride > o.ctx) throw Error(Str("--stride must be between 1 and --ctx (", o.ctx, ")"));
  if (ids.size() < 2) throw Error(Str("perplexity needs at least 2 tokens, got ", ids.size()));
  const size_t V = size_t(lm.config.vocab_size), N = ids.size();
  if (base) {
    if (base->ids != ids) throw Error("--kl-base: its token ids differ from this text's (same file and tokenizer?)");
    if (base->ctx != o.ctx || base->stride != o.stride)
      throw Error(Str("--kl-base: made with --ctx ", base->ctx, " --stride ", base->stride, ", this run uses ", o.ctx,
                      " and ", o.stride));
    if (base->vocab != V) throw Error(Str("--kl-base: vocabulary ", base->vocab, ", this model's is ", V));
  }
  if (save) *save = PerplexityBase{ids, o.ctx, o.stride, V, {}};

  size_t windows = 1;
  while ((windows - 1) * o.stride + o.ctx < N) ++windows;
  if (o.max_windows) windows = std::min(windows, o.max_windows);

  PerplexityResult r;
  r.has_base = base != nullptr;
  Session session(lm, o.batch, o.ctx);
  std::vector<double> ours(V);
  size_t scored_until = 1;  // the next token to score (token 0 has no prediction)
  for (size_t w = 0; w < windows; ++w) {
    const size_t begin = w * o.stride, end = std::min(begin + o.ctx, N);
    session.reset();
    for (size_t chunk = begin; chunk < end; chunk += o.batch) {
      const size_t n = std::min(o.batch, end - chunk);
      session.prefill(ids.data() + chunk, n, nullptr, /*all_rows=*/true);
      for (size_t i = 0; i < n; ++i) {
        const size_t q = chunk + i + 1;  // the token these logits predict
        if (q < scored_until || q >= end) continue;
        LogSoftmax(session.logits.data() + i * V, V, ours.data());
        for (double& v : ours) v = double(float(v));  // as a base file stores them: a run against its own is 0
        const double nll = -ours[size_t(ids[q])];
        r.nll_sum += nll;
        r.nll_sq_sum += nll * nll;
        if (base) {
          const float* b = base->logprobs.data() + r.scored * V;
          double kl = 0;
          size_t best_ours = 0, best_base = 0;
          for (size_t v = 0; v < V; ++v) {
            kl += std::exp(double(b[v])) * (double(b[v]) - ours[v]);
            if (ours[v] > ours[best_ours]) best_ours = v;
            if (b[v] > b[best_base]) best_base = v;
          }
          r.kl_sum += kl;
          r.kl_max = std::max(r.kl_max, kl);
          r.top1_same += best_ours == best_base;
          r.base_nll_sum += -double(b[size_t(ids[q])]);
        }
        if (save) save->logprobs.insert(save->logprobs.end(), ours.begin(), ours.end());
        ++r.scored;
      }
    }
    scored_until = end;
    if (progress) progress(w + 1, windows, r);
  }
  if (base && r.scored != base->logprobs.size() / V)
    throw Error(Str("--kl-base: it holds ", base->logprobs.size() / V, " scored rows, this run scored ", r.scored));
  return r;
}

inline void WritePerplexityBase(const std::string& path, const PerplexityBase& b) {
  Tensor ids{"ids", DType::I32, {int64_t(b.ids.size())}, b.ids.data(), b.ids.size() * 4, path};
  Tensor lp{"logprobs", DType::F32, {int64_t(b.logprobs.size() / b.vocab), int64_t(b.vocab)}, b.logprobs.data(),
            b.logprobs.size() * 4, path};
  const nlohmann::json meta = {{"ctx", b.ctx}, {"stride", b.stride}};
  WriteSafetensors(path, {ids, lp}, {{"perplexity", meta.dump()}});
}

inline PerplexityBase ReadPerplexityBase(const std::string& path) {
  const SafetensorsFile st = ReadSafetensors(path);
  const auto ids = st.tensors.find("ids"), lp = st.tensors.find("logprobs");
  const auto meta = st.metadata.find("perplexity");
  if (ids == st.tensors.end() || lp == st.tensors.end() || meta == st.metadata.end())
    throw Error(Str(path, ": not a perplexity base file (needs tensors ids, logprobs and metadata 'perplexity')"));
  if (ids->second.dtype != DType::I32 || ids->second.shape.size() != 1)
    throw Error(Str(path, ": tensor ids must be I32 [N]"));
  if (lp->second.dtype != DType::F32 || lp->second.shape.size() != 2)
    throw Error(Str(path, ": tensor logprobs must be F32 [scored, vocab]"));
  PerplexityBase b;
  try {
    const nlohmann::json m = nlohmann::json::parse(meta->second);
    b.ctx = m.at("ctx").get<size_t>();
    b.stride = m.at("stride").get<size_t>();
  } catch (const nlohmann::json::exception& e) {
    throw Error(Str(path, ": metadata 'perplexity' must be {\"ctx\": N, \"stride\": N} (", e.what(), ")"));
  }
  const int32_t* id = static_cast<const int32_t*>(ids->second.data);
  b.ids.assign(id, id + ids->second.numel());
  b.vocab = size_t(lp->second.shape[1]);
  const float* p = static_cast<const float*>(lp->second.data);
  b.logprobs.assign(p, p + lp->second.numel());
  return b;
}

}  // namespace gemma4::tools

#endif  // GEMMA4_TOOLS_PERPLEXITY_H_
