// tools/golden.h — holding our engine against a golden file (golden/README.md): every prompt, every capture
// point present, the tolerances from the file's own metadata. Used by `gemma4-eval golden` and the tests.
#ifndef GEMMA4_TOOLS_GOLDEN_H_
#define GEMMA4_TOOLS_GOLDEN_H_

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "gemma4/gemma4.h"

namespace gemma4::golden {

struct GoldenFile {
  std::string path;
  SafetensorsFile st;
  nlohmann::json meta;               // __metadata__["golden"]
  std::vector<std::string> prompts;  // in the order the metadata lists them

  explicit GoldenFile(const std::string& p) : path(p), st(ReadSafetensors(p)) {
    const auto it = st.metadata.find("golden");
    if (it == st.metadata.end()) throw Error(Str(path, ": no __metadata__[\"golden\"] (not a golden file)"));
    try {
      meta = nlohmann::json::parse(it->second);
    } catch (const nlohmann::json::exception& e) {
      throw Error(Str(path, ": __metadata__[\"golden\"] is not JSON (", e.what(), ")"));
    }
    if (!meta.contains("prompts") || !meta["prompts"].is_object()) throw Error(Str(path, ": metadata lists no prompts"));
    for (const auto& [name, _] : meta["prompts"].items()) prompts.push_back(name);
  }

