// gemma4/io/gguf_checkpoint.h — llama.cpp's `gemma4` / `gemma4-assistant` GGUF files as a Checkpoint (HF
// tensor names and shapes, an HF-form config), and a Checkpoint written back as such a GGUF.
//
// The layout is docs/GGUF_GEMMA4.md's (llama.cpp de3ff815, conversion/gemma.py): tensors are renamed
// (blk.{i}.attn_q.weight ↔ model.layers.{i}.self_attn.q_proj.weight ...), never transposed or permuted
// (ggml's ne = {in, out} is PyTorch's [out, in], so the bytes are read in place); norms carry no +1;
// layer_scalar gains a ".weight"; router.scale / per_expert_scale become ffn_gate_inp.scale /
// ffn_down_exps.scale; rope_freqs.weight is generated from the proportional RoPE (1 for the rotated
// pairs, 1e30 for the rest) and read back as partial_rotary_factor. The config is rebuilt from the
// gemma4.* keys plus what only the tensors say (vocab size, tied head, attention_k_eq_v).
// Weights in F32/F16/BF16/Q8_0/Q4_0/Q5_0 and the K-quants (Q4_K, Q5_K, Q6_K) are read in place (mapped);
// MatMul widens them in registers and embedding lookups one row per token.
#ifndef GEMMA4_GGUF_CHECKPOINT_H_
#define GEMMA4_GGUF_CHECKPOINT_H_

#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "gemma4/io/checkpoint.h"
#include "gemma4/config.h"
#include "gemma4/error.h"
#include "gemma4/io/gguf.h"
#include "gemma4/io/json.h"
#include "gemma4/tensor.h"
#include "ops/dtype.h"
#include "ops/quant_scalar.h"

