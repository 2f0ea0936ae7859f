// gemma4-run — run a Gemma 4 model: a prompt in, the continuation streamed out; or chat (-i); or tokenize.
//
//   gemma4-run -m DIR -p "Why is the sky blue?"        chat template, streamed reply, stats on stderr
//   gemma4-run -m DIR -i --system "Be brief." --think  chat with history; Ctrl-C stops a reply
//   gemma4-run -m DIR --raw -f prompt.txt -n 64        no template: <bos> + the text
//   gemma4-run --tokenizer tokenizer.json --tokenize -p "Hello"   ids, like llama-tokenize
//   gemma4-run --prompt-ids 2,71,68,408 -n 8           ids in, ids out (no tokenizer needed)
//
// With no -m it runs the embedded tiny random-weight model (golden/e2b_like, no tokenizer): the ids it
// prints mean nothing, but every part of the decoder runs.
//
// Sampling follows the checkpoint's generation_config.json, as transformers' generate() does (Gemma 4 ships
// do_sample with temperature 1, top-k 64, top-p 0.95, and its stop ids); each flag overrides its one value,
// --temp 0 is greedy, and a model without that file (the embedded one, a GGUF) decodes greedily. The
// effective sampler and its seed are printed, a clock seed too, so any run can be repeated with --seed.
#include "gemma4/gemma4.h"  // first: ops/ops.h drives Highway's per-target compilation

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "gemma4/text/chat.h"
#include "gemma4/generate/generation.h"
#include "gemma4/generate/sampler.h"
#include "gemma4/text/tokenizer.h"
#include "tools/args.h"
#include "tools/common.h"

using namespace gemma4;

