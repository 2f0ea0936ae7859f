// tools/common.h — what every tool does the same way: load a model (or the embedded default), time things,
// report errors in one line.
#ifndef GEMMA4_TOOLS_COMMON_H_
#define GEMMA4_TOOLS_COMMON_H_

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstddef>
#include <cstdio>
#include <fstream>
#include <memory>
#include <optional>
#include <string>

#include "gemma4/text/chat.h"
#include "gemma4/gemma4.h"
#include "gemma4/text/tokenizer_gguf.h"
#include "gemma4/text/tokenizer_json.h"
#include "tools/args.h"
#include "tools/progress.h"
#ifdef GEMMA4_HAVE_CUDA  // defined by linking gemma4::cuda (a build that found nvcc)
#include "ops/cuda/cuda.h"
#endif

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

// "1 token", "2 tokens".
inline std::string Count(size_t n, const std::string& noun) { return Str(n, " ", noun, n == 1 ? "" : "s"); }

// "2.26 GiB", "33.1 MiB", "45.2 KiB": a size for people.
inline std::string Bytes(double bytes) {
  char buf[32];
  if (bytes >= double(size_t(1) << 30)) std::snprintf(buf, sizeof buf, "%.2f GiB", bytes / double(size_t(1) << 30));
  else if (bytes >= double(size_t(1) << 20)) std::snprintf(buf, sizeof buf, "%.1f MiB", bytes / double(size_t(1) << 20));
  else std::snprintf(buf, sizeof buf, "%.1f KiB", bytes / 1024.0);
  return buf;
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
  ProgressBar bar("loading " + Bytes(double(total)), total);
  volatile uint8_t sink = 0;
  for (const auto& [name, t] : ckpt.tensors) {
    if (skipped(name)) continue;
    for (size_t i = 0; i < t.nbytes; i += 4096) sink ^= t.bytes()[i];
    done += t.nbytes;
    bar.update(done);
  }
  (void)sink;
}

// --override KEY=VALUE and --ablate NAME (both repeatable), the same flags in every tool that runs a model,
// parsed into a Study as they are read (gemma4/study.h): a bad one is one line and exit 1 before any load.
inline ArgParser& AddStudyOptions(ArgParser& args, Study* study, bool with_ablations = true) {
  args.option("--override", "KEY=VALUE",
              [study](const std::string& v) { study->overrides.push_back(ParseConfigOverride(v)); },
              "set a text-config key before the model is built, e.g. sliding_window=4, final_logit_softcapping=0 "
              "(off), top_k_experts=1 (repeatable; validated like config.json)");
  if (with_ablations)
    args.option("--ablate", "NAME", [study](const std::string& v) { ParseAblation(v, &study->ablations); },
                "remove one mechanism: ple, full_attention, skip_layer=I, zero_expert=E or zero_expert=L:E "
                "(repeatable; gemma4/ablations.h)");
  return args;
}

// A Hugging Face directory or a .gguf file (LoadCheckpoint); an empty path loads the embedded tiny model
// (random weights: it prints meaningless ids). `study`: --override / --ablate, applied before the build.
inline std::unique_ptr<Gemma4ForCausalLM> LoadModel(const std::string& path, const Study& study = {}) {
  auto lm = LoadStudied(LoadCheckpointOrDefault(path), study);
  ReadAllWeights(*lm);
  for (const std::string& w : lm->config.warnings) std::fprintf(stderr, "warning: %s\n", w.c_str());
  return lm;
}

// The model's text config alone, without mapping its tensors: what a tool checks before the load (the
// tokenizer's size against vocab_size). Same sources and errors as LoadCheckpointOrDefault.
inline Gemma4TextConfig ReadModelConfig(const std::string& path) {
  if (path.empty() || !(IsDirectory(path) || (IsFile(path) && LooksLikeGguf(path)))) {
    const Checkpoint ckpt = LoadCheckpointOrDefault(path);  // the embedded model, or the path's own error
    return ParseGemma4TextConfig(ckpt.config, ckpt.config_source());
  }
  if (IsDirectory(path)) return ParseGemma4TextConfig(ReadJsonFile(path + "/config.json"), path + "/config.json");
  return ParseGemma4TextConfig(ConfigFromGguf(ReadGguf(path)), path);
}