  const Tensor* find(const std::string& prompt, const std::string& name) const {
    const auto it = st.tensors.find(prompt + "." + name);
    return it == st.tensors.end() ? nullptr : &it->second;
  }
  const Tensor& get(const std::string& prompt, const std::string& name) const {
    const Tensor* t = find(prompt, name);
    if (!t) throw Error(Str(path, ": no tensor ", prompt, ".", name));
    return *t;
  }
  std::vector<float> floats(const std::string& prompt, const std::string& name) const {
    const Tensor& t = get(prompt, name);
    if (t.dtype != DType::F32) throw Error(Str(path, ": ", t.name, " is ", DTypeName(t.dtype), ", expected F32"));
    std::vector<float> v(size_t(t.numel()));
    std::memcpy(v.data(), t.data, t.nbytes);
    return v;
  }
  std::vector<int32_t> ints(const std::string& prompt, const std::string& name) const {
    const Tensor& t = get(prompt, name);
    if (t.dtype != DType::I32) throw Error(Str(path, ": ", t.name, " is ", DTypeName(t.dtype), ", expected I32"));
    std::vector<int32_t> v(size_t(t.numel()));
    std::memcpy(v.data(), t.data, t.nbytes);
    return v;
  }
  double tolerance(const std::string& key) const {
    if (!meta.contains("tolerance") || !meta["tolerance"].contains(key) || !meta["tolerance"][key].is_number())
      throw Error(Str(path, ": metadata has no tolerance.", key));
    return meta["tolerance"][key].get<double>();
  }
};

// One row of the report: how one capture point of one prompt compares.
struct Comparison {
  std::string name;         // "<prompt>.<capture point>"
  size_t count = 0;         // elements compared
  double max_abs = 0;       // max |ours − ref|
  double nmse = 0;          // Σ(ours − ref)² / Σ(ref − mean ref)²
  double cosine = 1;
  double top1 = -1;         // fraction of rows with the same argmax (logits only; −1: not applicable)
  double top5 = -1;         // fraction of rows where the reference's argmax is in our top 5 (logits only)
  double kl = -1;           // mean KL(softmax ref ‖ softmax ours) over rows, nats (logits only)
  double kl_max = -1;
  double tol_abs = 0;       // the bound max_abs must meet
  double tol_nmse = -1;     // the bound nmse must meet (−1: none)
  bool exact = false;       // ids: must be identical
  bool pass = true;
  std::string first_bad;    // where the tolerance first breaks ("row 3, element 17")
};

// Softmax statistics of logits rows: top-5 agreement and KL(softmax ref ‖ softmax cand).
inline void LogitStatistics(const float* cand, const float* ref, size_t rows, size_t V, Comparison& c) {
  size_t in_top5 = 0;
  double kl_sum = 0;
  c.kl_max = 0;
  std::vector<double> lp_ref(V), lp_cand(V);
  auto log_softmax = [V](const float* x, std::vector<double>& out) {
    double max = x[0], sum = 0;
    for (size_t i = 1; i < V; ++i) max = std::max(max, double(x[i]));
    for (size_t i = 0; i < V; ++i) sum += std::exp(double(x[i]) - max);
    for (size_t i = 0; i < V; ++i) out[i] = double(x[i]) - max - std::log(sum);
  };
  for (size_t r = 0; r < rows; ++r) {
    const float* a = cand + r * V;
    const float* b = ref + r * V;
    const size_t best = ops::scalar::Argmax(b, V);
    size_t above = 0;  // candidate logits strictly above the candidate's value at the reference's best
    for (size_t i = 0; i < V; ++i) above += a[i] > a[best];
    in_top5 += above < 5;
    log_softmax(a, lp_cand);
    log_softmax(b, lp_ref);
    double kl = 0;
    for (size_t i = 0; i < V; ++i) kl += std::exp(lp_ref[i]) * (lp_ref[i] - lp_cand[i]);
    kl_sum += kl;
    c.kl_max = std::max(c.kl_max, kl);
  }
  c.top5 = rows ? double(in_top5) / double(rows) : 1.0;
  c.kl = rows ? kl_sum / double(rows) : 0.0;
}

inline Comparison CompareFloats(const std::string& name, const float* ours, const float* ref, size_t n, size_t row,
                                double tol_abs, double tol_nmse, bool want_top1) {
  Comparison c;
  c.name = name;
  c.count = n;
  c.tol_abs = tol_abs;
  c.tol_nmse = tol_nmse;
  double mean = 0;
  for (size_t i = 0; i < n; ++i) mean += ref[i];
  mean /= double(std::max<size_t>(n, 1));
  double se = 0, var = 0, dot = 0, n_ours = 0, n_ref = 0;
  for (size_t i = 0; i < n; ++i) {
    const double d = double(ours[i]) - double(ref[i]);
    if (!(std::fabs(d) <= c.max_abs)) {  // NaN counts as the worst error
      c.max_abs = std::isnan(d) ? INFINITY : std::fabs(d);
    }
    if (!(std::fabs(d) <= tol_abs) && c.first_bad.empty()) c.first_bad = Str("row ", i / row, ", element ", i % row);
    se += d * d;
    var += (double(ref[i]) - mean) * (double(ref[i]) - mean);
    dot += double(ours[i]) * double(ref[i]);
    n_ours += double(ours[i]) * double(ours[i]);
    n_ref += double(ref[i]) * double(ref[i]);
  }
  c.nmse = var > 0 ? se / var : (se > 0 ? INFINITY : 0);
  c.cosine = (n_ours > 0 && n_ref > 0) ? dot / std::sqrt(n_ours * n_ref) : (n_ours == n_ref ? 1 : 0);
  c.pass = c.max_abs <= tol_abs && (tol_nmse < 0 || c.nmse <= tol_nmse);
  if (want_top1 && row > 0) {
    size_t same = 0;
    for (size_t r = 0; r < n / row; ++r) {
      const bool ok = ops::scalar::Argmax(ours + r * row, row) == ops::scalar::Argmax(ref + r * row, row);
      same += ok;
      if (!ok && c.pass) c.first_bad = Str("row ", r, " (top-1 differs)");
      c.pass = c.pass && ok;
    }
    c.top1 = double(same) / double(n / row);
    LogitStatistics(ours, ref, n / row, row, c);
  }
  return c;
}

inline Comparison CompareIds(const std::string& name, const std::vector<int32_t>& ours,
                             const std::vector<int32_t>& ref) {
  Comparison c;
  c.name = name;
  c.exact = true;
  c.count = ref.size();
  size_t same = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    const bool ok = i < ours.size() && ours[i] == ref[i];
    same += ok;
    if (!ok && c.first_bad.empty()) c.first_bad = Str("index ", i, ": ", i < ours.size() ? ours[i] : -1, " vs ", ref[i]);
  }
  c.pass = same == ref.size() && ours.size() == ref.size();
  c.top1 = ref.empty() ? 1.0 : double(same) / double(ref.size());
  return c;
}

