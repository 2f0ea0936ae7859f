// gemma4/generate/generation.h — running a model over a prompt and decoding: the state one conversation needs.
//
// A Session owns the KV cache, the activations and the logits of one sequence. prefill() feeds a prompt in
// chunks of at most max_tokens (any chunk size gives the same logits); decode() feeds one token.
// Both return the logits of the last token fed. HF: GenerationMixin.generate's loop, without sampling
// (gemma4/generate/sampler.h picks the next token).
#ifndef GEMMA4_GENERATION_H_
#define GEMMA4_GENERATION_H_

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

#include "gemma4/cache.h"
#include "gemma4/capture.h"
#include "gemma4/causal_lm.h"
#include "gemma4/error.h"
#include "gemma4/generate/sampler.h"
#include "gemma4/state.h"
#include "ops/ops.h"

namespace gemma4 {

struct Session {
  const Gemma4ForCausalLM& lm;
  size_t max_context;          // positions this session may hold (prompt + generated)
  Gemma4Cache cache;
  ForwardState state;
  ops::Buffer<float> logits;   // [max_tokens, V] (all rows of the last step when asked for)

  // max_tokens: the longest step (prefill chunk); max_context 0 = the model's max_position_embeddings.
  explicit Session(const Gemma4ForCausalLM& model, size_t max_tokens = 256, size_t max_context_ = 0)
      : lm(model),
        max_context(max_context_ ? max_context_ : size_t(model.config.max_position_embeddings)),
        cache(model.config, max_tokens),
        state(model.config, max_tokens),
        logits(CheckedMul(max_tokens, size_t(model.config.vocab_size), "session logits")) {}

  size_t vocab_size() const { return size_t(lm.config.vocab_size); }
  size_t position() const { return cache.seq_length; }

  void check_room(size_t n) const {
    if (cache.seq_length + n > max_context)
      throw Error(Str(cache.seq_length + n, " tokens do not fit the context of ", max_context, " (",
                      cache.seq_length, " already held, ", n, " more)"));
  }

  // Feeds ids in chunks; returns the logits of the last one ([V]). With all_rows, a single chunk's logits
  // for every token are in `logits` ([n, V]); n must then be at most max_tokens.
  const float* prefill(const int32_t* ids, size_t n, Capture* capture = nullptr, bool all_rows = false) {
    if (n == 0) throw Error("prefill: empty prompt");
    check_room(n);
    if (all_rows && n > state.max_tokens)
      throw Error(Str("prefill: all logits of ", n, " tokens need a session with max_tokens >= ", n));
    lm.model.check_ids(ids, n);
    for (size_t done = 0; done < n;) {
      const size_t T = std::min(state.max_tokens, n - done);
      lm.forward(ids + done, T, cache, state, logits.data(), all_rows, capture);
      done += T;
    }
    CheckMappedFiles();  // weights read as zeros from a file truncated under us: an Error, not logits
    return all_rows ? logits.data() + (n - 1) * vocab_size() : logits.data();
  }

  const float* decode(int32_t id, Capture* capture = nullptr) { return prefill(&id, 1, capture); }

