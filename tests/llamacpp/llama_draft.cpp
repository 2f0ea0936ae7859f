// llama.cpp's MTP drafting (the gemma4-assistant pair) on the drafter goldens' prompts, through llama.cpp's
// own drafting code (common/speculative.cpp, "draft-mtp": the assistant context shares the target's K/V
// through llama_context_params::ctx_other), which lives in its common library, not in llama.h:
//   llama_draft TARGET.gguf ASSISTANT.gguf DRAFTER_GOLDEN.safetensors TARGET_GOLDEN.safetensors [-t N]
// For every prompt of the drafter golden: the target prefills the prompt (F32 K/V cache, full sliding-window
// cache), its argmax is the next token, and llama.cpp drafts golden's draft_steps tokens from there (the
// first drafting round after the prompt, what the golden's draft_tokens hold; p_min 0, so it never stops
// early). Prints llama.cpp's draft tokens, the golden's (Hugging Face's sliding mask and, where the golden
// has it, the causal one llama.cpp uses, swa_causal.draft_tokens) and how many of each the target accepts greedily (the longest prefix equal to
// the target golden's greedy continuation after its first token). Exit 1 when llama.cpp's target token
// differs from the golden's or its draft equals neither golden draft.
// Built by tests/llamacpp/llama.sh (build_llama_draft) against a llama.cpp build tree with its common
// library; never part of the default build.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "common.h"
#include "llama.h"
#include "speculative.h"

#include "gemma4/io/safetensors.h"
#include "tests/llamacpp/golden_ids.h"

