// gemma4/weights.h — binding a model's parameters to a checkpoint's tensors, by HF name.
//
// Every block lists its parameters once, in visit(v), with the attribute names HF uses; nesting those names
// gives the checkpoint's tensor path ("layers.3" + "self_attn" + "q_proj" + "weight"). WeightBinder walks
// that tree and checks each tensor's presence, dtype and shape against what the config implies, naming
// the file and tensor in any error. Tensors the model does not ask for (vision/audio towers, the unused
// k/v projections Google ships for KV-shared layers) are ignored.
#ifndef GEMMA4_WEIGHTS_H_
#define GEMMA4_WEIGHTS_H_

#include <map>
#include <string>
#include <vector>

#include "gemma4/io/checkpoint.h"
#include "gemma4/error.h"
#include "gemma4/tensor.h"
#include "ops/ops.h"

namespace gemma4 {

struct WeightBinder {
  const Checkpoint& checkpoint;
  std::string prefix;  // e.g. "model.language_model."

  const Tensor& require(const std::string& name, const std::vector<int64_t>& shape) const {
    const std::string full = prefix + name;
    const Tensor* t = checkpoint.find(full);
    if (!t) throw Error(Str(checkpoint.path, ": missing tensor ", full));
    if (t->shape != shape)
      throw Error(Str(t->file, ": tensor ", full, " has shape ", ShapeString(t->shape), ", expected ",
                      ShapeString(shape)));
    return *t;
  }

  // A matrix or table, read in place.
  void operator()(const std::string& name, Weight& w) const {
    const Tensor& t = require(name, w.shape);
    if (!ops::IsWeightDType(t.dtype) && !(w.rows_only && ops::IsBlockType(t.dtype)))
      throw Error(Str(t.file, ": tensor ", t.name, " has dtype ", DTypeName(t.dtype),
                      "; weights must be F32, BF16, F16, Q8_0, Q4_0, Q5_0, Q4_K, Q5_K or Q6_K"));
    if (!t.shape.empty() && size_t(t.shape.back()) % ops::BlockSize(t.dtype) != 0)
      throw Error(Str(t.file, ": tensor ", t.name, " is ", DTypeName(t.dtype), " ", ShapeString(t.shape),
                      ", but its rows are not a whole number of ", ops::BlockSize(t.dtype), "-element blocks"));
    w.tensor = t;
  }

  // A small parameter, widened to f32.
  void operator()(const std::string& name, ParamF32& p) const {
    const Tensor& t = require(name, p.shape);
    if ((!ops::IsWeightDType(t.dtype) && t.dtype != DType::F64) ||
        (ops::IsBlockType(t.dtype) && size_t(t.numel()) % ops::BlockSize(t.dtype) != 0))
      throw Error(Str(t.file, ": tensor ", t.name, " has dtype ", DTypeName(t.dtype), " ", ShapeString(t.shape),
                      "; expected a floating-point type"));
    p.data.resize(size_t(t.numel()));
    ops::ToF32(t.data, t.dtype, p.data.size(), 1.0f, p.data.data());
  }

  // A sub-module: its parameters live under "<prefix><name>.".
  template <class Module>
  void operator()(const std::string& name, Module& module) const {
    WeightBinder child{checkpoint, prefix + name + "."};
    module.visit(child);
  }
};

// Where the text model's tensors live: "model.language_model." in multimodal checkpoints (as Google
// publishes them), "model." in text-only ones (Gemma4ForCausalLM, drafters).
inline std::string TextModelPrefix(const Checkpoint& checkpoint) {
  const std::string multimodal = "model.language_model.";
  for (const auto& [name, t] : checkpoint.tensors)
    if (name.compare(0, multimodal.size(), multimodal) == 0) return multimodal;
  return "model.";
}

// A multimodal checkpoint's tensors outside its text model (the E2B/E4B vision and audio towers; the 12B
// Unified's 11 under model.vision_embedder., model.embed_vision., model.embed_audio.), which this text-only
// engine skips: one line saying how many and where, or "" when there are none.
inline std::string SkippedMultimodalTensors(const Checkpoint& checkpoint, const std::string& text_prefix) {
  if (text_prefix != "model.language_model.") return "";
  std::map<std::string, size_t> groups;  // "model.embed_audio" → count
  size_t n = 0;
  for (const auto& [name, t] : checkpoint.tensors) {
    if (name.compare(0, 6, "model.") != 0 || name.compare(0, text_prefix.size(), text_prefix) == 0) continue;
    ++groups[name.substr(0, name.find('.', 6))];
    ++n;
  }
  if (n == 0) return "";
  std::string where;
  for (const auto& [group, count] : groups) where += Str(where.empty() ? "" : ", ", group, ".* (", count, ")");
  return Str(checkpoint.path, ": skipping ", n, " vision/audio tensor", n == 1 ? "" : "s", " (", where,
             "): this engine runs the text decoder only");
}

}  // namespace gemma4

#endif  // GEMMA4_WEIGHTS_H_
