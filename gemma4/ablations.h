// gemma4/ablations.h — switches that remove one mechanism of the architecture, for study. They have no
// config.json key; each is one field here and is consulted in ONE place in the blocks:
//
//   drop_per_layer_inputs  "ple"            decoder_layer.h: the PLE tail adds nothing to the residual stream
//                                           (the per-layer inputs are still computed, then ignored)
//   skip_layers            "skip_layer=i"   decoder_layer.h: layer i passes x through unchanged; it still
//                                           writes its K/V to the cache, since KV-shared layers may read them
//   zero_experts           "zero_expert=e"  experts.h: expert e adds nothing (in every MoE layer, or in layer l
//                          "zero_expert=l:e"  only); the router still picks it, the other weights stay as routed
//   full_attention         "full_attention" study.h (ApplyAblations): sliding_window becomes 2^30, so sliding
//                                           layers see every earlier position (their RoPE is unchanged); the
//                                           cache grows as positions are written, so it costs no memory up front
//
// All off (the default) is the unmodified model, bit for bit: each switch is one branch not taken.
// Parsed from the tools' --ablate flag (ParseAblation, gemma4/overrides.h); set them through gemma4/study.h
// (Study, StudiedConfig, LoadStudied), which checks them against the model and applies full_attention.
#ifndef GEMMA4_ABLATIONS_H_
#define GEMMA4_ABLATIONS_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace gemma4 {

struct Ablations {
  bool drop_per_layer_inputs = false;
  bool full_attention = false;
  std::vector<int64_t> skip_layers;
  std::vector<std::pair<int64_t, int64_t>> zero_experts;  // (layer, expert); layer −1 = every MoE layer

  bool any() const { return drop_per_layer_inputs || full_attention || !skip_layers.empty() || !zero_experts.empty(); }
  bool skips(int64_t layer) const {
    for (int64_t i : skip_layers)
      if (i == layer) return true;
    return false;
  }
  bool zeroes(int64_t layer, int64_t expert) const {
    for (const auto& [l, e] : zero_experts)
      if (e == expert && (l < 0 || l == layer)) return true;
    return false;
  }
  // "ple, skip_layer=3": the switches as --ablate takes them.
  std::string describe() const {
    std::string s;
    auto add = [&s](const std::string& x) { s += (s.empty() ? "" : ", ") + x; };
    if (drop_per_layer_inputs) add("ple");
    if (full_attention) add("full_attention");
    for (int64_t i : skip_layers) add("skip_layer=" + std::to_string(i));
    for (const auto& [l, e] : zero_experts)
      add("zero_expert=" + (l < 0 ? "" : std::to_string(l) + ":") + std::to_string(e));
    return s;
  }
};

}  // namespace gemma4

#endif  // GEMMA4_ABLATIONS_H_