namespace gemma4 {

namespace gguf_names {

// GGUF name ↔ HF name (without the "model." / "model.layers.{i}." prefix). Per layer, then global.
inline const std::vector<std::pair<std::string, std::string>>& LayerNames() {
  static const std::vector<std::pair<std::string, std::string>> kNames = {
      {"attn_norm.weight", "input_layernorm.weight"},
      {"attn_q.weight", "self_attn.q_proj.weight"},
      {"attn_k.weight", "self_attn.k_proj.weight"},
      {"attn_v.weight", "self_attn.v_proj.weight"},
      {"attn_q_norm.weight", "self_attn.q_norm.weight"},
      {"attn_k_norm.weight", "self_attn.k_norm.weight"},
      {"attn_output.weight", "self_attn.o_proj.weight"},
      {"post_attention_norm.weight", "post_attention_layernorm.weight"},
      {"ffn_norm.weight", "pre_feedforward_layernorm.weight"},
      {"ffn_gate.weight", "mlp.gate_proj.weight"},
      {"ffn_up.weight", "mlp.up_proj.weight"},
      {"ffn_down.weight", "mlp.down_proj.weight"},
      {"post_ffw_norm.weight", "post_feedforward_layernorm.weight"},
      {"layer_output_scale.weight", "layer_scalar"},
      {"inp_gate.weight", "per_layer_input_gate.weight"},
      {"proj.weight", "per_layer_projection.weight"},
      {"post_norm.weight", "post_per_layer_input_norm.weight"},
      {"ffn_gate_inp.weight", "router.proj.weight"},
      {"ffn_gate_inp.scale", "router.scale"},
      {"ffn_down_exps.scale", "router.per_expert_scale"},
      {"ffn_gate_up_exps.weight", "experts.gate_up_proj"},
      {"ffn_down_exps.weight", "experts.down_proj"},
      {"pre_ffw_norm_2.weight", "pre_feedforward_layernorm_2.weight"},
      {"post_ffw_norm_1.weight", "post_feedforward_layernorm_1.weight"},
      {"post_ffw_norm_2.weight", "post_feedforward_layernorm_2.weight"},
  };
  return kNames;
}
// Global tensors; HF names are full.
inline const std::vector<std::pair<std::string, std::string>>& GlobalNames() {
  static const std::vector<std::pair<std::string, std::string>> kNames = {
      {"token_embd.weight", "model.embed_tokens.weight"},
      {"output.weight", "lm_head.weight"},
      {"output_norm.weight", "model.norm.weight"},
      {"per_layer_token_embd.weight", "model.embed_tokens_per_layer.weight"},
      {"per_layer_model_proj.weight", "model.per_layer_model_projection.weight"},
      {"per_layer_proj_norm.weight", "model.per_layer_projection_norm.weight"},
      {"nextn.pre_projection.weight", "pre_projection.weight"},     // gemma4-assistant
      {"nextn.post_projection.weight", "post_projection.weight"},   // gemma4-assistant
  };
  return kNames;
}

inline bool ParseLayer(const std::string& name, const std::string& prefix, int64_t* layer, std::string* rest) {
  if (name.compare(0, prefix.size(), prefix) != 0) return false;
  size_t i = prefix.size(), j = i;
  while (j < name.size() && j - i < 6 && name[j] >= '0' && name[j] <= '9') ++j;
  if (j == i || j >= name.size() || name[j] != '.') return false;
  *layer = std::stoll(name.substr(i, j - i));
  *rest = name.substr(j + 1);
  return true;
}

// "" when the name has no counterpart.
inline std::string HfFromGguf(const std::string& gguf) {
  for (const auto& [g, h] : GlobalNames())
    if (g == gguf) return h;
  int64_t layer;
  std::string rest;
  if (ParseLayer(gguf, "blk.", &layer, &rest))
    for (const auto& [g, h] : LayerNames())
      if (g == rest) return Str("model.layers.", layer, ".", h);
  return "";
}

// `hf` without a multimodal prefix ("model.language_model." already rewritten to "model.").
inline std::string GgufFromHf(const std::string& hf) {
  for (const auto& [g, h] : GlobalNames())
    if (h == hf) return g;
  int64_t layer;
  std::string rest;
  if (ParseLayer(hf, "model.layers.", &layer, &rest))
    for (const auto& [g, h] : LayerNames())
      if (h == rest) return Str("blk.", layer, ".", g);
  return "";
}

}  // namespace gguf_names

// The DType of a ggml type (false: a type this project cannot read, e.g. Q4_1, Q2_K, IQ*).
inline bool DTypeFromGgml(uint32_t type, DType* out) {
  switch (type) {
    case ggml_type::F32: *out = DType::F32; return true;
    case ggml_type::F16: *out = DType::F16; return true;
    case ggml_type::BF16: *out = DType::BF16; return true;
    case ggml_type::Q8_0: *out = DType::Q8_0; return true;
    case ggml_type::Q4_0: *out = DType::Q4_0; return true;
    case ggml_type::Q5_0: *out = DType::Q5_0; return true;
    case ggml_type::Q4_K: *out = DType::Q4_K; return true;
    case ggml_type::Q5_K: *out = DType::Q5_K; return true;
    case ggml_type::Q6_K: *out = DType::Q6_K; return true;
    default: return false;
  }
}

inline const char* GgmlTypeName(uint32_t t) {
  const GgmlTypeInfo* info = FindGgmlType(t);
  return info ? info->name : "?";
}

namespace gguf_detail {

// An i32/u32 array or a single u32: the per-layer values of `key`.
inline std::vector<int64_t> PerLayer(const GgufFile& g, const std::string& key, int64_t L) {
  const GgufValue& v = g.require(key);
  if (v.type == GgufType::ARRAY) {
    if (v.array_type == GgufType::STRING || v.array_type == GgufType::FLOAT32 || v.array_type == GgufType::FLOAT64 ||
        int64_t(v.ints.size()) != L)
      throw Error(Str(g.where(key), " must be an integer or an array of ", L, " integers (block_count)"));
    return v.ints;
  }
  return std::vector<int64_t>(size_t(L), int64_t(g.get_uint(key)));
}

}  // namespace gguf_detail

// The HF config.json (a "gemma4_text" object, or a "gemma4_assistant" one with text_config) a GGUF
// describes. Errors name the key.
inline nlohmann::json ConfigFromGguf(const GgufFile& g) {
  using nlohmann::json;
  const std::string arch = g.get_string("general.architecture");
  if (arch != "gemma4" && arch != "gemma4-assistant")
    throw Error(Str(g.where("general.architecture"), " is \"", arch, "\"; expected \"gemma4\" or \"gemma4-assistant\""));
  const std::string k = arch + ".";
  const uint64_t L64 = g.get_uint(k + "block_count");
  if (L64 < 1 || L64 > 4096) throw Error(Str(g.where(k + "block_count"), " = ", L64, " is not a plausible layer count"));
  const int64_t L = int64_t(L64);
  const GgufTensorInfo* embd = g.find_tensor("token_embd.weight");
  if (!embd || embd->ne.size() != 2) throw Error(Str(g.path, ": missing tensor token_embd.weight (2-D)"));

  json c = {{"model_type", "gemma4_text"}, {"hidden_activation", "gelu_pytorch_tanh"}};
  c["vocab_size"] = embd->ne[1];
  c["hidden_size"] = g.get_uint(k + "embedding_length");
  c["num_hidden_layers"] = L;
  c["max_position_embeddings"] = g.get_uint(k + "context_length");
  c["rms_norm_eps"] = g.get_float(k + "attention.layer_norm_rms_epsilon");
  c["sliding_window"] = g.get_uint(k + "attention.sliding_window");
  c["head_dim"] = g.get_uint(k + "attention.key_length_swa");
  c["global_head_dim"] = g.get_uint(k + "attention.key_length", g.get_uint(k + "attention.key_length_swa"));
  c["num_kv_shared_layers"] = g.get_uint(k + "attention.shared_kv_layers", 0);
  c["hidden_size_per_layer_input"] = g.get_uint(k + "embedding_length_per_layer_input", 0);
  if (const GgufTensorInfo* ple = g.find_tensor("per_layer_token_embd.weight"))
    c["vocab_size_per_layer_input"] = ple->ne.size() == 2 ? ple->ne[1] : 0;
  else
    c["vocab_size_per_layer_input"] = 0;
  c["tie_word_embeddings"] = g.find_tensor("output.weight") == nullptr;
  if (g.find(k + "final_logit_softcapping")) c["final_logit_softcapping"] = g.get_float(k + "final_logit_softcapping");
  if (g.find("tokenizer.ggml.bos_token_id")) c["bos_token_id"] = g.get_uint("tokenizer.ggml.bos_token_id");
  if (g.find("tokenizer.ggml.eos_token_id")) c["eos_token_id"] = g.get_uint("tokenizer.ggml.eos_token_id");
  if (g.find("tokenizer.ggml.padding_token_id")) c["pad_token_id"] = g.get_uint("tokenizer.ggml.padding_token_id");

  const GgufValue& pattern = g.require(k + "attention.sliding_window_pattern");
  if (pattern.type != GgufType::ARRAY || pattern.array_type != GgufType::BOOL || int64_t(pattern.ints.size()) != L)
    throw Error(Str(g.where(k + "attention.sliding_window_pattern"), " must be a bool array of ", L, " (block_count)"));
  json types = json::array();
  for (int64_t s : pattern.ints) types.push_back(s ? "sliding_attention" : "full_attention");
  c["layer_types"] = types;

  const int64_t shared = c["num_kv_shared_layers"].get<int64_t>();
  const int64_t first_shared = L - shared;
  // Attention heads: one count for all layers; KV heads per layer type.
  const std::vector<int64_t> heads = gguf_detail::PerLayer(g, k + "attention.head_count", L);
  for (int64_t h : heads)
    if (h != heads[0]) throw Error(Str(g.where(k + "attention.head_count"), " varies by layer; not supported"));
  c["num_attention_heads"] = heads[0];
  {
    const std::vector<int64_t> kv = gguf_detail::PerLayer(g, k + "attention.head_count_kv", L);
    int64_t kv_swa = -1, kv_full = -1;
    for (int64_t i = 0; i < L; ++i) {
      int64_t& slot = pattern.ints[size_t(i)] ? kv_swa : kv_full;
      if (slot >= 0 && slot != kv[size_t(i)])
        throw Error(Str(g.where(k + "attention.head_count_kv"), " varies within one layer type; not supported"));
      slot = kv[size_t(i)];
    }
    c["num_key_value_heads"] = kv_swa >= 0 ? kv_swa : kv_full;
    // attention_k_eq_v: full layers that compute K/V have no attn_v. A drafter computes no K/V at all; its
    // config says k_eq_v exactly when the full layers' KV head count differs (the target's geometry).
    bool k_eq_v = false;
    if (arch == "gemma4") {
      for (int64_t i = 0; i < first_shared; ++i)
        if (!pattern.ints[size_t(i)] && !g.find_tensor(Str("blk.", i, ".attn_v.weight"))) k_eq_v = true;
    } else {
      k_eq_v = kv_full >= 0 && kv_swa >= 0 && kv_full != kv_swa;
    }
    c["attention_k_eq_v"] = k_eq_v;
    if (k_eq_v && kv_full >= 0) c["num_global_key_value_heads"] = kv_full;
    else if (kv_full >= 0 && kv_swa >= 0 && kv_full != kv_swa)
      throw Error(Str(g.where(k + "attention.head_count_kv"), ": full layers have ", kv_full, " KV heads and sliding ",
                      kv_swa, ", which Gemma 4 allows only with attention_k_eq_v"));
  }

  // MLP width: a u32, or per layer (doubled on KV-shared layers: use_double_wide_mlp).
  const std::vector<int64_t> ff = gguf_detail::PerLayer(g, k + "feed_forward_length", L);
  const int64_t I = ff[0];
  bool double_wide = false;
  for (int64_t i = 0; i < L; ++i) {
    const bool shared_layer = i >= first_shared && first_shared > 0;
    if (shared_layer && ff[size_t(i)] == 2 * I && I > 0) double_wide = true;
    else if (ff[size_t(i)] != I)
      throw Error(Str(g.where(k + "feed_forward_length"), "[", i, "] = ", ff[size_t(i)], " differs from layer 0's ", I,
                      " in a way Gemma 4 does not allow"));
  }
  c["intermediate_size"] = I;
  c["use_double_wide_mlp"] = double_wide;

  if (g.find(k + "expert_count") && g.get_uint(k + "expert_count") > 0) {
    c["enable_moe_block"] = true;
    c["num_experts"] = g.get_uint(k + "expert_count");
    c["top_k_experts"] = g.get_uint(k + "expert_used_count");
    c["moe_intermediate_size"] = g.get_uint(k + "expert_feed_forward_length");
  }

  // RoPE: sliding layers default; full layers proportional, the rotated pairs read off rope_freqs.
  json rope = {{"sliding_attention", {{"rope_type", "default"},
                                      {"rope_theta", g.find(k + "rope.freq_base_swa") ? g.get_float(k + "rope.freq_base_swa") : 10000.0}}}};
  const double theta = g.find(k + "rope.freq_base") ? g.get_float(k + "rope.freq_base") : 1000000.0;
  double partial = 1.0, factor = 1.0;
  if (const GgufTensorInfo* rf = g.find_tensor("rope_freqs.weight")) {
    const int64_t half = c["global_head_dim"].get<int64_t>() / 2;
    if (rf->type != ggml_type::F32 || rf->ne.size() != 1 || int64_t(rf->ne[0]) != half)
      throw Error(Str(g.path, ": tensor rope_freqs.weight must be F32 [", half, "] (global_head_dim / 2)"));
    std::vector<float> f(static_cast<size_t>(half));
    std::memcpy(f.data(), rf->data, f.size() * 4);  // the file need not be 4-byte aligned in memory
    int64_t rotated = 0;
    while (rotated < half && f[rotated] < 1e29f) ++rotated;
    for (int64_t i = rotated; i < half; ++i)
      if (!(f[i] >= 1e29f))
        throw Error(Str(g.path, ": tensor rope_freqs.weight: rotated pairs must come first (entry ", i, " is ", f[i], ")"));
    if (rotated == 0) throw Error(Str(g.path, ": tensor rope_freqs.weight rotates no pair"));
    for (int64_t i = 1; i < rotated; ++i)
      if (f[i] != f[0]) throw Error(Str(g.path, ": tensor rope_freqs.weight: rotated pairs have different factors"));
    partial = double(rotated) / double(half);
    factor = f[0];
  }
  rope["full_attention"] = {{"rope_type", "proportional"}, {"rope_theta", theta}, {"partial_rotary_factor", partial}};
  if (factor != 1.0) rope["full_attention"]["factor"] = factor;
  c["rope_parameters"] = rope;

  if (arch == "gemma4") return c;
  json a = {{"model_type", "gemma4_assistant"}, {"text_config", c}, {"tie_word_embeddings", true},
            {"use_ordered_embeddings", false}};
  a["backbone_hidden_size"] = g.get_uint(k + "embedding_length_out");
  return a;
}

// Widens `rows` rows of `cols` elements of `t` to f32 (exactly llama.cpp's dequantization for block types).
inline void RowsToF32(const uint8_t* src, DType t, size_t rows, size_t cols, float* dst) {
  const size_t row_bytes = ops::RowBytes(t, cols);
  for (size_t r = 0; r < rows; ++r) {
    const uint8_t* row = src + r * row_bytes;
    float* out = dst + r * cols;
    switch (t) {
      case DType::F32: std::memcpy(out, row, cols * 4); break;
      case DType::F16:
        for (size_t i = 0; i < cols; ++i) { uint16_t h; std::memcpy(&h, row + 2 * i, 2); out[i] = ops::F32FromF16(h); }
        break;
      case DType::BF16:
        for (size_t i = 0; i < cols; ++i) { uint16_t h; std::memcpy(&h, row + 2 * i, 2); out[i] = ops::F32FromBF16(h); }
        break;
      case DType::F64:
        for (size_t i = 0; i < cols; ++i) { double d; std::memcpy(&d, row + 8 * i, 8); out[i] = float(d); }
        break;
      default: ops::DequantizeRow(row, t, cols, out);
    }
  }
}

// A parsed GGUF as a Checkpoint: HF names and shapes, the config rebuilt from its metadata. The
// checkpoint keeps g.file (the mapping) alive; for bytes parsed from memory the caller keeps them.
inline Checkpoint CheckpointFromGguf(const GgufFile& g) {
  const std::string& path = g.path;
  Checkpoint ckpt;
  ckpt.path = path;
  ckpt.config = ConfigFromGguf(g);
  ckpt.config_from = path + " (GGUF metadata)";
  if (g.file) ckpt.owners.push_back(g.file);
  for (const GgufTensorInfo& info : g.tensors) {
    if (info.name == "rope_freqs.weight") continue;  // folded into rope_parameters
    const std::string hf = gguf_names::HfFromGguf(info.name);
    if (hf.empty()) throw Error(Str(path, ": tensor ", info.name, " is not part of a gemma4 model"));
    Tensor t;
    t.name = hf;
    t.shape = info.shape();
    t.file = path;
    if (!DTypeFromGgml(info.type, &t.dtype))
      throw Error(Str(path, ": tensor ", info.name, ": ggml type ", GgmlTypeName(info.type), " is not supported "
                      "(F32, F16, BF16, Q8_0, Q4_0, Q5_0, Q4_K, Q5_K, Q6_K)"));
    t.data = info.data;
    t.nbytes = size_t(info.nbytes);
    if (!ckpt.tensors.emplace(hf, std::move(t)).second) throw Error(Str(path, ": tensor ", info.name, " appears twice"));
  }
  return ckpt;
}

// Opens a .gguf file as a Checkpoint (LoadCheckpoint calls this for GGUF files).
inline Checkpoint LoadGgufCheckpoint(const std::string& path) { return CheckpointFromGguf(ReadGguf(path)); }

// ---- writing ----

// One tensor to convert: HF name (with "model." prefix), shape, and a reader of rows as f32 (a row is
// the last dimension). Checkpoints and random generators both provide these, so conversion streams.
struct SourceTensor {
  std::string name;
  std::vector<int64_t> shape;
  std::function<void(int64_t row0, int64_t rows, float* out)> rows_f32;
  int64_t row_length() const { return shape.empty() ? 1 : shape.back(); }
  int64_t num_rows() const { return row_length() ? NumElements(shape) / row_length() : 0; }
};

// A checkpoint's tensors as sources ("model.language_model." rewritten to "model.").
inline std::vector<SourceTensor> SourcesOf(const Checkpoint& ckpt) {
  std::vector<SourceTensor> out;
  const std::string mm = "model.language_model.";
  for (const auto& [name, t] : ckpt.tensors) {
    SourceTensor s;
    s.name = name.compare(0, mm.size(), mm) == 0 ? "model." + name.substr(mm.size()) : name;
    s.shape = t.shape;
    const Tensor* tp = &t;
    s.rows_f32 = [tp, cols = s.row_length()](int64_t row0, int64_t rows, float* dst) {
      if (!ops::IsBlockType(tp->dtype) && !ops::IsWeightDType(tp->dtype) && tp->dtype != DType::F64)
        throw Error(Str(tp->file, ": tensor ", tp->name, ": dtype ", DTypeName(tp->dtype), " cannot be converted"));
      RowsToF32(tp->bytes() + size_t(row0) * ops::RowBytes(tp->dtype, size_t(cols)), tp->dtype, size_t(rows),
                size_t(cols), dst);
    };
    out.push_back(std::move(s));
  }
  return out;
}

// What a GGUF tensor is, for choosing its type and reporting the choice (one line per category).
inline std::string GgufCategory(const std::string& gguf, const std::vector<int64_t>& shape) {
  auto ends = [&](const std::string& s) { return gguf.size() >= s.size() && gguf.compare(gguf.size() - s.size(), s.size(), s) == 0; };
  if (ends("layer_output_scale.weight")) return "scalars (layer_scalar)";
  if (gguf.find("ffn_gate_inp") != std::string::npos || ends("ffn_down_exps.scale")) return "router (proj, scale, per_expert_scale)";
  if (ends("norm.weight") || ends("_norm_1.weight") || ends("_norm_2.weight")) return "norms";
  if (gguf == "per_layer_model_proj.weight" || gguf == "per_layer_proj_norm.weight") return "PLE projection";
  if (shape.size() <= 1) return "other 1-D";
  if (gguf == "per_layer_token_embd.weight") return "PLE table";
  if (gguf == "token_embd.weight" || gguf == "output.weight") return "embeddings / head";
  if (gguf.find("_exps.") != std::string::npos) return "experts";
  if (gguf.find(".attn_") != std::string::npos) return "attention";
  if (gguf.find(".ffn_") != std::string::npos) return "mlp";
  if (gguf.find("nextn.") == 0) return "drafter projections";
  return "PLE gate / projection";
}
// Categories kept at F32 whatever the output type.
inline bool KeepF32(const std::string& category) {
  return category == "scalars (layer_scalar)" || category.compare(0, 6, "router") == 0 || category == "norms" ||
         category == "PLE projection" || category == "other 1-D";
}

// Converts one row of f32 to ggml `type`, appending to `out`.
using RowQuantizer = std::function<void(const float* x, size_t n, uint32_t type, uint8_t* dst)>;

inline void PlainFromF32(const float* x, size_t n, uint32_t type, uint8_t* dst) {
  for (size_t i = 0; i < n; ++i) {
    if (type == ggml_type::F32) std::memcpy(dst + 4 * i, x + i, 4);
    else {
      const uint16_t h = type == ggml_type::BF16 ? ops::BF16FromF32(x[i]) : ops::F16FromF32(x[i]);
      std::memcpy(dst + 2 * i, &h, 2);
    }
  }
}

struct GgufConversion {
  uint32_t type = ggml_type::F32;  // output type of the big matrices
  RowQuantizer quantize_row = [](const float* x, size_t n, uint32_t t, uint8_t* dst) {  // llama.cpp's reference
    ops::QuantizeRow(x, t == ggml_type::Q8_0 ? DType::Q8_0 : DType::Q4_0, n, dst);     // quantizers
  };
  std::string name = "gemma4";     // general.name
  std::map<std::string, std::pair<size_t, std::string>> report;  // category → (count, types chosen)
  std::vector<std::string> notes;                                // fall-backs
};


// Metadata (gemma4.* / gemma4-assistant.*) for an HF config, as llama.cpp's converter writes it.

// The head dim of the full-attention layers, from the per-layer geometry (config.h). Trap: the flat
// global_head_dim keeps its default 512 when a config gives the full layers' head_dim only as
// per_layer_config {"4": {"head_dim": 64}} (what transformers 5.23's save_pretrained writes).
inline int64_t FullAttentionHeadDim(const Gemma4TextConfig& c) {
  for (int64_t i = 0; i < c.num_hidden_layers; ++i)
    if (!c.is_sliding(i)) return c.layers[size_t(i)].head_dim;
  return c.head_dim;
}
inline void SetGemma4Metadata(GgufWriter& w, const nlohmann::json& config_json, const std::string& source,
                              const std::string& name, uint32_t file_type) {
  const std::string model_type = config_detail::GetModelType(config_json, source);
  // (llama.cpp converts the 12B Unified, gemma4_unified, to the plain gemma4 architecture)
  const bool assistant = model_type == "gemma4_assistant" || model_type == "gemma4_unified_assistant";
  const std::string arch = assistant ? "gemma4-assistant" : "gemma4";
  const Gemma4TextConfig c = ParseGemma4TextConfig(config_json, source);
  const std::string k = arch + ".";
  const int64_t L = c.num_hidden_layers;
  w.set("general.architecture", GgufValue::String(arch));
  w.set("general.type", GgufValue::String("model"));
  w.set("general.name", GgufValue::String(name));
  w.set("general.file_type", GgufValue::U32(file_type));
  w.set("general.quantization_version", GgufValue::U32(2));
  w.set(k + "block_count", GgufValue::U32(uint32_t(L)));
  w.set(k + "context_length", GgufValue::U32(uint32_t(c.max_position_embeddings)));
  w.set(k + "embedding_length", GgufValue::U32(uint32_t(c.hidden_size)));
  std::vector<int64_t> ff, kv, pattern;
  bool kv_varies = false;
  for (int64_t i = 0; i < L; ++i) {
    ff.push_back(c.mlp_intermediate_size(i));
    kv.push_back(c.layers[size_t(i)].num_key_value_heads);
    kv_varies |= kv.back() != kv[0];
    pattern.push_back(c.is_sliding(i));
  }
  if (c.use_double_wide_mlp) w.set(k + "feed_forward_length", GgufValue::Array(GgufType::INT32, ff));
  else w.set(k + "feed_forward_length", GgufValue::U32(uint32_t(c.intermediate_size)));
  w.set(k + "attention.head_count", GgufValue::U32(uint32_t(c.num_attention_heads)));
  if (c.num_global_key_value_heads || kv_varies) w.set(k + "attention.head_count_kv", GgufValue::Array(GgufType::INT32, kv));
  else w.set(k + "attention.head_count_kv", GgufValue::U32(uint32_t(c.num_key_value_heads)));
  const int64_t full_dim = FullAttentionHeadDim(c);
  w.set(k + "attention.key_length", GgufValue::U32(uint32_t(full_dim)));
  w.set(k + "attention.value_length", GgufValue::U32(uint32_t(full_dim)));
  w.set(k + "attention.key_length_swa", GgufValue::U32(uint32_t(c.head_dim)));
  w.set(k + "attention.value_length_swa", GgufValue::U32(uint32_t(c.head_dim)));
  w.set(k + "attention.sliding_window", GgufValue::U32(uint32_t(c.sliding_window)));
  w.set(k + "attention.sliding_window_pattern", GgufValue::Array(GgufType::BOOL, pattern));
  w.set(k + "attention.shared_kv_layers", GgufValue::U32(uint32_t(assistant ? L : c.num_kv_shared_layers)));
  w.set(k + "attention.layer_norm_rms_epsilon", GgufValue::F32(float(c.rms_norm_eps)));
  w.set(k + "embedding_length_per_layer_input", GgufValue::U32(uint32_t(c.hidden_size_per_layer_input)));
  const RopeParameters& full = c.rope_parameters.at("full_attention");
  w.set(k + "rope.freq_base", GgufValue::F32(float(full.rope_theta)));
  w.set(k + "rope.freq_base_swa", GgufValue::F32(float(c.rope_parameters.at("sliding_attention").rope_theta)));
  w.set(k + "rope.dimension_count", GgufValue::U32(uint32_t(full_dim)));
  w.set(k + "rope.dimension_count_swa", GgufValue::U32(uint32_t(c.head_dim)));
  if (c.final_logit_softcapping) w.set(k + "final_logit_softcapping", GgufValue::F32(float(*c.final_logit_softcapping)));
  if (c.enable_moe_block) {
    w.set(k + "expert_count", GgufValue::U32(uint32_t(*c.num_experts)));
    w.set(k + "expert_used_count", GgufValue::U32(uint32_t(*c.top_k_experts)));
    w.set(k + "expert_feed_forward_length", GgufValue::U32(uint32_t(*c.moe_intermediate_size)));
  }
  if (assistant) {
    if (!config_json.contains("backbone_hidden_size") || !config_json["backbone_hidden_size"].is_number_integer())
      throw Error(Str(source, ": field 'backbone_hidden_size' must be an integer"));
    w.set(k + "embedding_length_out", GgufValue::U32(config_json["backbone_hidden_size"].get<uint32_t>()));
    w.set(k + "nextn_predict_layers", GgufValue::U32(uint32_t(L)));
  }
}

// rope_freqs.weight for proportional RoPE: 1/factor... stored as ggml freq factors (theta_i / factor):
// `factor` for the int(partial · D/2) rotated pairs, 1e30 (no rotation) for the rest.
inline std::vector<float> RopeFreqs(const Gemma4TextConfig& c) {
  const RopeParameters& full = c.rope_parameters.at("full_attention");
  const int64_t half = FullAttentionHeadDim(c) / 2;
  const int64_t rotated = full.rope_type == "proportional" ? int64_t(full.partial_rotary_factor * double(half)) : half;
  std::vector<float> f(size_t(half), 1e30f);
  for (int64_t i = 0; i < rotated; ++i) f[size_t(i)] = float(full.factor);
  return f;
}

// Adds the tensors of `sources` (HF names) to `w`, converted per `conv` (types chosen per category,
// block types falling back to F16 on rows that are not a multiple of the block). Tensors without a GGUF
// counterpart are skipped when they belong to other towers (vision, audio) or the drafter's ordered
// embedding (masked_embedding.*, which llama.cpp does not use); any other is an error.
inline void AddGemma4Tensors(GgufWriter& w, const nlohmann::json& config_json, const std::string& source,
                             std::vector<SourceTensor> sources, GgufConversion& conv) {
  const Gemma4TextConfig c = ParseGemma4TextConfig(config_json, source);
  bool any_full = false;
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) any_full |= !c.is_sliding(i);
  if (any_full) {
    auto freqs = std::make_shared<std::vector<float>>(RopeFreqs(c));
    w.tensors.push_back({"rope_freqs.weight", {uint64_t(freqs->size())}, ggml_type::F32,
                         [freqs](const GgufSink& sink) { sink(freqs->data(), freqs->size() * 4); }});
  }
  // llama.cpp orders token_embd, then per-layer tensors by layer; order does not matter to readers, but
  // sort by GGUF name with layers numerically for a stable file.
  std::vector<std::pair<std::string, SourceTensor>> mapped;
  for (SourceTensor& s : sources) {
    const std::string g = gguf_names::GgufFromHf(s.name);
    if (g.empty()) {
      if (s.name.find("vision") != std::string::npos || s.name.find("audio") != std::string::npos ||
          s.name.compare(0, 17, "masked_embedding.") == 0 || s.name.find("embed_vision") != std::string::npos ||
          s.name.find("embed_audio") != std::string::npos)
        continue;
      throw Error(Str(source, ": tensor ", s.name, " has no GGUF name (not a Gemma 4 text tensor?)"));
    }
    if (g == "output.weight" && c.tie_word_embeddings) continue;  // tied: llama.cpp reuses token_embd
    mapped.emplace_back(g, std::move(s));
  }
  auto key = [](const std::string& n) {
    int64_t layer = -1;
    std::string rest;
    gguf_names::ParseLayer(n, "blk.", &layer, &rest);
    return std::make_pair(layer, n);
  };
  std::sort(mapped.begin(), mapped.end(), [&](const auto& a, const auto& b) { return key(a.first) < key(b.first); });

