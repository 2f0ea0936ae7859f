// The tools as a user runs them: exit status, the last line, one-line errors.
#include <sys/wait.h>

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "gemma4/io/safetensors.h"

namespace {

struct Result {
  int status;
  std::string out;  // stdout and stderr together
};

Result Run(const std::string& command) {
  FILE* p = popen((command + " 2>&1").c_str(), "r");
  REQUIRE(p != nullptr);
  Result r{0, ""};
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  const int raw = pclose(p);
  r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : 128 + WTERMSIG(raw);
  return r;
}

std::string LastLine(const std::string& text) {
  std::string t = text;
  while (!t.empty() && t.back() == '\n') t.pop_back();
  return t.substr(t.rfind('\n') == std::string::npos ? 0 : t.rfind('\n') + 1);
}

size_t Lines(const std::string& text) {
  size_t n = 0;
  for (char c : text) n += c == '\n';
  return n;
}

const std::string kRun = GEMMA4_RUN, kEval = GEMMA4_EVAL, kBench = GEMMA4_BENCH, kQuantize = GEMMA4_QUANTIZE,
                  kGolden = GEMMA4_SOURCE_DIR "/golden";

}  // namespace

TEST_CASE("gemma4-run runs the embedded default model with no arguments", "[cli]") {
  const Result r = Run(kRun);
  INFO(r.out);
  CHECK(r.status == 0);
  CHECK_THAT(r.out, Catch::Contains("<embedded golden/e2b_like>"));
  CHECK_THAT(r.out, Catch::Contains("generated 16 tokens"));
  // the embedded model is golden/e2b_like: its greedy continuation of the default prompt is the golden's
  CHECK_THAT(r.out, Catch::StartsWith("207,207,361,231,200,361,360,152,232,328,200,272,347,102,480,381\n"));
}

TEST_CASE("gemma4-run on a checkpoint directory reproduces the golden greedy continuation", "[cli]") {
  const Result r = Run(kRun + " -m " + kGolden + "/dense_31b_like -n 4 -t 1 --prompt-ids 2,71,68,408,257,303,309,365,17,250,78,207");
  INFO(r.out);
  CHECK(r.status == 0);
  CHECK_THAT(r.out, Catch::Contains("generated 4 tokens"));
}

TEST_CASE("gemma4-run on the 12B Unified: skips its vision/audio tensors and never emits a suppressed id", "[cli]") {
  // golden/unified_12b_like's generation_config.json suppresses the ids its raw greedy continuation picks
  // first; gemma4-run must continue as HF generate() does with them suppressed (greedy_suppressed_tokens).
  const std::string dir = kGolden + "/unified_12b_like";
  const gemma4::SafetensorsFile st = gemma4::ReadSafetensors(dir + "/golden.safetensors");
  auto ids = [&](const std::string& name) {
    const gemma4::Tensor& t = st.tensors.at(name);
    std::string s;
    for (int64_t i = 0; i < t.numel(); ++i) s += (i ? "," : "") + std::to_string(reinterpret_cast<const int32_t*>(t.data)[i]);
    return s;
  };
  const Result r = Run(kRun + " -m " + dir + " -n 16 -t 1 --print-ids --prompt-ids " + ids("long.input_ids"));
  INFO(r.out);
  CHECK(r.status == 0);
  CHECK_THAT(r.out, Catch::Contains("skipping 11 vision/audio tensors"));
  CHECK_THAT(r.out, Catch::Contains(ids("long.greedy_suppressed_tokens") + "\n"));
  CHECK(ids("long.greedy_suppressed_tokens") != ids("long.greedy_tokens"));
}

TEST_CASE("gemma4-run: bad input is one line and a non-zero exit", "[cli]") {
  for (const std::string& args : {std::string(" --frobnicate"), std::string(" -m /nonexistent/model"),
                                  std::string(" --prompt-ids 2,999999"), std::string(" -c 4 --prompt-ids 2,3,4,5,6"),
                                  std::string(" --prompt-ids ''"), std::string(" --prompt-ids=,"),
                                  std::string(" -n many")}) {
    const Result r = Run(kRun + args);
    INFO(args << " → " << r.out);
    CHECK(r.status != 0);
    CHECK(Lines(r.out) == 1);
    CHECK_THAT(r.out, Catch::StartsWith("gemma4-run: error: "));
  }
  CHECK_THAT(Run(kRun + " --frobnicate").out, Catch::Contains("--frobnicate"));
  CHECK_THAT(Run(kRun + " -m /nonexistent/model").out, Catch::Contains("/nonexistent/model"));
  CHECK_THAT(Run(kRun + " --prompt-ids 2,999999").out, Catch::Contains("999999"));
}

namespace {
const std::string kTiny = GEMMA4_SOURCE_DIR "/tests/tokenizer/tiny_tokenizer.json";

std::string FirstLine(const std::string& text) { return text.substr(0, text.find('\n')); }

std::string WriteTemp(const std::string& name, const std::string& content) {
  const std::string path = "/tmp/gemma4-test-cli-" + std::to_string(getpid()) + "-" + name;
  FILE* f = fopen(path.c_str(), "wb");
  REQUIRE(f);
  fwrite(content.data(), 1, content.size(), f);
  fclose(f);
  return path;
}
}  // namespace

TEST_CASE("gemma4-run --tokenize prints ids like llama-tokenize, from -p, -f or --tokenize-jsonl", "[cli][tokenizer]") {
  Result r = Run(kRun + " --tokenizer " + kTiny + " --tokenize -p 'hello world'");
  INFO(r.out);
  CHECK(r.status == 0);
  // <bos>, then h e l l o (no merge without the leading ▁), then "▁world" built by the merges
  CHECK(r.out == "2,13,10,17,17,20,110\n");
  const std::string file = WriteTemp("prompt.txt", "hello world");
  CHECK(Run(kRun + " --tokenizer " + kTiny + " --tokenize -f " + file).out == r.out);
  const std::string jsonl = WriteTemp("lines.jsonl", "\"hello world\"\n\"<|turn>user\\n\"\n\"\"\n");
  r = Run(kRun + " --tokenizer " + kTiny + " --tokenize --tokenize-jsonl " + jsonl);
  INFO(r.out);
  CHECK(r.status == 0);
  CHECK(r.out == "2,13,10,17,17,20,110\n2,105,"
                 + FirstLine(Run(kRun + " --tokenizer " + kTiny + " --tokenize -p user").out).substr(2) + ",107\n2\n");
  std::remove(file.c_str());
  std::remove(jsonl.c_str());
}

TEST_CASE("gemma4-run with a tokenizer: chat template, --raw, --system, --think, --print-ids, sampling flags", "[cli]") {
  auto prompt_tokens = [](const std::string& out) {
    const size_t at = out.find("prompt ");
    REQUIRE(at != std::string::npos);
    return std::stol(out.substr(at + 7));
  };
  const std::string base = kRun + " -t 1 --tokenizer " + kTiny + " -p 'hello world' -n 6";
  const Result chat = Run(base), raw = Run(base + " --raw"), sys = Run(base + " --system 'the system'"),
               think = Run(base + " --think"), ids = Run(base + " --print-ids");
  INFO(chat.out << raw.out << sys.out << think.out << ids.out);
  for (const Result* r : {&chat, &raw, &sys, &think, &ids}) {
    CHECK(r->status == 0);
    CHECK_THAT(r->out, Catch::Contains("tok/s") && Catch::Contains("load "));
  }
  CHECK(prompt_tokens(raw.out) == 7);  // <bos> + the 6 ids of --tokenize above
  // <bos><|turn>user\n + 6 + <turn|>\n<|turn>model\n: the ids of "user" and "model" come from the merges
  CHECK(prompt_tokens(chat.out) == 7 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1);
  CHECK(prompt_tokens(sys.out) > prompt_tokens(chat.out));
  CHECK(prompt_tokens(think.out) == prompt_tokens(chat.out) + 7);  // <|turn> system \n <|think|> \n <turn|> \n
  const std::string id_line = FirstLine(ids.out);
  CHECK(std::count(id_line.begin(), id_line.end(), ',') == 5);  // 6 ids
  CHECK(FirstLine(ids.out).find_first_not_of("0123456789,") == std::string::npos);
  const std::string sample = base + " --print-ids -n 12 --temp 0.9 --top-k 40 --top-p 0.95 --min-p 0.02 --repeat-penalty 1.1";
  const Result a = Run(sample + " --seed 11"), b = Run(sample + " --seed 11"), c = Run(sample + " --seed 12");
  INFO(a.out << b.out << c.out);
  CHECK(a.status == 0);
  CHECK(FirstLine(a.out) == FirstLine(b.out));  // a seed gives one stream
  CHECK(FirstLine(a.out) != FirstLine(c.out));
}

