// gemma4-eval — hold a model against golden reference outputs.
//
//   gemma4-eval golden  --model DIR --golden FILE          our engine vs a golden file
//   gemma4-eval golden  --model DIR --draft DIR [--golden FILE]   an MTP drafter's first round on its target
//   gemma4-eval compare --golden FILE --logits FILE ...    another engine's outputs vs a golden file
//   gemma4-eval dump    --model DIR --prompt-ids ... --out FILE   our outputs, as a golden file
//   gemma4-eval ppl     --model DIR -f TEXT [--kl-base FILE]   perplexity, KL against a base run
//                       [--override K=V] [--ablate NAME]         ... and the change against the unmodified model
//   gemma4-eval describe --random PRESET | --model DIR         per-layer geometry, parameters, KV bytes (JSON)
// golden and compare print a table (one row per capture point) and end with a line that starts PASS or
// FAIL; exit status 0 only on PASS. Format, metrics and tiers: golden/FORMAT.md.
#include "gemma4/gemma4.h"  // first: ops/ops.h drives Highway's per-target compilation

#include <cstdio>
#include <optional>
#include <string>

#include "tools/args.h"
#include "tools/common.h"
#include "tools/compare.h"
#include "tools/describe.h"
#include "tools/golden.h"
#include "tools/perplexity.h"
#include "tools/progress.h"

using namespace gemma4;

static int Golden(int argc, char** argv) {
  std::string model_path, golden_path, draft_path, tier_name = "f32";
  tools::ModelOptions options;
  tools::ArgParser args("gemma4-eval golden", "Compare a model (or a drafter on its target) with a golden file (golden/README.md).");
  args.option("-m, --model", "PATH", &model_path, "checkpoint directory or .gguf file (default: the embedded tiny golden model)")
      .option("--draft", "PATH", &draft_path, "MTP drafter checkpoint: check its first drafting round on --model")
      .option("-g, --golden", "FILE", &golden_path, "golden.safetensors (default: <model>/golden.safetensors)")
      .option("--tier", "TIER", &tier_name, "f32 (default: the file's own tolerances), bf16, q8 or q4: golden/FORMAT.md");
  tools::AddModelOptions(args, &options, "exact");
  if (!args.parse(argc, argv, 2).empty()) throw Error("unexpected argument (see gemma4-eval golden --help)");
  const compare::Tier tier = compare::ParseTier(tier_name);
  if (tier != compare::Tier::kF32 && !draft_path.empty()) throw Error("--tier applies to target models, not --draft");
  if (!draft_path.empty() && model_path.empty())
    throw Error("--draft needs --model TARGET: the target's own golden.safetensors sets the hand-over tolerance");
  if (golden_path.empty()) {
    if (model_path.empty()) throw Error("--golden FILE is needed with the embedded model");
    golden_path = (draft_path.empty() ? model_path : draft_path) + "/golden.safetensors";
  }
  options.Configure();
  auto lm = tools::LoadModel(model_path, options.study);
  const golden::GoldenFile g(golden_path);
  if (tier != compare::Tier::kF32) {
    const golden::Report report = compare::CheckTargetAtTier(*lm, g, tier);
    golden::PrintReport(report, stdout, " [tier " + tier_name + ", numerics " + tools::NumericsInUse(*lm) + "]");
    return report.pass() ? 0 : 1;
  }
  const golden::Report report =
      draft_path.empty() ? golden::CheckTarget(*lm, g)
                         : golden::CheckDrafter(*lm, *Gemma4AssistantForCausalLM::from_pretrained(draft_path), g,
                                                golden::TargetHiddenTolerance(model_path));
  golden::PrintReport(report, stdout);
  return report.pass() ? 0 : 1;
}

