// tools/common.h — what every tool does the same way: load a model (or the embedded default), time things,
// report errors in one line.
#ifndef GEMMA4_TOOLS_COMMON_H_
#define GEMMA4_TOOLS_COMMON_H_

#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstddef>
#include <cstdio>
#include <fstream>
#include <memory>
#include <optional>
#include <string>

#include "gemma4/chat.h"
#include "gemma4/gemma4.h"
#include "gemma4/tokenizer_json.h"
#include "tools/progress.h"

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

// Reads every page of the checkpoint's tensors once (they are memory-mapped, so the first forward pass
// would otherwise pay for the disk), drawing a progress bar on a terminal for files of 1 GiB and more.
// Rows-only tables (the per-layer embeddings, 4.7 GB for E2B) are skipped: only the rows of tokens seen are
// ever read.
inline void ReadAllWeights(const Gemma4ForCausalLM& lm) {
  const Checkpoint& ckpt = lm.checkpoint;
  const Weight& table = lm.model.embed_tokens_per_layer.weight;
  auto skipped = [&](const std::string& name) { return table.rows_only && name == table.tensor.name; };
  size_t total = 0, done = 0;
  for (const auto& [name, t] : ckpt.tensors) total += skipped(name) ? 0 : t.nbytes;
  if (total < (size_t(1) << 30)) return;
  ProgressBar bar(Str("loading ", double(total) / double(size_t(1) << 30), " GiB"), total);
  volatile uint8_t sink = 0;
  for (const auto& [name, t] : ckpt.tensors) {
    if (skipped(name)) continue;
    for (size_t i = 0; i < t.nbytes; i += 4096) sink ^= t.bytes()[i];
    done += t.nbytes;
    bar.update(done);
  }
  (void)sink;
}

// A Hugging Face directory or a .gguf file (LoadCheckpoint); an empty path loads the embedded tiny model
// (random weights: it prints meaningless ids).
inline std::unique_ptr<Gemma4ForCausalLM> LoadModel(const std::string& path) {
  auto lm = Gemma4ForCausalLM::from_checkpoint(LoadCheckpointOrDefault(path));
  ReadAllWeights(*lm);
  for (const std::string& w : lm->config.warnings) std::fprintf(stderr, "warning: %s\n", w.c_str());
  return lm;
}

// A GGUF's tokenizer.ggml.* as the vocabulary TokenizerSpecFromVocabulary builds the pipeline from.
inline TokenizerVocabulary VocabularyFromGguf(const GgufTokenizerMetadata& m, const std::string& path) {
  TokenizerVocabulary v;
  v.model = m.model;
  v.tokens = m.tokens;
  v.scores = m.scores;
  v.token_type = m.token_type;
  v.merges = m.merges;
  v.bos_token_id = m.bos_token_id;
  v.eos_token_id = m.eos_token_id;
  v.unknown_token_id = m.unknown_token_id;
  v.add_bos_token = m.add_bos_token || m.model == "gemma4";  // llama.cpp forces <bos> on for gemma4
  v.source = path;
  return v;
}

// The tokenizer for a model: --tokenizer PATH (a tokenizer.json, or a .gguf's metadata) if given, else the
// model directory's tokenizer.json or the .gguf's tokenizer.ggml.*; nullptr when there is none (the
// embedded model has none).
inline std::unique_ptr<Tokenizer> LoadTokenizerFor(const std::string& model_path, const std::string& tokenizer_path) {
  auto from_gguf = [](const std::string& path) {
    const GgufFile g = ReadGguf(path);
    return std::make_unique<Tokenizer>(TokenizerSpecFromVocabulary(VocabularyFromGguf(ReadGgufTokenizerMetadata(g), path)));
  };
  if (!tokenizer_path.empty()) {
    if (IsFile(tokenizer_path) && LooksLikeGguf(tokenizer_path)) return from_gguf(tokenizer_path);
    const std::string file = IsDirectory(tokenizer_path) ? tokenizer_path + "/tokenizer.json" : tokenizer_path;
    return std::make_unique<Tokenizer>(LoadTokenizerJson(file));
  }
  if (!model_path.empty() && IsFile(model_path) && LooksLikeGguf(model_path)) return from_gguf(model_path);
  if (!model_path.empty() && IsDirectory(model_path) && IsFile(model_path + "/tokenizer.json"))
    return std::make_unique<Tokenizer>(LoadTokenizerJson(model_path + "/tokenizer.json"));
  return nullptr;
}

// The chat variant: from the checkpoint's chat_template.jinja or tokenizer_config.json "chat_template"
// when there is one, else from the architecture (26B-A4B and 31B, the attention_k_eq_v models, use the
// empty thought channel).
inline ChatFormat ChatFormatFor(const std::string& model_path, const Gemma4TextConfig* config) {
  if (!model_path.empty() && IsFile(model_path) && LooksLikeGguf(model_path)) {
    const std::string t = ReadGgufTokenizerMetadata(ReadGguf(model_path)).chat_template;
    if (!t.empty()) return ChatFormat::FromTemplate(t);
  }
  if (!model_path.empty() && IsDirectory(model_path)) {
    if (IsFile(model_path + "/chat_template.jinja"))
      return ChatFormat::FromTemplate(ReadTextFile(model_path + "/chat_template.jinja"));
    if (IsFile(model_path + "/tokenizer_config.json")) {
      const std::string path = model_path + "/tokenizer_config.json";
      if (auto format = ChatFormatFromTokenizerConfig(ReadJsonFile(path), path)) return *format;
    }
  }
  return ChatFormat{config && config->attention_k_eq_v};
}

// Ctrl-C: the first press while generating stops generation after the current token (Interrupted() turns
// true); at any other time, or pressed twice, it ends the program.
inline volatile std::sig_atomic_t g_interrupt = 0;
inline volatile std::sig_atomic_t g_generating = 0;
inline void OnInterrupt(int) {
  if (g_generating && !g_interrupt) {
    g_interrupt = 1;
    return;
  }
  const char nl = '\n';
  (void)!::write(STDOUT_FILENO, &nl, 1);
  std::_Exit(130);
}
inline void InstallInterruptHandler() {
  struct sigaction sa = {};
  sa.sa_handler = OnInterrupt;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
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