  for (auto& [g, s] : mapped) {
    std::vector<uint64_t> ne(s.shape.rbegin(), s.shape.rend());
    if (ne.empty()) ne.push_back(1);
    const std::string category = GgufCategory(g, s.shape);
    uint32_t type = KeepF32(category) ? ggml_type::F32 : conv.type;
    const GgmlTypeInfo* info = FindGgmlType(type);
    if (ne[0] % info->block_size) {
      conv.notes.push_back(Str(g, ": rows of ", ne[0], " are not a multiple of ", info->block_size, "; written as F16"));
      type = ggml_type::F16;
      info = FindGgmlType(type);
    }
    auto& rep = conv.report[category];
    rep.first += 1;
    if (rep.second.find(info->name) == std::string::npos) rep.second += (rep.second.empty() ? "" : "+") + std::string(info->name);
    const RowQuantizer quantize = conv.quantize_row;
    const std::string where = Str(source, ": tensor ", s.name);
    w.tensors.push_back({g, ne, type, [src = std::move(s), type, info, quantize, where](const GgufSink& sink) {
      const int64_t cols = src.row_length(), rows = src.num_rows();
      const size_t row_out = size_t(cols) / info->block_size * info->block_bytes;
      const int64_t chunk = std::max<int64_t>(1, (int64_t{1} << 22) / std::max<int64_t>(cols, 1));
      std::vector<float> f(size_t(std::min(chunk, rows) * cols));
      std::vector<uint8_t> out(size_t(std::min(chunk, rows)) * row_out);
      for (int64_t r0 = 0; r0 < rows; r0 += chunk) {
        const int64_t n = std::min(chunk, rows - r0);
        src.rows_f32(r0, n, f.data());
        for (int64_t r = 0; r < n; ++r) {
          const float* x = f.data() + size_t(r * cols);
          uint8_t* dst = out.data() + size_t(r) * row_out;
          if (info->block_size == 1) PlainFromF32(x, size_t(cols), type, dst);
          else if (quantize) quantize(x, size_t(cols), type, dst);
          else throw Error(Str(where, ": no quantizer for ", info->name));
        }
        sink(out.data(), size_t(n) * row_out);
      }
    }});
  }
}