// Router choices: each token's set of k experts must match (the order within a set is not compared).
inline Comparison CompareExpertSets(const std::string& name, const int32_t* ours, const int32_t* ref, size_t tokens,
                                    size_t k) {
  Comparison c;
  c.name = name;
  c.exact = true;
  c.count = tokens;
  size_t same = 0;
  for (size_t t = 0; t < tokens; ++t) {
    const std::set<int32_t> a(ours + t * k, ours + (t + 1) * k), b(ref + t * k, ref + (t + 1) * k);
    same += a == b;
    if (a != b && c.first_bad.empty()) c.first_bad = Str("token ", t);
  }
  c.pass = same == tokens;
  c.top1 = tokens ? double(same) / double(tokens) : 1.0;
  return c;
}

struct Report {
  std::vector<Comparison> rows;
  bool pass() const {
    return !rows.empty() && std::all_of(rows.begin(), rows.end(), [](const Comparison& c) { return c.pass; });
  }
};

// Runs every prompt of a target golden file through `lm` and compares every capture point it holds.
inline Report CheckTarget(const Gemma4ForCausalLM& lm, const GoldenFile& g) {
  Report report;
  const double tol_logits = g.tolerance("logits_max_abs"), tol_hidden = g.tolerance("hidden_max_abs");
  const double tol_nmse = g.tolerance("logits_nmse");
  const Gemma4TextConfig& cfg = lm.config;
  const size_t V = size_t(cfg.vocab_size), L = size_t(cfg.num_hidden_layers);
  for (const std::string& prompt : g.prompts) {
    const std::vector<int32_t> ids = g.ints(prompt, "input_ids");
    const size_t T = ids.size();
    Session session(lm, T);
    Capture cap;
    session.prefill(ids.data(), T, &cap, /*all_rows=*/true);
    auto compare = [&](const std::string& capture, const std::vector<float>& ours, const std::string& golden_name,
                       double tol, double nmse, bool top1, size_t row) {
      if (!g.find(prompt, golden_name)) return;
      const std::vector<float> ref = g.floats(prompt, golden_name);
      if (ours.size() != ref.size())
        throw Error(Str(g.path, ": ", prompt, ".", golden_name, " has ", ref.size(), " values, our ", capture, " has ",
                        ours.size(), " (does the golden belong to this model?)"));
      report.rows.push_back(CompareFloats(prompt + "." + golden_name, ours.data(), ref.data(), ref.size(), row, tol,
                                          nmse, top1));
    };
    auto captured = [&](const std::string& name) -> const std::vector<float>& {
      const Capture::Entry* e = cap.find(name);
      if (!e) throw Error(Str("capture point ", name, " was not recorded"));
      return e->f32;
    };
    compare("embeddings", captured("embeddings"), "embeddings", tol_hidden, -1, false, size_t(cfg.hidden_size));
    if (cfg.has_per_layer_inputs())
      compare("ple_inputs", captured("ple_inputs"), "ple_inputs", tol_hidden, -1, false,
              size_t(cfg.hidden_size_per_layer_input));
    // hidden_states [L,T,H]: one row per layer, so the report shows the first layer that drifts.
    if (g.find(prompt, "hidden_states")) {
      const std::vector<float> ref = g.floats(prompt, "hidden_states");
      const size_t per_layer = ref.size() / L;
      for (size_t i = 0; i < L; ++i) {
        const std::vector<float>& ours = captured("hidden_states." + std::to_string(i));
        if (ours.size() != per_layer) throw Error(Str(g.path, ": hidden_states does not match the model's shape"));
        report.rows.push_back(CompareFloats(Str(prompt, ".hidden_states[", i, "]"), ours.data(), ref.data() + i * per_layer,
                                            per_layer, size_t(cfg.hidden_size), tol_hidden, -1, false));
      }
    }
    for (const char* type : {"sliding_attention", "full_attention"})
      for (const char* kv : {"k", "v"}) {
        const std::string name = Str("shared_kv.", type, ".", kv);
        if (g.find(prompt, name)) compare(name, captured(name), name, tol_hidden, -1, false, 1);
      }
    if (cfg.enable_moe_block && g.find(prompt, "router_topk_idx")) {
      const std::vector<int32_t> ref_idx = g.ints(prompt, "router_topk_idx");
      const std::vector<float> ref_w = g.floats(prompt, "router_topk_w"), ref_p = g.floats(prompt, "router_probs");
      const size_t k = size_t(*cfg.top_k_experts), E = size_t(*cfg.num_experts);
      for (size_t i = 0; i < L; ++i) {
        const std::string li = std::to_string(i);
        const Capture::Entry* idx = cap.find("router_topk_idx." + li);
        report.rows.push_back(CompareExpertSets(Str(prompt, ".router_topk_idx[", i, "]"), idx->i32.data(),
                                                ref_idx.data() + i * T * k, T, k));
        // weights compared per token in expert order, so the order inside a top-k set does not matter
        std::vector<float> ours_w(T * E, 0.0f), golden_w(T * E, 0.0f);
        for (size_t t = 0; t < T; ++t)
          for (size_t j = 0; j < k; ++j) {
            ours_w[t * E + size_t(idx->i32[t * k + j])] = captured("router_topk_w." + li)[t * k + j];
            golden_w[t * E + size_t(ref_idx[i * T * k + t * k + j])] = ref_w[i * T * k + t * k + j];
          }
        report.rows.push_back(CompareFloats(Str(prompt, ".router_topk_w[", i, "]"), ours_w.data(), golden_w.data(),
                                            T * E, E, tol_hidden, -1, false));
        report.rows.push_back(CompareFloats(Str(prompt, ".router_probs[", i, "]"), captured("router_probs." + li).data(),
                                            ref_p.data() + i * T * E, T * E, E, tol_hidden, -1, false));
      }
    }
    compare("final_norm", captured("final_norm"), "final_norm", tol_hidden, -1, false, size_t(cfg.hidden_size));
    compare("logits", captured("logits"), "logits", tol_logits, tol_nmse, true, V);

    if (g.find(prompt, "greedy_tokens")) {
      const std::vector<int32_t> ref_tokens = g.ints(prompt, "greedy_tokens");
      std::vector<int32_t> tokens;
      std::vector<float> greedy_logits;
      Session gen(lm, std::max<size_t>(T, 1));
      const float* logits = gen.prefill(ids.data(), T);
      for (size_t j = 0; j < ref_tokens.size(); ++j) {
        greedy_logits.insert(greedy_logits.end(), logits, logits + V);
        tokens.push_back(int32_t(ops::Argmax(logits, V)));
        if (j + 1 < ref_tokens.size()) logits = gen.decode(tokens.back());
      }
      report.rows.push_back(CompareIds(prompt + ".greedy_tokens", tokens, ref_tokens));
      compare("greedy_logits", greedy_logits, "greedy_logits", tol_logits, tol_nmse, true, V);
    }
  }
  return report;
}

