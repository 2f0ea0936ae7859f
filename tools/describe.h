// tools/describe.h — a model's geometry as the engine builds it (gemma4-eval describe), as JSON: per layer
// its attention shape, whose K/V it reads, its MLP width and its parameters (stored, and read per token),
// and the KV cache's bytes against the context with and without window bounding and KV sharing.
//
// Nothing here re-derives the architecture: parameters are counted on the same visit() tree the loader
// binds (an unbound Gemma4ForCausalLM), K/V sources come from Gemma4TextConfig, and cache bytes from
// Gemma4Cache::bytes_needed, so the numbers are the engine's own (notebooks/architecture_tour.ipynb).
#ifndef GEMMA4_TOOLS_DESCRIBE_H_
#define GEMMA4_TOOLS_DESCRIBE_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "gemma4/gemma4.h"

namespace gemma4::tools {

// Every weight and parameter of the model by its module's full name ("model.layers.3.self_attn.q_proj"; the
// tensor name without ".weight"): its element count.
struct ParameterCounter {
  std::map<std::string, int64_t>& out;
  std::string prefix;
  void operator()(const std::string& name, Weight& w) { out[Module(name)] = NumElements(w.shape); }
  void operator()(const std::string& name, ParamF32& p) { out[Module(name)] = NumElements(p.shape); }
  std::string Module(const std::string& name) const {
    return name == "weight" && !prefix.empty() ? prefix.substr(0, prefix.size() - 1) : prefix + name;
  }
  template <class Module>
  void operator()(const std::string& name, Module& module) {
    ParameterCounter child{out, prefix + name + "."};
    module.visit(child);
  }
};

// Elements of a tensor one decoded token reads: one row of an embedding table, k of the E experts, all of
// any other matrix; the tied embed_tokens is read whole once more as the lm_head (counted here).
inline int64_t ParametersReadPerToken(const Gemma4TextConfig& c, const std::string& name, int64_t n) {
  if (name == "model.embed_tokens") return c.hidden_size + (c.tie_word_embeddings ? n : 0);
  if (name == "model.embed_tokens_per_layer") return c.num_hidden_layers * c.hidden_size_per_layer_input;
  if (name.find(".experts.") != std::string::npos) return n / *c.num_experts * *c.top_k_experts;
  return n;
}

inline nlohmann::json DescribeModel(const Gemma4TextConfig& c, const std::string& name, std::vector<size_t> contexts) {
  using nlohmann::json;
  std::map<std::string, int64_t> params;
  Gemma4ForCausalLM shape(c);  // unbound: only its visit() tree is used
  ParameterCounter count{params, ""};
  count("model", shape.model);
  if (!c.tie_word_embeddings) count("lm_head", shape.lm_head);

  const int64_t L = c.num_hidden_layers;
  std::vector<int64_t> layer_stored(size_t(L), 0), layer_read(size_t(L), 0);
  json groups = json::object(), groups_read = json::object();
  int64_t total = 0, total_read = 0;
  const std::string layers_prefix = "model.layers.";
  for (const auto& [tensor, n] : params) {
    const int64_t read = ParametersReadPerToken(c, tensor, n);
    total += n;
    total_read += read;
    std::string group = tensor;  // "model.norm" etc. as they are; layers summed per layer
    if (tensor.compare(0, layers_prefix.size(), layers_prefix) == 0) {
      const size_t i = std::stoul(tensor.substr(layers_prefix.size()));
      layer_stored[i] += n;
      layer_read[i] += read;
      group = "layers";
    }
    groups[group] = groups.value(group, int64_t(0)) + n;
    groups_read[group] = groups_read.value(group, int64_t(0)) + read;
  }

  json layers = json::array();
  const Gemma4Cache cache(c, 1);
  for (int64_t i = 0; i < L; ++i) {
    const LayerGeometry& g = c.layers[size_t(i)];
    const LayerKV& kv = cache.layers[size_t(i)];
    layers.push_back({{"index", i}, {"type", c.layer_types[size_t(i)]}, {"num_attention_heads", g.num_attention_heads},
                      {"num_key_value_heads", g.num_key_value_heads}, {"head_dim", g.head_dim},
                      {"kv_source", cache.source[size_t(i)]}, {"k_eq_v", c.use_alternative_attention(i)},
                      {"mlp_intermediate_size", c.enable_moe_block ? json(nullptr) : json(c.mlp_intermediate_size(i))},
                      {"params", layer_stored[size_t(i)]}, {"params_read_per_token", layer_read[size_t(i)]},
                      {"kv_bytes_per_position", 2 * kv.row * sizeof(float)},
                      {"kv_ring_positions", kv.is_sliding ? json(kv.capacity) : json(nullptr)}});
  }

  // KV cache bytes against the context: as built, and with each saving taken away.
  if (contexts.empty())
    for (size_t n = 256; n <= size_t(c.max_position_embeddings); n *= 2) contexts.push_back(n);
  Gemma4TextConfig unbounded = c, unshared = c;
  for (size_t n : contexts) unbounded.sliding_window = std::max<int64_t>(unbounded.sliding_window, int64_t(n));
  unshared.num_kv_shared_layers = 0;  // every layer keeps its own K/V of its own geometry
  Gemma4TextConfig neither = unbounded;
  neither.num_kv_shared_layers = 0;
  json kv = {{"context", contexts}, {"as_built", json::array()}, {"no_window_bound", json::array()},
             {"no_kv_sharing", json::array()}, {"neither", json::array()}};
  const Gemma4Cache caches[4] = {Gemma4Cache(c, 1), Gemma4Cache(unbounded, 1), Gemma4Cache(unshared, 1),
                                 Gemma4Cache(neither, 1)};
  const char* keys[4] = {"as_built", "no_window_bound", "no_kv_sharing", "neither"};
  for (size_t n : contexts)
    for (int v = 0; v < 4; ++v) kv[keys[v]].push_back(caches[v].bytes_needed(n));

  json moe = nullptr;
  if (c.enable_moe_block)
    moe = {{"num_experts", *c.num_experts}, {"top_k_experts", *c.top_k_experts},
           {"moe_intermediate_size", *c.moe_intermediate_size}};
  return {{"model", name},
          {"hidden_size", c.hidden_size},
          {"num_hidden_layers", L},
          {"vocab_size", c.vocab_size},
          {"sliding_window", c.sliding_window},
          {"max_position_embeddings", c.max_position_embeddings},
          {"num_kv_shared_layers", c.num_kv_shared_layers},
          {"hidden_size_per_layer_input", c.hidden_size_per_layer_input},
          {"vocab_size_per_layer_input", c.has_per_layer_inputs() ? json(c.vocab_size_per_layer_input) : json(nullptr)},
          {"tie_word_embeddings", c.tie_word_embeddings},
          {"moe", moe},
          {"layers", layers},
          {"params", {{"total", total}, {"by_part", groups}}},
          {"params_read_per_token", {{"total", total_read}, {"by_part", groups_read}}},
          {"kv_cache_bytes", kv}};
}

}  // namespace gemma4::tools

#endif  // GEMMA4_TOOLS_DESCRIBE_H_