TEST_CASE("gemma4-run: text and tokenizer errors are one line and a non-zero exit", "[cli]") {
  const std::string file = WriteTemp("p.txt", "x");
  for (const std::string& args : std::vector<std::string>{
           " -p hi", " -i", " --tokenizer /no/such/tokenizer.json -p hi", " --tokenizer " + kTiny + " -f /no/such/prompt.txt",
           " --tokenizer " + kTiny + " -p hi -f " + file, " --tokenizer " + kTiny + " -p hi --prompt-ids 2,3",
           " --tokenizer " + kTiny + " -c 8 -p 'hello world hello world'", " --tokenizer " + kTiny + " -p hi --temp -1",
           " --tokenizer " + kTiny + " -p hi --top-p 0", " --tokenizer " + kTiny + " -p hi --chat-template llama",
           " --tokenize -p hi", " --tokenizer " + kTiny + " --tokenize-jsonl " + file,
           " --tokenizer " + kTiny + " --tokenize --tokenize-jsonl " + file, " --tokenizer " + kGolden + "/e2b_like/config.json -p hi"}) {
    const Result r = Run(kRun + args);
    INFO(args << " → " << r.out);
    CHECK(r.status != 0);
    CHECK(Lines(r.out) == 1);
    CHECK_THAT(r.out, Catch::StartsWith("gemma4-run: error: "));
  }
  CHECK_THAT(Run(kRun + " -p hi").out, Catch::Contains("--tokenizer") && Catch::Contains("--prompt-ids"));
  CHECK_THAT(Run(kRun + " --tokenizer /no/such/tokenizer.json -p hi").out, Catch::Contains("/no/such/tokenizer.json"));
  CHECK_THAT(Run(kRun + " --tokenizer " + kTiny + " -c 8 -p 'hello world hello world'").out, Catch::Contains("context of 8"));
  CHECK_THAT(Run(kRun + " --tokenizer " + kTiny + " --tokenize --tokenize-jsonl " + file).out, Catch::Contains(":1: not a JSON string"));
  std::remove(file.c_str());
}

TEST_CASE("gemma4-run finds a checkpoint's tokenizer.json and its chat variant", "[cli]") {
  // golden/e2b_like plus the tiny tokenizer, with and without a 26B/31B-style chat template
  const std::string dir = "/tmp/gemma4-test-cli-" + std::to_string(getpid()) + "-model";
  REQUIRE(std::system(("rm -rf " + dir + " && mkdir -p " + dir + " && ln -s " + kGolden + "/e2b_like/config.json " + dir +
                       " && ln -s " + kGolden + "/e2b_like/model.safetensors " + dir + " && cp " + kTiny + " " + dir +
                       "/tokenizer.json").c_str()) == 0);
  auto prompt_tokens = [](const std::string& out) {
    const size_t at = out.find("prompt ");
    REQUIRE(at != std::string::npos);
    return std::stol(out.substr(at + 7));
  };
  const Result plain = Run(kRun + " -m " + dir + " -p hello -n 2 -t 1");
  INFO(plain.out);
  REQUIRE(plain.status == 0);
  WriteTemp("model/chat_template.jinja", "{%- if not enable_thinking | default(false) -%}{{- '<|channel>thought\\n<channel|>' -}}{%- endif -%}");
  const Result big = Run(kRun + " -m " + dir + " -p hello -n 2 -t 1");
  INFO(big.out);
  CHECK(prompt_tokens(big.out) == prompt_tokens(plain.out) + 4);  // <|channel> thought \n <channel|>
  CHECK(prompt_tokens(Run(kRun + " -m " + dir + " -p hello -n 2 -t 1 --think").out) == prompt_tokens(plain.out) + 7);
  CHECK(prompt_tokens(Run(kRun + " -m " + dir + " -p hello -n 2 -t 1 --chat-template gemma4").out) == prompt_tokens(plain.out));
  // the same checkpoint as a GGUF: its tokenizer.ggml.* give the same ids, the same prompt, the same reply
  const std::string gguf = dir + ".gguf";
  std::remove(gguf.c_str());
  Result r = Run(kQuantize + " " + dir + " " + gguf + " --type f32 -q");
  INFO(r.out);
  REQUIRE(r.status == 0);
  const std::string text = " --tokenize -p 'hello world, the user<|turn>x is \xC3\xA9'";
  r = Run(kRun + " -m " + gguf + text);
  INFO(r.out);
  CHECK(r.status == 0);
  CHECK(r.out == Run(kRun + " --tokenizer " + kTiny + text).out);
  CHECK(FirstLine(Run(kRun + " -m " + gguf + " -p 'hello world' -n 6 -t 1 --chat-template gemma4").out) ==
        FirstLine(Run(kRun + " -m " + dir + " -p 'hello world' -n 6 -t 1 --chat-template gemma4").out));
  std::remove(gguf.c_str());
  std::system(("rm -rf " + dir).c_str());
}

// A model directory for the tests below: golden/e2b_like's weights, config.json as given, extra files.
std::string ModelDir(const std::string& name, const nlohmann::json& config,
                     const std::vector<std::pair<std::string, std::string>>& files) {
  const std::string dir = "/tmp/gemma4-test-cli-" + std::to_string(getpid()) + "-" + name;
  REQUIRE(std::system(("rm -rf " + dir + " && mkdir -p " + dir + " && ln -s " + kGolden +
                       "/e2b_like/model.safetensors " + dir).c_str()) == 0);
  WriteTemp(name + "/config.json", config.dump());
  for (const auto& [file, content] : files) WriteTemp(name + "/" + file, content);
  return dir;
}

nlohmann::json E2bLikeConfig() {
  FILE* f = fopen((kGolden + "/e2b_like/config.json").c_str(), "rb");
  REQUIRE(f);
  std::string text(1 << 20, '\0');
  text.resize(fread(&text[0], 1, text.size(), f));
  fclose(f);
  return nlohmann::json::parse(text);
}