// tokenizer.ggml.* (llama.cpp needs a tokenizer to load any model). From `dir`/tokenizer.json (vocab,
// merges, added tokens) and the chat template (tokenizer_config.json or chat_template.jinja) when present;
// otherwise a made-up vocabulary of `vocab_size` unique strings that satisfies llama.cpp's "gemma4" BPE
// loader (<pad> <eos> <bos> <unk>, byte tokens when they fit, "▁", one merge): enough for work in ids.
// Returns a one-line description of what it wrote.
inline std::string SetTokenizerMetadata(GgufWriter& w, const std::string& dir, int64_t vocab_size, int64_t bos_id,
                                        int64_t eos_id, int64_t pad_id) {
  using nlohmann::json;
  std::vector<std::string> tokens;
  std::vector<int64_t> types;
  std::vector<std::string> merges;
  std::string what;
  const std::string tj = dir.empty() ? "" : dir + "/tokenizer.json";
  if (!tj.empty() && IsFile(tj)) {
    const json t = ReadJsonFile(tj);
    if (!t.contains("model") || !t["model"].contains("vocab") || !t["model"]["vocab"].is_object())
      throw Error(Str(tj, ": no model.vocab object (only BPE tokenizers are supported)"));
    std::map<int64_t, std::pair<std::string, int64_t>> by_id;  // id → (text, type)
    // Ids are bounded by the vocabulary present (the entries and added tokens the file holds, or the
    // config's vocab_size): a 70-byte file cannot ask for a table of 2^30 tokens.
    const size_t n_added = t.contains("added_tokens") && t["added_tokens"].is_array() ? t["added_tokens"].size() : 0;
    const int64_t id_limit = std::max<int64_t>(vocab_size, TokenIdLimit(t["model"]["vocab"].size() + n_added));
    for (const auto& [text, id] : t["model"]["vocab"].items()) {
      if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() >= id_limit)
        throw Error(Str(tj, ": model.vocab[\"", text, "\"] is not a token id below ", id_limit));
      const bool byte = text.size() == 6 && text.compare(0, 3, "<0x") == 0 && text[5] == '>';
      by_id[id.get<int64_t>()] = {text, byte ? 6 : 1};
    }
    static const char* const kUserDefined[] = {"<|channel>", "<channel|>", "<|tool_call>", "<tool_call|>",
                                               "<|tool_response>", "<tool_response|>", "<|\"|>"};
    if (t.contains("added_tokens") && t["added_tokens"].is_array())
      for (const json& a : t["added_tokens"]) {
        if (!a.is_object() || !a.contains("id") || !a["id"].is_number_integer() || !a.contains("content") ||
            !a["content"].is_string())
          throw Error(Str(tj, ": added_tokens entry ", Brief(a), " needs id and content"));
        if (a["id"].get<int64_t>() < 0 || a["id"].get<int64_t>() >= id_limit)
          throw Error(Str(tj, ": added token ", Brief(a["content"]), " has id ", a["id"].get<int64_t>(),
                          ", not a token id below ", id_limit));
        if (a.contains("special") && !a["special"].is_boolean())
          throw Error(Str(tj, ": added token ", Brief(a["content"]), ": \"special\" must be true or false"));
        const std::string text = a["content"].get<std::string>();
        int64_t type = a.contains("special") && a["special"].get<bool>() ? 3 : 4;
        for (const char* u : kUserDefined)
          if (text == u) type = 4;
        by_id[a["id"].get<int64_t>()] = {text, type};
      }
    const int64_t n = std::max<int64_t>(vocab_size, by_id.empty() ? 0 : by_id.rbegin()->first + 1);
    for (int64_t i = 0; i < n; ++i) {
      const auto it = by_id.find(i);
      tokens.push_back(it != by_id.end() ? it->second.first : Str("<unused_gguf_", i, ">"));
      types.push_back(it != by_id.end() ? it->second.second : 5);  // 5: unused
    }
    if (t["model"].contains("merges") && t["model"]["merges"].is_array())
      for (const json& m : t["model"]["merges"]) {
        if (m.is_string()) merges.push_back(m.get<std::string>());
        else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string())
          merges.push_back(m[0].get<std::string>() + " " + m[1].get<std::string>());
        else throw Error(Str(tj, ": model.merges entry ", Brief(m), " is not \"a b\" or [a, b]"));
      }
    what = Str("tokenizer from ", tj, ": ", tokens.size(), " tokens, ", merges.size(), " merges");
  } else {
    const char* const kSpecial[] = {"<pad>", "<eos>", "<bos>", "<unk>"};
    for (int64_t i = 0; i < vocab_size; ++i) {
      if (i < 4) {
        tokens.push_back(kSpecial[i]);
        types.push_back(i == 3 ? 2 : 3);
      } else if (vocab_size >= 4 + 256 + 3 && i < 4 + 256) {
        char buf[8];
        std::snprintf(buf, sizeof buf, "<0x%02X>", unsigned(i - 4));
        tokens.push_back(buf);
        types.push_back(6);
      } else {
        const int64_t j = i - (vocab_size >= 4 + 256 + 3 ? 260 : 4);
        tokens.push_back(j == 0 ? "\n" : j == 1 ? "\xE2\x96\x81" : j == 2 ? "\xE2\x96\x81\xE2\x96\x81" : Str("[tok", i, "]"));
        types.push_back(1);
      }
    }
    merges.push_back("\xE2\x96\x81 \xE2\x96\x81");
    what = Str("tokenizer: none in the input; wrote a made-up vocabulary of ", vocab_size, " tokens (ids only)");
  }
  std::vector<double> scores(tokens.size());
  for (size_t i = 0; i < scores.size(); ++i) scores[i] = -double(i);
  w.set("tokenizer.ggml.model", GgufValue::String("gemma4"));
  w.set("tokenizer.ggml.tokens", GgufValue::StringArray(tokens));
  w.set("tokenizer.ggml.scores", GgufValue::FloatArray(scores));
  w.set("tokenizer.ggml.token_type", GgufValue::Array(GgufType::INT32, types));
  w.set("tokenizer.ggml.merges", GgufValue::StringArray(merges));
  w.set("tokenizer.ggml.bos_token_id", GgufValue::U32(uint32_t(bos_id)));
  w.set("tokenizer.ggml.eos_token_id", GgufValue::U32(uint32_t(eos_id)));
  w.set("tokenizer.ggml.unknown_token_id", GgufValue::U32(3));
  w.set("tokenizer.ggml.padding_token_id", GgufValue::U32(uint32_t(pad_id)));
  w.set("tokenizer.ggml.add_bos_token", GgufValue::Bool(true));
  w.set("tokenizer.ggml.add_space_prefix", GgufValue::Bool(false));
  std::string chat_template;
  if (!dir.empty() && IsFile(dir + "/chat_template.jinja")) {
    chat_template = ReadTextFile(dir + "/chat_template.jinja");
  } else if (!dir.empty() && IsFile(dir + "/tokenizer_config.json")) {
    const json tc = ReadJsonFile(dir + "/tokenizer_config.json");
    if (tc.contains("chat_template") && tc["chat_template"].is_string()) chat_template = tc["chat_template"].get<std::string>();
  }
  if (!chat_template.empty()) w.set("tokenizer.chat_template", GgufValue::String(chat_template));
  return what;
}

