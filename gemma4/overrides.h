// gemma4/overrides.h — the parsers behind --override KEY=VALUE and --ablate NAME, and the override of a
// config.json, validated by the config's own parser. Light: JSON and the config only (the fuzz target
// tests/fuzz/fuzz_text.cpp runs them); gemma4/study.h applies them to a checkpoint and builds the model.
#ifndef GEMMA4_OVERRIDES_H_
#define GEMMA4_OVERRIDES_H_

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "gemma4/ablations.h"
#include "gemma4/config.h"
#include "gemma4/error.h"

namespace gemma4 {

struct ConfigOverride {
  std::string key;
  nlohmann::json value;
  std::string text;  // "sliding_window=4", as given
};

struct Study {
  std::vector<ConfigOverride> overrides;
  Ablations ablations;

  bool empty() const { return overrides.empty() && !ablations.any(); }
  // "sliding_window=4, ablate ple": for messages and reports.
  std::string describe() const {
    std::string s;
    for (const ConfigOverride& o : overrides) s += (s.empty() ? "" : ", ") + o.text;
    if (ablations.any()) s += (s.empty() ? "ablate " : ", ablate ") + ablations.describe();
    return s;
  }
};

namespace study_detail {

// The keys ParseGemma4TextConfig reads: anything else is a typo, refused.
inline const std::vector<std::string>& OverridableKeys() {
  static const std::vector<std::string> keys = {
      "vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
      "num_key_value_heads", "head_dim", "global_head_dim", "num_global_key_value_heads", "hidden_activation",
      "max_position_embeddings", "rms_norm_eps", "pad_token_id", "bos_token_id", "eos_token_id",
      "tie_word_embeddings", "rope_parameters", "sliding_window", "layer_types", "final_logit_softcapping",
      "use_bidirectional_attention", "vocab_size_per_layer_input", "hidden_size_per_layer_input",
      "attention_k_eq_v", "num_kv_shared_layers", "enable_moe_block", "use_double_wide_mlp", "num_experts",
      "top_k_experts", "moe_intermediate_size", "per_layer_config", "attention_bias"};
  return keys;
}

inline std::string KeyList() {
  std::string s;
  for (const std::string& k : OverridableKeys()) s += (s.empty() ? "" : ", ") + k;
  return s;
}

// The text-config object of a config.json (the object ParseGemma4TextConfig reads its fields from).
inline nlohmann::json& TextConfigObject(nlohmann::json& root) {
  const std::string type = root.is_object() && root.contains("model_type") && root["model_type"].is_string()
                               ? root["model_type"].get<std::string>()
                               : "";
  const bool nested = type == "gemma4" || type == "gemma4_assistant" || type == "gemma4_unified" ||
                      type == "gemma4_unified_assistant";
  if (nested && root.contains("text_config") && root["text_config"].is_object()) return root["text_config"];
  return root;
}

inline bool ParseInt(const std::string& s, int64_t* out) {
  if (s.empty()) return false;
  size_t used = 0;
  try {
    *out = std::stoll(s, &used);
  } catch (...) {
    return false;
  }
  return used == s.size();
}

}  // namespace study_detail

// "KEY=VALUE" → an override; Error (one line naming the key) on a malformed one or an unknown key.
inline ConfigOverride ParseConfigOverride(const std::string& text) {
  const size_t eq = text.find('=');
  if (eq == std::string::npos || eq == 0)
    throw Error(Str("--override \"", text, "\": expected KEY=VALUE (a text-config key, e.g. sliding_window=4)"));
  ConfigOverride o{text.substr(0, eq), nullptr, text};
  bool known = false;
  for (const std::string& k : study_detail::OverridableKeys()) known |= k == o.key;
  if (!known)
    throw Error(Str("--override ", text, ": unknown key '", o.key, "' (text-config keys: ", study_detail::KeyList(), ")"));
  const std::string value = text.substr(eq + 1);
  if (value.empty()) throw Error(Str("--override ", text, ": no value for '", o.key, "'"));
  o.value = nlohmann::json::parse(value, nullptr, /*allow_exceptions=*/false);
  if (o.value.is_discarded()) o.value = value;  // not JSON: a plain string ("hidden_activation=relu")
  if (o.key == "final_logit_softcapping" && o.value.is_number() && o.value.get<double>() == 0.0)
    o.value = nullptr;  // 0 = off, as HF's null
  return o;
}

// Adds one --ablate switch ("ple", "full_attention", "skip_layer=I", "zero_expert=E" or "zero_expert=L:E")
// to `a`; Error (one line) on an unknown or malformed one. Ranges are checked against a model by
// CheckAblations.
inline void ParseAblation(const std::string& text, Ablations* a) {
  const size_t eq = text.find('=');
  const std::string name = text.substr(0, eq), value = eq == std::string::npos ? "" : text.substr(eq + 1);
  const bool has_value = eq != std::string::npos;
  const std::string known = "ple, full_attention, skip_layer=I, zero_expert=E or zero_expert=L:E";
  if ((name == "ple" || name == "full_attention") && !has_value) {
    (name == "ple" ? a->drop_per_layer_inputs : a->full_attention) = true;
  } else if (name == "skip_layer" && has_value) {
    int64_t i = -1;
    if (!study_detail::ParseInt(value, &i) || i < 0)
      throw Error(Str("--ablate ", text, ": skip_layer takes a layer index >= 0"));
    a->skip_layers.push_back(i);
  } else if (name == "zero_expert" && has_value) {
    const size_t colon = value.find(':');
    int64_t l = -1, e = -1;
    const bool ok = colon == std::string::npos
                        ? study_detail::ParseInt(value, &e)
                        : study_detail::ParseInt(value.substr(0, colon), &l) &&
                              study_detail::ParseInt(value.substr(colon + 1), &e) && l >= 0;
    if (!ok || e < 0) throw Error(Str("--ablate ", text, ": zero_expert takes an expert index E or LAYER:E (>= 0)"));
    a->zero_experts.emplace_back(l, e);
  } else {
    throw Error(Str("--ablate ", text, ": unknown ablation (", known, ")"));
  }
}

// Applies overrides to a config.json (its text-config object) and validates the result with the config's
// own parser; returns the new config.json. `source` names the file in errors.
inline nlohmann::json WithOverrides(const nlohmann::json& root, const std::vector<ConfigOverride>& overrides,
                                    const std::string& source) {
  nlohmann::json out = root;
  if (overrides.empty()) return out;
  nlohmann::json& text = study_detail::TextConfigObject(out);
  if (!text.is_object()) throw Error(Str(source, ": not a JSON object"));
  std::string given;
  for (const ConfigOverride& o : overrides) {
    text[o.key] = o.value;
    given += (given.empty() ? "" : " ") + o.text;
  }
  ParseGemma4TextConfig(out, Str(source, " with --override ", given));  // throws the config's own Error
  return out;
}

}  // namespace gemma4

#endif  // GEMMA4_OVERRIDES_H_
