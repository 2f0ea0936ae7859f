// gemma4/scaled_word_embedding.h — HF Gemma4TextScaledWordEmbedding: e = weight[ids] · embed_scale.
//
// embed_scale = float32(√dim) (√hidden_size for tokens, √hidden_size_per_layer_input for PLE).
// HF multiplies by embed_scale cast to the *run* dtype, so a bf16 run of E2B uses bf16(√1536) = 39.25
// instead of 39.19; we compute in f32 like HF run in float32, and like llama.cpp.
// The table is read in place, one row per token: E2B's 4.7 GB PLE table is never read whole.
#ifndef GEMMA4_SCALED_WORD_EMBEDDING_H_
#define GEMMA4_SCALED_WORD_EMBEDDING_H_

#include <cmath>
#include <cstddef>
#include <cstdint>

#include "gemma4/tensor.h"
#include "ops/ops.h"

namespace gemma4 {

struct Gemma4TextScaledWordEmbedding {
  int64_t num_embeddings = 0;  // rows (vocabulary)
  int64_t embedding_dim = 0;
  float embed_scale = 1.0f;
  Weight weight;  // [num_embeddings, embedding_dim]

  Gemma4TextScaledWordEmbedding() = default;
  Gemma4TextScaledWordEmbedding(int64_t num, int64_t dim, double scale)
      : num_embeddings(num), embedding_dim(dim), embed_scale(static_cast<float>(scale)) {
    weight.shape = {num, dim};
  }

  template <class V>
  void visit(V& v) { v("weight", weight); }

  // ids: [T] (already checked < num_embeddings) → out: [T, embedding_dim]
  void forward(const int32_t* ids, size_t T, float* out) const {
    const Tensor& w = weight.tensor;
    for (size_t t = 0; t < T; ++t)
      ops::ToF32(w.bytes() + size_t(ids[t]) * w.row_bytes(), w.dtype, size_t(embedding_dim), embed_scale,
                 out + t * size_t(embedding_dim));
  }
};

}  // namespace gemma4

#endif  // GEMMA4_SCALED_WORD_EMBEDDING_H_
