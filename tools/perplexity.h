// tools/perplexity.h — perplexity over a token sequence, two ways, and KL divergence against a base run
// saved in llama.cpp's file layout (the llama-perplexity --kl-divergence workflow), for gemma4-eval ppl.
//
// Strided (Hugging Face's "perplexity of fixed-length models"): windows of `ctx` tokens start every `stride`
// tokens; each window is run from an empty cache and scores only the tokens no earlier window scored, so
// every scored token after the first window has at least ctx − stride tokens of context.
// llama.cpp's (llama-perplexity): the text is cut into ⌊N / ctx⌋ non-overlapping chunks of ctx tokens (a
// shorter tail is dropped); each chunk is run from an empty cache with its first token replaced by <bos>, and
// scores only its second half: the tokens at chunk positions ctx/2 + 1 .. ctx − 1, ctx − 1 − ctx/2 of them,
// each with at least ctx/2 tokens of context. Its numbers compare with llama-perplexity's at the same -c.
// Either way token q is scored by the logits z at q − 1:
//   NLL(q) = logsumexp(z) − z[ids[q]],   ppl = exp(mean NLL),
// with the standard error of the mean NLL carried to ppl as ppl · se (first order).
//
// The base file is llama.cpp's (so llama-perplexity reads ours and we read its), made by the llama.cpp method:
//   "_logits_" | u32 n_ctx | i32 n_vocab | i32 n_chunk | i32 tokens[n_chunk · n_ctx]
//   then, chunk by chunk, one row per scored token of nv = 2·⌈V/2⌉ + 4 uint16: f32 scale, f32 m, then V
//   uint16 q_v (and a pad to even), with log p_v ≈ scale · q_v + m. From the logits z:
//   lo = max(min z, max z − 16), scale = (max z − lo) / 65535, m = lo − max z − log Σ exp(z − max z),
//   q_v = round((z_v − lo) / scale) where z_v > lo, else 0 (log-probabilities below −16 − … are floored).
//   Size: n_chunk · (n_ctx − 1 − n_ctx/2) · nv · 2 bytes, ~0.5 MiB per scored token at V = 262144.
// Against it, per scored token (as llama.cpp computes it; terms with log p_base ≤ −16 are left out):
//   KL(base ‖ ours) = Σ_v p_base(v) · (log p_base(v) − log p_ours(v)),
// and top-1 agreement compares the argmax of our logits with the argmax of the base's decoded row.
#ifndef GEMMA4_TOOLS_PERPLEXITY_H_
#define GEMMA4_TOOLS_PERPLEXITY_H_

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "gemma4/gemma4.h"
#include "tools/args.h"

namespace gemma4::tools {

enum class PerplexityMethod { kStrided, kLlamaCpp };

struct PerplexityOptions {
  size_t ctx = 512;    // tokens per window / chunk
  size_t stride = 0;   // strided: window step (0: ctx / 2)
  size_t batch = 64;   // tokens per forward (memory: batch × vocab floats of logits)
  size_t max_windows = 0;  // 0: all
  PerplexityMethod method = PerplexityMethod::kStrided;
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

inline void LogSoftmax(const float* z, size_t V, double* out) {
  double mx = -INFINITY;
  for (size_t v = 0; v < V; ++v) mx = std::max(mx, double(z[v]));
  double sum = 0;
  for (size_t v = 0; v < V; ++v) sum += std::exp(double(z[v]) - mx);
  const double lse = mx + std::log(sum);
  for (size_t v = 0; v < V; ++v) out[v] = double(z[v]) - lse;
}

// --- The base file: llama.cpp's layout (see the top of this file) ---------------------------------------------

inline size_t LogProbRowLength(size_t V) { return 2 * ((V + 1) / 2) + 4; }  // uint16 per row
inline size_t PerplexityChunkRows(size_t ctx) { return ctx - 1 - ctx / 2; }
inline uint64_t PerplexityBaseBytes(size_t ctx, size_t V, size_t chunks) {
  return 8 + 12 + 4 * uint64_t(chunks) * ctx + uint64_t(chunks) * PerplexityChunkRows(ctx) * LogProbRowLength(V) * 2;
}

// One row from logits, as llama.cpp's perplexity tool encodes it (f32 arithmetic, round to nearest).
inline void EncodeLogProbRow(const float* z, size_t V, uint16_t* row) {
  float max_z = z[0], min_z = z[0];
  for (size_t v = 1; v < V; ++v) max_z = std::max(max_z, z[v]), min_z = std::min(min_z, z[v]);
  min_z = std::max(min_z, max_z - 16);
  double sum = 0;
  for (size_t v = 0; v < V; ++v) sum += std::exp(double(z[v] - max_z));
  const float log_sum = float(std::log(sum)), m = min_z - max_z - log_sum, scale = (max_z - min_z) / 65535.f;
  std::memcpy(row, &scale, 4);
  std::memcpy(row + 2, &m, 4);
  uint16_t* q = row + 4;
  std::fill(q, row + LogProbRowLength(V), uint16_t(0));
  if (scale == 0) return;
  const float inv = 1 / scale;
  for (size_t v = 0; v < V; ++v) q[v] = z[v] > min_z ? uint16_t(std::lround(inv * (z[v] - min_z))) : 0;
}
inline float DecodeLogProb(const uint16_t* row, size_t v) {
  float scale, m;
  std::memcpy(&scale, row, 4);
  std::memcpy(&m, row + 2, 4);
  return scale * float(row[4 + v]) + m;
}

// Reads a base file (mapped: rows are read as they are compared).
struct PerplexityBaseFile {
  std::shared_ptr<MappedFile> file;
  std::string path;
  size_t ctx = 0, vocab = 0, chunks = 0;
  std::vector<int32_t> tokens;  // [chunks · ctx]
  const uint16_t* rows = nullptr;

