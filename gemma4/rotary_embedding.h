// gemma4/rotary_embedding.h — HF Gemma4TextRotaryEmbedding: cos/sin of position · inv_freq, per layer type.
//
//   "default" (sliding layers):      inv_freq_j = θ^(−2j/D),  j < D/2,                  θ = 1e4
//   "proportional" (full layers):    inv_freq_j = θ^(−2j/D) / factor for j < R = int(partial·D // 2),
//                                    0 for the other D/2 − R pairs (they do not rotate),  θ = 1e6
// Note the proportional denominator is the full D, not 2R (trap: llama.cpp needs rope_freqs to say this).
// HF computes inv_freq and the angles in f32; we use double, which is closer to the exact values the
// goldens hold and keeps long positions (angle = pos · inv_freq) accurate. Only the R rotating pairs are
// kept; ops::Rope leaves the rest alone.
#ifndef GEMMA4_ROTARY_EMBEDDING_H_
#define GEMMA4_ROTARY_EMBEDDING_H_

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "gemma4/config.h"

namespace gemma4 {

struct Gemma4TextRotaryEmbedding {
  struct Table {
    int64_t head_dim = 0;
    std::vector<double> inv_freq;  // [rotary_pairs]
    size_t rotary_pairs() const { return inv_freq.size(); }
  };
  Table sliding, full;  // by layer type

  Gemma4TextRotaryEmbedding() = default;
  explicit Gemma4TextRotaryEmbedding(const Gemma4TextConfig& config) {
    for (int64_t i = 0; i < config.num_hidden_layers; ++i) {
      Table& table = config.is_sliding(i) ? sliding : full;
      if (table.head_dim) continue;
      const RopeParameters& rope = config.rope_parameters.at(config.layer_types[size_t(i)]);
      table.head_dim = config.layers[size_t(i)].head_dim;
      const double D = double(table.head_dim);
      size_t pairs = size_t(table.head_dim / 2);
      double factor = 1.0;
      if (rope.rope_type == "proportional") {
        pairs = size_t(std::floor(rope.partial_rotary_factor * D / 2.0));  // int(partial · D // 2)
        factor = rope.factor;
      }
      for (size_t j = 0; j < pairs; ++j) table.inv_freq.push_back(std::pow(rope.rope_theta, -2.0 * double(j) / D) / factor);
    }
  }

  const Table& table(bool is_sliding) const { return is_sliding ? sliding : full; }

  // cos, sin: [T, rotary_pairs] for positions pos0 .. pos0 + T − 1.
  void forward(bool is_sliding, size_t pos0, size_t T, float* cos, float* sin) const {
    const Table& tb = table(is_sliding);
    const size_t R = tb.rotary_pairs();
    // On the host on every device (ops/device.h): T·R angles in double, the same bits everywhere.
    for (size_t t = 0; t < T; ++t)
      for (size_t j = 0; j < R; ++j) {
        const double angle = double(pos0 + t) * tb.inv_freq[j];
        cos[t * R + j] = static_cast<float>(std::cos(angle));
        sin[t * R + j] = static_cast<float>(std::sin(angle));
      }
  }
};

}  // namespace gemma4

#endif  // GEMMA4_ROTARY_EMBEDDING_H_
