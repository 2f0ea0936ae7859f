// gemma4/config.h — HF Gemma4TextConfig: the hyperparameters, parsed from config.json.
//
// Field names are config.json keys; defaults are HF's (configuration_gemma4.py @351f643), including the
// ones a reader may not expect: hidden_size_per_layer_input = 256 and global_head_dim = 512 when absent.
// Accepted forms: a multimodal "gemma4" config (the text model is its "text_config"), a plain
// "gemma4_text" config, and a "gemma4_assistant" drafter config (its "text_config").
// Everything derived from the fields is settled here once, per layer: attention type, head_dim, KV heads,
// KV sharing and which layer a shared layer reads from, MLP width. Unknown or inconsistent values are an
// Error that names the field.
#ifndef GEMMA4_CONFIG_H_
#define GEMMA4_CONFIG_H_

#include <cmath>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "gemma4/ablations.h"
#include "gemma4/error.h"
#include "gemma4/io/json.h"

namespace gemma4 {

using json = nlohmann::json;

// rope_parameters[layer_type]: "default" (sliding layers) or "proportional" (full layers, partial).
struct RopeParameters {
  std::string rope_type = "default";
  double rope_theta = 10000.0;
  double partial_rotary_factor = 1.0;  // proportional only: the fraction of head_dim/2 pairs that rotate
  double factor = 1.0;                 // proportional only: inv_freq /= factor
};

// The attention geometry of one layer (flat global_* fields or the newer per_layer_config form).
struct LayerGeometry {
  int64_t num_attention_heads = 0;  // nH
  int64_t num_key_value_heads = 0;  // KV
  int64_t head_dim = 0;             // D
};

struct Gemma4TextConfig {
  int64_t vocab_size = 262144;                   // V
  int64_t hidden_size = 2304;                    // H
  int64_t intermediate_size = 9216;              // I
  int64_t num_hidden_layers = 30;                // L
  int64_t num_attention_heads = 8;               // nH
  int64_t num_key_value_heads = 4;               // KV on sliding layers
  int64_t head_dim = 256;                        // D on sliding layers
  int64_t global_head_dim = 512;                 // D on full layers
  std::optional<int64_t> num_global_key_value_heads;  // KV on full layers when attention_k_eq_v
  std::string hidden_activation = "gelu_pytorch_tanh";
  int64_t max_position_embeddings = 131072;
  double rms_norm_eps = 1e-6;
  int64_t pad_token_id = 0;
  int64_t bos_token_id = 2;
  std::vector<int64_t> eos_token_id = {1};
  bool tie_word_embeddings = true;
  std::map<std::string, RopeParameters> rope_parameters;  // by layer type
  int64_t sliding_window = 512;                  // W
  std::vector<std::string> layer_types;          // "sliding_attention" | "full_attention", one per layer
  std::optional<double> final_logit_softcapping;
  std::optional<std::string> use_bidirectional_attention;  // null or "vision" (text is causal either way)
  int64_t vocab_size_per_layer_input = 262144;   // rows of the PLE table
  int64_t hidden_size_per_layer_input = 256;     // P (0: no PLE)
  bool attention_k_eq_v = false;                 // full layers: V = the raw K projection, no v_proj
  int64_t num_kv_shared_layers = 0;              // the last this-many layers reuse earlier layers' K/V
  bool enable_moe_block = false;
  bool use_double_wide_mlp = false;              // MLP width 2·I on KV-shared layers
  std::optional<int64_t> num_experts;            // E
  std::optional<int64_t> top_k_experts;          // k
  std::optional<int64_t> moe_intermediate_size;  // I_moe

  std::vector<LayerGeometry> layers;             // derived: per-layer attention geometry
  std::vector<std::string> warnings;             // what HF would log (e.g. a forced last layer type)
  std::vector<std::string> defaulted;            // "hidden_size = 2304": shape-setting keys config.json lacks,
                                                 // filled with the class default (named in shape errors)
  Ablations ablations;                           // not a config.json key: study switches, all off (ablations.h)