// The tokenizer for a model: --tokenizer PATH (a tokenizer.json, or a .gguf's metadata) if given, else the
// model directory's tokenizer.json or the .gguf's tokenizer.ggml.*; nullptr when there is none (the
// embedded model has none).
inline std::unique_ptr<Tokenizer> LoadTokenizerFor(const std::string& model_path, const std::string& tokenizer_path) {
  // A real vocabulary (262144 pieces, a 33 MB tokenizer.json) takes a second or more: say so first.
  auto announce = [](const std::string& path, size_t pieces) {
    if (pieces >= 65536) std::fprintf(stderr, "loading the tokenizer of %s (%zu pieces) ...\n", path.c_str(), pieces);
  };
  auto from_gguf = [&](const std::string& path) {
    const GgufFile g = ReadGguf(path);
    GgufTokenizerMetadata m = ReadGgufTokenizerMetadata(g);
    announce(path, m.tokens.size());
    return std::make_unique<Tokenizer>(TokenizerSpecFromVocabulary(VocabularyFromGguf(m, path)));  // tokenizer_gguf.h
  };
  auto from_json = [&](const std::string& file) {
    struct stat st;
    if (::stat(file.c_str(), &st) == 0 && st.st_size >= (off_t(4) << 20))
      std::fprintf(stderr, "loading %s (%s) ...\n", file.c_str(), Bytes(double(st.st_size)).c_str());
    return std::make_unique<Tokenizer>(LoadTokenizerJson(file));
  };
  if (!tokenizer_path.empty()) {
    if (IsFile(tokenizer_path) && LooksLikeGguf(tokenizer_path)) return from_gguf(tokenizer_path);
    return from_json(IsDirectory(tokenizer_path) ? tokenizer_path + "/tokenizer.json" : tokenizer_path);
  }
  if (!model_path.empty() && IsFile(model_path) && LooksLikeGguf(model_path)) return from_gguf(model_path);
  if (!model_path.empty() && IsDirectory(model_path) && IsFile(model_path + "/tokenizer.json"))
    return from_json(model_path + "/tokenizer.json");
  return nullptr;
}

// The Gemma 4 chat format needs its turn tokens as single ids; a tokenizer without them (another model's)
// encodes the template as plain text, and only <eos> ends a reply. One line says so.
inline void WarnIfNoTurnTokens(const Tokenizer& tok) {
  if (tok.token_id("<|turn>") < 0 || tok.token_id("<turn|>") < 0)
    std::fprintf(stderr,
                 "warning: %s has no Gemma 4 turn tokens (<|turn>, <turn|>): the chat template is encoded as plain "
                 "text and only <eos> stops a reply (--raw skips the template)\n",
                 tok.spec().source.c_str());
}

