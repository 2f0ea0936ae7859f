// gemma4-eval — hold a model against golden reference outputs.
//
//   gemma4-eval golden --model DIR --golden FILE
// runs every prompt of the golden file, compares every capture point it holds (embeddings, per-layer
// inputs, each layer's output, shared K/V, router choices, final norm, logits, greedy continuation) with
// the tolerances recorded in the file, prints a table and ends with a line that starts PASS or FAIL.
// Exit status 0 only on PASS.
#include "gemma4/gemma4.h"  // first: ops/ops.h drives Highway's per-target compilation

#include <cstdio>
#include <string>

#include "tools/args.h"
#include "tools/common.h"
#include "tools/golden.h"

using namespace gemma4;

static int Golden(int argc, char** argv) {
  std::string model_path, golden_path, simd;
  long threads = 0;
  tools::ArgParser args("gemma4-eval golden", "Compare a model with a golden file (golden/README.md).");
  args.option("-m, --model", "PATH", &model_path, "checkpoint directory (default: the embedded tiny golden model)")
      .option("-g, --golden", "FILE", &golden_path, "golden.safetensors (default: <model>/golden.safetensors)")
      .option("-t, --threads", "N", &threads, "threads (default 0 = all cores)")
      .option("--simd", "TARGET", &simd, "cap the SIMD target: avx3, avx2 or scalar");
  if (!args.parse(argc, argv, 2).empty()) throw Error("unexpected argument (see gemma4-eval golden --help)");
  if (golden_path.empty()) {
    if (model_path.empty()) throw Error("--golden FILE is needed with the embedded model");
    golden_path = model_path + "/golden.safetensors";
  }
  tools::ConfigureOps(threads, simd);
  auto lm = tools::LoadModel(model_path);
  const golden::GoldenFile g(golden_path);
  const golden::Report report = golden::CheckTarget(*lm, g);
  golden::PrintReport(report, stdout);
  return report.pass() ? 0 : 1;
}

int main(int argc, char** argv) {
  return tools::RunMain("gemma4-eval", [&] {
    const std::string usage =
        "usage: gemma4-eval COMMAND [options]\n"
        "commands:\n"
        "  golden   compare a model with a golden file, capture point by capture point\n"
        "run 'gemma4-eval COMMAND --help' for a command's options\n";
    const std::string command = argc > 1 ? argv[1] : "";
    if (command == "golden") return Golden(argc, argv);
    if (command == "-h" || command == "--help") {
      std::fputs(usage.c_str(), stdout);
      return 0;
    }
    throw Error(command.empty() ? "no command given (golden)" : Str("unknown command \"", command, "\" (golden)"));
  });
}