  bool is_sliding(int64_t i) const { return layer_types[size_t(i)] == "sliding_attention"; }
  // HF: first_kv_shared_layer_idx = num_hidden_layers - num_kv_shared_layers.
  int64_t first_kv_shared_layer_idx() const { return num_hidden_layers - num_kv_shared_layers; }
  bool is_kv_shared_layer(int64_t i) const { return i >= first_kv_shared_layer_idx(); }
  // HF store_full_length_kv: the last layer of a type before the KV-shared ones keeps its full-length K/V
  // for them. -1 when there is none (a drafter, all of whose layers read the target's K/V).
  int64_t kv_source_layer(const std::string& layer_type) const {
    for (int64_t j = first_kv_shared_layer_idx() - 1; j >= 0; --j)
      if (layer_types[size_t(j)] == layer_type) return j;
    return -1;
  }
  // The layer whose K/V KV-shared layer i reads (E2B: sliding layers read 13, full layers read 14).
  int64_t kv_shared_from(int64_t i) const { return kv_source_layer(layer_types[size_t(i)]); }
  bool store_full_length_kv(int64_t i) const {
    return !is_kv_shared_layer(i) && kv_source_layer(layer_types[size_t(i)]) == i;
  }
  // Full layers with attention_k_eq_v have no v_proj: V is the raw K projection.
  bool use_alternative_attention(int64_t i) const { return attention_k_eq_v && !is_sliding(i); }
  // HF Gemma4TextMLP: doubled on KV-shared layers when use_double_wide_mlp (and some layer has its own KV).
  int64_t mlp_intermediate_size(int64_t i) const {
    const int64_t first = first_kv_shared_layer_idx();
    return intermediate_size * (use_double_wide_mlp && i >= first && first > 0 ? 2 : 1);
  }
  bool has_per_layer_inputs() const { return hidden_size_per_layer_input > 0; }
  bool is_eos(int64_t id) const {
    for (int64_t e : eos_token_id)
      if (e == id) return true;
    return false;
  }
};

namespace config_detail {

inline std::string Where(const std::string& source, const std::string& field) {
  return Str(source, ": field '", field, "'");
}

// Every integer field that sizes memory has an upper bound (kMax*), so that any product of up to three
// of them fits int64_t and size_t with room to spare (2^24 · 2^20 · 2^12 = 2^56): no size computed from a
// config can wrap, and a 2^62 sliding_window is an Error, not a tiny ring buffer.
constexpr int64_t kMaxVocab = int64_t{1} << 24;      // vocab_size, vocab_size_per_layer_input (Gemma: 2^18)
constexpr int64_t kMaxWidth = int64_t{1} << 20;      // hidden, intermediate, PLE sizes (Gemma: ≤ 21504)
constexpr int64_t kMaxCount = int64_t{1} << 12;      // layers, heads (Gemma: ≤ 60, ≤ 32)
constexpr int64_t kMaxHeadDim = int64_t{1} << 16;    // head_dim, global_head_dim (Gemma: ≤ 512)
constexpr int64_t kMaxPositions = int64_t{1} << 30;  // max_position_embeddings, sliding_window (Gemma: ≤ 2^18)
constexpr int64_t kMaxExperts = int64_t{1} << 16;    // num_experts (Gemma: 128)

inline int64_t GetInt(const json& j, const std::string& key, int64_t fallback, const std::string& source,
                      int64_t min_value = 0, int64_t max_value = INT64_MAX) {
  if (!j.contains(key)) return fallback;
  const json& v = j[key];
  if (!v.is_number_integer()) throw Error(Str(Where(source, key), " must be an integer, got ", Brief(v)));
  if (v.is_number_unsigned() && v.get<uint64_t>() > uint64_t(max_value))
    throw Error(Str(Where(source, key), " must be <= ", max_value, ", got ", v.get<uint64_t>()));
  const int64_t x = v.get<int64_t>();
  if (x < min_value) throw Error(Str(Where(source, key), " must be >= ", min_value, ", got ", x));
  if (x > max_value) throw Error(Str(Where(source, key), " must be <= ", max_value, ", got ", x));
  return x;
}

inline std::optional<int64_t> GetOptionalInt(const json& j, const std::string& key, const std::string& source,
                                             int64_t min_value = 1, int64_t max_value = INT64_MAX) {
  if (!j.contains(key) || j[key].is_null()) return std::nullopt;
  return GetInt(j, key, 0, source, min_value, max_value);
}

// "model_type": a string, or "" when absent; anything else is an Error naming the field.
inline std::string GetModelType(const json& j, const std::string& source) {
  if (!j.is_object() || !j.contains("model_type")) return "";
  const json& v = j["model_type"];
  if (!v.is_string()) throw Error(Str(Where(source, "model_type"), " must be a string, got ", Brief(v)));
  return v.get<std::string>();
}

inline double GetNumber(const json& j, const std::string& key, double fallback, const std::string& source) {
  if (!j.contains(key)) return fallback;
  const json& v = j[key];
  if (!v.is_number()) throw Error(Str(Where(source, key), " must be a number, got ", Brief(v)));
  return v.get<double>();
}

inline bool GetBool(const json& j, const std::string& key, bool fallback, const std::string& source) {
  if (!j.contains(key) || j[key].is_null()) return fallback;
  if (!j[key].is_boolean()) throw Error(Str(Where(source, key), " must be true or false, got ", Brief(j[key])));
  return j[key].get<bool>();
}

inline RopeParameters ParseRope(const json& j, const std::string& where) {
  if (!j.is_object()) throw Error(Str(where, " must be an object, got ", Brief(j)));
  RopeParameters r;
  if (!j.contains("rope_type") || !j["rope_type"].is_string())
    throw Error(Str(where, ".rope_type must be \"default\" or \"proportional\""));
  r.rope_type = j["rope_type"].get<std::string>();
  if (r.rope_type != "default" && r.rope_type != "proportional")
    throw Error(Str(where, ".rope_type \"", r.rope_type, "\" is not supported (\"default\" or \"proportional\")"));
  if (!j.contains("rope_theta") || !j["rope_theta"].is_number() || j["rope_theta"].get<double>() <= 0)
    throw Error(Str(where, ".rope_theta must be a positive number"));
  r.rope_theta = j["rope_theta"].get<double>();
  if (j.contains("partial_rotary_factor") && !j["partial_rotary_factor"].is_null()) {
    if (!j["partial_rotary_factor"].is_number()) throw Error(Str(where, ".partial_rotary_factor must be a number"));
    r.partial_rotary_factor = j["partial_rotary_factor"].get<double>();
    if (!(r.partial_rotary_factor > 0.0 && r.partial_rotary_factor <= 1.0))
      throw Error(Str(where, ".partial_rotary_factor must be in (0, 1], got ", r.partial_rotary_factor));
  }
  if (j.contains("factor") && !j["factor"].is_null()) {
    if (!j["factor"].is_number() || j["factor"].get<double>() <= 0) throw Error(Str(where, ".factor must be > 0"));
    r.factor = j["factor"].get<double>();
  }
  return r;
}

}  // namespace config_detail

inline Gemma4TextConfig ParseGemma4TextConfigUnguarded(const json& root, const std::string& source);

// Parses the text-model part of a config.json. `source` names the file in errors; no other exception
// than Error leaves it.
inline Gemma4TextConfig ParseGemma4TextConfig(const json& root, const std::string& source) {
  return JsonGuard(source, [&] { return ParseGemma4TextConfigUnguarded(root, source); });
}

inline Gemma4TextConfig ParseGemma4TextConfigUnguarded(const json& root, const std::string& source) {
  using namespace config_detail;
  if (!root.is_object()) throw Error(Str(source, ": not a JSON object"));
  const std::string model_type = GetModelType(root, source);
  // The 12B "Unified" (gemma4_unified, its drafter gemma4_unified_assistant) runs the same text decoder
  // from its own config class, Gemma4UnifiedTextConfig ("gemma4_unified_text"): no PLE and no MoE fields,
  // and other defaults (sliding_window 1024, max_position_embeddings 262144).
  const bool unified = model_type == "gemma4_unified" || model_type == "gemma4_unified_text" ||
                       model_type == "gemma4_unified_assistant";
  const std::string text_type = unified ? "gemma4_unified_text" : "gemma4_text";
  const json* tj = &root;
  std::string where = source;
  if (model_type == "gemma4" || model_type == "gemma4_assistant" || model_type == "gemma4_unified" ||
      model_type == "gemma4_unified_assistant") {
    if (!root.contains("text_config") || !root["text_config"].is_object())
      throw Error(Str(source, ": model_type \"", model_type, "\" needs a \"text_config\" object"));
    tj = &root["text_config"];
    where = source + " (text_config)";
  } else if (model_type != text_type) {
    throw Error(Str(Where(source, "model_type"), " is \"", model_type,
                    "\"; expected \"gemma4\", \"gemma4_text\", \"gemma4_assistant\", \"gemma4_unified\", "
                    "\"gemma4_unified_text\" or \"gemma4_unified_assistant\""));
  }
  const json& j = *tj;
  if (j.contains("model_type") && j["model_type"] != text_type)
    throw Error(Str(Where(where, "model_type"), " is ", Brief(j["model_type"]), "; expected \"", text_type, "\""));

  Gemma4TextConfig c;
  if (unified) {  // Gemma4UnifiedTextConfig's defaults
    c.sliding_window = 1024;
    c.max_position_embeddings = 262144;
    c.hidden_size_per_layer_input = 0;
    c.vocab_size_per_layer_input = 0;
    c.use_bidirectional_attention = "vision";
  }
  c.vocab_size = GetInt(j, "vocab_size", c.vocab_size, where, 1, kMaxVocab);
  c.hidden_size = GetInt(j, "hidden_size", c.hidden_size, where, 1, kMaxWidth);
  c.intermediate_size = GetInt(j, "intermediate_size", c.intermediate_size, where, 1, kMaxWidth);
  c.num_hidden_layers = GetInt(j, "num_hidden_layers", c.num_hidden_layers, where, 1, kMaxCount);
  c.num_attention_heads = GetInt(j, "num_attention_heads", c.num_attention_heads, where, 1, kMaxCount);
  c.num_key_value_heads = GetInt(j, "num_key_value_heads", c.num_key_value_heads, where, 1, kMaxCount);
  c.head_dim = GetInt(j, "head_dim", c.head_dim, where, 2, kMaxHeadDim);
  c.global_head_dim = GetInt(j, "global_head_dim", c.global_head_dim, where, 0, kMaxHeadDim);
  c.num_global_key_value_heads = GetOptionalInt(j, "num_global_key_value_heads", where, 1, kMaxCount);
  c.max_position_embeddings = GetInt(j, "max_position_embeddings", c.max_position_embeddings, where, 1, kMaxPositions);
  c.rms_norm_eps = GetNumber(j, "rms_norm_eps", c.rms_norm_eps, where);
  if (!(c.rms_norm_eps > 0)) throw Error(Str(Where(where, "rms_norm_eps"), " must be > 0"));
  c.pad_token_id = GetInt(j, "pad_token_id", c.pad_token_id, where, 0, kMaxVocab);
  c.bos_token_id = GetInt(j, "bos_token_id", c.bos_token_id, where, 0, kMaxVocab);
  if (j.contains("eos_token_id") && !j["eos_token_id"].is_null()) {
    const json& e = j["eos_token_id"];
    c.eos_token_id.clear();
    auto add = [&](const json& id) {  // no copy of e: it may be anything the file holds
      if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() >= kMaxVocab)
        throw Error(Str(Where(where, "eos_token_id"), " must be a token id or a list of them, got ", Brief(e)));
      c.eos_token_id.push_back(id.get<int64_t>());
    };
    if (e.is_array())
      for (const json& id : e) add(id);
    else
      add(e);
  }
  // A multimodal config may set tie_word_embeddings at the top level only.
  c.tie_word_embeddings = GetBool(root, "tie_word_embeddings", true, source);
  c.tie_word_embeddings = GetBool(j, "tie_word_embeddings", c.tie_word_embeddings, where);
  c.sliding_window = GetInt(j, "sliding_window", c.sliding_window, where, 1, kMaxPositions);
  c.vocab_size_per_layer_input =
      GetInt(j, "vocab_size_per_layer_input", c.vocab_size_per_layer_input, where, 0, kMaxVocab);
  c.hidden_size_per_layer_input =
      GetInt(j, "hidden_size_per_layer_input", c.hidden_size_per_layer_input, where, 0, kMaxWidth);
  c.attention_k_eq_v = GetBool(j, "attention_k_eq_v", c.attention_k_eq_v, where);
  c.num_kv_shared_layers = GetInt(j, "num_kv_shared_layers", c.num_kv_shared_layers, where, 0, kMaxCount);
  c.enable_moe_block = GetBool(j, "enable_moe_block", c.enable_moe_block, where);
  c.use_double_wide_mlp = GetBool(j, "use_double_wide_mlp", c.use_double_wide_mlp, where);
  c.num_experts = GetOptionalInt(j, "num_experts", where, 1, kMaxExperts);
  c.top_k_experts = GetOptionalInt(j, "top_k_experts", where, 1, kMaxExperts);
  c.moe_intermediate_size = GetOptionalInt(j, "moe_intermediate_size", where, 1, kMaxWidth);

