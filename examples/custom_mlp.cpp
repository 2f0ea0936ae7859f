// examples/custom_mlp.cpp — change one block of Gemma 4 and run a trained model with it, without touching
// the library's headers.
//
//   custom_mlp MODEL_DIR [TEXT_FILE]      e.g. custom_mlp golden/trained_e2b golden/train/valid.txt
//
// The one place a researcher's change goes is the function below, `SwiGLU`: it has the arguments of
// Gemma4TextMLP::forward and the block's weights at hand, and every layer's MLP runs it instead of its own
// body once `replaced_forward` is set (gemma4/mlp.h). Here the GeGLU feed-forward's gate activation,
// GELU-tanh, becomes SiLU (the SwiGLU of LLaMA-style models): the weights were trained for GELU, so the
// perplexity of the text rises, by how much is what the experiment measures.
// The same run also shows the two other ways in: a replacement that recomputes the original (bit for bit
// the unmodified model, which this program checks) and a named ablation through the library API
// (gemma4/study.h: the same switches as the tools' --ablate and --override).
// Exit status 0 when the replacement-by-the-original is identical and the SiLU model differs; 1 otherwise.
#include "gemma4/gemma4.h"  // first: ops/ops.h drives Highway's per-target compilation

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "gemma4/text/tokenizer_json.h"

using namespace gemma4;

// ---- the change: SwiGLU instead of GeGLU -------------------------------------------------------------------
// out = down_proj(silu(gate_proj(x)) ⊙ up_proj(x)),  silu(g) = g / (1 + e^−g)
static void SwiGLU(const Gemma4TextMLP& mlp, const float* x, size_t T, float* gate, float* up, float* out) {
  mlp.gate_proj.forward(x, T, gate);
  mlp.up_proj.forward(x, T, up);
  const size_t n = T * size_t(mlp.intermediate_size);
  for (size_t i = 0; i < n; ++i) gate[i] = gate[i] / (1.0f + std::exp(-gate[i])) * up[i];
  mlp.down_proj.forward(gate, T, out);
}

// The original body, written out the same way: replacing with it must change nothing.
static void GeGLU(const Gemma4TextMLP& mlp, const float* x, size_t T, float* gate, float* up, float* out) {
  mlp.gate_proj.forward(x, T, gate);
  mlp.up_proj.forward(x, T, up);
  ops::GeluTanhMul(gate, up, T * size_t(mlp.intermediate_size));
  mlp.down_proj.forward(gate, T, out);
}

// Mean negative log-likelihood of ids[1..] given the ones before, in one forward pass.
static double MeanNll(const Gemma4ForCausalLM& lm, const std::vector<int32_t>& ids) {
  Session session(lm, ids.size());
  session.prefill(ids.data(), ids.size(), nullptr, /*all_rows=*/true);
  const size_t V = session.vocab_size();
  double nll = 0.0;
  for (size_t t = 0; t + 1 < ids.size(); ++t) {
    const float* row = session.logits.data() + t * V;
    double max = row[0], sum = 0.0;
    for (size_t v = 1; v < V; ++v) max = std::max(max, double(row[v]));
    for (size_t v = 0; v < V; ++v) sum += std::exp(double(row[v]) - max);
    nll += max + std::log(sum) - double(row[size_t(ids[t + 1])]);
  }
  return nll / double(ids.size() - 1);
}

int main(int argc, char** argv) {
  if (argc < 2 || argc > 3) {
    std::fprintf(stderr, "usage: custom_mlp MODEL_DIR [TEXT_FILE]   (e.g. golden/trained_e2b golden/train/valid.txt)\n");
    return 2;
  }
  try {
    const std::string dir = argv[1];
    const std::string text_file = argc > 2 ? argv[2] : dir + "/../train/valid.txt";
    const Tokenizer tok(LoadTokenizerJson(dir + "/tokenizer.json"));
    std::vector<int32_t> ids = tok.encode(ReadTextFile(text_file));
    ids.resize(std::min<size_t>(ids.size(), 128));
    if (ids.size() < 2) throw Error(Str(text_file, ": too short"));

    auto lm = Gemma4ForCausalLM::from_pretrained(dir);
    const double plain = MeanNll(*lm, ids);

    for (auto& layer : lm->model.layers) layer.mlp.replaced_forward = GeGLU;
    const double same = MeanNll(*lm, ids);

    for (auto& layer : lm->model.layers) layer.mlp.replaced_forward = SwiGLU;  // <- the experiment
    const double swiglu = MeanNll(*lm, ids);

    Study study;  // the tools' --ablate ple, from C++
    ParseAblation("ple", &study.ablations);
    const double no_ple = MeanNll(*LoadStudied(LoadCheckpoint(dir), study), ids);

    std::printf("%s, %zu tokens of %s: perplexity\n", dir.c_str(), ids.size(), text_file.c_str());
    std::printf("  unmodified (GeGLU)          %10.4f\n", std::exp(plain));
    std::printf("  replaced by the same GeGLU  %10.4f  (%s)\n", std::exp(same), same == plain ? "identical" : "DIFFERS");
    std::printf("  replaced by SwiGLU          %10.4f  (%+.1f%%)\n", std::exp(swiglu), 100.0 * (std::exp(swiglu - plain) - 1.0));
    std::printf("  --ablate ple (library API)  %10.4f  (%+.1f%%)\n", std::exp(no_ple), 100.0 * (std::exp(no_ple - plain) - 1.0));
    return same == plain && swiglu != plain && no_ple != plain ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "custom_mlp: error: %s\n", e.what());
    return 1;
  }
}
