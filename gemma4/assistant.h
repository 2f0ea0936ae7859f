// gemma4/assistant.h — HF Gemma4AssistantForCausalLM (modeling_gemma4_assistant.py): the MTP drafter of the
// "-it-assistant" checkpoints, and Gemma4AssistantMaskedEmbedder, its centroid ("ordered embedding") head.
//
// The drafter has no KV of its own: every layer is KV-shared and reads the *target's* K/V of its type
// (the layer the target's own KV-shared layers read, Gemma4TextConfig::kv_source_layer). One draft step,
// given a token t, the target-sized hidden state h [Hb] and a position p (target positions < p cached):
//   x  = pre_projection(concat(E_target[t] · √Hb, h))          [2·Hb] → [Ha]   (the target's scaled embedding)
//   x  = layer_i(x) for each drafter layer: a Gemma4TextDecoderLayer whose K/V come from the target's cache
//        (attention.h KVRead): q gets RoPE at p; full layers see every cached position (HF: no mask);
//        sliding layers see the last W+1 positions, p−1−W .. p−1 (HF's bidirectional sliding mask of the
//        drafter's own W, flipped to look back: |q_idx − kv_idx| ≤ W is W+1 entries, trap: not W−1 as in
//        llama.cpp, whose convention the goldens carry as swa_causal.*)
//   hn = norm(x);  h' = post_projection(hn) [Hb];  logits = hn · E_drafterᵀ (tied, no softcap)
//   centroid head (use_ordered_embeddings): c = hn · centroidsᵀ [C]; the top-Kc clusters' tokens
//        (cluster j owns token_ordering[j·V/C : (j+1)·V/C]) get their exact logit, all others
//        min(those) − 1 — so scoring costs Kc·V/C rows of E instead of V.
// The first round after a prefill of T tokens uses t = the target's next token, h = the target's
// final-norm hidden state at T−1, p = T; step j+1 uses t = its own argmax and h = h'_j at the same p.
#ifndef GEMMA4_ASSISTANT_H_
#define GEMMA4_ASSISTANT_H_

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "gemma4/attention.h"
#include "gemma4/cache.h"
#include "gemma4/capture.h"
#include "gemma4/causal_lm.h"
#include "gemma4/io/checkpoint.h"
#include "gemma4/config.h"
#include "gemma4/error.h"
#include "gemma4/linear.h"
#include "gemma4/state.h"
#include "gemma4/text_model.h"
#include "gemma4/weights.h"
#include "ops/ops.h"

