// The tools as a user runs them: exit status, the last line, one-line errors.
#include <sys/wait.h>

#include <cstdio>
#include <string>

#include <catch2/catch.hpp>

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

const std::string kRun = GEMMA4_RUN, kEval = GEMMA4_EVAL, kBench = GEMMA4_BENCH, kGolden = GEMMA4_SOURCE_DIR "/golden";

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

TEST_CASE("gemma4-run: bad input is one line and a non-zero exit", "[cli]") {
  for (const std::string& args : {std::string(" --frobnicate"), std::string(" -m /nonexistent/model"),
                                  std::string(" --prompt-ids 2,999999"), std::string(" -c 4 --prompt-ids 2,3,4,5,6"),
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

TEST_CASE("gemma4-bench measures the embedded model", "[cli]") {
  const Result r = Run(kBench + " -p 8 -n 4 -r 1 -t 1");
  INFO(r.out);
  CHECK(r.status == 0);
  CHECK_THAT(r.out, Catch::Contains("decode") && Catch::Contains("tok/s"));
}