  if (j.contains("hidden_activation") && !j["hidden_activation"].is_null()) {
    if (!j["hidden_activation"].is_string()) throw Error(Str(Where(where, "hidden_activation"), " must be a string"));
    c.hidden_activation = j["hidden_activation"].get<std::string>();
  }
  if (c.hidden_activation != "gelu_pytorch_tanh")
    throw Error(Str(Where(where, "hidden_activation"), " is \"", c.hidden_activation,
                    "\"; only \"gelu_pytorch_tanh\" is supported"));
  if (GetBool(j, "attention_bias", false, where))
    throw Error(Str(Where(where, "attention_bias"), " is true; Gemma 4 attention has no biases"));
  if (j.contains("final_logit_softcapping") && !j["final_logit_softcapping"].is_null()) {
    const double cap = GetNumber(j, "final_logit_softcapping", 0.0, where);
    if (!(cap > 0)) throw Error(Str(Where(where, "final_logit_softcapping"), " must be > 0 or null"));
    c.final_logit_softcapping = cap;
  }
  if (j.contains("use_bidirectional_attention") && !j["use_bidirectional_attention"].is_null()) {
    const json& b = j["use_bidirectional_attention"];
    if (b != "vision")
      throw Error(Str(Where(where, "use_bidirectional_attention"), " is ", Brief(b),
                      "; only null or \"vision\" (causal text) is supported"));
    c.use_bidirectional_attention = b.get<std::string>();
  }

