// ops/attention_scalar.h — scaled dot-product attention over a position-ordered KV store.
//
// HF eager_attention_forward with Gemma 4's conventions: scores = scale · q·k (scale = 1.0 in Gemma 4,
// the q/k RMSNorms already fix the magnitude), no attention softcap, GQA head h reads kv head
// h / (num_heads / num_kv_heads). The mask is built from positions instead of a mask tensor:
// a query at position p sees the keys at positions kp with  kp ≤ p  and, when window > 0,  kp > p − window.
#ifndef GEMMA4_OPS_ATTENTION_SCALAR_H_
#define GEMMA4_OPS_ATTENTION_SCALAR_H_

#include <cmath>
#include <cstddef>
#include <vector>

namespace gemma4::ops {

// `count` consecutive positions starting at `first_pos`; k, v: [count, num_kv_heads, head_dim].
// A KV store is a list of blocks in increasing position order (a ring buffer is two blocks).
struct KVBlock {
  const float* k;
  const float* v;
  size_t first_pos;
  size_t count;
};

}  // namespace gemma4::ops

namespace gemma4::ops::scalar {

// q, out: [T, num_heads, head_dim]; query t sits at position q_pos0 + t.
inline void Attention(const float* q, size_t T, size_t num_heads, size_t head_dim, size_t q_pos0,
                      const KVBlock* blocks, size_t num_blocks, size_t num_kv_heads, size_t window, float scale,
                      float* out) {
  const size_t group = num_heads / num_kv_heads;
  std::vector<double> scores;
  for (size_t t = 0; t < T; ++t) {
    const size_t pos = q_pos0 + t;
    for (size_t h = 0; h < num_heads; ++h) {
      const float* qv = q + (t * num_heads + h) * head_dim;
      const size_t kvh = h / group;
      scores.clear();
      double max = -INFINITY;
      for (size_t b = 0; b < num_blocks; ++b)
        for (size_t i = 0; i < blocks[b].count; ++i) {
          const size_t kp = blocks[b].first_pos + i;
          if (kp > pos || (window > 0 && kp + window <= pos)) continue;
          const float* kv = blocks[b].k + (i * num_kv_heads + kvh) * head_dim;
          double dot = 0.0;
          for (size_t d = 0; d < head_dim; ++d) dot += double(qv[d]) * double(kv[d]);
          scores.push_back(dot * scale);
          max = scores.back() > max ? scores.back() : max;
        }
      double sum = 0.0;
      for (double& s : scores) sum += (s = std::exp(s - max));
      std::vector<double> acc(head_dim, 0.0);
      size_t j = 0;
      for (size_t b = 0; b < num_blocks; ++b)
        for (size_t i = 0; i < blocks[b].count; ++i) {
          const size_t kp = blocks[b].first_pos + i;
          if (kp > pos || (window > 0 && kp + window <= pos)) continue;
          const float* vv = blocks[b].v + (i * num_kv_heads + kvh) * head_dim;
          const double p = scores[j++] / sum;
          for (size_t d = 0; d < head_dim; ++d) acc[d] += p * double(vv[d]);
        }
      float* o = out + (t * num_heads + h) * head_dim;
      for (size_t d = 0; d < head_dim; ++d) o[d] = static_cast<float>(acc[d]);
    }
  }
}

}  // namespace gemma4::ops::scalar

#endif  // GEMMA4_OPS_ATTENTION_SCALAR_H_