TEST_CASE("gemma4-run samples as generation_config.json says unless flags say otherwise, and prints the sampler", "[cli]") {
  const std::string dir = ModelDir("genconfig", E2bLikeConfig(),
                                   {{"generation_config.json", R"({"do_sample": true, "temperature": 1.0, "top_k": 64,
                                      "top_p": 0.95, "eos_token_id": [1, 106, 50], "bos_token_id": 2})"}});
  const std::string base = kRun + " -m " + dir + " -n 12 -t 1";
  const Result a = Run(base + " --seed 5"), b = Run(base + " --seed 5"),
               flags = Run(kRun + " -m " + kGolden + "/e2b_like -n 12 -t 1 --seed 5 --temp 1 --top-k 64 --top-p 0.95"),
               greedy = Run(base + " --temp 0"), plain = Run(kRun + " -m " + kGolden + "/e2b_like -n 12 -t 1"),
               clock = Run(base);
  INFO(a.out << b.out << flags.out << greedy.out << plain.out << clock.out);
  CHECK(a.status == 0);
  CHECK_THAT(a.out, Catch::Contains("sampling: temp 1, top-k 64, top-p 0.95 (" + dir + "/generation_config.json) | seed 5\n"));
  CHECK(FirstLine(a.out) == FirstLine(b.out));
  CHECK(FirstLine(a.out) == FirstLine(flags.out));  // the file's values are the flags' values
  CHECK_THAT(flags.out, Catch::Contains("sampling: temp 1, top-k 64, top-p 0.95 (flags) | seed 5"));
  CHECK_THAT(greedy.out, Catch::Contains("sampling: greedy (flags over " + dir + "/generation_config.json)"));
  CHECK(FirstLine(greedy.out) == FirstLine(plain.out));  // --temp 0 is greedy
  CHECK_THAT(plain.out, Catch::Contains("sampling: greedy (no generation_config.json"));
  // a clock seed is printed with the flag that repeats the run
  const size_t at = clock.out.find("(from the clock; --seed ");
  REQUIRE(at != std::string::npos);
  const std::string seed = clock.out.substr(at + 24, clock.out.find(' ', at + 24) - at - 24);
  CHECK(FirstLine(Run(base + " --seed " + seed).out) == FirstLine(clock.out));
  // do_sample false (transformers' default) is greedy
  WriteTemp("genconfig/generation_config.json", R"({"temperature": 0.7, "top_k": 10})");
  const Result off = Run(base);
  INFO(off.out);
  CHECK(FirstLine(off.out) == FirstLine(plain.out));
  CHECK_THAT(off.out, Catch::Contains("sampling: greedy (" + dir + "/generation_config.json: do_sample false)"));
  std::system(("rm -rf " + dir).c_str());
}

TEST_CASE("gemma4-run checks the tokenizer against the model before loading it, and warns about a non-Gemma 4 one", "[cli]") {
  // vocab_size 256 < the tiny tokenizer's ids, and no weights at all: the tokenizer error comes first
  nlohmann::json config = E2bLikeConfig();
  config["text_config"]["vocab_size"] = 256;
  const std::string dir = ModelDir("smallvocab", config, {});
  std::remove((dir + "/model.safetensors").c_str());
  Result r = Run(kRun + " -m " + dir + " --tokenizer " + kTiny + " -p hi");
  INFO(r.out);
  CHECK(r.status == 1);
  CHECK(Lines(r.out) == 1);
  CHECK_THAT(r.out, Catch::Contains("tiny_tokenizer.json: the tokenizer has ") && Catch::Contains(" ids but the model's vocab_size is 256"));
  std::system(("rm -rf " + dir).c_str());
  // the tiny tokenizer with its turn tokens renamed: one warning line, and the run goes on
  FILE* f = fopen(kTiny.c_str(), "rb");
  REQUIRE(f);
  std::string text(1 << 22, '\0');
  text.resize(fread(&text[0], 1, text.size(), f));
  fclose(f);
  for (const std::string& from : {std::string("<|turn>"), std::string("<turn|>")})
    for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at)) text.replace(at, 3, "<|x");
  const std::string other = WriteTemp("other_tokenizer.json", text);
  r = Run(kRun + " --tokenizer " + other + " -p hi -n 2 -t 1");
  INFO(r.out);
  CHECK(r.status == 0);
  CHECK_THAT(r.out, Catch::Contains("warning: " + other + " has no Gemma 4 turn tokens (<|turn>, <turn|>)"));
  CHECK_THAT(Run(kRun + " --tokenizer " + kTiny + " -p hi -n 2 -t 1").out, !Catch::Contains("turn tokens"));
  CHECK_THAT(Run(kRun + " --tokenizer " + other + " --raw -p hi -n 2 -t 1").out, !Catch::Contains("turn tokens"));
  std::remove(other.c_str());
}

TEST_CASE("gemma4-run: --verbose-prompt, -t above the core count, counts in words", "[cli]") {
  Result r = Run(kRun + " --tokenizer " + kTiny + " -p 'hello world' -n 1 -t 1 --verbose-prompt");
  INFO(r.out);
  CHECK(r.status == 0);
  CHECK_THAT(r.out, Catch::Contains("prompt: 15 tokens\n       2 -> '<bos>'\n     105 -> '<|turn>'\n"));
  CHECK_THAT(r.out, Catch::Contains("     107 -> '\\n'\n"));
  CHECK_THAT(r.out, Catch::Contains("generated 1 token,"));
  const std::string too_many = std::to_string(std::thread::hardware_concurrency() + 1);
  r = Run(kRun + " -n 2 -t " + too_many);
  INFO(r.out);
  CHECK(r.status == 0);
  CHECK_THAT(r.out, Catch::Contains("warning: -t " + too_many + " is more than the " +
                                    std::to_string(std::thread::hardware_concurrency()) + " cores here"));
  CHECK_THAT(Run(kRun + " -n 2 -t 1").out, !Catch::Contains("warning"));
}

TEST_CASE("every tool has --version, and its help aligns every option, -h too", "[cli]") {
  for (const std::string& tool : {kRun, kEval, kBench, kQuantize}) {
    const Result v = Run(tool + " --version");
    INFO(tool << " → " << v.out);
    CHECK(v.status == 0);
    CHECK(Lines(v.out) == 1);
    CHECK_THAT(v.out, Catch::Matches("gemma4-(run|eval|bench|quantize) [0-9]+\\.[0-9]+\\.[0-9]+\n"));
  }
  CHECK(Run(kEval + " ppl --version").out == Run(kEval + " --version").out);
  for (const std::string& help : {kRun + " -h", kBench + " -h", kQuantize + " -h", kEval + " ppl -h", kEval + " dump -h"}) {
    const Result r = Run(help);
    INFO(help << " → " << r.out);
    CHECK(r.status == 0);
    CHECK_THAT(r.out, Catch::Contains("\n  -h, --help                this text\n"));
    CHECK_THAT(r.out, Catch::Contains("\n  --version                 the version, then exit\n"));
    size_t usages = 0;
    for (size_t at = r.out.find("usage:"); at != std::string::npos; at = r.out.find("usage:", at + 1)) ++usages;
    CHECK(usages == 1);
    // every option row puts its help at column 28
    for (size_t at = 0; at < r.out.size();) {
      const size_t end = std::min(r.out.find('\n', at), r.out.size());
      const std::string line = r.out.substr(at, end - at);
      if (line.rfind("  -", 0) == 0 && line.size() > 28) CHECK(line.substr(26, 2) == "  ");
      at = end + 1;
    }
  }
}

TEST_CASE("gemma4-run --help lists the llama.cpp-style flags", "[cli]") {
  const Result r = Run(kRun + " --help");
  CHECK(r.status == 0);
  for (const char* flag : {"-m, --model", "-p, --prompt", "-f, --file", "--prompt-ids", "-n, --n-predict", "-t, --threads",
                           "-c, --ctx-size", "--temp", "--top-k", "--top-p", "--min-p", "--repeat-penalty", "--seed",
                           "--system", "--think", "-i, --interactive", "--print-ids", "--tokenize", "--tokenize-jsonl",
                           "--tokenizer", "--raw"})
    CHECK_THAT(r.out, Catch::Contains(flag));
}

TEST_CASE("gemma4-eval golden passes every golden case and ends with PASS", "[cli]") {
  for (const char* c : {"e2b_like", "dense_31b_like", "moe_26b_like"}) {
    const Result r = Run(kEval + " golden --model " + kGolden + "/" + c);
    INFO(r.out);
    CHECK(r.status == 0);
    CHECK_THAT(LastLine(r.out), Catch::StartsWith("PASS"));
  }
}

TEST_CASE("gemma4-eval golden fails, with FAIL last and exit 1, on a golden of another model", "[cli]") {
  const Result r = Run(kEval + " golden --model " + kGolden + "/moe_26b_like --golden " + kGolden +
                       "/dense_31b_like/golden.safetensors");
  INFO(r.out);
  CHECK(r.status == 1);
  CHECK_THAT(LastLine(r.out), Catch::StartsWith("FAIL"));
}

TEST_CASE("gemma4-eval and gemma4-bench refuse bad input in one line", "[cli]") {
  for (const std::string& cmd : {kEval + " nonsense", kEval + " golden --model " + kGolden + "/e2b_like --golden /no/such",
                                 kBench + " --random 7b", kBench + " -p 0"}) {
    const Result r = Run(cmd);
    INFO(cmd << " → " << r.out);
    CHECK(r.status != 0);
    CHECK(Lines(r.out) == 1);
  }
}