// The checkpoint directory's generation_config.json (sampling, stop ids, suppress_tokens), or none: GGUF files
// and directories without one sample greedily and suppress nothing.
inline GenerationConfig GenerationConfigFor(const std::string& model_path, int64_t vocab_size) {
  const std::string file = model_path + "/generation_config.json";
  if (model_path.empty() || !IsDirectory(model_path) || !IsFile(file)) return {};
  return ParseGenerationConfig(ReadJsonFile(file), file, vocab_size);
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
// Lock-free atomics are safe to touch from a signal handler (C++17 [support.signal]).
static_assert(std::atomic<bool>::is_always_lock_free, "the Ctrl-C flags must be lock-free atomics");
inline std::atomic<bool> g_interrupt{false};
inline std::atomic<bool> g_generating{false};
inline void OnInterrupt(int) {
  if (g_generating && !g_interrupt) {
    g_interrupt = true;
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

// --numerics, the same flag in every tool (ops/numerics.h). `tool_default` is what the tool uses without it:
// "exact" (the reference: golden checks, dumps, perplexity) or "fast" (gemma4-run and gemma4-bench, as a
// user of a quantized model expects; it changes only block-type weights).
inline ArgParser& AddNumericsOption(ArgParser& args, std::string* numerics, const std::string& tool_default) {
  *numerics = tool_default;
  return args.option("--numerics", "MODE", numerics,
                     "exact (f32 activations, the reference) or fast (int8 activations and integer dot products on "
                     "Q8_0, Q4_0, Q5_0 and K-quant weights); default " + tool_default);
}

// What a model's matrices are computed with under the current mode: "fast" only where fast applies.
inline const char* NumericsInUse(const Gemma4ForCausalLM& lm) {
  if (ops::GetNumerics() != ops::Numerics::kFast) return "exact";
  for (const auto& layer : lm.model.layers)
    if (ops::HasFastMatMul(layer.self_attn.q_proj.weight.tensor.dtype) ||
        ops::HasFastMatMul(layer.mlp.down_proj.weight.tensor.dtype))
      return "fast";
  return "exact (fast: no quantized matrices)";
}

// Applies -t (0 = all cores), --simd (a target to cap at: "avx3", "avx2", "scalar"...) and --numerics.
inline void ConfigureOps(long threads, const std::string& simd, const std::string& numerics = "exact") {
  try {
    ops::SetNumerics(ops::ParseNumerics(numerics));
  } catch (const std::invalid_argument& e) {
    throw Error(Str("--numerics: ", e.what()));
  }
  if (threads < 0) throw Error(Str("-t: ", threads, " threads?"));
  const long cores = long(ops::DefaultNumThreads());
  if (cores > 0 && threads > cores)
    std::fprintf(stderr, "warning: -t %ld is more than the %ld cores here: threads will take turns on them\n",
                 threads, cores);
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

// --device, the same flag in every tool that runs a model (ops/device.h): "cpu" (the default) or "cuda".
inline ArgParser& AddDeviceOption(ArgParser& args, std::string* device) {
  *device = "cpu";
  return args.option("--device", "DEVICE",
                     device, "cpu (default) or cuda (an NVIDIA GPU: needs a build with nvcc; exact numerics only)");
}

// Applies --device before anything is loaded: the model's Session then lives where the ops run. On cuda the
// numerics are exact (fast is a CPU kernel); a build without the CUDA backend, or a machine without a usable
// GPU, is one error line naming why.
inline void ConfigureDevice(const std::string& device) {
  if (device == "cpu") return ops::SetDevice(nullptr);
  if (device != "cuda") throw Error(Str("--device: \"", device, "\" is not one of cpu, cuda"));
#ifdef GEMMA4_HAVE_CUDA
  std::string why;
  const ops::DeviceOps* gpu = ops::cuda::Device(&why);
  if (!gpu) throw Error(Str("--device cuda: no CUDA device found (", why, ")"));
  ops::SetNumerics(ops::Numerics::kExact);
  ops::SetDevice(gpu);
#else
  throw Error("--device cuda: this build has no CUDA backend (configure it where nvcc is found; README, \"CUDA\")");
#endif
}

// The flags every tool that runs a model shares, as one group: -t, --simd (not where the tool runs every
// target itself), --numerics (`numerics_default`: the tool's own), --override / --ablate and --device.
// Configure() applies them, before anything is loaded.
struct ModelOptions {
  long threads = 0;
  std::string simd, numerics, device;
  Study study;
  void Configure() const {
    ConfigureOps(threads, simd, numerics);
    ConfigureDevice(device);
  }
};
inline ArgParser& AddModelOptions(ArgParser& args, ModelOptions* options, const std::string& numerics_default,
                                  bool with_simd = true) {
  args.option("-t, --threads", "N", &options->threads, "threads (default 0 = all cores)");
  if (with_simd)
    args.option("--simd", "TARGET", &options->simd, "cap the SIMD target: avx3, avx2 or scalar (default: the best available)");
  AddNumericsOption(args, &options->numerics, numerics_default);
  AddStudyOptions(args, &options->study);
  return AddDeviceOption(args, &options->device);
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