  explicit PerplexityBaseFile(const std::string& p) : file(std::make_shared<MappedFile>(p)), path(p) {
    const uint8_t* d = file->data();
    const size_t size = file->size();
    if (size < 20 || std::memcmp(d, "_logits_", 8) != 0)
      throw Error(Str(path, ": not a perplexity base file (llama.cpp's layout, starting \"_logits_\")"));
    uint32_t n_ctx;
    int32_t n_vocab, n_chunk;
    std::memcpy(&n_ctx, d + 8, 4);
    std::memcpy(&n_vocab, d + 12, 4);
    std::memcpy(&n_chunk, d + 16, 4);
    if (n_ctx < 2 || n_vocab < 1 || n_chunk < 1)
      throw Error(Str(path, ": header n_ctx ", n_ctx, ", n_vocab ", n_vocab, ", n_chunk ", n_chunk, " is not a run"));
    ctx = n_ctx, vocab = size_t(n_vocab), chunks = size_t(n_chunk);
    if (uint64_t(size) != PerplexityBaseBytes(ctx, vocab, chunks))
      throw Error(Str(path, ": ", size, " bytes, but n_ctx ", ctx, ", n_vocab ", vocab, " and n_chunk ", chunks,
                      " make ", PerplexityBaseBytes(ctx, vocab, chunks), " (truncated or not llama.cpp's layout)"));
    tokens.resize(chunks * ctx);
    std::memcpy(tokens.data(), d + 20, tokens.size() * 4);
    rows = reinterpret_cast<const uint16_t*>(d + 20 + tokens.size() * 4);
  }
  const uint16_t* row(size_t i) const { return rows + i * LogProbRowLength(vocab); }
};

// Writes a base file row by row (the rows of a long text do not fit in memory): to PATH.tmp, renamed to
// PATH by finish(); removed if the run ends before.
class PerplexityBaseWriter {
 public:
  PerplexityBaseWriter(const std::string& path, size_t ctx, size_t V, size_t chunks, const int32_t* tokens)
      : path_(path), tmp_(path + ".tmp"), row_(LogProbRowLength(V)) {
    f_ = std::fopen(tmp_.c_str(), "wb");
    if (!f_) throw Error(Str(path_, ": cannot create (", std::strerror(errno), ")"));
    const uint32_t n_ctx = uint32_t(ctx);
    const int32_t n_vocab = int32_t(V), n_chunk = int32_t(chunks);
    put("_logits_", 8);
    put(&n_ctx, 4);
    put(&n_vocab, 4);
    put(&n_chunk, 4);
    put(tokens, chunks * ctx * 4);
  }
  ~PerplexityBaseWriter() {
    if (f_) {
      std::fclose(f_);
      std::remove(tmp_.c_str());
    }
  }
  void add(const float* z, size_t V) {
    EncodeLogProbRow(z, V, row_.data());
    put(row_.data(), row_.size() * 2);
  }
  void finish() {
    FILE* f = f_;
    f_ = nullptr;
    if (std::fclose(f) != 0 || std::rename(tmp_.c_str(), path_.c_str()) != 0) {
      const int error = errno;
      std::remove(tmp_.c_str());
      throw Error(Str(path_, ": write failed (", std::strerror(error), ")"));
    }
  }