// The hidden-state tolerance of the target's own golden file (<dir>/golden.safetensors), 0 without one.
inline double TargetHiddenTolerance(const std::string& target_dir) {
  const std::string path = target_dir + "/golden.safetensors";
  if (target_dir.empty() || !IsFile(path)) return 0;
  return GoldenFile(path).tolerance("hidden_max_abs");
}

// Runs the first drafting round of a drafter golden file (golden/README.md, "Drafters") for every prompt.
// The drafter's capture points (draft_layer_hidden, draft_hidden, draft_logits, draft_tokens) are computed
// from the golden's own inputs (target_next_token, target_last_hidden, shared_kv.*), so they judge the
// drafter alone, with the file's tolerances. End to end, our target's prefill must hand over the same next
// token, last hidden state and K/V (within `handover_tol`: those are target outputs, so the target
// golden's hidden tolerance applies; ≤ 0 = this file's), and the drafter run on that hand-over must
// propose the same tokens (e2e.draft_tokens).
inline Report CheckDrafter(const Gemma4ForCausalLM& target, const Gemma4AssistantForCausalLM& drafter,
                           const GoldenFile& g, double handover_tol = 0) {
  drafter.check_target(target.config);
  Report report;
  const double tol_logits = g.tolerance("logits_max_abs"), tol_hidden = g.tolerance("hidden_max_abs");
  const double tol_nmse = g.tolerance("logits_nmse");
  if (handover_tol <= 0) handover_tol = tol_hidden;
  const Gemma4TextConfig& tc = target.config;
  const size_t V = size_t(tc.vocab_size), Hb = size_t(tc.hidden_size);
  const size_t Ha = size_t(drafter.config.text_config.hidden_size), La = drafter.model.layers.size();
  auto compare = [&](const std::string& prompt, const std::string& name, const std::vector<float>& ours, double tol,
                     double nmse, bool top1, size_t row, const std::string& label) {
    const std::vector<float> ref = g.floats(prompt, name);
    if (ours.size() != ref.size())
      throw Error(Str(g.path, ": ", prompt, ".", name, " has ", ref.size(), " values, ours ", ours.size(),
                      " (does the golden belong to this target and drafter?)"));
    report.rows.push_back(CompareFloats(prompt + "." + label, ours.data(), ref.data(), ref.size(), row, tol, nmse, top1));
  };
  // k greedy draft steps from (token, h) at position p over `cache`; captures per step.
  struct Round {
    std::vector<int32_t> tokens;
    std::vector<float> logits, hidden, layer_hidden;  // [k,V], [k,Hb], [k,La,Ha]
  };
  auto draft = [&](Gemma4Cache& cache, int32_t token, std::vector<float> h, size_t p, size_t k) {
    Round r;
    AssistantState st = drafter.make_state();
    std::vector<float> h_next(Hb), logits(V);
    for (size_t j = 0; j < k; ++j) {
      Capture dc;
      drafter.forward(target, cache, token, h.data(), p, st, logits.data(), h_next.data(), &dc);
      for (size_t i = 0; i < La; ++i) {
        const std::vector<float>& x = dc.find("draft_layer_hidden." + std::to_string(i))->f32;
        r.layer_hidden.insert(r.layer_hidden.end(), x.begin(), x.end());
      }
      r.logits.insert(r.logits.end(), logits.begin(), logits.end());
      r.hidden.insert(r.hidden.end(), h_next.begin(), h_next.end());
      token = int32_t(ops::Argmax(logits.data(), V));
      r.tokens.push_back(token);
      h = h_next;
    }
    return r;
  };
  for (const std::string& prompt : g.prompts) {
    const std::vector<int32_t> ids = g.ints(prompt, "input_ids");
    const size_t T = ids.size();
    const std::vector<int32_t> ref_tokens = g.ints(prompt, "draft_tokens");
    const int32_t ref_pos = g.ints(prompt, "draft_position").at(0);
    if (size_t(ref_pos) != T) throw Error(Str(g.path, ": ", prompt, ".draft_position is ", ref_pos, ", expected ", T));

    // 1. the drafter alone, on the golden's inputs: its K/V written into a target-shaped cache
    Gemma4Cache golden_cache(tc, T);
    for (const char* type : {"sliding_attention", "full_attention"}) {
      const int64_t src = tc.kv_source_layer(type);
      if (src < 0) continue;
      const std::vector<float> k = g.floats(prompt, Str("shared_kv.", type, ".k"));
      const std::vector<float> v = g.floats(prompt, Str("shared_kv.", type, ".v"));
      if (k.size() != T * golden_cache.layers[size_t(src)].row || v.size() != k.size())
        throw Error(Str(g.path, ": ", prompt, ".shared_kv.", type, " does not match the target's K/V geometry"));
      golden_cache.write(src, 0, T, k.data(), v.data());
    }
    golden_cache.seq_length = T;
    const Round r = draft(golden_cache, g.ints(prompt, "target_next_token").at(0),
                          g.floats(prompt, "target_last_hidden"), T, ref_tokens.size());
    report.rows.push_back(CompareIds(prompt + ".draft_tokens", r.tokens, ref_tokens));
    // draft_layer_hidden [k, La, Ha]: one row per layer, so the report shows the first layer that drifts
    const std::vector<float> ref_layers = g.floats(prompt, "draft_layer_hidden");
    if (ref_layers.size() != r.layer_hidden.size())
      throw Error(Str(g.path, ": ", prompt, ".draft_layer_hidden does not match the drafter's shape"));
    for (size_t i = 0; i < La; ++i) {
      std::vector<float> ours, ref;
      for (size_t j = 0; j < ref_tokens.size(); ++j) {
        const long a = long((j * La + i) * Ha), b = long((j * La + i + 1) * Ha);
        ours.insert(ours.end(), r.layer_hidden.begin() + a, r.layer_hidden.begin() + b);
        ref.insert(ref.end(), ref_layers.begin() + a, ref_layers.begin() + b);
      }
      report.rows.push_back(CompareFloats(Str(prompt, ".draft_layer_hidden[", i, "]"), ours.data(), ref.data(),
                                          ref.size(), Ha, tol_hidden, -1, false));
    }
    compare(prompt, "draft_hidden", r.hidden, tol_hidden, -1, false, Hb, "draft_hidden");
    compare(prompt, "draft_logits", r.logits, tol_logits, tol_nmse, true, V, "draft_logits");

    // 2. end to end: our target's prefill hands over, our drafter drafts
    Session session(target, std::max<size_t>(T, 2));
    Capture cap;
    const float* logits = session.prefill(ids.data(), T, &cap);
    const int32_t next = int32_t(ops::Argmax(logits, V));
    const std::vector<float> last(session.state.x.begin() + long((T - 1) * Hb), session.state.x.begin() + long(T * Hb));
    report.rows.push_back(CompareIds(prompt + ".e2e.target_next_token", {next}, g.ints(prompt, "target_next_token")));
    compare(prompt, "target_last_hidden", last, handover_tol, -1, false, Hb, "e2e.target_last_hidden");
    for (const char* type : {"sliding_attention", "full_attention"})
      for (const char* kv : {"k", "v"}) {
        const std::string name = Str("shared_kv.", type, ".", kv);
        const Capture::Entry* e = cap.find(name);
        if (e && g.find(prompt, name)) compare(prompt, name, e->f32, handover_tol, -1, false, 1, "e2e." + name);
      }
    report.rows.push_back(CompareIds(prompt + ".e2e.draft_tokens", draft(session.cache, next, last, T, ref_tokens.size()).tokens,
                                     ref_tokens));
  }
  return report;
}