  // Keys that set tensor shapes and were missing: the defaults above stood in for them, as transformers'
  // config class does; a shape error later says so (Gemma4ForCausalLM::bind).
  for (const auto& [key, value] : std::vector<std::pair<const char*, int64_t>>{
           {"vocab_size", c.vocab_size}, {"hidden_size", c.hidden_size}, {"intermediate_size", c.intermediate_size},
           {"num_hidden_layers", c.num_hidden_layers}, {"num_attention_heads", c.num_attention_heads},
           {"num_key_value_heads", c.num_key_value_heads}, {"head_dim", c.head_dim},
           {"global_head_dim", c.global_head_dim}, {"vocab_size_per_layer_input", c.vocab_size_per_layer_input},
           {"hidden_size_per_layer_input", c.hidden_size_per_layer_input},
           {"num_kv_shared_layers", c.num_kv_shared_layers}})
    if (!j.contains(key)) c.defaulted.push_back(Str(key, " = ", value));

  // layer_types: HF default is 5 sliding : 1 full; HF forces the last layer to full attention.
  const int64_t L = c.num_hidden_layers;
  if (j.contains("layer_types") && !j["layer_types"].is_null()) {
    const json& lt = j["layer_types"];
    if (!lt.is_array() || int64_t(lt.size()) != L)
      throw Error(Str(Where(where, "layer_types"), " must list ", L, " layer types (num_hidden_layers)"));
    for (size_t i = 0; i < lt.size(); ++i) {
      if (lt[i] != "sliding_attention" && lt[i] != "full_attention")
        throw Error(Str(Where(where, "layer_types"), "[", i, "] is ", Brief(lt[i]),
                        "; expected \"sliding_attention\" or \"full_attention\""));
      c.layer_types.push_back(lt[i].get<std::string>());
    }
  } else {
    for (int64_t i = 0; i < L; ++i) c.layer_types.push_back((i + 1) % 6 ? "sliding_attention" : "full_attention");
  }
  if (c.layer_types.back() != "full_attention") {
    c.warnings.push_back(Str(where, ": last layer must use full_attention; forcing it, as Hugging Face does"));
    c.layer_types.back() = "full_attention";
  }