namespace {

const char* kDefaultPromptIds = "2,71,68,408,257,303,309,365,17,250,78,207";

void PrintIds(const std::vector<int32_t>& ids) {
  std::string line;
  for (size_t i = 0; i < ids.size(); ++i) line += (i ? "," : "") + std::to_string(ids[i]);
  std::printf("%s\n", line.c_str());
}

// "temp 1, top-k 64, top-p 0.95 | seed 1765036800 (from the clock)" or "greedy".
std::string DescribeSampler(const SamplingParams& sp, const std::string& origin, bool clock_seed) {
  if (sp.temperature == 0) return "greedy (" + origin + ")";
  std::string d = Str("temp ", sp.temperature);
  if (sp.top_k > 0) d += Str(", top-k ", sp.top_k);
  if (sp.top_p < 1) d += Str(", top-p ", sp.top_p);
  if (sp.min_p > 0) d += Str(", min-p ", sp.min_p);
  if (sp.repeat_penalty != 1) d += Str(", repeat-penalty ", sp.repeat_penalty);
  return d + " (" + origin + ") | seed " + std::to_string(sp.seed) +
         (clock_seed ? " (from the clock; --seed " + std::to_string(sp.seed) + " repeats this run)" : "");
}

// --verbose-prompt: the ids fed and their pieces, one per line, on stderr (as llama.cpp prints them).
void PrintPrompt(const std::vector<int32_t>& ids, const Tokenizer* tok) {
  std::fprintf(stderr, "prompt: %s\n", tools::Count(ids.size(), "token").c_str());
  for (int32_t id : ids) {
    std::string piece = tok && size_t(id) < tok->size() ? tok->piece(id) : "";
    std::string shown;
    for (char c : piece) shown += c == '\n' ? "\\n" : std::string(1, c);
    std::fprintf(stderr, "%8d -> '%s'\n", id, shown.c_str());
  }
}

// --tokenize: ids of -p/-f text, or one line of ids per JSON string of a --tokenize-jsonl file.
int Tokenize(const Tokenizer& tok, const std::string& text, bool have_text, const std::string& jsonl) {
  if (jsonl.empty()) {
    if (!have_text) throw Error("--tokenize needs -p TEXT, -f FILE or --tokenize-jsonl FILE");
    PrintIds(tok.encode(text));
    return 0;
  }
  std::ifstream in(jsonl, std::ios::binary);
  if (!in) throw Error(Str(jsonl, ": cannot open the --tokenize-jsonl file"));
  std::string line;
  for (size_t n = 1; std::getline(in, line); ++n) {
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(line);
    } catch (const nlohmann::json::exception&) {
      throw Error(Str(jsonl, ":", n, ": not a JSON string"));
    }
    if (!j.is_string()) throw Error(Str(jsonl, ":", n, ": not a JSON string"));
    PrintIds(tok.encode(j.get<std::string>()));
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return tools::RunMain("gemma4-run", [&] {
    std::string model_path, prompt, prompt_file, tokenizer_path, system, jsonl, chat_template = "auto", draft_path;
    tools::ModelOptions model_options;
    std::optional<std::string> prompt_ids;
    // temp, top-k and top-p start unset (NaN, -1): generation_config.json fills what no flag gives
    long n_predict = -2, ctx_size = 0, batch = 256, top_k = -1, seed = -1, draft_max = 3;
    double temp = NAN, top_p = NAN, min_p = 0.0, repeat_penalty = 1.0;
    bool think = false, interactive = false, print_ids = false, tokenize = false, raw = false, verbose_prompt = false;
    tools::ArgParser args("gemma4-run", "Generate from a Gemma 4 model, chat with it, or tokenize text.");
    args.option("-m, --model", "PATH", &model_path, "model: Hugging Face directory or .gguf file (default: the embedded tiny model)")
        .option("-p, --prompt", "TEXT", &prompt, "prompt text (the user turn of the chat template unless --raw)")
        .option("-f, --file", "FILE", &prompt_file, "read the prompt text from FILE")
        .option("--prompt-ids", "IDS", &prompt_ids, "prompt as comma-separated token ids, no tokenizer (default: a fixed 12-id prompt)")
        .option("-n, --n-predict", "N", &n_predict, "tokens to generate (default: until <turn|>/<eos> or a full context; 16 for id prompts)")
        .option("-c, --ctx-size", "N", &ctx_size, "context length (default: the model's max_position_embeddings)")
        .option("-b, --batch-size", "N", &batch, "prompt tokens per forward step (default 256)")
        .option("--temp", "T", &temp, "temperature, 0 = greedy (default: generation_config.json's, else 0)")
        .option("--top-k", "K", &top_k, "keep the K most likely tokens, 0 = off (default: generation_config.json's, else 0)")
        .option("--top-p", "P", &top_p, "keep the most likely tokens up to probability P, 1 = off (default: as --top-k)")
        .option("--min-p", "P", &min_p, "drop tokens below P x the top probability (default 0 = off)")
        .option("--repeat-penalty", "R", &repeat_penalty, "penalize the last 64 tokens (default 1 = off)")
        .option("--seed", "S", &seed, "random seed for sampling (default -1 = from the clock)")
        .option("--system", "TEXT", &system, "system prompt")
        .flag("--think", &think, "thinking on: the model reasons in a thought channel first")
        .flag("-i, --interactive", &interactive, "chat: read user turns from stdin, keep the history")
        .option("--chat-template", "NAME", &chat_template, "auto, gemma4 (E2B/E4B) or gemma4-empty-thought (26B/31B) (default auto)")
        .flag("--raw", &raw, "no chat template: <bos> + the prompt text")
        .flag("--print-ids", &print_ids, "print token ids instead of text")
        .flag("--verbose-prompt", &verbose_prompt, "print the prompt's ids and pieces (after the chat template) first")
        .flag("--tokenize", &tokenize, "print the ids of -p/-f (or of each --tokenize-jsonl string) and exit")
        .option("--tokenize-jsonl", "FILE", &jsonl, "with --tokenize: one JSON string per line, one line of ids each")
        .option("--tokenizer", "PATH", &tokenizer_path, "tokenizer.json to use (default: the model directory's)")
        .option("--draft", "PATH", &draft_path, "MTP drafter checkpoint (-assistant): speculative decoding, same output")
        .option("--draft-max", "N", &draft_max, "tokens per draft with --draft (default 3)");
    tools::AddModelOptions(args, &model_options, "fast");
    if (!args.parse(argc, argv).empty()) throw Error("unexpected argument (see gemma4-run --help)");
    const bool have_text = !prompt.empty() || !prompt_file.empty();
    if (!prompt.empty() && !prompt_file.empty()) throw Error("give the prompt with -p or -f, not both");
    if (have_text && prompt_ids) throw Error("give the prompt as text (-p/-f) or as --prompt-ids, not both");
    if (prompt_ids && prompt_ids->empty()) throw Error("--prompt-ids: no token ids given (leave the flag out for the built-in prompt)");
    if (!prompt_file.empty()) prompt = ReadTextFile(prompt_file);
    if (n_predict < -2 || ctx_size < 0 || batch < 1) throw Error("-n must be >= -1, -c >= 0 and -b >= 1");
    if (chat_template != "auto" && chat_template != "gemma4" && chat_template != "gemma4-empty-thought")
      throw Error(Str("--chat-template: \"", chat_template, "\" is not one of auto, gemma4, gemma4-empty-thought"));
    if (!jsonl.empty() && !tokenize) throw Error("--tokenize-jsonl needs --tokenize");

    if (tokenize) {  // no model needed
      auto tok = tools::LoadTokenizerFor(model_path, tokenizer_path);
      if (!tok) throw Error("--tokenize needs a tokenizer: pass --tokenizer PATH or -m a directory with tokenizer.json");
      return Tokenize(*tok, prompt, have_text, jsonl);
    }

    if (interactive && prompt_ids) throw Error("-i chats in text: use -p for the first turn, not --prompt-ids");
    model_options.Configure();
    const auto t_load = std::chrono::steady_clock::now();
    const std::string model_name = model_path.empty() ? tools::kEmbeddedModelName : model_path;
    // The tokenizer first, and checked against the model's config before the weights load (seconds, GBs).
    auto tok = tools::LoadTokenizerFor(model_path, tokenizer_path);
    if ((have_text || interactive) && !tok)
      throw Error(Str(model_name, " has no tokenizer.json, so text prompts cannot be encoded: pass --tokenizer PATH, "
                      "or give the prompt as --prompt-ids"));
    if (tok) {
      const int64_t vocab_size = tools::ReadModelConfig(model_path).vocab_size;
      if (tok->size() > size_t(vocab_size))
        throw Error(Str(tok->spec().source, ": the tokenizer has ", tok->size(), " ids but the model's vocab_size is ",
                        vocab_size));
      if (!raw && (have_text || interactive)) tools::WarnIfNoTurnTokens(*tok);
    }
    auto lm = tools::LoadModel(model_path, model_options.study);
    double load_s = tools::Seconds(t_load);

    ChatFormat chat = tools::ChatFormatFor(model_path, &lm->config);
    if (chat_template != "auto") chat.empty_thought_channel = chat_template == "gemma4-empty-thought";
    std::vector<ChatMessage> first_turn;
    if (!system.empty()) first_turn.push_back({"system", system});

    // The first prompt's ids.
    std::vector<int32_t> ids;
    const bool text_out = tok && !print_ids && !prompt_ids;
    if (!have_text && !interactive) {
      ids = tools::ParseIdList("--prompt-ids", prompt_ids ? *prompt_ids : kDefaultPromptIds);
      if (n_predict == -2) n_predict = 16;
    } else if (have_text && raw) {
      ids = tok->encode(prompt);
    } else if (have_text) {
      first_turn.push_back({"user", prompt});
      ids = tok->encode(chat.render(first_turn, true, think), /*add_special=*/false);
    }
    if (n_predict == -2) n_predict = -1;

    // Sampling: flags, else generation_config.json (when it samples), else greedy.
    const GenerationConfig gen = tools::GenerationConfigFor(model_path, lm->config.vocab_size);
    const bool from_file = !gen.source.empty() && gen.do_sample;
    SamplingParams sp;
    sp.temperature = !std::isnan(temp) ? temp : from_file ? gen.temperature : 0.0;
    sp.top_k = top_k >= 0 ? top_k : !gen.source.empty() ? gen.top_k : 0;
    sp.top_p = !std::isnan(top_p) ? top_p : !gen.source.empty() ? gen.top_p : 1.0;
    if (top_k < -1) sp.top_k = top_k;  // (refused by the sampler's check)
    sp.min_p = min_p;
    sp.repeat_penalty = repeat_penalty;
    sp.seed = seed < 0 ? uint64_t(std::time(nullptr)) : uint64_t(seed);
    sp.suppress_tokens = gen.suppress_tokens;
    Sampler sampler(sp);
    const bool flags_given = !std::isnan(temp) || top_k >= 0 || !std::isnan(top_p);
    const std::string origin = gen.source.empty() ? (std::isnan(temp) ? "no generation_config.json; --temp T samples" : "flags")
                               : !flags_given ? Str(gen.source, gen.do_sample ? "" : ": do_sample false")
                                              : Str("flags over ", gen.source);
    const std::string sampler_line = "sampling: " + DescribeSampler(sp, origin, seed < 0);
    // --draft: the same loop through speculative decoding (gemma4/generate/speculative.h); the verify batch of
    // draft_max + 1 positions and the drafter's W + 1 window need max_tokens >= draft_max + 2.
    if (draft_max < 1) throw Error("--draft-max must be >= 1");
    std::unique_ptr<Gemma4AssistantForCausalLM> assistant;
    std::unique_ptr<MtpDrafter> drafter;
    SpeculativeStats spec;
    GenerateFn generate = Generate;
    if (!draft_path.empty()) {
      const auto t_draft = std::chrono::steady_clock::now();
      assistant = Gemma4AssistantForCausalLM::from_pretrained(draft_path);
      load_s += tools::Seconds(t_draft);  // the stats line's load time covers both models
      drafter = std::make_unique<MtpDrafter>(*assistant, lm->config);
      generate = SpeculativeGenerateFn(*drafter, size_t(draft_max), &spec);
      batch = std::max(batch, draft_max + 2);
    }
    Session session(*lm, size_t(batch), size_t(ctx_size));
    GenerateOptions options;
    options.max_new_tokens = n_predict;
    options.stop_ids = tok ? ChatStopIds(*tok, lm->config.eos_token_id)
                           : std::vector<int32_t>(lm->config.eos_token_id.begin(), lm->config.eos_token_id.end());
    for (int32_t e : gen.eos_token_id)  // generation_config.json's stop ids too
      if (std::find(options.stop_ids.begin(), options.stop_ids.end(), e) == options.stop_ids.end()) options.stop_ids.push_back(e);
    options.interrupt = &tools::g_interrupt;
    std::vector<int32_t> held;  // the ids the session holds, to rebuild it after an interrupted prompt
    options.session_ids = &held;
    tools::InstallInterruptHandler();

    std::vector<int32_t> history;
    auto run_turn = [&](const std::vector<int32_t>& turn_ids) {
      session.check_room(turn_ids.size() + (n_predict > 0 ? size_t(n_predict) : 0));
      if (verbose_prompt) PrintPrompt(turn_ids, tok.get());
      std::vector<int32_t> emitted;
      std::optional<Tokenizer::DecodeStream> stream;
      if (text_out) stream.emplace(*tok, /*skip_special=*/true);
      bool first_id = true;
      tools::g_interrupt = false;
      tools::g_generating = true;
      const GenerateResult r = generate(session, sampler, history, turn_ids, options, [&](int32_t id) {
        emitted.push_back(id);
        if (text_out) {  // (an id past the tokenizer's pieces, which a random model can emit, prints nothing)
          if (size_t(id) < tok->size()) std::fputs(stream->text(id).c_str(), stdout);
        } else {
          std::printf("%s%d", first_id ? "" : ",", id);
          first_id = false;
        }
        std::fflush(stdout);
        return true;
      });
      tools::g_generating = false;
      if (r.prompt_fed == r.prompt_tokens) {  // the session holds the prompt and every emitted id but the last sampled
        held.insert(held.end(), turn_ids.begin(), turn_ids.end());
        held.insert(held.end(), emitted.begin(), emitted.end() - (r.stop_id < 0 && !emitted.empty() ? 1 : 0));
      }
      if (text_out) std::fputs(stream->flush().c_str(), stdout);
      std::printf("\n");
      std::fflush(stdout);
      const std::string prompt_part =
          r.prompt_fed == r.prompt_tokens
              ? Str("prompt ", tools::Count(r.prompt_tokens, "token"))
              : Str("prompt stopped after ", r.prompt_fed, " of ", tools::Count(r.prompt_tokens, "token"), " (dropped)");
      std::fprintf(stderr, "%smodel %s | SIMD %s, %zu threads | numerics %s | load %.2f s | %s, %.1f tok/s | generated %s, %.1f tok/s\n",
                   r.interrupted ? "[interrupted] " : "", model_name.c_str(), ops::TargetName(),
                   ops::Pool().NumThreads(), tools::NumericsInUse(*lm), load_s, prompt_part.c_str(),
                   r.prompt_seconds > 0 ? double(r.prompt_fed) / r.prompt_seconds : 0.0,
                   tools::Count(r.generated, "token").c_str(), r.generated ? double(r.generated) / r.generate_seconds : 0.0);
      if (drafter)
        std::fprintf(stderr,
                     "speculative: draft-max %ld | drafted %zu, accepted %zu (acceptance %.1f%%) | %zu target forwards, "
                     "%.2f drafts accepted and %.2f tokens per forward\n",
                     draft_max, spec.drafted, spec.accepted, 100.0 * spec.acceptance_rate(), spec.target_forwards,
                     spec.accepted_per_forward(), spec.tokens_per_forward());
      return r;
    };

    if (!interactive) {
      const GenerateResult r = run_turn(ids);
      std::fprintf(stderr, "%s\n", sampler_line.c_str());
      return r.interrupted ? 130 : 0;
    }

    // Chat: each user line is a turn; the KV cache keeps the conversation. A turn whose prompt Ctrl-C stopped
    // is dropped (the session is as before it), so the conversation goes on from the turn before.
    std::fprintf(stderr, "chat with %s | context %zu tokens | Ctrl-C stops a reply; Ctrl-D, or Ctrl-C at the prompt, ends\n%s\n",
                 model_name.c_str(), session.max_context, sampler_line.c_str());
    GenerateResult last;
    bool first = true;
    if (!ids.empty()) {
      last = run_turn(ids);
      if (last.prompt_fed == last.prompt_tokens) first = false;
      else first_turn.pop_back();  // the user turn of -p/-f was dropped
    }
    std::string line;
    for (;;) {
      std::printf("> ");
      std::fflush(stdout);
      if (!std::getline(std::cin, line)) break;
      if (ChatTrim(line).empty()) continue;
      std::vector<int32_t> turn;
      const bool was_first = first;
      if (first) {
        first_turn.push_back({"user", line});
        turn = tok->encode(chat.render(first_turn, true, think), false);
        first = false;
      } else {
        // The reply's last sampled id is not in the cache yet: feed it, unless it was <eos> (the template
        // closes the turn with <turn|> instead).
        const bool closed = last.stop_id >= 0 && last.stop_id == tok->token_id("<turn|>");
        if (last.stop_id < 0 || closed) turn = last.pending;
        const std::vector<int32_t> more = tok->encode(chat.next_turn(line, closed, think), false);
        turn.insert(turn.end(), more.begin(), more.end());
      }
      const GenerateResult r = run_turn(turn);
      if (r.prompt_fed == r.prompt_tokens) {
        last = r;
      } else if (was_first) {  // dropped: the next line starts the conversation again
        first_turn.pop_back();
        first = true;
      }
    }
    std::printf("\n");
    return 0;
  });
}