TEST_CASE("gemma4-eval describe: the engine's geometry, parameters and KV bytes of a released shape", "[cli]") {
  const Result r = Run(kEval + " describe --random e2b -c 100 -c 131072 2>/dev/null");
  REQUIRE(r.status == 0);
  const nlohmann::json d = nlohmann::json::parse(r.out);
  const auto& layers = d.at("layers");
  REQUIRE(layers.size() == 35);
  // docs/ARCHITECTURE.md: the KV-shared layers 15..34 read layer 13 (sliding) or 14 (full) and keep no K/V
  CHECK(layers[15]["kv_source"] == 13);
  CHECK(layers[19]["kv_source"] == 14);
  CHECK(layers[14]["kv_source"] == 14);
  CHECK(layers[20]["kv_bytes_per_position"] == 0);
  CHECK(layers[20]["mlp_intermediate_size"] == 12288);
  // layer 0 counted by hand: q 8x256, k and v 1x256, o; q/k norms 256; MLP 3 x 1536x6144; 4 norms, the scalar;
  // PLE gate and projection 1536x256 and their norm 1536
  const int64_t H = 1536;
  CHECK(layers[0]["params"] == 8 * 256 * H + 2 * 256 * H + H * 8 * 256 + 2 * 256 + 3 * H * 6144 + 4 * H + 1 + 2 * H * 256 + H);
  // read per token: the PLE table (262144 x 35·256) only one row, the tied embedding whole again as the head
  const int64_t table = int64_t(262144) * 35 * 256, embed = int64_t(262144) * H;
  CHECK(d["params"]["by_part"]["model.embed_tokens_per_layer"] == table);
  CHECK(d["params_read_per_token"]["total"].get<int64_t>() ==
        d["params"]["total"].get<int64_t>() - table + 35 * 256 + H);
  CHECK(d["params_read_per_token"]["by_part"]["model.embed_tokens"] == embed + H);
  // KV bytes (f32 K and V): 12 own sliding layers of 1x256 hold min(n, 512), 3 own full layers of 1x512 hold n
  const auto kv = d["kv_cache_bytes"];
  CHECK(kv["context"] == nlohmann::json::array({100, 131072}));
  CHECK(kv["as_built"][0] == 8 * (12 * 256 * 100 + 3 * 512 * 100));
  CHECK(kv["as_built"][1] == int64_t(8) * (12 * 256 * 512 + 3 * 512 * 131072));
  CHECK(kv["no_window_bound"][1] == int64_t(8) * (12 * 256 + 3 * 512) * 131072);
  CHECK(kv["no_kv_sharing"][1] == int64_t(8) * (28 * 256 * 512 + int64_t(7) * 512 * 131072));
  CHECK(kv["neither"][1] == int64_t(8) * (28 * 256 + 7 * 512) * 131072);

  // MoE: 8 of 128 experts read per token
  const Result moe = Run(kEval + " describe --random 26b-a4b -c 1024 2>/dev/null");
  REQUIRE(moe.status == 0);
  const nlohmann::json m = nlohmann::json::parse(moe.out);
  CHECK(m["moe"]["top_k_experts"] == 8);
  const int64_t stored = m["layers"][0]["params"], read = m["layers"][0]["params_read_per_token"];
  const int64_t experts = 128 * (2 * 704 * 2816 + 2816 * 704);
  CHECK(stored - read == experts - experts / 16);

  // a checkpoint directory, and the embedded model, by their config alone
  CHECK(Run(kEval + " describe -m " + kGolden + "/trained_moe").status == 0);
  CHECK(Run(kEval + " describe").status == 0);
  for (const std::string& bad : {kEval + " describe --random 7b", kEval + " describe -c 0",
                                 kEval + " describe --random e2b -m " + kGolden + "/e2b_like",
                                 kEval + " describe -m /no/such/model"}) {
    const Result e = Run(bad);
    INFO(bad << " → " << e.out);
    CHECK(e.status == 1);
    CHECK(Lines(e.out) == 1);
  }
}

TEST_CASE("gemma4-bench measures the embedded model", "[cli]") {
  const Result r = Run(kBench + " -p 8 -n 4 -r 1 -t 1");
  INFO(r.out);
  CHECK(r.status == 0);
  CHECK_THAT(r.out, Catch::Contains("decode") && Catch::Contains("tok/s"));
}

namespace {

// The golden's short-prompt logits, and ways to write a candidate's logits to disk.
struct Logits {
  std::vector<float> data;
  size_t rows = 0, vocab = 0;
};

Logits GoldenLogits(const std::string& golden, const std::string& prompt) {
  const gemma4::SafetensorsFile st = gemma4::ReadSafetensors(golden);
  const gemma4::Tensor& t = st.tensors.at(prompt + ".logits");
  Logits l{std::vector<float>(size_t(t.numel())), size_t(t.shape[0]), size_t(t.shape[1])};
  std::memcpy(l.data.data(), t.data, t.nbytes);
  return l;
}

void WriteRaw(const std::string& path, const Logits& l) {
  FILE* f = fopen(path.c_str(), "wb");
  REQUIRE(f);
  fwrite(l.data.data(), 4, l.data.size(), f);
  fclose(f);
}

void WriteNpy(const std::string& path, const Logits& l) {
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + std::to_string(l.rows) + ", " +
                       std::to_string(l.vocab) + "), }";
  header.append(64 - (10 + header.size() + 1) % 64, ' ');
  header += '\n';
  FILE* f = fopen(path.c_str(), "wb");
  REQUIRE(f);
  const unsigned char magic[8] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0};
  const uint16_t len = uint16_t(header.size());
  fwrite(magic, 1, 8, f);
  fwrite(&len, 2, 1, f);
  fwrite(header.data(), 1, header.size(), f);
  fwrite(l.data.data(), 4, l.data.size(), f);
  fclose(f);
}

std::string TempPath(const std::string& name) { return "/tmp/gemma4-test-cli-" + std::to_string(getpid()) + "-" + name; }

const std::string kE2bGolden = kGolden + "/e2b_like/golden.safetensors";

}  // namespace

TEST_CASE("gemma4-eval compare passes the golden's own logits in every format", "[cli][compare]") {
  const Logits l = GoldenLogits(kE2bGolden, "short");
  const std::string raw = TempPath("ok.bin"), npy = TempPath("ok.npy");
  WriteRaw(raw, l);
  WriteNpy(npy, l);
  for (const std::string& file : {raw, npy, kE2bGolden + ":short.logits"})
    for (const char* tier : {"f32", "bf16", "q8", "q4"}) {
      const Result r = Run(kEval + " compare --golden " + kE2bGolden + " --logits " + file + " --tier " + tier);
      INFO(file << " " << tier << ": " << r.out);
      CHECK(r.status == 0);
      CHECK_THAT(LastLine(r.out), Catch::StartsWith("PASS [tier " + std::string(tier) + "]"));
    }
  std::remove(raw.c_str());
  std::remove(npy.c_str());
}

TEST_CASE("gemma4-eval compare catches a perturbed position, a x16 scale bug and a shifted position", "[cli][compare]") {
  const Logits good = GoldenLogits(kE2bGolden, "short");
  const std::string file = TempPath("bad.bin");
  auto judge = [&](const Logits& l, const std::string& tier) {
    WriteRaw(file, l);
    return Run(kEval + " compare --golden " + kE2bGolden + " --logits " + file + " --tier " + tier);
  };
  Logits perturbed = good;  // one position off by up to ±1 (a bug in one cache slot, say)
  for (size_t v = 0; v < good.vocab; ++v) perturbed.data[5 * good.vocab + v] += float((v * 7919) % 200) / 100.0f - 1.0f;
  Result r = judge(perturbed, "f32");
  INFO(r.out);
  CHECK(r.status == 1);
  CHECK_THAT(LastLine(r.out), Catch::StartsWith("FAIL"));
  CHECK_THAT(r.out, Catch::Contains("at row 5,"));  // the first position where the tolerance breaks

  Logits scaled = good;  // a missing 1/16 somewhere
  for (float& x : scaled.data) x *= 16.0f;
  for (const char* tier : {"f32", "bf16", "q8", "q4"}) {
    r = judge(scaled, tier);
    INFO(tier << ": " << r.out);
    CHECK(r.status == 1);
    CHECK_THAT(LastLine(r.out), Catch::StartsWith("FAIL"));
  }

  Logits shifted = good;  // every row one position late
  for (size_t t = 1; t < good.rows; ++t)
    std::copy(good.data.begin() + long((t - 1) * good.vocab), good.data.begin() + long(t * good.vocab),
              shifted.data.begin() + long(t * good.vocab));
  for (const char* tier : {"f32", "bf16", "q8", "q4"}) {
    r = judge(shifted, tier);
    INFO(tier << ": " << r.out);
    CHECK(r.status == 1);
    CHECK_THAT(LastLine(r.out), Catch::StartsWith("FAIL"));
  }
  std::remove(file.c_str());
}