  // rope_parameters per layer type, HF defaults when absent.
  c.rope_parameters["sliding_attention"] = {"default", 10000.0, 1.0, 1.0};
  c.rope_parameters["full_attention"] = {"proportional", 1000000.0, 0.25, 1.0};
  if (j.contains("rope_parameters") && !j["rope_parameters"].is_null()) {
    const json& rp = j["rope_parameters"];
    if (!rp.is_object()) throw Error(Str(Where(where, "rope_parameters"), " must be an object"));
    for (const auto& [type, params] : rp.items()) {
      if (type != "sliding_attention" && type != "full_attention")
        throw Error(Str(Where(where, "rope_parameters"), " has unknown layer type \"", type, "\""));
      c.rope_parameters[type] = ParseRope(params, Where(where, "rope_parameters." + type));
    }
  }

  // Per-layer geometry. Older configs: global_head_dim / num_global_key_value_heads for full layers
  // (the latter only with attention_k_eq_v). Newer ones: per_layer_config {"i": {head_dim, ...}}.
  for (int64_t i = 0; i < L; ++i) {
    LayerGeometry g{c.num_attention_heads, c.num_key_value_heads, c.head_dim};
    if (!c.is_sliding(i)) {
      if (c.global_head_dim) g.head_dim = c.global_head_dim;
      if (c.attention_k_eq_v && c.num_global_key_value_heads) g.num_key_value_heads = *c.num_global_key_value_heads;
    }
    c.layers.push_back(g);
  }
  if (j.contains("per_layer_config") && !j["per_layer_config"].is_null()) {
    const json& plc = j["per_layer_config"];
    if (!plc.is_object()) throw Error(Str(Where(where, "per_layer_config"), " must be an object"));
    std::vector<LayerGeometry> from_plc;
    for (int64_t i = 0; i < L; ++i) from_plc.push_back({c.num_attention_heads, c.num_key_value_heads, c.head_dim});
    for (const auto& [key, over] : plc.items()) {
      const std::string w = Where(where, "per_layer_config." + key);
      size_t used = 0;
      int64_t i = -1;
      try {
        i = std::stoll(key, &used);
      } catch (...) {
      }
      if (used != key.size() || i < 0 || i >= L) throw Error(Str(w, ": \"", key, "\" is not a layer index < ", L));
      if (!over.is_object()) throw Error(Str(w, " must be an object"));
      for (const auto& [attr, value] : over.items()) {
        if (attr != "head_dim" && attr != "num_key_value_heads" && attr != "num_attention_heads")
          throw Error(Str(w, ".", attr, " is not supported (head_dim, num_key_value_heads, num_attention_heads)"));
        const int64_t limit = attr == "head_dim" ? kMaxHeadDim : kMaxCount;
        if (!value.is_number_integer() || value.get<int64_t>() < 1 || value.get<int64_t>() > limit)
          throw Error(Str(w, ".", attr, " must be an integer in [1, ", limit, "], got ", Brief(value)));
      }
      LayerGeometry& g = from_plc[size_t(i)];
      g.head_dim = over.value("head_dim", g.head_dim);
      g.num_key_value_heads = over.value("num_key_value_heads", g.num_key_value_heads);
      g.num_attention_heads = over.value("num_attention_heads", g.num_attention_heads);
    }
    // Both forms present: they must describe the same geometry.
    const bool has_flat = j.contains("global_head_dim") || j.contains("num_global_key_value_heads");
    for (int64_t i = 0; i < L && has_flat; ++i) {
      const LayerGeometry &a = c.layers[size_t(i)], &b = from_plc[size_t(i)];
      if (a.head_dim != b.head_dim || a.num_key_value_heads != b.num_key_value_heads)
        throw Error(Str(Where(where, "per_layer_config"), " gives layer ", i, " head_dim ", b.head_dim, " and ",
                        b.num_key_value_heads, " KV heads, but global_head_dim/num_global_key_value_heads give ",
                        a.head_dim, " and ", a.num_key_value_heads));
    }
    c.layers = from_plc;
  }
  std::map<std::string, int64_t> head_dim_of_type;  // one RoPE table per layer type needs one head_dim
  for (int64_t i = 0; i < L; ++i) {
    const LayerGeometry& g = c.layers[size_t(i)];
    const auto [it, first] = head_dim_of_type.emplace(c.layer_types[size_t(i)], g.head_dim);
    if (!first && it->second != g.head_dim)
      throw Error(Str(where, ": layer ", i, " (", it->first, ") has head_dim ", g.head_dim, " but an earlier ",
                      it->first, " layer has ", it->second));
    if (g.head_dim % 2) throw Error(Str(where, ": layer ", i, " head_dim ", g.head_dim, " must be even (RoPE pairs)"));
    if (g.num_attention_heads % g.num_key_value_heads)
      throw Error(Str(where, ": layer ", i, " has ", g.num_attention_heads, " attention heads, not a multiple of its ",
                      g.num_key_value_heads, " key/value heads"));
    const RopeParameters& rope = c.rope_parameters[c.layer_types[size_t(i)]];
    // HF's default RoPE is sized by config.head_dim whatever the layer's own head_dim.
    if (rope.rope_type == "default" && g.head_dim != c.head_dim)
      throw Error(Str(Where(where, "rope_parameters." + c.layer_types[size_t(i)]), ": rope_type \"default\" is sized by "
                      "head_dim ", c.head_dim, " but layer ", i, " has head_dim ", g.head_dim));
  }