// The table, then one last line that starts with PASS or FAIL and gives the worst figures.
inline void PrintReport(const Report& report, std::FILE* out, const std::string& label = "") {
  std::fprintf(out, "%-38s %8s %11s %11s %10s %7s %7s %10s %11s  %s\n", "capture point", "count", "max_abs", "nmse",
               "cosine", "top1", "top5", "kl", "tolerance", "result");
  double worst_ratio = 0;
  const Comparison* worst = nullptr;
  size_t failed = 0;
  for (const Comparison& c : report.rows) {
    if (c.exact) {
      std::fprintf(out, "%-38s %8zu %11s %11s %10s %7.4f %7s %10s %11s  %s%s%s\n", c.name.c_str(), c.count, "-", "-",
                   "-", c.top1, "-", "-", "exact", c.pass ? "ok" : "FAIL", c.first_bad.empty() ? "" : " at ",
                   c.first_bad.c_str());
    } else {
      char top1[16] = "-", top5[16] = "-", kl[16] = "-", tol[16] = "-";
      if (c.top1 >= 0) std::snprintf(top1, sizeof top1, "%.4f", c.top1);
      if (c.top5 >= 0) std::snprintf(top5, sizeof top5, "%.4f", c.top5);
      if (c.kl >= 0) std::snprintf(kl, sizeof kl, "%.3e", c.kl);
      if (c.tol_abs > 0) std::snprintf(tol, sizeof tol, "%.4e", c.tol_abs);
      std::fprintf(out, "%-38s %8zu %11.4e %11.4e %10.7f %7s %7s %10s %11s  %s%s%s\n", c.name.c_str(), c.count,
                   c.max_abs, c.nmse, c.cosine, top1, top5, kl, tol, c.pass ? "ok" : "FAIL", c.pass ? "" : " at ",
                   c.pass ? "" : c.first_bad.c_str());
      const double ratio = c.tol_abs > 0 ? c.max_abs / c.tol_abs : 0;
      if (!worst || ratio > worst_ratio) worst_ratio = ratio, worst = &c;
    }
    failed += !c.pass;
  }
  // last line: PASS or FAIL, then the worst element-wise ratio and the worst logits statistics
  std::string worst_text;
  if (worst && worst_ratio > 0)
    worst_text = Str("; worst max_abs ", worst->max_abs, " (", worst->name, ") = ", worst_ratio, " of its tolerance");
  double min_top1 = 2, max_kl = -1;
  for (const Comparison& c : report.rows)
    if (c.kl >= 0) min_top1 = std::min(min_top1, c.top1), max_kl = std::max(max_kl, c.kl);
  if (max_kl >= 0) worst_text += Str("; logits top1 >= ", min_top1, ", mean KL <= ", max_kl);
  std::fprintf(out, "%s%s %zu of %zu capture points %s%s\n", report.pass() ? "PASS" : "FAIL", label.c_str(),
               report.pass() ? report.rows.size() : failed, report.rows.size(), report.pass() ? "agree" : "disagree",
               worst_text.c_str());
}

}  // namespace gemma4::golden

#endif  // GEMMA4_TOOLS_GOLDEN_H_