namespace gemma4 {

// HF Gemma4AssistantConfig (configuration_gemma4_assistant.py @5ebccdb): defaults are HF's.
struct Gemma4AssistantConfig {
  Gemma4TextConfig text_config;
  int64_t backbone_hidden_size = 1536;       // Hb: the target's hidden_size
  bool use_ordered_embeddings = false;       // the centroid head
  int64_t num_centroids = 2048;              // C
  int64_t centroid_intermediate_top_k = 32;  // Kc
  bool tie_word_embeddings = true;
};

// Parses a "gemma4_assistant" config.json; `source` names the file in errors.
inline Gemma4AssistantConfig ParseGemma4AssistantConfigUnguarded(const json& root, const std::string& source);
inline Gemma4AssistantConfig ParseGemma4AssistantConfig(const json& root, const std::string& source) {
  return JsonGuard(source, [&] { return ParseGemma4AssistantConfigUnguarded(root, source); });
}

inline Gemma4AssistantConfig ParseGemma4AssistantConfigUnguarded(const json& root, const std::string& source) {
  using namespace config_detail;
  if (!root.is_object()) throw Error(Str(source, ": not a JSON object"));
  // gemma4_unified_assistant (the 12B's drafter): the same model (HF Gemma4UnifiedAssistantForCausalLM), a
  // gemma4_unified_text text_config, backbone_hidden_size 3840 by default.
  const std::string model_type = GetModelType(root, source);
  if (model_type != "gemma4_assistant" && model_type != "gemma4_unified_assistant")
    throw Error(Str(Where(source, "model_type"), " is \"", model_type,
                    "\"; a drafter needs \"gemma4_assistant\" or \"gemma4_unified_assistant\""));
  if (!root.contains("text_config") || !root["text_config"].is_object())
    throw Error(Str(source, ": model_type \"", model_type, "\" needs a \"text_config\" object"));
  // HF __post_init__: "Assistant reuses the shared kvs across all layers" — an absent or 0
  // num_kv_shared_layers means all of them.
  // (a copy of the config's text part only; ParseJson bounded its depth)
  json patched = {{"model_type", model_type}, {"text_config", root["text_config"]}};
  if (root.contains("tie_word_embeddings")) patched["tie_word_embeddings"] = root["tie_word_embeddings"];
  json& tc = patched["text_config"];
  if (!tc.contains("num_kv_shared_layers") || tc["num_kv_shared_layers"].is_null() || tc["num_kv_shared_layers"] == 0)
    tc["num_kv_shared_layers"] = tc.contains("num_hidden_layers") ? tc["num_hidden_layers"] : json(30);
  Gemma4AssistantConfig c;
  c.text_config = ParseGemma4TextConfig(patched, source);
  const Gemma4TextConfig& t = c.text_config;
  const std::string where = source + " (text_config)";
  // HF validate_architecture
  if (t.hidden_size_per_layer_input != 0)
    throw Error(Str(Where(where, "hidden_size_per_layer_input"), " must be 0 in a drafter, got ", t.hidden_size_per_layer_input));
  if (t.enable_moe_block) throw Error(Str(Where(where, "enable_moe_block"), " must be false in a drafter"));
  if (t.use_double_wide_mlp) throw Error(Str(Where(where, "use_double_wide_mlp"), " must be false in a drafter"));
  if (t.vocab_size_per_layer_input != 0)
    throw Error(Str(Where(where, "vocab_size_per_layer_input"), " must be 0 in a drafter, got ", t.vocab_size_per_layer_input));
  if (t.num_kv_shared_layers != t.num_hidden_layers)
    throw Error(Str(Where(where, "num_kv_shared_layers"), " is ", t.num_kv_shared_layers,
                    ": all layers of a drafter must be shared (", t.num_hidden_layers, ")"));
  if (model_type == "gemma4_unified_assistant") c.backbone_hidden_size = 3840;
  c.backbone_hidden_size = GetInt(root, "backbone_hidden_size", c.backbone_hidden_size, source, 1, kMaxWidth);
  c.use_ordered_embeddings = GetBool(root, "use_ordered_embeddings", c.use_ordered_embeddings, source);
  c.num_centroids = GetInt(root, "num_centroids", c.num_centroids, source, 1, kMaxVocab);
  c.centroid_intermediate_top_k =
      GetInt(root, "centroid_intermediate_top_k", c.centroid_intermediate_top_k, source, 1, kMaxVocab);
  c.tie_word_embeddings = GetBool(root, "tie_word_embeddings", c.tie_word_embeddings, source);
  if (c.use_ordered_embeddings) {
    if (t.vocab_size % c.num_centroids)
      throw Error(Str(Where(source, "num_centroids"), " ", c.num_centroids, " does not divide vocab_size ", t.vocab_size));
    if (c.centroid_intermediate_top_k > c.num_centroids)
      throw Error(Str(Where(source, "centroid_intermediate_top_k"), " ", c.centroid_intermediate_top_k,
                      " is more than num_centroids ", c.num_centroids));
  }
  return c;
}

// HF Gemma4AssistantMaskedEmbedder: logits for the tokens of the top-Kc centroid clusters only.
struct Gemma4AssistantMaskedEmbedder {
  int64_t num_centroids = 0, centroid_intermediate_top_k = 0, vocab_size = 0, hidden_size = 0;
  Linear centroids;                     // masked_embedding.centroids.weight [C, Ha]
  std::vector<int32_t> token_ordering;  // masked_embedding.token_ordering [V] (I64 buffer): cluster-major token ids

  Gemma4AssistantMaskedEmbedder() = default;
  explicit Gemma4AssistantMaskedEmbedder(const Gemma4AssistantConfig& c)
      : num_centroids(c.num_centroids), centroid_intermediate_top_k(c.centroid_intermediate_top_k),
        vocab_size(c.text_config.vocab_size), hidden_size(c.text_config.hidden_size),
        centroids(c.text_config.hidden_size, c.num_centroids) {}

  template <class V>
  void visit(V& v) { v("centroids", centroids); }

  // token_ordering is an integer buffer, not a weight: read it here, every id checked.
  void bind_token_ordering(const Checkpoint& ckpt, const std::string& name) {
    const Tensor* t = ckpt.find(name);
    if (!t) throw Error(Str(ckpt.path, ": missing tensor ", name));
    if (t->shape != std::vector<int64_t>{vocab_size})
      throw Error(Str(t->file, ": tensor ", name, " has shape ", ShapeString(t->shape), ", expected [", vocab_size, "]"));
    if (t->dtype != DType::I64 && t->dtype != DType::I32)
      throw Error(Str(t->file, ": tensor ", name, " has dtype ", DTypeName(t->dtype), ", expected I64"));
    token_ordering.resize(size_t(vocab_size));
    for (size_t i = 0; i < token_ordering.size(); ++i) {
      int64_t id;
      if (t->dtype == DType::I64) std::memcpy(&id, t->bytes() + 8 * i, 8);
      else { int32_t v; std::memcpy(&v, t->bytes() + 4 * i, 4); id = v; }
      if (id < 0 || id >= vocab_size) throw Error(Str(t->file, ": tensor ", name, "[", i, "] = ", id, " is not a token id"));
      token_ordering[i] = int32_t(id);
    }
  }