  if (c.num_kv_shared_layers > L)
    throw Error(Str(Where(where, "num_kv_shared_layers"), " is ", c.num_kv_shared_layers, ", more than the ", L, " layers"));
  if (c.first_kv_shared_layer_idx() > 0)
    for (int64_t i = c.first_kv_shared_layer_idx(); i < L; ++i) {
      const int64_t src = c.kv_shared_from(i);
      if (src < 0)
        throw Error(Str(Where(where, "num_kv_shared_layers"), ": layer ", i, " (", c.layer_types[size_t(i)],
                        ") shares K/V but no earlier layer of its type has its own"));
      const LayerGeometry &a = c.layers[size_t(i)], &b = c.layers[size_t(src)];
      if (a.head_dim != b.head_dim || a.num_key_value_heads != b.num_key_value_heads)
        throw Error(Str(where, ": KV-shared layer ", i, " has head_dim ", a.head_dim, " and ", a.num_key_value_heads,
                        " KV heads, but layer ", src, " it reads from has ", b.head_dim, " and ", b.num_key_value_heads));
    }
  if (c.has_per_layer_inputs() && c.vocab_size_per_layer_input < 1)
    throw Error(Str(Where(where, "vocab_size_per_layer_input"), " must be > 0 when hidden_size_per_layer_input > 0"));
  if (c.enable_moe_block) {
    if (!c.num_experts || !c.top_k_experts || !c.moe_intermediate_size)
      throw Error(Str(where, ": enable_moe_block needs num_experts, top_k_experts and moe_intermediate_size"));
    if (*c.top_k_experts > *c.num_experts)
      throw Error(Str(Where(where, "top_k_experts"), " is ", *c.top_k_experts, ", more than num_experts ", *c.num_experts));
  }
  if (unified && (c.has_per_layer_inputs() || c.enable_moe_block))
    throw Error(Str(Where(where, c.enable_moe_block ? "enable_moe_block" : "hidden_size_per_layer_input"),
                    ": a gemma4_unified_text model has no ", c.enable_moe_block ? "MoE block" : "per-layer inputs (PLE)"));
  if (c.bos_token_id >= c.vocab_size) throw Error(Str(Where(where, "bos_token_id"), " is outside the vocabulary"));
  return c;
}