static int Compare(int argc, char** argv) {
  std::string golden_path, logits_path, prompt, tier_name = "f32";
  std::vector<std::string> captures;
  tools::ArgParser args("gemma4-eval compare",
                        "Judge another engine's logits (and capture points) against a golden file.\n"
                        "FILE: .npy, .safetensors[:TENSOR], or raw little-endian f32 (llama.cpp's check-nmse .bin).");
  args.option("-g, --golden", "FILE", &golden_path, "golden.safetensors")
      .option("--logits", "FILE", &logits_path, "the engine's logits: [T,V] for every prompt position, or [V] for the last")
      .option("--capture", "NAME=FILE", &captures, "another capture point, e.g. hidden_states=h.npy (repeatable)")
      .option("--prompt", "NAME", &prompt, "the golden prompt they belong to (default: the one whose length matches)")
      .option("--tier", "TIER", &tier_name, "f32 (default), bf16, q8 or q4: see golden/FORMAT.md");
  if (!args.parse(argc, argv, 2).empty()) throw Error("unexpected argument (see gemma4-eval compare --help)");
  if (golden_path.empty() || logits_path.empty()) throw Error("--golden and --logits are required");
  const compare::Tier tier = compare::ParseTier(tier_name);
  const golden::GoldenFile g(golden_path);
  const size_t V = size_t(g.get(g.prompts.at(0), "logits").shape.back());

  std::vector<std::string> names = {"logits"};
  if (!prompt.empty()) names.insert(names.begin(), prompt + ".logits");
  const compare::Array logits = compare::LoadArray(logits_path, names);
  if (logits.data.size() % V) throw Error(Str(logits.source, ": ", logits.data.size(), " values are not rows of V = ", V));
  const size_t rows = logits.data.size() / V;
  if (prompt.empty()) {
    for (const std::string& p : g.prompts)
      if (size_t(g.get(p, "logits").shape[0]) == rows) {
        if (!prompt.empty()) throw Error(Str(rows, " rows match several golden prompts: say which with --prompt"));
        prompt = p;
      }
    if (prompt.empty()) throw Error(Str(logits.source, ": ", rows, " rows of logits match no golden prompt's length; use --prompt"));
  }
  const std::vector<float> ref_logits = g.floats(prompt, "logits");
  const size_t T = ref_logits.size() / V;
  if (rows != T && rows != 1) throw Error(Str(logits.source, ": ", rows, " rows, but prompt ", prompt, " has ", T, " positions"));

  golden::Report report;
  report.rows.push_back(compare::CompareAt(Str(prompt, ".logits", rows == 1 ? "[last]" : ""), logits.data.data(),
                                           ref_logits.data() + (T - rows) * V, rows * V, V, true, tier, g));
  for (const std::string& spec : captures) {
    const size_t eq = spec.find('=');
    if (eq == std::string::npos) throw Error(Str("--capture ", spec, ": expected NAME=FILE"));
    const std::string name = spec.substr(0, eq);
    const Tensor& ref_t = g.get(prompt, name);
    const std::vector<float> ref = g.floats(prompt, name);
    const compare::Array a = compare::LoadArray(spec.substr(eq + 1), {prompt + "." + name, name});
    if (a.data.size() != ref.size())
      throw Error(Str(a.source, ": ", a.data.size(), " values, but golden ", prompt, ".", name, " ", ShapeString(ref_t.shape),
                      " has ", ref.size()));
    const size_t row = size_t(ref_t.shape.back());
    const bool is_logits = name.size() >= 6 && name.compare(name.size() - 6, 6, "logits") == 0;
    if (name == "hidden_states") {  // one row per layer: the report shows the first layer that breaks
      const size_t per_layer = ref.size() / size_t(ref_t.shape[0]);
      for (int64_t i = 0; i < ref_t.shape[0]; ++i)
        report.rows.push_back(compare::CompareAt(Str(prompt, ".hidden_states[", i, "]"), a.data.data() + size_t(i) * per_layer,
                                                 ref.data() + size_t(i) * per_layer, per_layer, row, false, tier, g));
    } else {
      report.rows.push_back(compare::CompareAt(prompt + "." + name, a.data.data(), ref.data(), ref.size(), row, is_logits, tier, g));
    }
  }
  golden::PrintReport(report, stdout, " [tier " + tier_name + "]");
  return report.pass() ? 0 : 1;
}