TEST_CASE("gemma4-eval dump of our engine passes compare at tier f32 and the golden check", "[cli][compare]") {
  const std::string out = TempPath("dump.safetensors");
  Result r = Run(kEval + " dump --model " + kGolden + "/moe_26b_like --prompt-ids 2,71,68,408,257,303,309,365,17,250,78,207 --out " + out);
  INFO(r.out);
  REQUIRE(r.status == 0);
  const std::string golden = kGolden + "/moe_26b_like/golden.safetensors";
  r = Run(kEval + " compare --golden " + golden + " --logits " + out + ":p0.logits --capture hidden_states=" + out +
          ":p0.hidden_states --capture final_norm=" + out + ":p0.final_norm --capture router_probs=" + out +
          ":p0.router_probs --tier f32");
  INFO(r.out);
  CHECK(r.status == 0);
  CHECK_THAT(LastLine(r.out), Catch::StartsWith("PASS [tier f32] 11 of 11"));
  // the dump is itself a golden file: our engine passes it
  r = Run(kEval + " golden --model " + kGolden + "/moe_26b_like --golden " + out);
  INFO(r.out);
  CHECK(r.status == 0);
  CHECK_THAT(LastLine(r.out), Catch::StartsWith("PASS"));
  std::remove(out.c_str());
}

TEST_CASE("gemma4-eval compare refuses mismatched input in one line", "[cli][compare]") {
  Logits l = GoldenLogits(kE2bGolden, "short");
  l.data.resize(l.data.size() - l.vocab / 2);  // not whole rows
  const std::string file = TempPath("half.bin");
  WriteRaw(file, l);
  for (const std::string& args : std::vector<std::string>{" --logits " + file, " --logits /no/such/file.npy",
                                  " --logits " + kE2bGolden + ":short.logits --tier q3",
                                  " --logits " + kE2bGolden + ":short.logits --capture hidden_states=" + file}) {
    const Result r = Run(kEval + " compare --golden " + kE2bGolden + args);
    INFO(args << " → " << r.out);
    CHECK(r.status != 0);
    CHECK(Lines(r.out) == 1);
  }
  std::remove(file.c_str());
}

TEST_CASE("gemma4-eval ppl: perplexity, a base file, KL against it, one-line errors", "[cli][ppl]") {
  const std::string ids = TempPath("ids.txt"), base = TempPath("base.kld");
  {
    FILE* f = std::fopen(ids.c_str(), "w");
    REQUIRE(f != nullptr);
    for (int i = 0; i < 120; ++i) std::fprintf(f, "%d%s", (i * 37 + 11) % 512, i % 10 == 9 ? "\n" : ", ");
    std::fclose(f);
  }
  Result r = Run(kEval + " ppl --ids-file " + ids + " -c 32");
  INFO(r.out);
  REQUIRE(r.status == 0);
  CHECK_THAT(r.out, Catch::Contains("scored 119, method strided: ctx 32, stride 16"));
  CHECK_THAT(LastLine(r.out), Catch::StartsWith("ppl "));
  // a base file: llama.cpp's method and layout; its size said before it is written
  r = Run(kEval + " ppl --ids-file " + ids + " -c 32 --save-base " + base);
  INFO(r.out);
  REQUIRE(r.status == 0);
  CHECK_THAT(r.out, Catch::Contains(base + ": 3 chunks x 15 scored tokens x 512 log-probabilities in 16 bits = 45.7 KiB"));
  CHECK_THAT(r.out, Catch::Contains("scored 45, method llama: chunks of 32, the second half scored"));
  CHECK(access((base + ".tmp").c_str(), F_OK) != 0);
  r = Run(kEval + " ppl --ids-file " + ids + " -c 32 --kl-base " + base + " -t 1");
  INFO(r.out);
  CHECK(r.status == 0);
  CHECK_THAT(r.out, Catch::Contains("| top-1 agreement 100.00%"));
  CHECK(std::stod(r.out.substr(r.out.find("KL mean ") + 8)) < 1e-4);
  r = Run(kEval + " ppl --model " + kGolden + "/moe_26b_like --ids-file " + ids + " -c 32 --kl-base " + base);
  INFO(r.out);
  CHECK(r.status == 0);
  CHECK(std::stod(r.out.substr(r.out.find("KL mean ") + 8)) > 1e-3);
  // text through a tokenizer: the tiny tokenizer's ids of the text, scored the same as those ids
  const std::string text = TempPath("text.txt"), tiny = std::string(GEMMA4_SOURCE_DIR) + "/tests/tokenizer/tiny_tokenizer.json";
  {
    FILE* f = std::fopen(text.c_str(), "w");
    REQUIRE(f != nullptr);
    for (int i = 0; i < 20; ++i) std::fputs("hello world, the model reads this text.\n", f);
    std::fclose(f);
  }
  r = Run(kRun + " --tokenizer " + tiny + " --tokenize -f " + text);
  REQUIRE(r.status == 0);
  {
    FILE* f = std::fopen(ids.c_str(), "w");
    REQUIRE(f != nullptr);
    std::fputs(r.out.c_str(), f);
    std::fclose(f);
  }
  const Result by_text = Run(kEval + " ppl -f " + text + " --tokenizer " + tiny + " -c 32 -t 1"),
               by_ids = Run(kEval + " ppl --ids-file " + ids + " -c 32 -t 1");
  INFO(by_text.out << "\n" << by_ids.out);
  CHECK(by_text.status == 0);
  CHECK(LastLine(by_text.out) == LastLine(by_ids.out));
  CHECK(Run(kEval + " ppl -f " + text).status != 0);  // the embedded model has no tokenizer
  std::remove(text.c_str());
  for (const std::string& args : std::vector<std::string>{" --ids-file /no/such", " --ids-file " + ids + " -c 16 --kl-base " + base,
                                  " --ids-file " + ids + " --kl-base " + ids, " --ids-file " + ids + " --stride 99 -c 32",
                                  " --ids-file " + ids + " --method strided --kl-base " + base,
                                  " --ids-file " + ids + " --method nope", " --ids-file " + ids + " -c 5000 --save-base " + base + "2"}) {
    r = Run(kEval + " ppl" + args);
    INFO(args << " → " << r.out);
    CHECK(r.status != 0);
    CHECK(Lines(r.out) == 1);
  }
  std::remove(ids.c_str());
  std::remove(base.c_str());
}

TEST_CASE("gemma4-eval golden --draft checks a drafter on its target", "[cli][speculative]") {
  Result r = Run(kEval + " golden --model " + kGolden + "/e2b_like --draft " + kGolden + "/assistant -t 1");
  INFO(r.out);
  CHECK(r.status == 0);
  CHECK_THAT(LastLine(r.out), Catch::StartsWith("PASS"));
  CHECK_THAT(r.out, Catch::Contains("long.draft_layer_hidden[3]"));
  // the wrong target: refused in one line, naming both geometries
  r = Run(kEval + " golden --model " + kGolden + "/dense_31b_like --draft " + kGolden + "/assistant -t 1");
  CHECK(r.status != 0);
  CHECK(Lines(r.out) == 1);
  CHECK_THAT(r.out, Catch::Contains("KV heads"));
  r = Run(kEval + " golden --draft " + kGolden + "/assistant");  // which target?
  CHECK(r.status != 0);
  CHECK_THAT(r.out, Catch::Contains("--model"));
}

