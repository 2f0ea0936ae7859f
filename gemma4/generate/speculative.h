// gemma4/generate/speculative.h — speculative decoding with the MTP drafter: draft k tokens, verify them in one
// target forward, keep the longest acceptable prefix. HF: generate(assistant_model=…) with
// SinglePositionMultiTokenCandidateGenerator, and _speculative_sampling for temperature > 0.
//
// One round, with x the last emitted token at position n (not yet in the target's cache) and h the
// target's final-norm hidden state at n − 1:
//   draft:   d_1..d_k from the drafter (gemma4/assistant.h), each drawn from its distribution q_j
//            (the drafter's logits through the same Sampler settings as the target's)
//   verify:  ONE target forward of [x, d_1, …, d_k] at positions n .. n+k (a prefill-style batch), giving
//            the target's distributions p_0 .. p_k (p_j follows d_1..d_j)
//   accept:  for j = 1..k: accept d_j with probability min(1, p_{j−1}(d_j) / q_j(d_j)); at the first
//            rejection emit a token drawn from norm(max(0, p_{j−1} − q_j)) and stop; if all k are
//            accepted, emit a bonus token drawn from p_k. (Leviathan et al. 2023, Chen et al. 2023.)
//            Each emitted token is then distributed exactly as the target alone would draw it. Greedy
//            (temperature 0) is the special case of one-hot p and q: the longest prefix that matches the
//            target's argmax, then the target's own argmax.
//   rollback: the cache forgets positions past the last accepted one (Gemma4Cache::truncate; sliding
//            layers keep W − 1 + max_tokens positions, so their ring buffers still hold what is needed);
//            the next round starts from the emitted token with h = the target's hidden state at the last
//            accepted position (row `accepted` of the verify batch), so the drafter carries on from the
//            target's view, not from its own rejected guesses.
// Because the kernels sum each element in one fixed order, the verify batch computes bit for bit what
// token-by-token decoding would: greedy speculative output and its KV cache equal plain greedy's exactly.
// vs HF: after a rejection HF's drafter still sees the rejected position's K/V (it crops shared_kv_states
// to the sequence length, not to the accepted prefix); we roll back first, so the drafter sees only
// accepted positions. Either way the output is the target's; only the acceptance rate can differ.
#ifndef GEMMA4_SPECULATIVE_H_
#define GEMMA4_SPECULATIVE_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <vector>

#include "gemma4/assistant.h"
#include "gemma4/cache.h"
#include "gemma4/causal_lm.h"
#include "gemma4/error.h"
#include "gemma4/generate/generation.h"
#include "gemma4/generate/sampler.h"
#include "ops/ops.h"

namespace gemma4 {

// What a drafter sees at the start of a round.
struct DraftContext {
  const Gemma4ForCausalLM& target;
  Gemma4Cache& cache;                   // the target's K/V of positions < position
  int32_t token;                        // the last emitted token, at `position`
  const float* hidden;                  // [H] the target's final-norm hidden state at position − 1
  size_t position;
  const std::vector<int32_t>& history;  // prompt and emitted tokens, oldest first (for penalties)
};

// Anything that proposes tokens: the MTP drafter, or a test's deliberately wrong one.
struct DraftSource {
  virtual ~DraftSource() = default;
  // Proposes k tokens; q[j] ([V]) is the distribution tokens[j] was drawn from.
  virtual void draft(const DraftContext& ctx, size_t k, Sampler& sampler, std::vector<int32_t>& tokens,
                     std::vector<std::vector<double>>& q) = 0;
};

// The MTP drafter as a DraftSource: k steps at the same position, each feeding back its token and h'.
class MtpDrafter : public DraftSource {
 public:
  MtpDrafter(const Gemma4AssistantForCausalLM& assistant, const Gemma4TextConfig& target)
      : assistant_(assistant), state_(assistant.make_state()),
        logits_(size_t(assistant.config.text_config.vocab_size)),
        h_(size_t(assistant.config.backbone_hidden_size)), h_next_(h_.size()) {
    assistant.check_target(target);
  }

  void draft(const DraftContext& ctx, size_t k, Sampler& sampler, std::vector<int32_t>& tokens,
             std::vector<std::vector<double>>& q) override {
    const size_t V = logits_.size();
    std::vector<int32_t> history = ctx.history;
    std::memcpy(h_.data(), ctx.hidden, h_.size() * sizeof(float));
    int32_t t = ctx.token;
    tokens.clear();
    q.resize(k);
    for (size_t j = 0; j < k; ++j) {
      assistant_.forward(ctx.target, ctx.cache, t, h_.data(), ctx.position, state_, logits_.data(), h_next_.data());
      sampler.distribution(logits_.data(), V, history, q[j]);
      t = sampler.params().greedy() ? int32_t(std::max_element(q[j].begin(), q[j].end()) - q[j].begin())
                                    : sampler.Draw(q[j]);
      tokens.push_back(t);
      history.push_back(t);
      std::swap(h_, h_next_);
    }
  }