// generation_config.json, the part that decides which tokens may come out: HF generate() sets the logits of
// `suppress_tokens` to -inf (SuppressTokensLogitsProcessor). The 12B Unified lists 258883 and 258882, rows of
// embed_tokens its converter filled with multimodal embeddings; a text engine must never sample them.
// The rest is the sampling a checkpoint asks for (HF GenerationConfig: do_sample defaults to false, i.e. greedy)
// and its stop ids, which gemma4-run follows unless flags say otherwise.
struct GenerationConfig {
  std::string source;  // "" when there is none
  std::vector<int32_t> suppress_tokens;
  bool do_sample = false;
  double temperature = 1.0, top_p = 1.0;
  long top_k = 0;
  std::vector<int32_t> eos_token_id;
};

inline GenerationConfig ParseGenerationConfig(const json& j, const std::string& source, int64_t vocab_size) {
  if (!j.is_object()) throw Error(Str(source, ": not a JSON object"));
  GenerationConfig g;
  g.source = source;
  try {
    g.do_sample = j.value("do_sample", false);
    if (j.contains("temperature") && !j["temperature"].is_null()) g.temperature = j["temperature"].get<double>();
    if (j.contains("top_p") && !j["top_p"].is_null()) g.top_p = j["top_p"].get<double>();
    if (j.contains("top_k") && !j["top_k"].is_null()) g.top_k = j["top_k"].get<long>();
    if (j.contains("eos_token_id")) {
      const json& e = j["eos_token_id"];
      if (e.is_number_integer()) g.eos_token_id.push_back(e.get<int32_t>());
      else if (e.is_array())
        for (const auto& x : e) g.eos_token_id.push_back(x.get<int32_t>());
    }
  } catch (const json::exception& e) {
    throw Error(Str(source, ": ", e.what()));
  }
  if (j.contains("suppress_tokens") && !j["suppress_tokens"].is_null()) {
    const json& s = j["suppress_tokens"];
    if (!s.is_array()) throw Error(Str(config_detail::Where(source, "suppress_tokens"), " must be a list of token ids"));
    for (const json& id : s) {
      if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() >= vocab_size)
        throw Error(Str(config_detail::Where(source, "suppress_tokens"), " has ", id.dump(),
                        ", not a token id below vocab_size ", vocab_size));
      g.suppress_tokens.push_back(id.get<int32_t>());
    }
  }
  return g;
}

