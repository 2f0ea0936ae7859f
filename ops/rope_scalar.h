// ops/rope_scalar.h — rotary position embedding, the readable definition.
//
// HF apply_rotary_pos_emb with rotate_half (the "half-split" / NeoX convention): element j pairs with
// j + D/2. With c = cos(pos·inv_freq_j), s = sin(pos·inv_freq_j):
//   x[j]       ← x[j]·c − x[j+D/2]·s
//   x[j+D/2]   ← x[j+D/2]·c + x[j]·s
// Pairs j ≥ rotary_pairs have inv_freq 0 (proportional RoPE's unrotated part): c = 1, s = 0, identity.
#ifndef GEMMA4_OPS_ROPE_SCALAR_H_
#define GEMMA4_OPS_ROPE_SCALAR_H_

#include <cstddef>

namespace gemma4::ops::scalar {

// x: [T, num_heads, head_dim]; cos, sin: [T, rotary_pairs] (row t for the position of token t).
inline void Rope(float* x, size_t T, size_t num_heads, size_t head_dim, const float* cos, const float* sin,
                 size_t rotary_pairs) {
  const size_t half = head_dim / 2;
  for (size_t t = 0; t < T; ++t) {
    for (size_t h = 0; h < num_heads; ++h) {
      float* v = x + (t * num_heads + h) * head_dim;
      for (size_t j = 0; j < rotary_pairs; ++j) {
        const double c = cos[t * rotary_pairs + j], s = sin[t * rotary_pairs + j];
        const double x1 = v[j], x2 = v[j + half];
        v[j] = static_cast<float>(x1 * c - x2 * s);
        v[j + half] = static_cast<float>(x2 * c + x1 * s);
      }
    }
  }
}

}  // namespace gemma4::ops::scalar

#endif  // GEMMA4_OPS_ROPE_SCALAR_H_