 private:
  void put(const void* p, size_t n) {
    if (std::fwrite(p, 1, n, f_) != n) throw Error(Str(path_, ": write failed (", std::strerror(errno), ")"));
  }
  std::string path_, tmp_;
  std::vector<uint16_t> row_;
  FILE* f_ = nullptr;
};

// The windows a run covers: [begin, end) each, and the first token each scores (earlier ones only give context).
struct PerplexityWindow {
  size_t begin, end, first_scored;
};
inline std::vector<PerplexityWindow> PerplexityWindows(size_t N, const PerplexityOptions& o) {
  std::vector<PerplexityWindow> w;
  if (o.method == PerplexityMethod::kLlamaCpp) {
    for (size_t c = 0; c < N / o.ctx; ++c) w.push_back({c * o.ctx, (c + 1) * o.ctx, c * o.ctx + o.ctx / 2 + 1});
  } else {
    size_t scored_until = 1;  // token 0 has no prediction
    for (size_t begin = 0;; begin += o.stride) {
      const size_t end = std::min(begin + o.ctx, N);
      w.push_back({begin, end, std::max(scored_until, begin + 1)});
      scored_until = end;
      if (end == N) break;
    }
  }
  if (o.max_windows && w.size() > o.max_windows) w.resize(o.max_windows);
  return w;
}

// Runs the windows. `base` (optional, llama.cpp method only) is compared row by row; `save` (optional, llama.cpp
// method only, made for PerplexityWindows(ids.size(), o).size() chunks) receives our rows.
// `progress(done_windows, total_windows, result_so_far)` is called after each window.
inline PerplexityResult Perplexity(const Gemma4ForCausalLM& lm, const std::vector<int32_t>& ids, PerplexityOptions o,
                                   const PerplexityBaseFile* base, PerplexityBaseWriter* save,
                                   const std::function<void(size_t, size_t, const PerplexityResult&)>& progress = {}) {
  const bool llama = o.method == PerplexityMethod::kLlamaCpp;
  if (o.stride == 0) o.stride = o.ctx / 2;
  if (o.ctx < 2) throw Error("--ctx must be at least 2");
  if (!llama && (o.stride < 1 || o.stride > o.ctx)) throw Error(Str("--stride must be between 1 and --ctx (", o.ctx, ")"));
  if (ids.size() < 2) throw Error(Str("perplexity needs at least 2 tokens, got ", ids.size()));
  if (llama && ids.size() < o.ctx)
    throw Error(Str("the llama.cpp method needs at least one chunk of --ctx ", o.ctx, " tokens, the text has ", ids.size()));
  if (!llama && (base || save)) throw Error("base files (llama.cpp's layout) come from the llama.cpp method: use --method llama");
  const size_t V = size_t(lm.config.vocab_size), N = ids.size();
  const std::vector<PerplexityWindow> windows = PerplexityWindows(N, o);
  if (base) {
    if (base->ctx != o.ctx) throw Error(Str(base->path, ": made with --ctx ", base->ctx, ", this run uses ", o.ctx));
    if (base->vocab != V) throw Error(Str(base->path, ": vocabulary ", base->vocab, ", this model's is ", V));
    if (base->chunks < windows.size())
      throw Error(Str(base->path, ": holds ", base->chunks, " chunks, this run has ", windows.size()));
    if (!std::equal(ids.begin(), ids.begin() + long(windows.size() * o.ctx), base->tokens.begin()))
      throw Error(Str(base->path, ": its token ids differ from this text's (same file and tokenizer?)"));
  }

  PerplexityResult r;
  r.has_base = base != nullptr;
  Session session(lm, o.batch, o.ctx);
  std::vector<double> ours(V);
  std::vector<int32_t> chunk_ids;
  for (size_t w = 0; w < windows.size(); ++w) {
    const PerplexityWindow& win = windows[w];
    chunk_ids.assign(ids.begin() + long(win.begin), ids.begin() + long(win.end));
    if (llama) chunk_ids[0] = int32_t(lm.config.bos_token_id);  // as llama-perplexity does with add_bos
    session.reset();
    for (size_t chunk = 0; chunk < chunk_ids.size(); chunk += o.batch) {
      const size_t n = std::min(o.batch, chunk_ids.size() - chunk);
      session.prefill(chunk_ids.data() + chunk, n, nullptr, /*all_rows=*/true);
      for (size_t i = 0; i < n; ++i) {
        const size_t q = win.begin + chunk + i + 1;  // the token these logits predict
        if (q < win.first_scored || q >= win.end) continue;
        const float* z = session.logits.data() + i * V;
        LogSoftmax(z, V, ours.data());
        const double nll = -ours[size_t(ids[q])];
        r.nll_sum += nll;
        r.nll_sq_sum += nll * nll;
        if (base) {
          const uint16_t* b = base->row(r.scored);
          double kl = 0;
          size_t best_ours = 0, best_base = 0;
          float best_base_lp = DecodeLogProb(b, 0);
          for (size_t v = 0; v < V; ++v) {
            const float lp = DecodeLogProb(b, v);
            if (lp > -16.f) kl += std::exp(double(lp)) * (double(lp) - ours[v]);
            if (z[v] > z[best_ours]) best_ours = v;
            if (lp > best_base_lp) best_base_lp = lp, best_base = v;
          }
          r.kl_sum += kl;
          r.kl_max = std::max(r.kl_max, kl);
          r.top1_same += best_ours == best_base;
          r.base_nll_sum += -double(DecodeLogProb(b, size_t(ids[q])));
        }
        if (save) save->add(z, V);
        ++r.scored;
      }
    }
    if (progress) progress(w + 1, windows.size(), r);
  }
  return r;
}

}  // namespace gemma4::tools

#endif  // GEMMA4_TOOLS_PERPLEXITY_H_