static int Dump(int argc, char** argv) {
  std::string model_path, out_path;
  tools::ModelOptions options;
  std::vector<std::string> prompt_ids;
  long greedy = 16;
  tools::ArgParser args("gemma4-eval dump",
                        "Write this engine's capture points for a model as a golden file (golden/FORMAT.md), with\n"
                        "tolerances from its own spread across SIMD targets (so it runs once per target).");
  args.option("-m, --model", "PATH", &model_path, "checkpoint directory or .gguf file (default: the embedded tiny golden model)")
      .option("--prompt-ids", "IDS", &prompt_ids, "a prompt as comma-separated ids (repeatable: prompts p0, p1, ...)")
      .option("--greedy", "N", &greedy, "greedy continuation length (default 16, 0 = none)")
      .option("-o, --out", "FILE", &out_path, "the golden file to write (.safetensors)");
  tools::AddModelOptions(args, &options, "exact", /*with_simd=*/false);  // it runs once per target itself
  if (!args.parse(argc, argv, 2).empty()) throw Error("unexpected argument (see gemma4-eval dump --help)");
  if (out_path.empty() || prompt_ids.empty()) throw Error("--out and at least one --prompt-ids are required");
  if (greedy < 0) throw Error("--greedy must be >= 0");
  if (IsDirectory(out_path))  // (before the work, not after it: WriteSafetensors would refuse it too)
    throw Error(Str(out_path, ": is a directory; --out takes a file path (e.g. ", out_path, "/golden.safetensors)"));
  options.Configure();
  auto lm = tools::LoadModel(model_path, options.study);
  std::vector<std::pair<std::string, std::vector<int32_t>>> prompts;
  for (size_t i = 0; i < prompt_ids.size(); ++i)
    prompts.emplace_back("p" + std::to_string(i), tools::ParseIdList("--prompt-ids", prompt_ids[i]));
  const Capture tensors = compare::CaptureGolden(*lm, prompts, size_t(greedy));
  const compare::Spread spread = compare::MeasureSpread(*lm, prompts, size_t(greedy), tensors);
  const nlohmann::json meta = compare::GoldenMetadata(*lm, model_path.empty() ? tools::kEmbeddedModelName : model_path,
                                                      prompts, size_t(greedy), spread);
  std::vector<Tensor> views;
  for (const auto& [name, e] : tensors.entries) views.push_back(tensors.view(name));
  WriteSafetensors(out_path, views, {{"golden", meta.dump()}});
  std::printf("wrote %s: %zu tensors, %zu prompts; tolerance logits %.3g, hidden %.3g (spread over %zu SIMD targets)\n",
              out_path.c_str(), views.size(), prompts.size(), meta["tolerance"]["logits_max_abs"].get<double>(),
              meta["tolerance"]["hidden_max_abs"].get<double>(), spread.targets.size());
  return 0;
}