namespace {

using gemma4_llamacpp::ContextParams;
using gemma4_llamacpp::Ints;
using gemma4_llamacpp::Join;
using gemma4_llamacpp::Quiet;

// How many draft tokens greedy verification accepts: the longest prefix equal to the target's continuation.
size_t Accepted(const std::vector<int32_t>& draft, const std::vector<int32_t>& target_after) {
  size_t n = 0;
  while (n < draft.size() && n < target_after.size() && draft[n] == target_after[n]) ++n;
  return n;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> pos;
  int threads = 2;
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "-t" && i + 1 < argc) threads = std::atoi(argv[++i]);
    else pos.push_back(argv[i]);
  }
  if (pos.size() != 4 || threads < 1) {
    std::fprintf(stderr, "usage: llama_draft TARGET.gguf ASSISTANT.gguf DRAFTER_GOLDEN.safetensors TARGET_GOLDEN.safetensors [-t N]\n");
    return 2;
  }
  int failures = 0;
  try {
    const gemma4::SafetensorsFile dg = gemma4::ReadSafetensors(pos[2]);
    const gemma4::SafetensorsFile tg = gemma4::ReadSafetensors(pos[3]);
    std::vector<std::string> prompts;
    for (const auto& [name, _] : dg.tensors)
      if (name.size() > 13 && name.compare(name.size() - 13, 13, ".draft_tokens") == 0 && name.find("swa_causal") == std::string::npos)
        prompts.push_back(name.substr(0, name.size() - 13));
    if (prompts.empty()) throw gemma4::Error(pos[2] + ": no <prompt>.draft_tokens tensors");

    llama_log_set(Quiet, nullptr);
    llama_backend_init();
    llama_model_params mp = llama_model_default_params();
    mp.n_gpu_layers = 0;
    llama_model_ptr target(llama_model_load_from_file(pos[0].c_str(), mp));
    if (!target) throw gemma4::Error(pos[0] + ": llama.cpp could not load it");
    llama_model_ptr assistant(llama_model_load_from_file(pos[1].c_str(), mp));
    if (!assistant) throw gemma4::Error(pos[1] + ": llama.cpp could not load it");
    const int32_t V = llama_vocab_n_tokens(llama_model_get_vocab(target.get()));

    for (const std::string& prompt : prompts) {
      const std::vector<int32_t> ids = Ints(dg, prompt + ".input_ids", pos[2]);
      const std::vector<int32_t> golden_draft = Ints(dg, prompt + ".draft_tokens", pos[2]);
      const bool has_causal = dg.tensors.count(prompt + ".swa_causal.draft_tokens") > 0;  // (optional)
      const std::vector<int32_t> golden_causal =
          has_causal ? Ints(dg, prompt + ".swa_causal.draft_tokens", pos[2]) : std::vector<int32_t>();
      const int32_t golden_next = Ints(dg, prompt + ".target_next_token", pos[2]).at(0);
      const std::vector<int32_t> greedy = Ints(tg, prompt + ".greedy_tokens", pos[3]);
      if (Ints(tg, prompt + ".input_ids", pos[3]) != ids) throw gemma4::Error(prompt + ": the two goldens' prompts differ");
      const std::vector<int32_t> after(greedy.begin() + 1, greedy.end());

      llama_context_ptr ctx_tgt(llama_init_from_model(target.get(), ContextParams(256, GGML_TYPE_F32, threads)));
      if (!ctx_tgt) throw gemma4::Error("llama_init_from_model (target) failed");
      llama_context_params dp = ContextParams(256, GGML_TYPE_F32, threads);
      dp.ctx_type = LLAMA_CONTEXT_TYPE_MTP;
      dp.ctx_other = ctx_tgt.get();
      dp.n_rs_seq = 0;
      llama_context_ptr ctx_dft(llama_init_from_model(assistant.get(), dp));
      if (!ctx_dft) throw gemma4::Error("llama_init_from_model (assistant, MTP context on the target's) failed");

      common_params_speculative ps;
      ps.types = {COMMON_SPECULATIVE_TYPE_DRAFT_MTP};
      ps.draft.n_max = int32_t(golden_draft.size());
      ps.draft.n_min = 0;
      ps.draft.p_min = 0.0f;
      ps.draft.backend_sampling = false;
      ps.draft.ctx_tgt = ctx_tgt.get();
      ps.draft.ctx_dft = ctx_dft.get();
      common_speculative* spec = common_speculative_init(ps, 1);
      if (!spec) throw gemma4::Error("common_speculative_init (draft-mtp) failed");

      // The target prefills the whole prompt; the drafter sees it through process().
      common_batch batch(ctx_tgt.get());
      for (size_t i = 0; i < ids.size(); ++i) batch.add(ids[i], llama_pos(i), 0, i + 1 == ids.size());
      if (llama_process(ctx_tgt.get(), LLAMA_PROCESS_TYPE_DECODE, batch.get()) != 0) throw gemma4::Error("target decode failed");
      if (!common_speculative_process(spec, batch)) throw gemma4::Error("common_speculative_process failed");
      const float* logits = llama_get_logits_ith(ctx_tgt.get(), -1);
      const int32_t next = int32_t(std::max_element(logits, logits + V) - logits);
      llama_tokens prompt_tokens(ids.begin(), ids.end());
      common_speculative_begin(spec, 0, prompt_tokens);

      llama_tokens draft;
      common_speculative_get_draft_params(spec, 0) = {true, int32_t(golden_draft.size()), llama_pos(ids.size()), next,
                                                      &prompt_tokens, &draft};
      common_speculative_draft(spec);
      common_speculative_free(spec);

      const std::vector<int32_t> ours(draft.begin(), draft.end());
      const bool same_next = next == golden_next;
      const bool equal_hf = ours == golden_draft, equal_causal = has_causal && ours == golden_causal;
      failures += !same_next || (!equal_hf && !equal_causal);
      std::printf("%s %s: target next %d (golden %d); llama.cpp drafts %s, accepted %zu/%zu | golden %s, accepted %zu | "
                  "golden swa_causal %s, accepted %zu | llama.cpp = golden: %s, = swa_causal: %s\n",
                  same_next && (equal_hf || equal_causal) ? "ok  " : "FAIL", prompt.c_str(), next, golden_next,
                  Join(ours).c_str(), Accepted(ours, after), ours.size(), Join(golden_draft).c_str(),
                  Accepted(golden_draft, after), Join(golden_causal).c_str(), Accepted(golden_causal, after),
                  equal_hf ? "yes" : "no", equal_causal ? "yes" : "no");
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "llama_draft: error: %s\n", e.what());
    return 1;
  }
  return failures ? 1 : 0;
}