TEST_CASE("gemma4-run --draft prints the same tokens as without, then the speculative statistics", "[cli][speculative]") {
  const std::string common = " -m " + kGolden + "/e2b_like -n 24 -t 1";
  const Result plain = Run(kRun + common), spec = Run(kRun + common + " --draft " + kGolden + "/assistant --draft-max 3");
  INFO(plain.out << "\n" << spec.out);
  CHECK(spec.status == 0);
  CHECK(spec.out.substr(0, spec.out.find('\n')) == plain.out.substr(0, plain.out.find('\n')));
  CHECK_THAT(spec.out, Catch::Contains("drafted ") && Catch::Contains("acceptance") && Catch::Contains("tokens per forward"));
  CHECK(Run(kRun + common + " --draft " + kGolden + "/assistant --draft-max 0").status != 0);
  // text in, text out, and a chat: the same replies with and without the drafter
  const std::string text = common + " --tokenizer " + std::string(GEMMA4_SOURCE_DIR) + "/tests/tokenizer/tiny_tokenizer.json";
  const Result plain_text = Run(kRun + text + " -p 'hello world' --print-ids"),
               spec_text = Run(kRun + text + " -p 'hello world' --print-ids --draft " + kGolden + "/assistant");
  INFO(plain_text.out << "\n" << spec_text.out);
  CHECK(spec_text.status == 0);
  CHECK(spec_text.out.substr(0, spec_text.out.find('\n')) == plain_text.out.substr(0, plain_text.out.find('\n')));
  const Result plain_chat = Run("printf 'hello\\nworld again\\n' | " + kRun + text + " -i --print-ids"),
               spec_chat = Run("printf 'hello\\nworld again\\n' | " + kRun + text + " -i --print-ids --draft " + kGolden +
                               "/assistant --draft-max 2");
  INFO(plain_chat.out << "\n" << spec_chat.out);
  CHECK(spec_chat.status == 0);
  auto replies = [](const std::string& out) {  // the lines of ids, without the stats lines
    std::string ids;
    for (size_t at = 0; at < out.size();) {
      const size_t end = std::min(out.find('\n', at), out.size());
      const std::string line = out.substr(at, end - at);
      if (line.find("tok/s") == std::string::npos && line.find("speculative:") == std::string::npos) ids += line + "\n";
      at = end + 1;
    }
    return ids;
  };
  CHECK(replies(spec_chat.out) == replies(plain_chat.out));
  CHECK_THAT(spec_chat.out, Catch::Contains("speculative: draft-max 2"));
}

TEST_CASE("gemma4-bench --verify-cost prints k = 1..8, as a table or JSON", "[cli][speculative]") {
  Result r = Run(kBench + " --verify-cost -p 16 -r 1 -t 1");
  INFO(r.out);
  CHECK(r.status == 0);
  CHECK_THAT(r.out, Catch::Contains("x decode step"));
  r = Run(kBench + " --verify-cost --json -p 16 -r 1 -t 1");
  CHECK(r.status == 0);
  const nlohmann::json j = nlohmann::json::parse(r.out);
  REQUIRE(j["verify"].size() == 8);
  CHECK(j["verify"][7]["k"] == 8);
  CHECK(j["decode_ms"].get<double>() > 0);
  CHECK(j["verify"][0]["relative"].get<double>() > 0);
}

TEST_CASE("gemma4-bench --json prints one line with the speeds, memory, bandwidth and numerics", "[cli][numerics]") {
  const Result r = Run(kBench + " --json -p 8 -n 4 -r 1 -t 1");
  INFO(r.out);
  REQUIRE(r.status == 0);
  CHECK(Lines(r.out) == 1);
  const nlohmann::json j = nlohmann::json::parse(r.out);
  for (const char* key : {"prefill_tps", "decode_tps", "peak_rss_mb", "weight_bytes_per_token", "bandwidth_gbps",
                          "bandwidth_fraction"})
    CHECK(j.at(key).get<double>() > 0);
  // The embedded model is f32/bf16: fast (bench's default) has nothing to change, and says so.
  CHECK(j.at("numerics") == "exact (fast: no quantized matrices)");
}

TEST_CASE("every tool takes --numerics exact|fast, says which it used, and refuses anything else", "[cli][numerics]") {
  const std::string gguf = TempPath("numerics.q8_0.gguf");
  struct Remove { std::string p; ~Remove() { std::remove(p.c_str()); } } remove{gguf};
  REQUIRE(Run(kQuantize + " " + kGolden + "/e2b_like " + gguf + " --type q8_0 -q").status == 0);
  Result r = Run(kRun + " -m " + gguf + " --prompt-ids 2,5,9 -n 3 -t 1");  // default: fast
  INFO(r.out);
  CHECK(r.status == 0);
  CHECK_THAT(r.out, Catch::Contains("numerics fast |"));
  r = Run(kRun + " -m " + gguf + " --prompt-ids 2,5,9 -n 3 -t 1 --numerics exact");
  CHECK_THAT(r.out, Catch::Contains("numerics exact |"));
  // gemma4-eval golden is exact by default (bit-identical to the f32 model of the dequantized weights);
  // --tier judges a quantized model or fast numerics statistically.
  r = Run(kEval + " golden --model " + gguf + " --golden " + kGolden + "/e2b_like/golden.safetensors --numerics fast --tier q8");
  CHECK_THAT(LastLine(r.out), Catch::Contains("[tier q8, numerics fast]"));
  r = Run(kEval + " golden --model " + kGolden + "/e2b_like --tier q8");
  CHECK(r.status == 0);
  CHECK_THAT(LastLine(r.out), Catch::StartsWith("PASS [tier q8, numerics exact]"));
  for (const std::string& cmd : {kRun + " --numerics quick -n 1", kBench + " --numerics quick", kEval + " golden --model " + kGolden + "/e2b_like --numerics quick",
                                 kEval + " ppl --numerics quick --ids-file x", kEval + " golden --model " + kGolden + "/e2b_like --tier q9"}) {
    r = Run(cmd);
    INFO(cmd << " → " << r.out);
    CHECK(r.status != 0);
    CHECK(Lines(r.out) == 1);
  }
}

TEST_CASE("gemma4-quantize writes a GGUF that gemma4-eval golden and gemma4-run accept", "[cli][gguf]") {
  const std::string out = TempPath("m.gguf");
  struct Remove { std::string p; ~Remove() { std::remove(p.c_str()); } } remove{out};
  Result r = Run(kQuantize + " " + kGolden + "/moe_26b_like " + out + " --type q8_0 -q");
  INFO(r.out);
  REQUIRE(r.status == 0);
  CHECK_THAT(r.out, Catch::Contains("norms"));                       // one line per category, with its type
  CHECK_THAT(r.out, Catch::Contains("F32"));
  CHECK_THAT(r.out, Catch::Contains("note: blk.0.ffn_down_exps.weight"));  // the F16 fall-back is said
  CHECK_THAT(r.out, Catch::Contains("made-up vocabulary"));
  r = Run(kQuantize + " " + kGolden + "/moe_26b_like " + out + " --type f32 -q");
  REQUIRE(r.status == 0);
  r = Run(kEval + " golden --model " + out + " --golden " + kGolden + "/moe_26b_like/golden.safetensors");
  CHECK(r.status == 0);
  CHECK(LastLine(r.out).rfind("PASS", 0) == 0);
  r = Run(kRun + " -m " + out + " -n 4 -t 1 --prompt-ids 2,71,68,408");
  CHECK(r.status == 0);
}

TEST_CASE("gemma4-quantize refuses bad input in one line and leaves no file", "[cli][gguf]") {
  const std::string a = TempPath("a.gguf");
  for (const std::string& args : {" " + kGolden + "/e2b_like " + a + " --type q2_k",
                                  " /no/such/dir " + a, " --random 7b " + a,
                                  " " + kGolden + "/e2b_like", " " + kGolden + "/e2b_like /no/such/dir/a.gguf"}) {
    const Result r = Run(kQuantize + args);
    INFO(args << " → " << r.out);
    CHECK(r.status != 0);
    CHECK(Lines(r.out) == 1);
  }
  CHECK(access(a.c_str(), F_OK) != 0);
  CHECK(access((a + ".tmp").c_str(), F_OK) != 0);
}