static int Ppl(int argc, char** argv) {
  std::string model_path, text_file, ids_file, tokenizer_path, kl_base, save_base, method;
  long ctx = 512, stride = 0, batch = 64, chunks = 0;
  tools::ModelOptions options;  // with --override/--ablate: also the unmodified model, and the change in one line
  tools::ArgParser args("gemma4-eval ppl",
                        "Perplexity over a text, two ways (tools/perplexity.h): --method strided, Hugging Face's sliding\n"
                        "context (windows of --ctx tokens every --stride tokens; each scores the tokens no earlier window\n"
                        "scored), or --method llama, llama-perplexity's (non-overlapping chunks of --ctx tokens, <bos>\n"
                        "first, the second half of each scored: numbers that compare with llama.cpp's). KL divergence and\n"
                        "top-1 agreement against a base run, whose file is llama.cpp's --kl-divergence-base layout (either\n"
                        "tool reads the other's).");
  args.option("-m, --model", "PATH", &model_path, "checkpoint directory or .gguf file (default: the embedded tiny golden model)")
      .option("-f, --file", "FILE", &text_file, "the text (encoded with the model's tokenizer, <bos> first)")
      .option("--tokenizer", "PATH", &tokenizer_path, "tokenizer.json for -f (default: the model's)")
      .option("--ids-file", "FILE", &ids_file, "or the text as token ids (commas and/or white space)")
      .option("--method", "M", &method, "strided or llama (default: llama with a base file, else strided)")
      .option("-c, --ctx", "N", &ctx, "tokens per window or chunk (default 512)")
      .option("--stride", "N", &stride, "strided: window step (default ctx/2)")
      .option("-b, --batch", "N", &batch, "tokens per forward pass (default 64)")
      .option("--chunks", "N", &chunks, "stop after N windows or chunks (default: all)")
      .option("--save-base", "FILE", &save_base, "write this run's log-probabilities (llama.cpp's layout, 16 bits each)")
      .option("--kl-base", "FILE", &kl_base, "compare with a base file (ours or llama-perplexity's): KL divergence, top-1");
  tools::AddModelOptions(args, &options, "exact");
  if (!args.parse(argc, argv, 2).empty()) throw Error("unexpected argument (see gemma4-eval ppl --help)");
  if (text_file.empty() == ids_file.empty()) throw Error("give the text with -f FILE or --ids-file FILE (one of them)");
  if (ctx < 2 || stride < 0 || batch < 1 || chunks < 0) throw Error("--ctx >= 2, --stride >= 0, --batch >= 1, --chunks >= 0");
  const bool with_base = !kl_base.empty() || !save_base.empty();
  if (method.empty()) method = with_base ? "llama" : "strided";
  if (method != "strided" && method != "llama") throw Error(Str("--method: \"", method, "\" is not strided or llama"));
  if (method == "strided" && with_base)
    throw Error("--save-base and --kl-base use llama.cpp's base-file layout, which the llama method makes: use --method llama");
  if (method == "llama" && stride) throw Error("--stride goes with --method strided");
  options.Configure();
  std::vector<int32_t> ids;
  if (!ids_file.empty()) {
    ids = tools::ParseIdText(ids_file, ReadTextFile(ids_file));
  } else {
    const auto tok = tools::LoadTokenizerFor(model_path, tokenizer_path);
    if (!tok) throw Error("-f needs a tokenizer: --tokenizer PATH, or a model with tokenizer.json (or a .gguf)");
    ids = tok->encode(ReadTextFile(text_file));
  }
  std::optional<tools::PerplexityBaseFile> base;
  if (!kl_base.empty()) base.emplace(kl_base);
  tools::PerplexityOptions o{size_t(ctx), size_t(stride), size_t(batch), size_t(chunks),
                             method == "llama" ? tools::PerplexityMethod::kLlamaCpp : tools::PerplexityMethod::kStrided};
  const Study& study = options.study;
  auto lm = tools::LoadModel(model_path, study);  // (first: a bad --override fails before any work)
  // With --override/--ablate the unmodified model runs first, for the one line of change at the end.
  std::optional<tools::PerplexityResult> unmodified;
  if (!study.empty()) {
    auto plain = tools::LoadModel(model_path);
    std::optional<tools::ProgressBar> bar;
    unmodified = tools::Perplexity(*plain, ids, o, nullptr, nullptr,
                                   [&](size_t done, size_t total, const tools::PerplexityResult& so_far) {
                                     if (!bar) bar.emplace("ppl (unmodified)", total);
                                     bar->update(done, Str("ppl ", so_far.scored ? so_far.ppl() : 0.0));
                                   });
    if (bar) bar->finish();
  }
  std::optional<tools::PerplexityBaseWriter> saved;
  if (!save_base.empty()) {
    const size_t n_chunks = ids.size() < size_t(ctx) ? 0 : tools::PerplexityWindows(ids.size(), o).size();
    if (n_chunks == 0)
      throw Error(Str("--save-base: the text has ", ids.size(), " tokens, less than one chunk of --ctx ", ctx));
    const size_t V = size_t(lm->config.vocab_size);
    std::fprintf(stderr, "%s: %zu chunks x %zu scored tokens x %zu log-probabilities in 16 bits = %s\n",
                 save_base.c_str(), n_chunks, tools::PerplexityChunkRows(size_t(ctx)), V,
                 tools::Bytes(double(tools::PerplexityBaseBytes(size_t(ctx), V, n_chunks))).c_str());
    saved.emplace(save_base, size_t(ctx), V, n_chunks, ids.data());
  }
  std::optional<tools::ProgressBar> bar;  // made at the first window, when the number of windows is known
  const auto start = std::chrono::steady_clock::now();
  const tools::PerplexityResult r = tools::Perplexity(
      *lm, ids, o, base ? &*base : nullptr, saved ? &*saved : nullptr,
      [&](size_t done, size_t total, const tools::PerplexityResult& so_far) {
        if (!bar) bar.emplace("ppl", total);
        bar->update(done, Str("ppl ", so_far.scored ? so_far.ppl() : 0.0));
      });
  if (bar) bar->finish();
  if (saved) saved->finish();
  if (method == "llama")
    std::printf("tokens %zu, scored %zu, method llama: chunks of %ld, the second half scored, %.1f s\n", ids.size(),
                r.scored, ctx, tools::Seconds(start));
  else
    std::printf("tokens %zu, scored %zu, method strided: ctx %ld, stride %zu, %.1f s\n", ids.size(), r.scored, ctx,
                stride ? size_t(stride) : size_t(ctx) / 2, tools::Seconds(start));
  if (r.has_base)
    std::printf("base ppl %.6f | KL mean %.6g max %.6g | top-1 agreement %.2f%%\n",
                std::exp(r.base_nll_sum / double(r.scored)), r.kl_sum / double(r.scored), r.kl_max,
                100.0 * double(r.top1_same) / double(r.scored));
  std::printf("ppl %.6f +/- %.6f (mean NLL %.6f)\n", r.ppl(), r.ppl_error(), r.mean_nll());
  if (unmodified)  // the change, in one line: "ppl 12.34 -> 15.67 (+27.0%) with sliding_window=4"
    std::printf("ppl %.4f -> %.4f (%+.1f%%) with %s\n", unmodified->ppl(), r.ppl(),
                100.0 * (r.ppl() / unmodified->ppl() - 1.0), study.describe().c_str());
  return 0;
}