  // hn [Ha] → logits [V]. Scratch: centroid_logits [C], selected [Kc·V/C], rows [Kc·V/C, Ha] stored dtype.
  void forward(const float* hn, const Linear& lm_head, float* logits, std::vector<float>& centroid_logits,
               std::vector<float>& selected, std::vector<uint8_t>& rows) const {
    const size_t C = size_t(num_centroids), K = size_t(centroid_intermediate_top_k), per = size_t(vocab_size) / C;
    centroid_logits.resize(C);
    centroids.forward(hn, 1, centroid_logits.data());
    // torch.topk: the K largest; among equal values the lower index first (a fixed, reproducible choice)
    std::vector<size_t> order(C);
    std::iota(order.begin(), order.end(), size_t(0));
    std::partial_sort(order.begin(), order.begin() + long(K), order.end(), [&](size_t a, size_t b) {
      return centroid_logits[a] > centroid_logits[b] || (centroid_logits[a] == centroid_logits[b] && a < b);
    });
    // selected_logits = hn · E[token]ᵀ for each token of the chosen clusters: their rows of E gathered
    // (in the stored dtype) into one [Kc·V/C, Ha] matrix, so it is one matmul
    const Tensor& E = lm_head.weight.tensor;
    const size_t n = K * per, row = E.row_bytes();
    rows.resize(n * row);
    for (size_t j = 0; j < K; ++j)
      for (size_t i = 0; i < per; ++i)
        std::memcpy(rows.data() + (j * per + i) * row, E.bytes() + size_t(token_ordering[order[j] * per + i]) * row, row);
    selected.resize(n);
    ops::MatMul(hn, 1, size_t(hidden_size), rows.data(), E.dtype, n, selected.data());
    const float min_selected = *std::min_element(selected.begin(), selected.end());
    // mask_value = selected_logits.min() − 1, then the exact logits scattered to their token ids
    std::fill(logits, logits + vocab_size, min_selected - 1.0f);
    for (size_t j = 0; j < K; ++j)
      for (size_t i = 0; i < per; ++i) logits[token_ordering[order[j] * per + i]] = selected[j * per + i];
  }
};

// What one draft step produces and needs, allocated once (gemma4/state.h's rule).
struct AssistantState {
  ForwardState s;                      // the drafter's activations, one token
  std::vector<float> inputs_embeds;    // [2·Hb]: scaled target embedding, then the hidden state
  std::vector<float> centroid_logits;  // [C]
  std::vector<float> selected;         // [Kc·V/C]
  std::vector<uint8_t> rows;           // [Kc·V/C, Ha] the selected rows of the head, stored dtype
};

struct Gemma4AssistantForCausalLM {
  Gemma4AssistantConfig config;
  Gemma4TextModel model;            // embed_tokens (the tied head), layers (all KV-shared), norm
  Linear lm_head;                   // [V, Ha]; a view of model.embed_tokens.weight when tied
  Linear pre_projection;            // [Ha, 2·Hb]
  Linear post_projection;           // [Hb, Ha]
  Gemma4AssistantMaskedEmbedder masked_embedding;  // only with use_ordered_embeddings
  Checkpoint checkpoint;

  explicit Gemma4AssistantForCausalLM(const Gemma4AssistantConfig& c)
      : config(c), model(c.text_config), lm_head(c.text_config.hidden_size, c.text_config.vocab_size),
        pre_projection(2 * c.backbone_hidden_size, c.text_config.hidden_size),
        post_projection(c.text_config.hidden_size, c.backbone_hidden_size) {
    if (c.use_ordered_embeddings) masked_embedding = Gemma4AssistantMaskedEmbedder(c);
  }

  static std::unique_ptr<Gemma4AssistantForCausalLM> from_pretrained(const std::string& path) {
    return from_checkpoint(LoadCheckpoint(path));
  }
  static std::unique_ptr<Gemma4AssistantForCausalLM> from_checkpoint(Checkpoint ckpt) {
    auto m = std::make_unique<Gemma4AssistantForCausalLM>(
        ParseGemma4AssistantConfig(ckpt.config, ckpt.config_source()));
    m->bind(std::move(ckpt));
    return m;
  }

  template <class V>
  void visit(V& v) {
    v("model", model);
    v("pre_projection", pre_projection);
    v("post_projection", post_projection);
    if (config.use_ordered_embeddings) v("masked_embedding", masked_embedding);
  }

