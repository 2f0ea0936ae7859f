// gemma4/study.h — studying and modifying the architecture without recompiling: config overrides and
// ablations, applied to a checkpoint's text config before the model is built.
//
//   Study study;
//   study.overrides.push_back(ParseConfigOverride("sliding_window=4"));   // an HF text-config key
//   ParseAblation("ple", &study.ablations);                               // a switch with no key (ablations.h)
//   auto lm = LoadStudied(LoadCheckpoint("golden/trained_e2b"), study);
//
// Overrides: KEY=VALUE with KEY a text-config key (config.json's, or its "text_config"'s) and VALUE JSON
// (4, 0.5, true, null, [..]) or else a plain string. The overridden config is validated by the config's own
// parser (ParseGemma4TextConfig), so a bad value gets the same one-line Error a bad config.json gets, with
// the override named as its source. One convenience: final_logit_softcapping=0 means off (HF's null).
// What the checkpoint cannot support is refused too: num_kv_shared_layers below the checkpoint's own needs
// K/V weights the KV-shared layers do not have (one line naming the first such layer), and a shape that no
// longer matches the tensors is the binder's Error, prefixed with the overrides.
// The unmodified model is LoadStudied with an empty Study: the same config, the same code path.
#ifndef GEMMA4_STUDY_H_
#define GEMMA4_STUDY_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "gemma4/ablations.h"
#include "gemma4/causal_lm.h"
#include "gemma4/config.h"
#include "gemma4/error.h"
#include "gemma4/io/checkpoint.h"
#include "gemma4/overrides.h"
#include "gemma4/weights.h"

namespace gemma4 {

// Each ablation must name something the model has: one line naming the switch otherwise.
inline void CheckAblations(const Ablations& a, const Gemma4TextConfig& c, const std::string& source) {
  if (a.drop_per_layer_inputs && !c.has_per_layer_inputs())
    throw Error(Str("--ablate ple: ", source, " has no per-layer inputs (hidden_size_per_layer_input 0)"));
  for (int64_t i : a.skip_layers)
    if (i >= c.num_hidden_layers)
      throw Error(Str("--ablate skip_layer=", i, ": ", source, " has ", c.num_hidden_layers, " layers (0 .. ",
                      c.num_hidden_layers - 1, ")"));
  for (const auto& [l, e] : a.zero_experts) {
    const std::string what = Str("--ablate zero_expert=", l < 0 ? "" : Str(l, ":"), e, ": ");
    if (!c.enable_moe_block) throw Error(Str(what, source, " has no MoE block (enable_moe_block false)"));
    if (e >= *c.num_experts) throw Error(Str(what, source, " has ", *c.num_experts, " experts (0 .. ", *c.num_experts - 1, ")"));
    if (l >= c.num_hidden_layers) throw Error(Str(what, source, " has ", c.num_hidden_layers, " layers"));
  }
}

// The config a Study builds from a checkpoint: overrides applied and validated, K/V weights present for
// every layer that computes its own, ablations checked and set.
inline Gemma4TextConfig StudiedConfig(const Checkpoint& ckpt, const Study& study) {
  const std::string source = ckpt.config_source();
  if (study.empty()) return ParseGemma4TextConfig(ckpt.config, source);
  const Gemma4TextConfig original = ParseGemma4TextConfig(ckpt.config, source);
  Gemma4TextConfig c = study.overrides.empty()
                           ? original
                           : ParseGemma4TextConfig(WithOverrides(ckpt.config, study.overrides, source),
                                                   Str(source, " with --override"));
  // Fewer KV-shared layers: the layers that now compute K/V need weights the checkpoint may not have.
  if (c.num_kv_shared_layers != original.num_kv_shared_layers) {
    const std::string prefix = TextModelPrefix(ckpt);
    for (int64_t i = 0; i < c.first_kv_shared_layer_idx() && i < c.num_hidden_layers; ++i) {
      const std::string name = Str(prefix, "layers.", i, ".self_attn.k_proj.weight");
      if (!ckpt.find(name))
        throw Error(Str("--override num_kv_shared_layers=", c.num_kv_shared_layers, ": layer ", i,
                        " would compute its own K/V, but ", ckpt.path, " has no K/V weights for it (no ", name,
                        "); the checkpoint shares K/V from layer ", original.first_kv_shared_layer_idx(), " on"));
    }
  }
  CheckAblations(study.ablations, c, ckpt.path);
  c.ablations = study.ablations;
  // Ablations "full_attention": the one place it acts (ablations.h).
  if (c.ablations.full_attention) c.sliding_window = config_detail::kMaxPositions;
  return c;
}

// Gemma4ForCausalLM::from_checkpoint with a Study applied; an empty Study is exactly from_checkpoint.
inline std::unique_ptr<Gemma4ForCausalLM> LoadStudied(Checkpoint ckpt, const Study& study) {
  if (study.empty()) return Gemma4ForCausalLM::from_checkpoint(std::move(ckpt));
  const Gemma4TextConfig c = StudiedConfig(ckpt, study);
  try {
    auto lm = std::make_unique<Gemma4ForCausalLM>(c);
    lm->bind(std::move(ckpt));
    return lm;
  } catch (const Error& e) {  // e.g. a shape the override changed no longer matches the tensors
    throw Error(Str("with ", study.describe(), ": ", e.what()));
  }
}

}  // namespace gemma4

#endif  // GEMMA4_STUDY_H_