static int Describe(int argc, char** argv) {
  std::string model_path, preset;
  std::vector<std::string> context_args;
  tools::ArgParser args("gemma4-eval describe",
                        "Print a model's geometry as the engine builds it, as JSON (tools/describe.h): per layer the\n"
                        "attention shape, the layer whose K/V it reads, MLP width, parameters stored and read per\n"
                        "token; KV-cache bytes (f32 K and V) against the context, with and without window bounding\n"
                        "and KV sharing. Reads only the config: no weights are loaded.");
  args.option("-m, --model", "PATH", &model_path, "checkpoint directory or .gguf file (default: the embedded tiny golden model)")
      .option("--random", "PRESET", &preset, "or a released shape: e2b, e4b, 12b, 26b-a4b, 31b")
      .option("-c, --context", "N", &context_args, "a context length for the KV bytes (repeatable; default 256, 512, ... up to "
                                               "max_position_embeddings)");
  if (!args.parse(argc, argv, 2).empty()) throw Error("unexpected argument (see gemma4-eval describe --help)");
  if (!preset.empty() && !model_path.empty()) throw Error("give --model or --random, not both");
  std::vector<size_t> contexts;
  for (const std::string& a : context_args) {
    const long n = tools::ArgParser::ParseLong("--context", a);
    if (n < 1) throw Error(Str("--context: ", n, " is not a positive length"));
    contexts.push_back(size_t(n));
  }
  const Gemma4TextConfig config = preset.empty() ? tools::ReadModelConfig(model_path)
                                                 : ParseGemma4TextConfig(Gemma4PresetConfig(preset), "preset " + preset);
  const std::string name = !preset.empty() ? preset : model_path.empty() ? tools::kEmbeddedModelName : model_path;
  std::printf("%s\n", tools::DescribeModel(config, name, contexts).dump(1).c_str());
  return 0;
}

int main(int argc, char** argv) {
  return tools::RunMain("gemma4-eval", [&] {
    const std::string usage =
        "usage: gemma4-eval COMMAND [options]\n"
        "commands:\n"
        "  golden   compare a model with a golden file, capture point by capture point\n"
        "  compare  judge another engine's logits / capture points against a golden file\n"
        "  dump     write a model's capture points as a golden file\n"
        "  ppl      perplexity over a text, KL divergence against a base run\n"
        "  describe a model's per-layer geometry, parameters and KV-cache bytes, as JSON\n"
        "run 'gemma4-eval COMMAND --help' for a command's options; 'gemma4-eval --version' for the version\n";
    const std::string command = argc > 1 ? argv[1] : "";
    if (command == "golden") return Golden(argc, argv);
    if (command == "compare") return Compare(argc, argv);
    if (command == "dump") return Dump(argc, argv);
    if (command == "ppl") return Ppl(argc, argv);
    if (command == "describe") return Describe(argc, argv);
    if (command == "-h" || command == "--help") {
      std::fputs(usage.c_str(), stdout);
      return 0;
    }
    if (command == "--version") {
      std::printf("%s\n", tools::ArgParser::Version("gemma4-eval").c_str());
      return 0;
    }
    throw Error(command.empty() ? "no command given (golden, compare, dump, ppl, describe)"
                                : Str("unknown command \"", command, "\" (golden, compare, dump, ppl, describe)"));
  });
}