  void reset() { cache.clear(); }
};

// Greedy continuation: n_new tokens, each the argmax of the previous logits (first index on ties).
inline std::vector<int32_t> GreedyGenerate(Session& session, const std::vector<int32_t>& prompt, size_t n_new) {
  std::vector<int32_t> out;
  const float* logits = session.prefill(prompt.data(), prompt.size());
  while (out.size() < n_new) {
    out.push_back(int32_t(ops::Argmax(logits, session.vocab_size())));
    if (out.size() < n_new) logits = session.decode(out.back());
  }
  return out;
}

// --- The generation loop -----------------------------------------------------------------------------------
// One function runs it, so another strategy (speculative decoding with a drafter) is a second function with
// the same signature that a tool picks instead: GenerateFn.

struct GenerateOptions {
  long max_new_tokens = -1;                       // -1: until a stop token or the context is full
  std::vector<int32_t> stop_ids;                  // sampled but not emitted (HF: eos_token_id list)
  // Set to stop, by a signal handler (Ctrl-C) or another thread: checked between prompt chunks (then the
  // prompt is dropped) and after each emitted token (then generation stops after it). An atomic, not a
  // volatile sig_atomic_t: that one is safe from a signal handler only, a write from a thread is a data race.
  const std::atomic<bool>* interrupt = nullptr;
  // The ids the session holds before the call, in order: what rebuilds it when an interrupted prompt fed more
  // than one chunk (the sliding-window rings then no longer hold what came before). Null: it is rebuilt empty.
  const std::vector<int32_t>* session_ids = nullptr;
};

struct GenerateResult {
  size_t prompt_tokens = 0, generated = 0;
  double prompt_seconds = 0, generate_seconds = 0;  // prefill; sampling + decoding the rest
  int32_t stop_id = -1;               // the stop token that ended it, or -1 (limit, interrupt, context full)
  bool interrupted = false;
  size_t prompt_fed = 0;              // prompt ids fed; < prompt_tokens when interrupted during the prompt, and
                                      // then the session is as before the call (the prompt is dropped)
  std::vector<int32_t> pending;       // sampled ids not yet in the KV cache: feed them before the next prompt
};

// Feeds `prompt` after what the session holds, chunk by chunk (as Session::prefill feeds it), with a look at
// options.interrupt between chunks: a long prompt takes seconds. Returns the last chunk's logits, or null when
// interrupted: then the prompt is taken back out of the session, rolled back when the sliding-window rings
// still hold what came before it (at most one chunk fed), else rebuilt from options.session_ids. Sets
// r.prompt_tokens, r.prompt_fed and r.interrupted. Every generation loop starts here.
inline const float* FeedPrompt(Session& session, const std::vector<int32_t>& prompt, const GenerateOptions& options,
                               GenerateResult& r) {
  r.prompt_tokens = prompt.size();
  if (prompt.empty()) throw Error("prefill: empty prompt");
  session.check_room(prompt.size());
  session.lm.model.check_ids(prompt.data(), prompt.size());
  const size_t start = session.position();
  const float* logits = nullptr;
  while (r.prompt_fed < prompt.size()) {
    if (options.interrupt && *options.interrupt) {
      if (r.prompt_fed <= session.cache.max_tokens) {
        session.cache.truncate(start);
      } else {
        session.reset();
        if (options.session_ids && !options.session_ids->empty())
          session.prefill(options.session_ids->data(), options.session_ids->size());
      }
      r.interrupted = true;
      return nullptr;
    }
    const size_t T = std::min(session.state.max_tokens, prompt.size() - r.prompt_fed);
    logits = session.prefill(prompt.data() + r.prompt_fed, T);
    r.prompt_fed += T;
  }
  return logits;
}

// Feeds `prompt` after what the session holds, then samples token by token. `history` is every id in the
// session (the repetition penalty looks at it); the prompt and each emitted id are appended to it.
// on_token(id) sees each emitted id (never a stop id); returning false stops there.
using TokenCallback = std::function<bool(int32_t)>;
using GenerateFn = std::function<GenerateResult(Session&, Sampler&, std::vector<int32_t>& history,
                                                const std::vector<int32_t>& prompt, const GenerateOptions&,
                                                const TokenCallback&)>;

inline GenerateResult Generate(Session& session, Sampler& sampler, std::vector<int32_t>& history,
                               const std::vector<int32_t>& prompt, const GenerateOptions& options,
                               const TokenCallback& on_token) {
  using Clock = std::chrono::steady_clock;
  GenerateResult r;
  const auto t0 = Clock::now();
  const float* logits = FeedPrompt(session, prompt, options, r);
  if (!logits) {
    r.prompt_seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    return r;
  }
  history.insert(history.end(), prompt.begin(), prompt.end());
  const auto t1 = Clock::now();
  r.prompt_seconds = std::chrono::duration<double>(t1 - t0).count();
  while (options.max_new_tokens < 0 || long(r.generated) < options.max_new_tokens) {
    const int32_t next = sampler.sample(logits, session.vocab_size(), history);
    if (std::find(options.stop_ids.begin(), options.stop_ids.end(), next) != options.stop_ids.end()) {
      r.stop_id = next;
      r.pending = {next};
      break;
    }
    history.push_back(next);
    ++r.generated;
    const bool go_on = on_token(next);
    if (!go_on || (options.interrupt && *options.interrupt)) {
      r.interrupted = true;
      r.pending = {next};
      break;
    }
    if (long(r.generated) == options.max_new_tokens || session.position() + 1 > session.max_context) {
      r.pending = {next};
      break;
    }
    logits = session.decode(next);
  }
  r.generate_seconds = std::chrono::duration<double>(Clock::now() - t1).count();
  return r;
}

}  // namespace gemma4

#endif  // GEMMA4_GENERATION_H_