TEST_CASE("write errors name the user's path and the reason, never the temporary file", "[cli][gguf]") {
  Result r = Run(kQuantize + " " + kGolden + "/e2b_like /no/such/dir/a.gguf --type f32");
  INFO(r.out);
  CHECK(r.status == 1);
  CHECK_THAT(r.out, Catch::Contains("/no/such/dir/a.gguf: cannot create (No such file or directory)"));
  CHECK_THAT(r.out, !Catch::Contains(".tmp"));
  const std::string dir = TempPath("outdir");
  REQUIRE(std::system(("mkdir -p " + dir).c_str()) == 0);
  r = Run(kEval + " dump --prompt-ids 2,71,68 --greedy 0 --out " + dir);
  INFO(r.out);
  CHECK(r.status == 1);
  CHECK(Lines(r.out) == 1);
  CHECK_THAT(r.out, Catch::Contains(dir + ": is a directory"));
  CHECK(access((dir + ".tmp").c_str(), F_OK) != 0);
  r = Run(kEval + " dump --prompt-ids 2,71,68 --greedy 0 --out /no/such/dir/g.safetensors");
  INFO(r.out);
  CHECK_THAT(r.out, Catch::Contains("/no/such/dir/g.safetensors: cannot create (No such file or directory)"));
  std::system(("rm -rf " + dir).c_str());
}

TEST_CASE("gemma4-quantize's progress bar stays out of pipes and logs", "[cli][gguf]") {
  const std::string out = TempPath("bar.gguf");
  const Result r = Run(kQuantize + " " + kGolden + "/e2b_like " + out + " --type f32");  // no -q; stderr is a pipe
  INFO(r.out);
  CHECK(r.status == 0);
  CHECK(r.out.find('\r') == std::string::npos);
  CHECK(r.out.find("\033[") == std::string::npos);
  CHECK_THAT(r.out, Catch::Contains("wrote " + out));
  std::remove(out.c_str());
}

TEST_CASE("a config.json without a key that sets tensor shapes: the shape error names the default used", "[cli]") {
  nlohmann::json config = E2bLikeConfig();
  config["text_config"].erase("hidden_size");
  const std::string dir = ModelDir("nohidden", config, {});
  const Result r = Run(kRun + " -m " + dir + " -n 1");
  INFO(r.out);
  CHECK(r.status == 1);
  CHECK(Lines(r.out) == 1);
  CHECK_THAT(r.out, Catch::Contains("has shape") &&
                        Catch::Contains(dir + "/config.json lacks keys that set tensor shapes; defaults used: hidden_size = "));
  std::system(("rm -rf " + dir).c_str());
}

TEST_CASE("gemma4-quantize killed mid-write or out of disk: the old file stays, no .tmp is left", "[cli][gguf][real-file]") {
  const std::string out = TempPath("killed.gguf");
  struct Remove { std::string p; ~Remove() { std::remove(p.c_str()); std::remove((p + ".tmp").c_str()); } } remove{out};
  auto write_old = [&] {
    FILE* f = std::fopen(out.c_str(), "wb");
    REQUIRE(f != nullptr);
    std::fputs("old", f);
    std::fclose(f);
  };
  auto content = [&] {
    FILE* f = std::fopen(out.c_str(), "rb");
    if (!f) return std::string("(absent)");
    char buf[16] = {};
    const size_t n = std::fread(buf, 1, sizeof buf - 1, f);
    std::fclose(f);
    return std::string(buf, n);
  };
  // Killed by SIGTERM / SIGINT once OUTPUT.tmp has bytes (a real-shape random E2B takes minutes to write).
  // set -m: the background job gets SIGINT delivered (a shell without job control would start it ignored).
  for (const char* sig : {"TERM", "INT"}) {
    write_old();
    const Result r = Run("bash -c 'set -m; " + kQuantize + " --random e2b " + out + " --type f32 -q -t 1 & pid=$!; "
                         "for i in $(seq 600); do [ -s " + out + ".tmp ] && break; sleep 0.05; done; "
                         "kill -" + sig + " $pid; wait $pid; echo status=$?'");
    INFO(sig << ": " << r.out);
    CHECK_THAT(r.out, Catch::Contains(std::string("status=") + (std::string(sig) == "TERM" ? "143" : "130")));
    CHECK(content() == "old");
    CHECK(access((out + ".tmp").c_str(), F_OK) != 0);
  }
  // Out of disk: a file size limit of 64 KiB makes the write fail (EFBIG, SIGXFSZ ignored) part-way.
  write_old();
  Result r = Run("bash -c 'ulimit -f 64; trap \"\" XFSZ; exec " + kQuantize + " " + kGolden + "/e2b_like " + out +
                 " --type f32 -q'");
  INFO(r.out);
  CHECK(r.status == 1);
  CHECK(Lines(r.out) == 1);
  CHECK_THAT(r.out, Catch::Contains(out + ": write failed (File too large)"));
  CHECK(content() == "old");
  CHECK(access((out + ".tmp").c_str(), F_OK) != 0);
  // and with no old file, none appears
  std::remove(out.c_str());
  r = Run("bash -c 'ulimit -f 64; trap \"\" XFSZ; exec " + kQuantize + " " + kGolden + "/e2b_like " + out + " --type f32 -q'");
  CHECK(r.status == 1);
  CHECK(content() == "(absent)");
  CHECK(access((out + ".tmp").c_str(), F_OK) != 0);
}

// --override / --ablate (gemma4/study.h, gemma4/ablations.h) on the trained models: each changes the result,
// the unmodified path is the plain run, a bad one is one line and exit 1.
TEST_CASE("gemma4-eval ppl --override/--ablate: each changes perplexity and reports the change in one line", "[cli][study]") {
  const std::string e2b = " ppl -m " + kGolden + "/trained_e2b -f " + kGolden + "/train/valid.txt -c 64 --chunks 2 -t 1",
                    moe = " ppl -m " + kGolden + "/trained_moe -f " + kGolden + "/train/valid.txt -c 64 --chunks 2 -t 1";
  const Result plain = Run(kEval + e2b), plain_moe = Run(kEval + moe);
  INFO(plain.out << plain_moe.out);
  REQUIRE(plain.status == 0);
  REQUIRE(plain_moe.status == 0);
  const double base = std::stod(LastLine(plain.out).substr(4)), base_moe = std::stod(LastLine(plain_moe.out).substr(4));
  for (const auto& [cmd, what] : std::vector<std::pair<std::string, std::string>>{
           {e2b + " --override sliding_window=4", "sliding_window=4"},
           {e2b + " --override final_logit_softcapping=0", "final_logit_softcapping=0"},
           {e2b + " --ablate ple", "ablate ple"},
           {e2b + " --ablate skip_layer=2", "ablate skip_layer=2"},
           {e2b + " --ablate skip_layer=7", "ablate skip_layer=7"},
           {moe + " --override top_k_experts=1", "top_k_experts=1"},
           {moe + " --ablate zero_expert=3", "ablate zero_expert=3"},
           {moe + " --ablate zero_expert=0:3", "ablate zero_expert=0:3"},
           {moe + " --override sliding_window=8 --ablate skip_layer=1", "sliding_window=8, ablate skip_layer=1"}}) {
    const Result r = Run(kEval + cmd);
    INFO(cmd << " → " << r.out);
    REQUIRE(r.status == 0);
    const std::string last = LastLine(r.out);
    CHECK_THAT(last, Catch::StartsWith("ppl ") && Catch::EndsWith(" with " + what));
    // "ppl A -> B (+x%) with ...": A is the unmodified run's perplexity, B differs from it
    const double a = std::stod(last.substr(4)), b = std::stod(last.substr(last.find("-> ") + 3));
    const double expect = cmd.find("trained_moe") != std::string::npos ? base_moe : base;
    CHECK(std::abs(a - expect) < 1e-4 * expect);
    CHECK(std::abs(b - a) > 1e-4 * a);
  }
  // full_attention on a text shorter than the window changes nothing; on windows of 64 > W = 32 it does
  Result r = Run(kEval + e2b + " --ablate full_attention");
  INFO(r.out);
  REQUIRE(r.status == 0);
  CHECK_THAT(LastLine(r.out), !Catch::Contains("(+0.0%)"));
  r = Run(kEval + " ppl -m " + kGolden + "/trained_e2b -f " + kGolden + "/train/valid.txt -c 16 --chunks 1 -t 1 --ablate full_attention");
  INFO(r.out);
  CHECK_THAT(LastLine(r.out), Catch::Contains("(+0.0%)"));
  const double a = std::stod(LastLine(r.out).substr(4)), b = std::stod(LastLine(r.out).substr(LastLine(r.out).find("-> ") + 3));
  CHECK(a == b);
}

