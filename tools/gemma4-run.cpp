// gemma4-run — run a Gemma 4 model on a prompt and stream the continuation.
//
// With no -m it runs the embedded tiny random-weight model (golden/e2b_like): the ids it prints mean
// nothing, but every part of the decoder runs.
#include "gemma4/gemma4.h"  // first: ops/ops.h drives Highway's per-target compilation

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "tools/args.h"
#include "tools/common.h"

using namespace gemma4;

// --draft: greedy speculative decoding (gemma4/speculative.h), then its statistics.
static int RunSpeculative(const Gemma4ForCausalLM& lm, const std::string& draft_path, const std::vector<int32_t>& prompt,
                          long n_predict, long draft_max, long batch, long ctx_size, double load_s) {
  if (draft_max < 1) throw Error("--draft-max must be >= 1");
  auto assistant = Gemma4AssistantForCausalLM::from_pretrained(draft_path);
  MtpDrafter drafter(*assistant, lm.config);
  Session session(lm, std::max<size_t>(size_t(batch), size_t(draft_max) + 2), size_t(ctx_size));
  session.check_room(prompt.size() + size_t(n_predict));
  Sampler sampler(SamplingParams{});
  const auto t0 = std::chrono::steady_clock::now();
  size_t printed = 0;
  const SpeculativeStats st = SpeculativeGenerate(session, drafter, prompt, size_t(n_predict), size_t(draft_max), sampler,
                                                  [&](int32_t id) {
                                                    std::printf("%s%d", printed++ ? "," : "", id);
                                                    std::fflush(stdout);
                                                    return true;
                                                  });
  const double s = tools::Seconds(t0);
  std::printf("\n");
  std::fflush(stdout);
  std::fprintf(stderr,
               "SIMD %s, %zu threads | load %.2f s | prompt %zu tokens + generated %zu tokens in %.2f s, %.1f tok/s\n"
               "speculative: draft-max %ld | drafted %zu, accepted %zu (acceptance %.1f%%) | %zu target forwards, "
               "%.2f drafts accepted and %.2f tokens per forward\n",
               ops::TargetName(), ops::Pool().NumThreads(), load_s, prompt.size(), st.generated, s,
               double(st.generated) / s, draft_max, st.drafted, st.accepted, 100.0 * st.acceptance_rate(),
               st.target_forwards, st.accepted_per_forward(), st.tokens_per_forward());
  return 0;
}

int main(int argc, char** argv) {
  return tools::RunMain("gemma4-run", [&] {
    std::string model_path, prompt_ids = "2,71,68,408,257,303,309,365,17,250,78,207", simd, draft_path;
    long n_predict = 16, threads = 0, ctx_size = 0, batch = 256, draft_max = 3;
    bool print_ids = true;
    tools::ArgParser args("gemma4-run", "Generate from a Gemma 4 checkpoint (Hugging Face directory).");
    args.option("-m, --model", "PATH", &model_path, "checkpoint directory or .gguf file (default: the embedded tiny golden model)")
        .option("--prompt-ids", "IDS", &prompt_ids, "prompt as comma-separated token ids (default: a fixed 12-id prompt)")
        .option("-n, --n-predict", "N", &n_predict, "tokens to generate (default 16)")
        .option("-t, --threads", "N", &threads, "threads (default 0 = all cores)")
        .option("-c, --ctx-size", "N", &ctx_size, "context length (default: the model's max_position_embeddings)")
        .option("-b, --batch-size", "N", &batch, "prompt tokens per forward step (default 256)")
        .option("--simd", "TARGET", &simd, "cap the SIMD target: avx3, avx2 or scalar (default: best available)")
        .flag("--print-ids", &print_ids, "print token ids (the default until a tokenizer is given)")
        .option("--draft", "PATH", &draft_path, "MTP drafter checkpoint (-assistant): speculative decoding")
        .option("--draft-max", "N", &draft_max, "tokens per draft with --draft (default 3)");
    if (!args.parse(argc, argv).empty()) throw Error("unexpected argument (see gemma4-run --help)");
    if (n_predict < 0 || ctx_size < 0 || batch < 1) throw Error("-n, -c must be >= 0 and -b >= 1");
    tools::ConfigureOps(threads, simd);

    const auto t_load = std::chrono::steady_clock::now();
    auto lm = tools::LoadModel(model_path);
    const double load_s = tools::Seconds(t_load);
    const std::vector<int32_t> prompt = tools::ParseIdList("--prompt-ids", prompt_ids);

    if (!draft_path.empty()) return RunSpeculative(*lm, draft_path, prompt, n_predict, draft_max, batch, ctx_size, load_s);
    Session session(*lm, size_t(batch), size_t(ctx_size));
    session.check_room(prompt.size() + size_t(n_predict));
    const auto t_prompt = std::chrono::steady_clock::now();
    const float* logits = session.prefill(prompt.data(), prompt.size());
    const double prompt_s = tools::Seconds(t_prompt);

    const auto t_gen = std::chrono::steady_clock::now();
    size_t generated = 0;
    for (long i = 0; i < n_predict; ++i) {
      const int32_t next = int32_t(ops::Argmax(logits, session.vocab_size()));
      std::printf("%s%d", generated ? "," : "", next);
      std::fflush(stdout);
      ++generated;
      if (lm->config.is_eos(next) || i + 1 == n_predict) break;
      logits = session.decode(next);
    }
    std::printf("\n");
    std::fflush(stdout);
    const double gen_s = tools::Seconds(t_gen);
    std::fprintf(stderr,
                 "model %s | SIMD %s, %zu threads | load %.2f s | prompt %zu tokens, %.1f tok/s | "
                 "generated %zu tokens, %.1f tok/s\n",
                 model_path.empty() ? tools::kEmbeddedModelName : model_path.c_str(), ops::TargetName(),
                 ops::Pool().NumThreads(), load_s, prompt.size(), double(prompt.size()) / prompt_s, generated,
                 double(generated) / gen_s);
    return 0;
  });
}
