// gemma4-quantize — write a Gemma 4 model as a GGUF file llama.cpp loads (its `gemma4` layout, names,
// shapes and metadata; docs/GGUF_GEMMA4.md), converting the big matrices to --type.
//
//   gemma4-quantize INPUT OUTPUT.gguf --type f32|f16|bf16|q8_0|q4_0
//   gemma4-quantize --random e2b|e4b|12b|26b-a4b|31b --seed S OUTPUT.gguf --type q4_0
//
// INPUT is a Hugging Face checkpoint directory or a GGUF. Norms, layer scalars, the router and the PLE
// projection and its norm stay F32; rows that are not a multiple of a quantized block fall back to F16.
// The file is written to OUTPUT.tmp and renamed when complete. --random streams real-shape random weights
// (tools/random_model.h), so even 31B never has to fit in memory.
#include "gemma4/gemma4.h"  // first: ops/ops.h drives Highway's per-target compilation

#include <chrono>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "tools/args.h"
#include "tools/common.h"
#include "tools/random_model.h"

using namespace gemma4;

namespace {

uint32_t ParseType(const std::string& s) {
  if (s == "f32") return ggml_type::F32;
  if (s == "f16") return ggml_type::F16;
  if (s == "bf16") return ggml_type::BF16;
  if (s == "q8_0") return ggml_type::Q8_0;
  if (s == "q4_0") return ggml_type::Q4_0;
  throw Error(Str("--type: \"", s, "\" is not one of f32, f16, bf16, q8_0, q4_0"));
}


}  // namespace

int main(int argc, char** argv) {
  return tools::RunMain("gemma4-quantize", [&] {
    std::string type_name = "f16", random, name;
    long seed = 1234, threads = 0;
    bool quiet = false;
    tools::ArgParser args("gemma4-quantize",
                          "       gemma4-quantize --random PRESET [--seed S] OUTPUT.gguf [--type T]\n"
                          "Write a Gemma 4 model as a llama.cpp GGUF.",
                          "INPUT OUTPUT.gguf [--type T]");
    args.option("--type", "TYPE", &type_name, "f32, f16 (default), bf16, q8_0, q4_0")
        .option("--random", "PRESET", &random, "random weights in a released shape: e2b, e4b, 12b, 26b-a4b, 31b")
        .option("--seed", "S", &seed, "--random: seed (default 1234)")
        .option("--name", "NAME", &name, "general.name (default: the input's name)")
        .option("-t, --threads", "N", &threads, "threads (default 0 = all cores)")
        .flag("-q, --quiet", &quiet, "no progress bar");
    Study study;  // --override only: the written config carries it; an ablation has no config key to write
    tools::AddStudyOptions(args, &study, /*with_ablations=*/false);
    const std::vector<std::string> pos = args.parse(argc, argv);
    if (pos.size() != (random.empty() ? 2u : 1u))
      throw Error(random.empty() ? "expected INPUT and OUTPUT.gguf (see --help)" : "expected OUTPUT.gguf (see --help)");
    tools::ConfigureOps(threads, "");
    const std::string out = pos.back();
    RemoveTempFileOnSignal();  // killed mid-write: OUTPUT keeps its old content (or stays absent), no OUTPUT.tmp

    GgufConversion conv;
    conv.type = ParseType(type_name);
    nlohmann::json config;
    std::vector<SourceTensor> sources;
    std::string source, dir;
    Checkpoint ckpt;  // keeps an input's mapped files alive while writing
    if (!random.empty()) {
      config = WithOverrides(Gemma4PresetConfig(random), study.overrides, Str("preset ", random));
      sources = tools::RandomSources(config, uint64_t(seed));
      source = Str("<random ", random, " seed ", seed, ">");
      conv.name = name.empty() ? "gemma4-" + random + "-random" : name;
    } else {
      ckpt = LoadCheckpoint(pos[0]);
      config = ckpt.config;
      sources = SourcesOf(ckpt);
      source = pos[0];
      if (IsDirectory(pos[0])) dir = pos[0];
      std::string base = pos[0];
      while (base.size() > 1 && base.back() == '/') base.pop_back();
      conv.name = name.empty() ? base.substr(base.find_last_of('/') + 1) : name;
    }

    if (random.empty() && !study.overrides.empty()) {  // validated like the config, and against the tensors' K/V
      StudiedConfig(ckpt, study);
      config = WithOverrides(config, study.overrides, ckpt.config_source());
    }
    const auto t0 = std::chrono::steady_clock::now();
    std::optional<tools::ProgressBar> bar;  // the shared bar: drawn only on a terminal, so logs stay clean
    auto progress = [&](size_t done, size_t total) {
      if (quiet) return;
      if (!bar) bar.emplace("writing " + out, total);
      bar->update(done, Str(done, "/", total, " tensors"));
    };
    const std::string tokenizer = WriteGemma4Gguf(config, source, std::move(sources), dir, out, conv, progress);
    if (bar) bar->finish();
    std::printf("%s\n", tokenizer.c_str());
    for (const auto& [category, chosen] : conv.report)
      std::printf("%-40s %4zu tensors  %s\n", category.c_str(), chosen.first, chosen.second.c_str());
    for (const std::string& note : conv.notes) std::printf("note: %s\n", note.c_str());
    struct stat st;
    const double gb = ::stat(out.c_str(), &st) == 0 ? double(st.st_size) / 1e9 : 0.0;
    std::printf("wrote %s (%.3f GB, %s) in %.1f s\n", out.c_str(), gb, type_name.c_str(), tools::Seconds(t0));
    return 0;
  });
}
