// tools/common.h — what every tool does the same way: load a model (or the embedded default), time things,
// report errors in one line.
#ifndef GEMMA4_TOOLS_COMMON_H_
#define GEMMA4_TOOLS_COMMON_H_

#include <chrono>
#include <cstddef>
#include <cstdio>
#include <memory>
#include <string>

#include "gemma4/gemma4.h"

// tools/embedded_model.cpp, generated at build time from golden/e2b_like.
extern const unsigned char gemma4_embedded_config[];
extern const size_t gemma4_embedded_config_size;
extern const unsigned char gemma4_embedded_safetensors[];
extern const size_t gemma4_embedded_safetensors_size;

namespace gemma4::tools {

// The name the embedded default model goes by in messages.
inline const char* kEmbeddedModelName = "<embedded golden/e2b_like>";

inline Checkpoint LoadCheckpointOrDefault(const std::string& path) {
  if (!path.empty()) return LoadCheckpoint(path);
  return LoadCheckpointFromMemory(
      kEmbeddedModelName,
      std::string(reinterpret_cast<const char*>(gemma4_embedded_config), gemma4_embedded_config_size),
      gemma4_embedded_safetensors, gemma4_embedded_safetensors_size);
}

// A Hugging Face directory or a .gguf file (LoadCheckpoint); an empty path loads the embedded tiny model
// (random weights: it prints meaningless ids).
inline std::unique_ptr<Gemma4ForCausalLM> LoadModel(const std::string& path) {
  auto lm = Gemma4ForCausalLM::from_checkpoint(LoadCheckpointOrDefault(path));
  for (const std::string& w : lm->config.warnings) std::fprintf(stderr, "warning: %s\n", w.c_str());
  return lm;
}

inline double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

// Applies -t (0 = all cores) and --simd (a target to cap at: "avx3", "avx2", "scalar"...).
inline void ConfigureOps(long threads, const std::string& simd) {
  if (threads < 0) throw Error(Str("-t: ", threads, " threads?"));
  ops::SetNumThreads(threads == 0 ? ops::DefaultNumThreads() : size_t(threads));
  if (simd.empty()) return;
  int64_t disable = 0;
#if HWY_ARCH_X86
  if (simd == "avx2") disable = HWY_AVX3 | HWY_AVX3_DL;
  else if (simd == "scalar") disable = HWY_AVX3 | HWY_AVX3_DL | HWY_AVX2;
  else if (simd != "avx3") throw Error(Str("--simd: \"", simd, "\" is not one of avx3, avx2, scalar"));
#else
  if (simd != "native") throw Error("--simd applies to x86 builds only");
#endif
  hwy::DisableTargets(disable);
}

// Runs a tool's main body; any Error becomes one line on stderr and exit status 1.
template <class Body>
int RunMain(const char* program, Body body) {
  try {
    return body();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: error: %s\n", program, e.what());
    return 1;
  }
}

}  // namespace gemma4::tools

#endif  // GEMMA4_TOOLS_COMMON_H_