TEST_CASE("every tool takes --override and --ablate: a bad one is one line naming it and exit 1", "[cli][study]") {
  const std::string e2b = " -m " + kGolden + "/trained_e2b", moe = " -m " + kGolden + "/trained_moe";
  // the unmodified path: the same tokens as before, with and without an override that changes nothing
  const std::string prompt = " --prompt-ids 2,100,200,300 -n 8 -t 1";
  const Result plain = Run(kRun + e2b + prompt), same = Run(kRun + e2b + prompt + " --override sliding_window=32"),
               changed = Run(kRun + e2b + prompt + " --ablate skip_layer=0");
  INFO(plain.out << same.out << changed.out);
  REQUIRE(plain.status == 0);
  CHECK(plain.out.substr(0, plain.out.find('\n')) == same.out.substr(0, same.out.find('\n')));
  CHECK(plain.out.substr(0, plain.out.find('\n')) != changed.out.substr(0, changed.out.find('\n')));
  // every capture point (hidden states, logits) of a no-op override is the plain run's, byte for byte
  const std::string d1 = TempPath("plain.safetensors"), d2 = TempPath("noop.safetensors"), d3 = TempPath("ablated.safetensors");
  const std::string dump = kEval + " dump" + e2b + " --prompt-ids 2,100,200,300,400 --greedy 4 -t 1 -o ";
  REQUIRE(Run(dump + d1).status == 0);
  REQUIRE(Run(dump + d2 + " --override sliding_window=32 --override final_logit_softcapping=30").status == 0);
  REQUIRE(Run(dump + d3 + " --ablate zero_expert=0 --override top_k_experts=1").status == 1);  // e2b has no MoE
  REQUIRE(Run(dump + d3 + " --ablate skip_layer=9").status == 0);
  auto bytes = [](const std::string& path) {
    FILE* f = std::fopen(path.c_str(), "rb");
    std::string b;
    char buf[65536];
    size_t n;
    while (f && (n = std::fread(buf, 1, sizeof buf, f)) > 0) b.append(buf, n);
    if (f) std::fclose(f);
    return b;
  };
  CHECK(bytes(d1).size() > 1000);
  CHECK(bytes(d1) == bytes(d2));
  CHECK(bytes(d1) != bytes(d3));
  for (const std::string& d : {d1, d2, d3}) std::remove(d.c_str());
  // golden still passes unmodified, and fails when a mechanism is removed
  CHECK(Run(kEval + " golden" + e2b + " -t 1").status == 0);
  Result r = Run(kEval + " golden" + e2b + " -t 1 --ablate ple");
  INFO(r.out);
  CHECK(r.status == 1);
  CHECK_THAT(LastLine(r.out), Catch::StartsWith("FAIL"));
  r = Run(kBench + e2b + " -p 8 -n 4 -r 1 -t 1 --override sliding_window=4 --ablate full_attention");
  INFO(r.out);
  CHECK(r.status == 0);
  const std::string out = TempPath("override.gguf");
  r = Run(kQuantize + " " + kGolden + "/trained_e2b " + out + " --type f32 -q --override sliding_window=4");
  INFO(r.out);
  REQUIRE(r.status == 0);
  r = Run(kRun + " -m " + out + prompt + " --override sliding_window=32");  // the GGUF carries W = 4; back to 32
  INFO(r.out);
  CHECK(r.out.substr(0, r.out.find('\n')) == plain.out.substr(0, plain.out.find('\n')));
  CHECK(Run(kQuantize + " " + kGolden + "/trained_e2b " + out + " --ablate ple").status == 1);  // no config key to write
  std::remove(out.c_str());

  for (const auto& [args, says] : std::vector<std::pair<std::string, std::string>>{
           {kRun + e2b + " --override slidng_window=4", "unknown key 'slidng_window'"},
           {kRun + e2b + " --override sliding_window", "expected KEY=VALUE"},
           {kRun + e2b + " --override sliding_window=", "no value for 'sliding_window'"},
           {kRun + e2b + " --override sliding_window=abc", "field 'sliding_window' must be an integer"},
           {kRun + e2b + " --override sliding_window=0", "field 'sliding_window' must be >= 1, got 0"},
           {kRun + e2b + " --override final_logit_softcapping=-1", "field 'final_logit_softcapping' must be > 0 or null"},
           {kRun + e2b + " --override num_kv_shared_layers=0",
            "--override num_kv_shared_layers=0: layer 5 would compute its own K/V, but"},
           {kRun + e2b + " --override num_kv_shared_layers=11", "field 'num_kv_shared_layers'"},
           {kEval + " golden" + moe + " --override top_k_experts=9", "top_k_experts' is 9, more than num_experts 8"},
           {kRun + moe + " --override top_k_experts=0", "field 'top_k_experts' must be >= 1"},
           {kRun + e2b + " --ablate nope", "--ablate nope: unknown ablation"},
           {kRun + e2b + " --ablate skip_layer=x", "--ablate skip_layer=x: skip_layer takes a layer index"},
           {kRun + e2b + " --ablate skip_layer=10", "--ablate skip_layer=10: " + kGolden + "/trained_e2b has 10 layers"},
           {kRun + e2b + " --ablate zero_expert=1", "has no MoE block"},
           {kRun + moe + " --ablate zero_expert=8", "has 8 experts"},
           {kRun + moe + " --ablate ple", "--ablate ple: " + kGolden + "/trained_moe has no per-layer inputs"},
           {kBench + e2b + " --override top_k=1", "unknown key 'top_k'"},
           {kEval + " dump" + e2b + " --prompt-ids 2,3 -o /tmp/x.safetensors --override sliding_window=-3", "must be >= 1"},
           {kQuantize + " " + kGolden + "/trained_e2b /tmp/never.gguf --override num_kv_shared_layers=2", "has no K/V weights"}}) {
    const Result bad = Run(args);
    INFO(args << " → " << bad.out);
    CHECK(bad.status == 1);
    CHECK(Lines(bad.out) == 1);
    CHECK_THAT(bad.out, Catch::Contains(says));
  }
  CHECK(access("/tmp/never.gguf", F_OK) != 0);
}

TEST_CASE("every tool that runs a model takes --device cpu|cuda, and cuda without a CUDA build or a GPU is one line", "[cli][device]") {
  Result r = Run(kRun + " --prompt-ids 2,5,9 -n 3 -t 1 --device cpu");
  INFO(r.out);
  CHECK(r.status == 0);
  for (const std::string& cmd : {kRun + " --device tpu -n 1", kBench + " --device tpu",
                                 kEval + " golden --model " + kGolden + "/e2b_like --device tpu"}) {
    r = Run(cmd);
    INFO(cmd << " → " << r.out);
    CHECK(r.status == 1);
    CHECK(Lines(r.out) == 1);
    CHECK_THAT(r.out, Catch::Contains("--device: \"tpu\" is not one of cpu, cuda"));
  }
  // Here: no CUDA build (nvcc absent) or no usable GPU, each said in one line. On a GPU machine with a CUDA
  // build, the same command runs the golden check there (tests/test_cuda.cpp judges it).
  r = Run(kEval + " golden --model " + kGolden + "/e2b_like --device cuda");
  INFO(r.out);
  if (r.status != 0) {
    CHECK(r.status == 1);
    CHECK(Lines(r.out) == 1);
    CHECK_THAT(r.out, Catch::Contains("--device cuda: this build has no CUDA backend") ||
                          Catch::Contains("--device cuda: no CUDA device found ("));
  }
}
