// gemma4/causal_lm.h — HF Gemma4ForCausalLM: the text model plus its head.
//
//   logits = h · Eᵀ        (tied: E = embed_tokens.weight; untied: lm_head.weight)
//   logits = c · tanh(logits / c)      when final_logit_softcapping c is set (30 in released models)
#ifndef GEMMA4_CAUSAL_LM_H_
#define GEMMA4_CAUSAL_LM_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "gemma4/cache.h"
#include "gemma4/capture.h"
#include "gemma4/io/checkpoint.h"
#include "gemma4/config.h"
#include "gemma4/error.h"
#include "gemma4/linear.h"
#include "gemma4/state.h"
#include "gemma4/text_model.h"
#include "gemma4/weights.h"
#include "ops/ops.h"

namespace gemma4 {

struct Gemma4ForCausalLM {
  Gemma4TextConfig config;
  Gemma4TextModel model;
  Linear lm_head;         // [V,H]; a view of model.embed_tokens.weight when tied
  Checkpoint checkpoint;  // owns the mapped files the weights point into

  explicit Gemma4ForCausalLM(const Gemma4TextConfig& c)
      : config(c), model(c), lm_head(c.hidden_size, c.vocab_size) {
    if (c.first_kv_shared_layer_idx() == 0)
      throw Error("num_kv_shared_layers equals num_hidden_layers: no layer computes K/V (is this a drafter?)");
  }

  // Loads an HF checkpoint directory (or any format LoadCheckpoint knows).
  static std::unique_ptr<Gemma4ForCausalLM> from_pretrained(const std::string& path) {
    return from_checkpoint(LoadCheckpoint(path));
  }
  static std::unique_ptr<Gemma4ForCausalLM> from_checkpoint(Checkpoint ckpt) {
    auto lm = std::make_unique<Gemma4ForCausalLM>(ParseGemma4TextConfig(ckpt.config, ckpt.config_source()));
    lm->bind(std::move(ckpt));
    return lm;
  }

  void bind(Checkpoint ckpt) {
    checkpoint = std::move(ckpt);
    try {
      WeightBinder binder{checkpoint, TextModelPrefix(checkpoint)};
      model.visit(binder);
      if (std::string skipped = SkippedMultimodalTensors(checkpoint, binder.prefix); !skipped.empty())
        config.warnings.push_back(std::move(skipped));
      if (config.tie_word_embeddings)
        lm_head.weight.tensor = model.embed_tokens.weight.tensor;
      else
        WeightBinder{checkpoint, ""}("lm_head", lm_head);
      CheckMappedFiles();  // the small parameters were read from the files just now
    } catch (const Error& e) {  // a shape the config got from a default, not from the file: say which
      if (config.defaulted.empty()) throw;
      std::string keys;
      for (const std::string& d : config.defaulted) keys += (keys.empty() ? "" : ", ") + d;
      throw Error(Str(e.what(), " (", checkpoint.config_source(), " lacks keys that set tensor shapes; defaults used: ",
                      keys, ")"));
    }
  }

  // Runs T tokens at positions cache.seq_length ..; writes logits [T,V] (all_rows) or [1,V] (the last token).
  void forward(const int32_t* ids, size_t T, Gemma4Cache& cache, ForwardState& s, float* logits, bool all_rows,
               Capture* capture = nullptr) const {
    if (T == 0) return;
    model.forward(ids, T, cache, s, capture);
    const size_t H = size_t(config.hidden_size), V = size_t(config.vocab_size);
    const size_t rows = all_rows ? T : 1;
    lm_head.forward(s.x.data() + (T - rows) * H, rows, logits);
    if (config.final_logit_softcapping) ops::Softcap(logits, rows * V, static_cast<float>(*config.final_logit_softcapping));
    if (capture && all_rows) capture->add("logits", {int64_t(T), int64_t(V)}, logits);
  }
};

}  // namespace gemma4

#endif  // GEMMA4_CAUSAL_LM_H_
