// gemma4/tensor.h — the one tensor view type, and the two kinds of model parameter built on it.
//
// A Tensor never owns its bytes: it points into a memory-mapped checkpoint (weights) or into a buffer
// owned by someone else (captures, goldens). Shapes use PyTorch's order ([out, in] for a Linear).
#ifndef GEMMA4_TENSOR_H_
#define GEMMA4_TENSOR_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "ops/dtype.h"

namespace gemma4 {

using ops::DType;

inline std::string ShapeString(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? "," : "") + std::to_string(shape[i]);
  return s + "]";
}

inline int64_t NumElements(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

struct Tensor {
  std::string name;             // as in the checkpoint, e.g. "model.layers.0.self_attn.q_proj.weight"
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  const void* data = nullptr;   // first element; read only
  size_t nbytes = 0;
  std::string file;             // where it came from, for error messages

  int64_t numel() const { return NumElements(shape); }
  // Bytes of one row of a 2-D (or the last dimension of an N-D) tensor; for a block type (Q8_0, …) the last
  // dimension must be a whole number of blocks (std::invalid_argument otherwise).
  size_t row_bytes() const { return shape.empty() ? nbytes : ops::RowBytes(dtype, size_t(shape.back())); }
  const uint8_t* bytes() const { return static_cast<const uint8_t*>(data); }
};

// A parameter read in place from the checkpoint (matrices and tables: Linear weights, embeddings,
// stacked experts). `shape` is what the config says it must be; the loader checks and binds `tensor`.
struct Weight {
  std::vector<int64_t> shape;
  Tensor tensor;
  bool rows_only = false;  // read one row at a time (ops::ToF32), never by MatMul: K-quants allowed too
};

// A small parameter widened to f32 when loaded (norm weights, layer_scalar, router scales).
struct ParamF32 {
  std::vector<int64_t> shape;
  std::vector<float> data;
};

}  // namespace gemma4

#endif  // GEMMA4_TENSOR_H_