 private:
  const Gemma4AssistantForCausalLM& assistant_;
  AssistantState state_;
  std::vector<float> logits_, h_, h_next_;
};

struct SpeculativeVerdict {
  bool accepted;
  int32_t token;  // the draft token if accepted, else the replacement
};

// The acceptance rule: accept d with probability min(1, p(d)/q(d)); otherwise draw from norm(max(0, p − q)).
inline SpeculativeVerdict SpeculativeAccept(const std::vector<double>& p, const std::vector<double>& q, int32_t d,
                                            Sampler& sampler) {
  const double pd = p[size_t(d)], qd = q[size_t(d)];
  if (pd >= qd || sampler.Uniform() * qd < pd) return {true, d};
  std::vector<double> residual(p.size());
  for (size_t i = 0; i < p.size(); ++i) residual[i] = std::max(0.0, p[i] - q[i]);
  return {false, sampler.Draw(residual)};  // Σ residual = q(d) − p(d) + … > 0 here
}

using SpeculativeRule = SpeculativeVerdict (*)(const std::vector<double>&, const std::vector<double>&, int32_t, Sampler&);

struct SpeculativeStats {
  size_t generated = 0;        // tokens emitted
  size_t drafted = 0;          // tokens the drafter proposed
  size_t accepted = 0;         // of those, accepted by the target
  size_t target_forwards = 0;  // verify forwards (the prompt's prefill not counted)
  double acceptance_rate() const { return drafted ? double(accepted) / double(drafted) : 0.0; }
  double accepted_per_forward() const { return target_forwards ? double(accepted) / double(target_forwards) : 0.0; }
  // tokens each verify forward yields (its accepted drafts plus the target's own token): the speedup ceiling
  double tokens_per_forward() const { return target_forwards ? 1.0 + accepted_per_forward() : 0.0; }
};

// The session's max_tokens must be ≥ draft_max + 2: the verify batch is draft_max + 1 and the drafter's
// sliding layers read W + 1 positions of a ring that keeps W − 1 + max_tokens.
inline void CheckSpeculativeSession(const Session& session, size_t draft_max) {
  if (session.cache.max_tokens < draft_max + 2 || session.state.max_tokens < draft_max + 1)
    throw Error(Str("speculative decoding with --draft-max ", draft_max, " needs a session of max_tokens >= ",
                    draft_max + 2, ", this one has ", session.cache.max_tokens));
}

// Speculative decoding once `prompt` is in the session (SpeculativeGenerate below feeds it in one call,
// SpeculativeGenerateFn with FeedPrompt, which looks at the interrupt between chunks): `logits` are its last
// token's, the session's state.x holds its last chunk's final-norm hidden states. The rest as SpeculativeGenerate.
inline SpeculativeStats SpeculativeGenerateAfterPrompt(Session& session, DraftSource& drafter,
                                                       const std::vector<int32_t>& prompt, const float* logits,
                                                       size_t n_predict, size_t draft_max, Sampler& sampler,
                                                       const std::function<bool(int32_t)>& on_token,
                                                       SpeculativeRule rule = SpeculativeAccept) {
  CheckSpeculativeSession(session, draft_max);
  const Gemma4ForCausalLM& lm = session.lm;
  const size_t V = session.vocab_size(), H = size_t(lm.config.hidden_size);
  SpeculativeStats stats;
  std::vector<int32_t> history = prompt;
  const size_t start = session.position() - prompt.size();  // a session may already hold earlier turns
  if (n_predict == 0) return stats;
  // the final-norm hidden state of the prompt's last token: the last chunk's row (chunks of max_tokens)
  std::vector<float> hidden(session.state.x.begin() + long(((prompt.size() - 1) % session.state.max_tokens) * H),
                            session.state.x.begin() + long(((prompt.size() - 1) % session.state.max_tokens + 1) * H));
  bool stop = false;
  auto emit = [&](int32_t token) {
    history.push_back(token);
    ++stats.generated;
    stop = !on_token(token) || lm.config.is_eos(token) || stats.generated == n_predict;
    return !stop;
  };
  int32_t x = sampler.sample(logits, V, history);
  std::vector<int32_t> drafts, batch, verified;
  std::vector<std::vector<double>> q;
  std::vector<double> p;
  if (emit(x)) {
    while (!stop) {
      const size_t pos = session.position();
      const size_t k = std::min(draft_max, n_predict - stats.generated - 1);  // no draft past n_predict
      drafts.clear();
      if (k > 0) drafter.draft(DraftContext{lm, session.cache, x, hidden.data(), pos, history}, k, sampler, drafts, q);
      if (drafts.size() > k || q.size() < drafts.size()) throw Error("drafter: more tokens than asked, or no q for each");
      stats.drafted += drafts.size();
      batch.assign(1, x);
      batch.insert(batch.end(), drafts.begin(), drafts.end());
      session.check_room(batch.size());
      lm.model.check_ids(batch.data(), batch.size());
      lm.forward(batch.data(), batch.size(), session.cache, session.state, session.logits.data(), /*all_rows=*/true);
      ++stats.target_forwards;
      // accept the longest prefix the rule allows, then the target's replacement or bonus token
      std::vector<int32_t> seen = history;
      size_t accepted = 0;
      int32_t next = -1;
      for (; accepted < drafts.size(); ++accepted) {
        sampler.distribution(session.logits.data() + accepted * V, V, seen, p);
        const SpeculativeVerdict v = rule(p, q[accepted], drafts[accepted], sampler);
        if (!v.accepted) {
          next = v.token;
          break;
        }
        seen.push_back(drafts[accepted]);
      }
      if (next < 0) next = sampler.sample(session.logits.data() + accepted * V, V, seen);
      stats.accepted += accepted;
      session.cache.truncate(pos + accepted + 1);  // rollback past the rejected drafts
      std::memcpy(hidden.data(), session.state.x.data() + accepted * H, H * sizeof(float));
      for (size_t j = 0; j < accepted && emit(drafts[j]); ++j) {
      }
      if (!stop) emit(next);
      x = next;
    }
  }
  // as after plain decoding: every emitted token but the last is in the cache
  session.cache.truncate(start + prompt.size() + stats.generated - 1);
  return stats;
}

// Prefills `prompt`, then emits up to n_predict tokens through on_token (return false to stop; generation
// also stops after an EOS token of the target's config; penalties see `prompt` and what follows, not
// earlier turns the session holds). draft_max: tokens per draft (llama.cpp's --spec-draft-n-max); the
// session's max_tokens must be ≥ draft_max + 2 (CheckSpeculativeSession).
// Afterwards the cache holds the prompt and every emitted token but the last, as after plain decoding.
inline SpeculativeStats SpeculativeGenerate(Session& session, DraftSource& drafter, const std::vector<int32_t>& prompt,
                                            size_t n_predict, size_t draft_max, Sampler& sampler,
                                            const std::function<bool(int32_t)>& on_token,
                                            SpeculativeRule rule = SpeculativeAccept) {
  CheckSpeculativeSession(session, draft_max);
  const float* logits = session.prefill(prompt.data(), prompt.size());
  return SpeculativeGenerateAfterPrompt(session, drafter, prompt, logits, n_predict, draft_max, sampler, on_token, rule);
}

// Generate()'s contract (gemma4/generate/generation.h: stop ids, interrupt, max_new_tokens, pending ids, timings) on
// top of speculative decoding, so a caller (gemma4-run, a chat loop) swaps one loop for the other. `totals`
// accumulates the statistics of every call. Prompt time here is the time to the first token.
inline GenerateFn SpeculativeGenerateFn(DraftSource& drafter, size_t draft_max, SpeculativeStats* totals) {
  return [&drafter, draft_max, totals](Session& session, Sampler& sampler, std::vector<int32_t>& history,
                                       const std::vector<int32_t>& prompt, const GenerateOptions& options,
                                       const TokenCallback& on_token) {
    using Clock = std::chrono::steady_clock;
    GenerateResult r;
    CheckSpeculativeSession(session, draft_max);
    const auto t0 = Clock::now();
    const float* logits = FeedPrompt(session, prompt, options, r);  // interruptible between chunks
    if (!logits) {
      r.prompt_seconds = std::chrono::duration<double>(Clock::now() - t0).count();
      return r;
    }
    const size_t room = session.max_context - session.position();
    const size_t n = options.max_new_tokens < 0 ? room + 1 : std::min(size_t(options.max_new_tokens), room + 1);
    auto t1 = t0;
    history.insert(history.end(), prompt.begin(), prompt.end());
    const SpeculativeStats st = SpeculativeGenerateAfterPrompt(session, drafter, prompt, logits, n, draft_max, sampler,
                                                               [&](int32_t id) {
      if (r.generated == 0 && r.stop_id < 0) t1 = Clock::now();
      r.pending = {id};  // the last emitted id is never in the cache
      if (std::find(options.stop_ids.begin(), options.stop_ids.end(), id) != options.stop_ids.end()) {
        r.stop_id = id;
        return false;
      }
      history.push_back(id);
      ++r.generated;
      if (!on_token(id) || (options.interrupt && *options.interrupt)) {
        r.interrupted = true;
        return false;
      }
      return true;
    });
    if (r.generated == 0 && r.stop_id < 0) t1 = Clock::now();
    r.prompt_seconds = std::chrono::duration<double>(t1 - t0).count();
    r.generate_seconds = std::chrono::duration<double>(Clock::now() - t1).count();
    if (totals) {
      totals->generated += st.generated;
      totals->drafted += st.drafted;
      totals->accepted += st.accepted;
      totals->target_forwards += st.target_forwards;
    }
    return r;
  };
}

}  // namespace gemma4

#endif  // GEMMA4_SPECULATIVE_H_