  void bind(Checkpoint ckpt) {
    checkpoint = std::move(ckpt);
    WeightBinder binder{checkpoint, ""};
    visit(binder);
    if (config.tie_word_embeddings) lm_head.weight.tensor = model.embed_tokens.weight.tensor;
    else binder("lm_head", lm_head);
    if (config.use_ordered_embeddings)
      masked_embedding.bind_token_ordering(checkpoint, "masked_embedding.token_ordering");
  }

  // A drafter fits one target only: its hidden size, its vocabulary, and for each layer type the K/V
  // geometry of the target layer it reads. Anything else is refused, naming both values.
  void check_target(const Gemma4TextConfig& target) const {
    const Gemma4TextConfig& d = config.text_config;
    if (config.backbone_hidden_size != target.hidden_size)
      throw Error(Str("drafter backbone_hidden_size ", config.backbone_hidden_size, " does not match the target's "
                      "hidden_size ", target.hidden_size));
    if (d.vocab_size != target.vocab_size)
      throw Error(Str("drafter vocab_size ", d.vocab_size, " does not match the target's vocab_size ", target.vocab_size));
    for (int64_t i = 0; i < d.num_hidden_layers; ++i) {
      const std::string& type = d.layer_types[size_t(i)];
      const int64_t src = target.kv_source_layer(type);
      if (src < 0) throw Error(Str("drafter layer ", i, " (", type, ") reads K/V the target has no layer of that type for"));
      const LayerGeometry &a = d.layers[size_t(i)], &b = target.layers[size_t(src)];
      if (a.head_dim != b.head_dim || a.num_key_value_heads != b.num_key_value_heads)
        throw Error(Str("drafter layer ", i, " (", type, ") expects head_dim ", a.head_dim, " and ", a.num_key_value_heads,
                        " KV heads, but the target's layer ", src, " has head_dim ", b.head_dim, " and ",
                        b.num_key_value_heads, " KV heads"));
    }
  }

  AssistantState make_state() const {
    AssistantState st;
    st.s = ForwardState(config.text_config, 1);
    st.inputs_embeds.resize(size_t(2 * config.backbone_hidden_size));
    return st;
  }

  // One draft step: token t and hidden h [Hb] at position p, reading the target's cache (positions < p).
  // → logits [V] and h' [Hb] (the next step's hidden state). Captures draft_layer_hidden.<i> when asked.
  void forward(const Gemma4ForCausalLM& target, Gemma4Cache& target_cache, int32_t token, const float* h, size_t p,
               AssistantState& st, float* logits, float* h_out, Capture* capture = nullptr) const {
    const Gemma4TextConfig& d = config.text_config;
    const size_t Hb = size_t(config.backbone_hidden_size), Ha = size_t(d.hidden_size);
    if (token < 0 || token >= target.config.vocab_size)
      throw Error(Str("drafter: token id ", token, " is outside the vocabulary (", target.config.vocab_size, ")"));
    if (p == 0 || p > target_cache.seq_length)
      throw Error(Str("drafter: position ", p, " needs target K/V for positions < ", p, ", the cache holds ",
                      target_cache.seq_length));
    target.model.embed_tokens.forward(&token, 1, st.inputs_embeds.data());  // E_target[t] · √Hb
    std::memcpy(st.inputs_embeds.data() + Hb, h, Hb * sizeof(float));
    ForwardState& s = st.s;
    pre_projection.forward(st.inputs_embeds.data(), 1, s.x.data());
    for (int type = 0; type < 2; ++type)
      if (model.rotary_emb.table(type == 1).head_dim) model.rotary_emb.forward(type == 1, p, 1, s.cos[type].data(), s.sin[type].data());
    for (size_t i = 0; i < model.layers.size(); ++i) {
      const bool sliding = d.is_sliding(int64_t(i));
      const KVRead read{target.config.kv_source_layer(d.layer_types[i]), p, sliding ? size_t(d.sliding_window) + 1 : 0};
      model.layers[i].forward(s, 1, p, model.rotary_emb, nullptr, target_cache, nullptr, &read);
      if (capture) capture->add("draft_layer_hidden." + std::to_string(i), {1, int64_t(Ha)}, s.x.data());
    }
    model.norm.forward(s.x.data(), 1, s.x.data());
    post_projection.forward(s.x.data(), 1, h_out);
    if (config.use_ordered_embeddings)
      masked_embedding.forward(s.x.data(), lm_head, logits, st.centroid_logits, st.selected, st.rows);
    else
      lm_head.forward(s.x.data(), 1, logits);
  }
};

}  // namespace gemma4

#endif  // GEMMA4_ASSISTANT_H_
