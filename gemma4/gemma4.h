// gemma4/gemma4.h — the whole library. One header per block of HF modeling_gemma4.py:
//   config.h                  Gemma4TextConfig (config.json), presets of the released models
//   scaled_word_embedding.h   Gemma4TextScaledWordEmbedding (token embeddings; the PLE table)
//   rotary_embedding.h        Gemma4TextRotaryEmbedding (default and proportional RoPE)
//   rms_norm.h                Gemma4RMSNorm
//   linear.h                  nn.Linear (weights read in place)
//   attention.h               Gemma4TextAttention (sliding/full, k_eq_v, KV sharing)
//   mlp.h                     Gemma4TextMLP (GeGLU, double-wide)
//   router.h, experts.h       Gemma4TextRouter, Gemma4TextExperts (MoE)
//   decoder_layer.h           Gemma4TextDecoderLayer
//   text_model.h              Gemma4TextModel (embeddings, per-layer embeddings, layers, final norm)
//   causal_lm.h               Gemma4ForCausalLM (tied head, final logit softcapping)
//   cache.h                   DynamicCache (sliding ring buffers, KV-shared layers)
//   assistant.h               Gemma4AssistantForCausalLM (the MTP drafter, modeling_gemma4_assistant.py)
//   speculative.h             draft → verify → accept (HF assisted generation with the drafter)
//   study.h, overrides.h, ablations.h  config overrides and ablations for studying the architecture (--override, --ablate)
// and the plumbing: tensor.h, error.h, mapped_file.h, safetensors.h, gguf.h + gguf_checkpoint.h (llama.cpp GGUF
// in and out), checkpoint.h, weights.h, state.h,
// capture.h, generation.h, sampler.h (HF's logits processors and multinomial draw). Kernels live in ops/ (ops/ops.h).
#ifndef GEMMA4_GEMMA4_H_
#define GEMMA4_GEMMA4_H_

#include "ops/ops.h"  // first: it drives Highway's per-target compilation

#include "gemma4/assistant.h"
#include "gemma4/attention.h"
#include "gemma4/cache.h"
#include "gemma4/capture.h"
#include "gemma4/causal_lm.h"
#include "gemma4/io/checkpoint.h"
#include "gemma4/config.h"
#include "gemma4/decoder_layer.h"
#include "gemma4/error.h"
#include "gemma4/experts.h"
#include "gemma4/generate/generation.h"
#include "gemma4/io/gguf.h"
#include "gemma4/io/gguf_checkpoint.h"
#include "gemma4/io/json.h"
#include "gemma4/linear.h"
#include "gemma4/io/mapped_file.h"
#include "gemma4/mlp.h"
#include "gemma4/rms_norm.h"
#include "gemma4/rotary_embedding.h"
#include "gemma4/router.h"
#include "gemma4/io/safetensors.h"
#include "gemma4/generate/sampler.h"
#include "gemma4/scaled_word_embedding.h"
#include "gemma4/generate/speculative.h"
#include "gemma4/state.h"
#include "gemma4/overrides.h"
#include "gemma4/study.h"
#include "gemma4/io/temp_file.h"
#include "gemma4/tensor.h"
#include "gemma4/text_model.h"
#include "gemma4/weights.h"

#endif  // GEMMA4_GEMMA4_H_
