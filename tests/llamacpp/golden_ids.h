// tests/llamacpp/golden_ids.h — what llama_golden.cpp and llama_draft.cpp share: reading a golden's id lists
// and printing them, keeping llama.cpp's log to its errors, and the one context setup both compare with.
#ifndef GEMMA4_TESTS_LLAMACPP_GOLDEN_IDS_H_
#define GEMMA4_TESTS_LLAMACPP_GOLDEN_IDS_H_

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "llama.h"

#include "gemma4/io/safetensors.h"

namespace gemma4_llamacpp {

// The I32 tensor `name` of a golden file (`path` names it in the error).
inline std::vector<int32_t> Ints(const gemma4::SafetensorsFile& st, const std::string& name, const std::string& path) {
  const auto it = st.tensors.find(name);
  if (it == st.tensors.end()) throw gemma4::Error(path + ": no tensor " + name);
  if (it->second.dtype != gemma4::DType::I32) throw gemma4::Error(path + ": " + name + " is not I32");
  std::vector<int32_t> v(size_t(it->second.numel()));
  std::memcpy(v.data(), it->second.data, it->second.nbytes);
  return v;
}

// "1,2,3"
inline std::string Join(const std::vector<int32_t>& v) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + std::to_string(v[i]);
  return s;
}

// llama.cpp's log callback that prints its errors only.
inline void Quiet(ggml_log_level level, const char* text, void*) {
  if (level == GGML_LOG_LEVEL_ERROR) std::fputs(text, stderr);
}

// A context as the comparisons need it: one sequence, the whole prompt in one batch, K/V of type `kv`, the
// full sliding-window cache, no flash attention (its other summation order), no perf counters.
inline llama_context_params ContextParams(uint32_t n_ctx, ggml_type kv, int threads) {
  llama_context_params p = llama_context_default_params();
  p.n_ctx = n_ctx;
  p.n_batch = p.n_ubatch = n_ctx;
  p.n_seq_max = 1;
  p.n_threads = p.n_threads_batch = threads;
  p.type_k = p.type_v = kv;
  p.swa_full = true;
  p.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_DISABLED;
  p.no_perf = true;
  return p;
}

}  // namespace gemma4_llamacpp

#endif  // GEMMA4_TESTS_LLAMACPP_GOLDEN_IDS_H_
