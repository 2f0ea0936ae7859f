// tools/compare.h — holding ANOTHER engine's outputs against a golden file (gemma4-eval compare), and
// writing our own outputs as a golden file (gemma4-eval dump). Format and tiers: golden/FORMAT.md.
#ifndef GEMMA4_TOOLS_COMPARE_H_
#define GEMMA4_TOOLS_COMPARE_H_

#include <algorithm>
#include <set>
#include <utility>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "gemma4/gemma4.h"
#include "tools/golden.h"

namespace gemma4::compare {

// An array another engine wrote: its values as f32 and its shape (a flat file has shape [n]).
struct Array {
  std::vector<float> data;
  std::vector<int64_t> shape;
  std::string source;
};

// .npy (NumPy format 1.0–3.0; little-endian f2/f4/f8, C order).
inline Array ReadNpy(const std::string& path) {
  MappedFile file(path);
  const uint8_t* p = file.data();
  const size_t size = file.size();
  if (size < 10 || std::memcmp(p, "\x93NUMPY", 6) != 0) throw Error(Str(path, ": not a .npy file (bad magic)"));
  const int major = p[6];
  size_t header_len, offset;
  if (major == 1) {
    header_len = size_t(p[8]) | size_t(p[9]) << 8;
    offset = 10;
  } else if (major == 2 || major == 3) {
    if (size < 12) throw Error(Str(path, ": truncated .npy header"));
    header_len = size_t(p[8]) | size_t(p[9]) << 8 | size_t(p[10]) << 16 | size_t(p[11]) << 24;
    offset = 12;
  } else {
    throw Error(Str(path, ": .npy version ", major, " is not supported"));
  }
  if (header_len > size - offset) throw Error(Str(path, ": .npy header runs past the end of the file"));
  const std::string header(reinterpret_cast<const char*>(p + offset), header_len);
  auto field = [&](const std::string& key) {
    const size_t k = header.find("'" + key + "'");
    if (k == std::string::npos) throw Error(Str(path, ": .npy header has no '", key, "'"));
    return header.substr(header.find(':', k) + 1);
  };
  const std::string descr = field("descr");
  const size_t q = descr.find('\'');
  const std::string type = descr.substr(q + 1, descr.find('\'', q + 1) - q - 1);
  const std::string order = field("fortran_order");
  if (order.substr(0, order.find(',')).find("True") != std::string::npos)
    throw Error(Str(path, ": Fortran-order arrays are not supported"));
  Array a;
  a.source = path;
  const std::string shape_text = field("shape");
  const std::string dims = shape_text.substr(shape_text.find('(') + 1, shape_text.find(')') - shape_text.find('(') - 1);
  for (size_t i = 0; i < dims.size();) {
    while (i < dims.size() && (dims[i] == ' ' || dims[i] == ',')) ++i;
    if (i >= dims.size()) break;
    size_t used = 0;
    a.shape.push_back(std::stoll(dims.substr(i), &used));
    i += used;
  }
  const size_t n = size_t(NumElements(a.shape));
  const uint8_t* data = p + offset + header_len;
  const size_t available = size - offset - header_len;
  a.data.resize(n);
  if (type == "<f4") {
    if (available < 4 * n) throw Error(Str(path, ": truncated (", n, " f4 values declared)"));
    std::memcpy(a.data.data(), data, 4 * n);
  } else if (type == "<f8") {
    if (available < 8 * n) throw Error(Str(path, ": truncated (", n, " f8 values declared)"));
    for (size_t i = 0; i < n; ++i) a.data[i] = ops::scalar::ElementToF32(data, DType::F64, i);
  } else if (type == "<f2") {
    if (available < 2 * n) throw Error(Str(path, ": truncated (", n, " f2 values declared)"));
    for (size_t i = 0; i < n; ++i) a.data[i] = ops::scalar::ElementToF32(data, DType::F16, i);
  } else {
    throw Error(Str(path, ": dtype ", type, " is not supported (<f2, <f4, <f8)"));
  }
  return a;
}

// FILE.npy, FILE.safetensors[:TENSOR], or anything else as raw little-endian f32 (llama.cpp's
// check-nmse.py .bin). In a safetensors file without :TENSOR, the first of `names` present is used, or the
// only tensor.
inline Array LoadArray(const std::string& spec, const std::vector<std::string>& names) {
  auto ends_with = [](const std::string& s, const std::string& suffix) {
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  std::string path = spec, tensor;
  const size_t colon = spec.rfind(".safetensors:");
  if (colon != std::string::npos) {
    path = spec.substr(0, colon + 12);
    tensor = spec.substr(colon + 13);
  }
  if (ends_with(path, ".npy")) return ReadNpy(path);
  if (ends_with(path, ".safetensors")) {
    const SafetensorsFile st = ReadSafetensors(path);
    const Tensor* t = nullptr;
    if (!tensor.empty()) {
      const auto it = st.tensors.find(tensor);
      if (it == st.tensors.end()) throw Error(Str(path, ": no tensor ", tensor));
      t = &it->second;
    } else {
      for (const std::string& n : names)
        if (st.tensors.count(n)) {
          t = &st.tensors.at(n);
          break;
        }
      if (!t && st.tensors.size() == 1) t = &st.tensors.begin()->second;
      if (!t) throw Error(Str(path, ": say which tensor to read (", path, ":NAME)"));
    }
    if (!ops::IsWeightDType(t->dtype) && t->dtype != DType::F64)
      throw Error(Str(path, ": tensor ", t->name, " is ", DTypeName(t->dtype), ", expected floating point"));
    Array a{std::vector<float>(size_t(t->numel())), t->shape, path + ":" + t->name};
    ops::scalar::ToF32(t->data, t->dtype, a.data.size(), 1.0f, a.data.data());
    return a;
  }
  MappedFile file(path);
  if (file.size() % 4) throw Error(Str(path, ": ", file.size(), " bytes is not a whole number of f32 values"));
  Array a{std::vector<float>(file.size() / 4), {int64_t(file.size() / 4)}, path};
  if (file.size()) std::memcpy(a.data.data(), file.data(), file.size());
  return a;
}

enum class Tier { kF32, kBF16, kQ8, kQ4 };

inline Tier ParseTier(const std::string& s) {
  if (s == "f32") return Tier::kF32;
  if (s == "bf16") return Tier::kBF16;
  if (s == "q8") return Tier::kQ8;
  if (s == "q4") return Tier::kQ4;
  throw Error(Str("--tier: \"", s, "\" is not one of f32, bf16, q8, q4"));
}

// The statistical tiers' bounds (golden/FORMAT.md); the f32 tier uses the golden file's own tolerance.
struct TierBounds {
  double logits_nmse, top1, kl, hidden_nmse;
};
inline TierBounds BoundsOf(Tier t) {
  switch (t) {
    case Tier::kBF16: return {1e-3, 0.98, 1e-3, 1e-2};
    case Tier::kQ8: return {INFINITY, 0.99, 1e-3, 5e-2};
    case Tier::kQ4: return {INFINITY, 0.90, 5e-2, 0.25};
    default: return {0, 1, 0, 0};
  }
}

// Compares one capture point of one prompt at a tier. `row` is the length of the last axis.
inline golden::Comparison CompareAt(const std::string& name, const float* cand, const float* ref, size_t n, size_t row,
                                    bool is_logits, Tier tier, const golden::GoldenFile& g) {
  golden::Comparison c;
  if (tier == Tier::kF32) {
    c = is_logits ? golden::CompareFloats(name, cand, ref, n, row, g.tolerance("logits_max_abs"),
                                          g.tolerance("logits_nmse"), true)
                  : golden::CompareFloats(name, cand, ref, n, row, g.tolerance("hidden_max_abs"), -1, false);
    return c;
  }
  const TierBounds b = BoundsOf(tier);
  c = golden::CompareFloats(name, cand, ref, n, row, INFINITY, is_logits ? b.logits_nmse : b.hidden_nmse, is_logits);
  c.tol_abs = 0;  // not judged element-wise
  c.pass = c.nmse <= (is_logits ? b.logits_nmse : b.hidden_nmse);
  if (!c.pass) c.first_bad = Str("nmse ", c.nmse, " > ", is_logits ? b.logits_nmse : b.hidden_nmse);
  if (is_logits) {
    // first position whose argmax differs, to say where the disagreement starts
    std::string first_top1;
    for (size_t r = 0; r < n / row && first_top1.empty(); ++r)
      if (ops::scalar::Argmax(cand + r * row, row) != ops::scalar::Argmax(ref + r * row, row)) first_top1 = Str("row ", r);
    if (c.top1 < b.top1) c.pass = false, c.first_bad = Str("top1 ", c.top1, " < ", b.top1, " (first at ", first_top1, ")");
    if (c.kl > b.kl) c.pass = false, c.first_bad = Str("mean KL ", c.kl, " > ", b.kl);
  }
  return c;
}

// Every capture point of `lm` on each prompt, under golden names "<prompt>.<capture point>", plus a
// greedy continuation of `greedy` tokens: a golden file's tensors (golden/FORMAT.md).
inline Capture CaptureGolden(const Gemma4ForCausalLM& lm, const std::vector<std::pair<std::string, std::vector<int32_t>>>& prompts,
                             size_t greedy) {
  const Gemma4TextConfig& c = lm.config;
  const int64_t L = c.num_hidden_layers, V = c.vocab_size;
  Capture out;
  for (const auto& prompt : prompts) {
    // (plain references, not a structured binding: lambdas may not capture those in C++17)
    const std::string& name = prompt.first;
    const auto& ids = prompt.second;
    const int64_t T = int64_t(ids.size());
    Capture cap;
    Session session(lm, ids.size());
    session.prefill(ids.data(), ids.size(), &cap, /*all_rows=*/true);
    auto copy = [&](const std::string& capture) {
      if (const Capture::Entry* e = cap.find(capture)) {
        if (e->i32.empty()) out.add(name + "." + capture, e->shape, e->f32.data());
        else out.add(name + "." + capture, e->shape, e->i32.data());
      }
    };
    auto stack = [&](const std::string& capture) {  // per-layer [T,...] captures → [L,T,...]
      for (int64_t i = 0; i < L; ++i) {
        const Capture::Entry* e = cap.find(capture + "." + std::to_string(i));
        if (!e) return;
        std::vector<int64_t> shape = e->shape;
        shape.insert(shape.begin(), 1);
        if (e->i32.empty()) out.add("stack", shape, e->f32.data());
        else out.add("stack", shape, e->i32.data());
      }
      out.entries[name + "." + capture] = out.entries["stack"];
      out.entries.erase("stack");
    };
    out.add(name + ".input_ids", {T}, ids.data());
    for (const char* capture : {"embeddings", "ple_inputs", "final_norm", "logits", "shared_kv.sliding_attention.k",
                                "shared_kv.sliding_attention.v", "shared_kv.full_attention.k", "shared_kv.full_attention.v"})
      copy(capture);
    for (const char* capture : {"hidden_states", "router_probs", "router_topk_idx", "router_topk_w"}) stack(capture);
    if (greedy == 0) continue;
    const float* logits = session.logits.data() + (ids.size() - 1) * size_t(V);  // continue the same session
    std::vector<int32_t> tokens;
    for (size_t j = 0; j < greedy; ++j) {
      out.add(name + ".greedy_logits", {1, V}, logits);
      tokens.push_back(int32_t(ops::Argmax(logits, size_t(V))));
      if (j + 1 < greedy) logits = session.decode(tokens.back());
    }
    out.add(name + ".greedy_tokens", {int64_t(greedy)}, tokens.data());
  }
  return out;
}

// `gemma4-eval golden --tier bf16|q8|q4`: every float capture point of every prompt of a target golden file,
// judged by the tier's statistical bounds (golden/FORMAT.md) instead of the file's f32 tolerances — for a
// quantized model or the `fast` numerics. Integer capture points are not judged at these tiers.
inline golden::Report CheckTargetAtTier(const Gemma4ForCausalLM& lm, const golden::GoldenFile& g, Tier tier) {
  golden::Report report;
  for (const std::string& prompt : g.prompts) {
    const Tensor* greedy = g.find(prompt, "greedy_tokens");
    const Capture ours = CaptureGolden(lm, {{prompt, g.ints(prompt, "input_ids")}},
                                       greedy ? size_t(greedy->numel()) : 0);
    for (const auto& [name, e] : ours.entries) {
      const std::string capture = name.substr(prompt.size() + 1);
      if (!e.i32.empty() || !g.find(prompt, capture)) continue;
      const std::vector<float> ref = g.floats(prompt, capture);
      if (ref.size() != e.f32.size())
        throw Error(Str(g.path, ": ", name, " has ", ref.size(), " values, ours ", e.f32.size(),
                        " (does the golden belong to this model?)"));
      const size_t row = size_t(e.shape.back());
      const bool is_logits = capture.size() >= 6 && capture.compare(capture.size() - 6, 6, "logits") == 0;
      if (capture == "router_topk_w") continue;  // its order follows router_topk_idx; router_probs is judged
      if (capture == "hidden_states") {  // one row per layer, so the report shows the first that breaks
        const size_t layers = size_t(e.shape[0]), per_layer = ref.size() / layers;
        for (size_t i = 0; i < layers; ++i)
          report.rows.push_back(CompareAt(Str(name, "[", i, "]"), e.f32.data() + i * per_layer, ref.data() + i * per_layer,
                                          per_layer, row, false, tier, g));
      } else {
        report.rows.push_back(CompareAt(name, e.f32.data(), ref.data(), ref.size(), row, is_logits, tier, g));
      }
    }
  }
  return report;
}

// How far this engine's own f32 results move across the SIMD targets it carries (AVX3, AVX2, portable:
// 16, 8 and 1 lanes summing in different orders): the scale of f32 round-off for this model and prompt.
struct Spread {
  double logits_max_abs = 0, hidden_max_abs = 0, logits_nmse = 0;
  std::vector<std::string> targets;
};
inline Spread MeasureSpread(const Gemma4ForCausalLM& lm, const std::vector<std::pair<std::string, std::vector<int32_t>>>& prompts,
                            size_t greedy, const Capture& best) {
  Spread s;
  for (int64_t target : hwy::SupportedAndGeneratedTargets()) {
    hwy::SetSupportedTargetsForTest(target);
    s.targets.push_back(hwy::TargetName(target));
    const Capture other = CaptureGolden(lm, prompts, greedy);
    for (const auto& [name, e] : best.entries) {
      if (e.f32.empty()) continue;
      const std::vector<float>& o = other.entries.at(name).f32;
      const bool logits = name.size() >= 6 && name.compare(name.size() - 6, 6, "logits") == 0;
      const golden::Comparison c = golden::CompareFloats(name, o.data(), e.f32.data(), e.f32.size(), 1, INFINITY, -1, false);
      (logits ? s.logits_max_abs : s.hidden_max_abs) = std::max(logits ? s.logits_max_abs : s.hidden_max_abs, c.max_abs);
      if (logits) s.logits_nmse = std::max(s.logits_nmse, c.nmse);
    }
  }
  hwy::SetSupportedTargetsForTest(0);
  return s;
}

// The metadata of a golden file made by this engine: tolerances are 10× our own cross-target spread
// (at least 1e-4, and 1e-7 for NMSE), the rule the shipped goldens use for their float32 runs.
inline nlohmann::json GoldenMetadata(const Gemma4ForCausalLM& lm, const std::string& model,
                                     const std::vector<std::pair<std::string, std::vector<int32_t>>>& prompts,
                                     size_t greedy, const Spread& spread) {
  const Gemma4TextConfig& c = lm.config;
  nlohmann::json meta;
  meta["producer"] = "gemma4-eval dump";
  meta["checkpoint"] = model;
  std::set<std::string> dtypes;
  for (const auto& [name, t] : lm.checkpoint.tensors) dtypes.insert(DTypeName(t.dtype));
  meta["checkpoint_dtype"] = dtypes;
  meta["tensor_prefix"] = TextModelPrefix(lm.checkpoint);
  meta["compute_dtype"] = Str("float32 (gemma4, SIMD target ", ops::TargetName(), ")");
  meta["stored_dtype"] = "float32 / int32";
  for (const auto& [name, ids] : prompts) meta["prompts"][name] = {{"length", ids.size()}, {"ids", ids}};
  meta["greedy_new_tokens"] = greedy;
  meta["layer_types"] = c.layer_types;
  for (const char* type : {"sliding_attention", "full_attention"})
    if (c.kv_source_layer(type) >= 0) meta["kv_sources"][type] = c.kv_source_layer(type);
  meta["config"] = lm.checkpoint.config.contains("text_config") ? lm.checkpoint.config["text_config"] : lm.checkpoint.config;
  meta["tolerance"] = {{"rule", "10x this engine's f32 spread across SIMD targets, at least 1e-4 (1e-7 for nmse)"},
                       {"logits_max_abs", std::max(1e-4, 10 * spread.logits_max_abs)},
                       {"hidden_max_abs", std::max(1e-4, 10 * spread.hidden_max_abs)},
                       {"logits_nmse", std::max(1e-7, 10 * spread.logits_nmse)},
                       {"top1", "identical at every position"}};
  meta["tolerance_hints"] = {{"note", "max |difference| between this engine's runs on each SIMD target"},
                             {"targets", spread.targets},
                             {"observed_fp32_logits_max_abs", spread.logits_max_abs},
                             {"observed_fp32_hidden_states_max_abs", spread.hidden_max_abs},
                             {"observed_fp32_logits_nmse", spread.logits_nmse}};
  meta["layouts"] = {{"hidden_states", "[num_layers, T, hidden]: output of decoder layer i (after *layer_scalar)"},
                     {"greedy_logits", "row j = logits at the position that produced greedy_tokens[j]; row 0 == logits[-1]"},
                     {"shared_kv", "K after k_norm+RoPE, V after v_norm, [T, kv_heads, head_dim], of the last "
                                   "non-KV-shared layer of each type (HF store_full_length_kv)"}};
  return meta;
}

}  // namespace gemma4::compare

#endif  // GEMMA4_TOOLS_COMPARE_H_