// Built-in configs of the released models (docs/ARCHITECTURE.md), as config.json text-model objects,
// e.g. for making real-shape random-weight models. Names: "e2b", "e4b", "12b" (the Unified, a
// "gemma4_unified_text" object), "26b-a4b", "31b".
inline json Gemma4PresetConfig(const std::string& name) {
  auto pattern = [](int sliding, int repeats) {
    json types = json::array();
    for (int r = 0; r < repeats; ++r) {
      for (int s = 0; s < sliding; ++s) types.push_back("sliding_attention");
      types.push_back("full_attention");
    }
    return types;
  };
  json c = {{"model_type", "gemma4_text"}, {"vocab_size", 262144}, {"head_dim", 256}, {"global_head_dim", 512},
            {"rms_norm_eps", 1e-6}, {"final_logit_softcapping", 30.0}, {"tie_word_embeddings", true},
            {"hidden_activation", "gelu_pytorch_tanh"}, {"bos_token_id", 2}, {"eos_token_id", json::array({1, 106})},
            {"pad_token_id", 0},
            {"rope_parameters", {{"sliding_attention", {{"rope_type", "default"}, {"rope_theta", 10000.0}}},
                                 {"full_attention", {{"rope_type", "proportional"}, {"rope_theta", 1000000.0},
                                                     {"partial_rotary_factor", 0.25}}}}}};
  if (name == "e2b") {
    c.update({{"hidden_size", 1536}, {"intermediate_size", 6144}, {"num_hidden_layers", 35},
              {"layer_types", pattern(4, 7)}, {"num_attention_heads", 8}, {"num_key_value_heads", 1},
              {"sliding_window", 512}, {"hidden_size_per_layer_input", 256}, {"vocab_size_per_layer_input", 262144},
              {"num_kv_shared_layers", 20}, {"use_double_wide_mlp", true}, {"attention_k_eq_v", false},
              {"max_position_embeddings", 131072}});
  } else if (name == "e4b") {
    c.update({{"hidden_size", 2560}, {"intermediate_size", 10240}, {"num_hidden_layers", 42},
              {"layer_types", pattern(5, 7)}, {"num_attention_heads", 8}, {"num_key_value_heads", 2},
              {"sliding_window", 512}, {"hidden_size_per_layer_input", 256}, {"vocab_size_per_layer_input", 262144},
              {"num_kv_shared_layers", 18}, {"use_double_wide_mlp", false}, {"attention_k_eq_v", false},
              {"max_position_embeddings", 131072}});
  } else if (name == "12b") {  // Gemma4UnifiedTextConfig: no PLE/MoE fields
    c.update({{"model_type", "gemma4_unified_text"}, {"hidden_size", 3840}, {"intermediate_size", 15360},
              {"num_hidden_layers", 48}, {"layer_types", pattern(5, 8)}, {"num_attention_heads", 16},
              {"num_key_value_heads", 8}, {"num_global_key_value_heads", 1}, {"attention_k_eq_v", true},
              {"sliding_window", 1024}, {"num_kv_shared_layers", 0}, {"max_position_embeddings", 262144}});
  } else if (name == "26b-a4b") {
    c.update({{"hidden_size", 2816}, {"intermediate_size", 2112}, {"num_hidden_layers", 30},
              {"layer_types", pattern(5, 5)}, {"num_attention_heads", 16}, {"num_key_value_heads", 8},
              {"num_global_key_value_heads", 2}, {"attention_k_eq_v", true}, {"sliding_window", 1024},
              {"hidden_size_per_layer_input", 0}, {"num_kv_shared_layers", 0}, {"enable_moe_block", true},
              {"num_experts", 128}, {"top_k_experts", 8}, {"moe_intermediate_size", 704},
              {"max_position_embeddings", 262144}});
  } else if (name == "31b") {
    c.update({{"hidden_size", 5376}, {"intermediate_size", 21504}, {"num_hidden_layers", 60},
              {"layer_types", pattern(5, 10)}, {"num_attention_heads", 32}, {"num_key_value_heads", 16},
              {"num_global_key_value_heads", 4}, {"attention_k_eq_v", true}, {"sliding_window", 1024},
              {"hidden_size_per_layer_input", 0}, {"num_kv_shared_layers", 0}, {"max_position_embeddings", 262144}});
  } else {
    throw Error(Str("unknown preset \"", name, "\" (e2b, e4b, 12b, 26b-a4b, 31b)"));
  }
  return c;
}

}  // namespace gemma4

#endif  // GEMMA4_CONFIG_H_
