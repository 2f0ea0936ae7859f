// gemma4/capture.h — optional recording of intermediate tensors ("capture points") during a forward pass,
// under the names the golden files use: embeddings, ple_inputs, hidden_states.<layer>, final_norm, logits,
// router_probs.<layer>, router_topk_idx.<layer>, router_topk_w.<layer>, shared_kv.<layer_type>.k / .v.
// A tensor recorded again (the next chunk of a chunked prefill) is appended along its first axis.
// Passing no Capture costs nothing.
#ifndef GEMMA4_CAPTURE_H_
#define GEMMA4_CAPTURE_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "gemma4/error.h"
#include "gemma4/tensor.h"

namespace gemma4 {

struct Capture {
  struct Entry {
    std::vector<int64_t> shape;
    std::vector<float> f32;    // floating-point captures
    std::vector<int32_t> i32;  // index captures (router_topk_idx)
  };
  std::map<std::string, Entry> entries;

  template <class T>
  void add(const std::string& name, std::vector<int64_t> shape, const T* data) {
    static_assert(std::is_same<T, float>::value || std::is_same<T, int32_t>::value, "f32 or i32 captures");
    const int64_t n = NumElements(shape);
    auto it = entries.find(name);
    if (it == entries.end()) {
      it = entries.emplace(name, Entry{shape, {}, {}}).first;
    } else {
      std::vector<int64_t> tail(shape.begin() + 1, shape.end());
      if (std::vector<int64_t>(it->second.shape.begin() + 1, it->second.shape.end()) != tail)
        throw Error(Str("capture ", name, ": shape ", ShapeString(shape), " does not extend ",
                        ShapeString(it->second.shape)));
      it->second.shape[0] += shape[0];
    }
    auto& dst = [&]() -> std::vector<T>& {
      if constexpr (std::is_same<T, float>::value) return it->second.f32; else return it->second.i32;
    }();
    dst.insert(dst.end(), data, data + n);
  }

  const Entry* find(const std::string& name) const {
    const auto it = entries.find(name);
    return it == entries.end() ? nullptr : &it->second;
  }

  // A view of a capture, e.g. to write it out as safetensors.
  Tensor view(const std::string& name) const {
    const Entry& e = entries.at(name);
    Tensor t;
    t.name = name;
    t.shape = e.shape;
    t.dtype = e.i32.empty() ? DType::F32 : DType::I32;
    t.data = e.i32.empty() ? static_cast<const void*>(e.f32.data()) : e.i32.data();
    t.nbytes = size_t(NumElements(e.shape)) * 4;
    return t;
  }
};

}  // namespace gemma4

#endif  // GEMMA4_CAPTURE_H_