// HF checkpoint → GGUF `out` (metadata, tokenizer, tensors). `dir` is where tokenizer files are looked
// for ("" for none). Returns the tokenizer line; conv.report / conv.notes say what was chosen.
inline std::string WriteGemma4Gguf(const nlohmann::json& config_json, const std::string& source,
                                   std::vector<SourceTensor> sources, const std::string& dir, const std::string& out,
                                   GgufConversion& conv, const std::function<void(size_t, size_t)>& progress = nullptr) {
  static const std::map<uint32_t, uint32_t> kFileType = {{ggml_type::F32, 0}, {ggml_type::F16, 1}, {ggml_type::Q4_0, 2},
                                                         {ggml_type::Q8_0, 7}, {ggml_type::BF16, 32}};
  return JsonGuard(dir.empty() ? source : dir, [&] {
  GgufWriter w;
  const auto ft = kFileType.find(conv.type);
  SetGemma4Metadata(w, config_json, source, conv.name, ft == kFileType.end() ? 0 : ft->second);
  const Gemma4TextConfig c = ParseGemma4TextConfig(config_json, source);
  const std::string tok = SetTokenizerMetadata(w, dir, c.vocab_size, c.bos_token_id,
                                               c.eos_token_id.empty() ? 1 : c.eos_token_id[0], c.pad_token_id);
  AddGemma4Tensors(w, config_json, source, std::move(sources), conv);
  w.write(out, progress);
  return tok;
  });
}

}  // namespace gemma4

#endif  // GEMMA4_GGUF_CHECKPOINT_H_
