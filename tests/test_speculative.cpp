// The MTP drafter against its goldens, and speculative decoding's promise: it never changes the output.
// Greedy: token-identical to plain greedy, with the same KV cache afterwards, whatever the drafter proposes
// (the real drafter, a constant one, a mostly-right one), past the sliding window. Sampling: the same
// distribution as plain sampling, by a chi-square test that a broken acceptance rule fails.
#include "gemma4/gemma4.h"  // first: ops/ops.h drives Highway's per-target compilation

#include <algorithm>
#include <atomic>
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "tests/test_util.h"
#include "tools/golden.h"
#include "tools/random_model.h"

using namespace gemma4;
using gemma4::test::GoldenDir;

namespace {

// Proposes the same token every time: almost everything is rejected.
struct ConstantDrafter : DraftSource {
  int32_t token;
  explicit ConstantDrafter(int32_t t) : token(t) {}
  void draft(const DraftContext&, size_t k, Sampler&, std::vector<int32_t>& tokens,
             std::vector<std::vector<double>>& q) override {
    tokens.assign(k, token);
    q.assign(k, std::vector<double>(size_t(vocab), 0.0));
    for (auto& row : q) row[size_t(token)] = 1.0;
  }
  int64_t vocab = 0;
};

// Knows the right continuation and proposes it, except that it gets every `wrong_every`-th draft position
// wrong: full acceptance, bonus tokens and partial acceptance all happen.
struct MostlyRightDrafter : DraftSource {
  std::vector<int32_t> truth;  // the plain greedy continuation
  size_t prompt_len = 0, wrong_every = 3, calls = 0;
  int64_t vocab = 0;
  void draft(const DraftContext& ctx, size_t k, Sampler&, std::vector<int32_t>& tokens,
             std::vector<std::vector<double>>& q) override {
    tokens.clear();
    q.assign(k, std::vector<double>(size_t(vocab), 0.0));
    const size_t next = ctx.position + 1 - prompt_len;  // index in truth of the token after ctx.token
    for (size_t j = 0; j < k; ++j) {
      int32_t t = next + j < truth.size() ? truth[next + j] : 0;
      if ((calls + j) % wrong_every == wrong_every - 1) t = int32_t((t + 1) % vocab);
      tokens.push_back(t);
      q[j][size_t(t)] = 1.0;
    }
    ++calls;
  }
};

// The positions a later step can read must hold identical K/V: every position of full layers, the last
// W + 1 of sliding ones (the drafter reads that many; the target W − 1).
void RequireSameCache(Gemma4Cache& a, Gemma4Cache& b, const Gemma4TextConfig& c) {
  REQUIRE(a.seq_length == b.seq_length);
  const size_t n = a.seq_length;
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    if (c.is_kv_shared_layer(i)) continue;
    LayerKV &x = a.layers[size_t(i)], &y = b.layers[size_t(i)];
    const size_t W = size_t(c.sliding_window);
    const size_t first = x.is_sliding && n > W + 1 ? n - W - 1 : 0;
    for (size_t pos = first; pos < n; ++pos) {
      INFO("layer " << i << " position " << pos);
      REQUIRE(std::memcmp(x.k_row(pos), y.k_row(pos), x.row * sizeof(float)) == 0);
      REQUIRE(std::memcmp(x.v_row(pos), y.v_row(pos), x.row * sizeof(float)) == 0);
    }
  }
}

// The drafter golden for a target case, if there is one.
std::string DrafterFor(const std::string& target_case) {
  for (const char* d : {"assistant", "assistant_31b", "assistant_12b", "trained_e2b-assistant"})
    if (ReadJsonFile(GoldenDir() + "/" + d + "/config.json").value("target_case", "") == target_case)
      return GoldenDir() + "/" + d;
  return "";
}

// Upper tail of the chi-square distribution, Q(df/2, x/2): the regularized upper incomplete gamma function
// by its series (x < a + 1) or its continued fraction (Lentz), in double.
double ChiSquareSurvival(double x, double df) {
  const double a = df / 2, z = x / 2;
  if (z <= 0) return 1.0;
  const double log_prefix = a * std::log(z) - z - std::lgamma(a);
  if (z < a + 1) {
    double term = 1.0 / a, sum = term;
    for (int n = 1; n < 10000 && term > sum * 1e-16; ++n) sum += (term *= z / (a + n));
    return 1.0 - sum * std::exp(log_prefix);
  }
  double b = z + 1 - a, c = 1e300, d = 1 / b, h = d;
  for (int i = 1; i < 10000; ++i) {
    const double an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (std::fabs(d) < 1e-300) d = 1e-300;
    c = b + an / c;
    if (std::fabs(c) < 1e-300) c = 1e-300;
    d = 1 / d;
    const double delta = d * c;
    h *= delta;
    if (std::fabs(delta - 1) < 1e-16) break;
  }
  return std::exp(log_prefix) * h;
}

// Pearson's chi-square of observed counts against exact probabilities; cells expected < 5 pooled.
// Returns the p-value.
double ChiSquarePValue(const std::map<std::vector<int32_t>, double>& expected_prob,
                       std::map<std::vector<int32_t>, size_t> observed, size_t draws) {
  double chi2 = 0, pooled_e = 0, pooled_o = 0;
  size_t cells = 0;
  for (const auto& [key, prob] : expected_prob) {
    const double e = prob * double(draws), o = double(observed[key]);
    observed.erase(key);
    if (e < 5) {
      pooled_e += e, pooled_o += o;
      continue;
    }
    chi2 += (o - e) * (o - e) / e;
    ++cells;
  }
  for (const auto& [key, o] : observed) pooled_o += double(o);  // outcomes of probability 0
  if (pooled_e > 0) {
    chi2 += (pooled_o - pooled_e) * (pooled_o - pooled_e) / pooled_e;
    ++cells;
  } else if (pooled_o > 0) {
    return 0.0;  // something impossible happened
  }
  return ChiSquareSurvival(chi2, double(cells - 1));
}

}  // namespace

TEST_CASE("the drafter goldens agree within their own tolerances", "[golden][assistant]") {
  for (const char* name : {"assistant", "assistant_31b", "assistant_12b"}) {
    INFO("drafter golden " << name);
    const std::string dir = GoldenDir() + "/" + name;
    const std::string target_case = ReadJsonFile(dir + "/config.json").at("target_case").get<std::string>();
    auto target = Gemma4ForCausalLM::from_pretrained(GoldenDir() + "/" + target_case);
    auto drafter = Gemma4AssistantForCausalLM::from_pretrained(dir);
    const golden::GoldenFile g(dir + "/golden.safetensors");
    const golden::Report report =
        golden::CheckDrafter(*target, *drafter, g, golden::TargetHiddenTolerance(GoldenDir() + "/" + target_case));
    size_t layer_rows = 0, logits_rows = 0;
    for (const golden::Comparison& c : report.rows) {
      INFO(c.name << ": max_abs " << c.max_abs << " (tolerance " << c.tol_abs << ") " << c.first_bad);
      CHECK(c.pass);
      layer_rows += c.name.find(".draft_layer_hidden[") != std::string::npos;
      logits_rows += c.name.find(".draft_logits") != std::string::npos;
    }
    CHECK(report.pass());
    CHECK(layer_rows == g.prompts.size() * drafter->model.layers.size());
    CHECK(logits_rows == g.prompts.size());
    // and the golden does fail when the sliding layers see the wrong window (W − 1, llama.cpp's): the check
    // can tell the two conventions apart
    CHECK(g.ints("long", "draft_tokens") != g.ints("long", "swa_causal.draft_tokens"));
  }
}

TEST_CASE("a drafter that does not fit the target is refused, naming both values", "[assistant]") {
  auto e2b = Gemma4ForCausalLM::from_pretrained(GoldenDir() + "/e2b_like");
  auto dense = Gemma4ForCausalLM::from_pretrained(GoldenDir() + "/dense_31b_like");
  auto assistant = Gemma4AssistantForCausalLM::from_pretrained(GoldenDir() + "/assistant");
  // same hidden size and vocabulary, different sliding K/V heads (1 vs 4)
  CHECK_THROWS_WITH(assistant->check_target(dense->config),
                    Catch::Contains("1 KV heads") && Catch::Contains("4 KV heads"));
  CHECK_THROWS_WITH(MtpDrafter(*assistant, dense->config), Catch::Contains("KV heads"));
  nlohmann::json config = ReadJsonFile(GoldenDir() + "/assistant/config.json");
  config["backbone_hidden_size"] = 48;
  Gemma4AssistantForCausalLM shape(ParseGemma4AssistantConfig(config, "cfg.json"));
  CHECK_THROWS_WITH(shape.check_target(e2b->config), Catch::Contains("backbone_hidden_size 48") && Catch::Contains("64"));
  // config errors name the field
  config = ReadJsonFile(GoldenDir() + "/assistant/config.json");
  config["num_centroids"] = 7;
  CHECK_THROWS_WITH(ParseGemma4AssistantConfig(config, "cfg.json"), Catch::Contains("'num_centroids'"));
  config = ReadJsonFile(GoldenDir() + "/assistant/config.json");
  config["text_config"].erase("vocab_size_per_layer_input");  // HF default 262144: not a drafter
  CHECK_THROWS_WITH(ParseGemma4AssistantConfig(config, "cfg.json"), Catch::Contains("'vocab_size_per_layer_input'"));
  config = ReadJsonFile(GoldenDir() + "/assistant/config.json");
  config["text_config"]["num_kv_shared_layers"] = 2;
  CHECK_THROWS_WITH(ParseGemma4AssistantConfig(config, "cfg.json"), Catch::Contains("'num_kv_shared_layers'"));
  config["text_config"].erase("num_kv_shared_layers");  // absent = all layers, as HF's __post_init__
  CHECK(ParseGemma4AssistantConfig(config, "cfg.json").text_config.num_kv_shared_layers == 4);
  // HF defaults
  const Gemma4AssistantConfig defaults = ParseGemma4AssistantConfig(
      {{"model_type", "gemma4_assistant"},
       {"text_config", {{"num_hidden_layers", 4}, {"hidden_size_per_layer_input", 0}, {"vocab_size_per_layer_input", 0}}}},
      "cfg.json");
  CHECK(defaults.backbone_hidden_size == 1536);
  CHECK_FALSE(defaults.use_ordered_embeddings);
  CHECK(defaults.num_centroids == 2048);
  CHECK(defaults.centroid_intermediate_top_k == 32);
}

TEST_CASE("greedy speculative decoding is token-identical to plain greedy, with the same KV cache", "[speculative]") {
  for (const std::string& name : test::GoldenTargetCases()) {
    auto lm = Gemma4ForCausalLM::from_pretrained(GoldenDir() + "/" + name);
    const Gemma4TextConfig& c = lm->config;
    const golden::GoldenFile g(GoldenDir() + "/" + name + "/golden.safetensors");
    // 32 new tokens after a 12-token prompt run far past the window (W = 8): the rings wrap and roll back;
    // the trained cases (W = 32) get W + 24
    const size_t n_new = std::max<size_t>(32, size_t(c.sliding_window) + 24);
    REQUIRE(size_t(c.sliding_window) < n_new);
    // the short prompt, or the long one where the short one's continuation reaches EOS within n_new tokens
    // (speculative decoding stops there, as generate() does; GreedyGenerate does not)
    std::vector<int32_t> prompt, expected;
    Session plain(*lm, 8);
    for (const char* p : {"short", "long"}) {
      prompt = g.ints(p, "input_ids");
      plain.reset();
      expected = GreedyGenerate(plain, prompt, n_new);
      if (std::none_of(expected.begin(), expected.end(), [&](int32_t t) { return c.is_eos(t); })) break;
    }
    INFO("prompt of " << prompt.size() << " tokens");
    REQUIRE(std::none_of(expected.begin(), expected.end(), [&](int32_t t) { return c.is_eos(t); }));
    std::unique_ptr<Gemma4AssistantForCausalLM> assistant;
    if (!DrafterFor(name).empty()) assistant = Gemma4AssistantForCausalLM::from_pretrained(DrafterFor(name));
    size_t rejected_somewhere = 0, accepted_somewhere = 0;
    for (size_t k = 1; k <= 6; ++k) {
      for (int kind = 0; kind < 3; ++kind) {
        INFO("case " << name << ", draft-max " << k << ", drafter " << (kind == 0 ? "MTP" : kind == 1 ? "constant" : "mostly right"));
        ConstantDrafter constant(int32_t(prompt.back()));
        constant.vocab = c.vocab_size;
        MostlyRightDrafter right;
        right.truth = expected, right.prompt_len = prompt.size(), right.vocab = c.vocab_size, right.wrong_every = 2 + k % 3;
        std::unique_ptr<MtpDrafter> mtp;
        if (kind == 0) {
          if (!assistant) continue;
          mtp = std::make_unique<MtpDrafter>(*assistant, c);
        }
        DraftSource& drafter = kind == 0 ? static_cast<DraftSource&>(*mtp)
                                         : kind == 1 ? static_cast<DraftSource&>(constant) : right;
        Session session(*lm, 8);
        Sampler sampler(SamplingParams{});
        std::vector<int32_t> got;
        const SpeculativeStats st = SpeculativeGenerate(session, drafter, prompt, n_new, k, sampler, [&](int32_t t) {
          got.push_back(t);
          return true;
        });
        REQUIRE(got == expected);
        CHECK(st.generated == n_new);
        CHECK(st.target_forwards >= (n_new - 1 + k) / (k + 1));
        CHECK(st.accepted <= st.drafted);
        RequireSameCache(session.cache, plain.cache, c);
        rejected_somewhere += st.accepted < st.drafted;
        accepted_somewhere += st.accepted;
        if (kind == 2) CHECK(st.accepted > 0);
        if (kind == 2) CHECK(st.accepted < st.drafted);
      }
    }
    CHECK(rejected_somewhere > 0);
    CHECK(accepted_somewhere > 0);
  }
}

TEST_CASE("speculative decoding continues a session that already holds an earlier turn", "[speculative]") {
  auto lm = Gemma4ForCausalLM::from_pretrained(GoldenDir() + "/e2b_like");
  const std::vector<int32_t> turn1 = {2, 71, 68, 408, 257}, turn2 = {303, 309, 365, 17};
  Session plain(*lm, 8);
  plain.prefill(turn1.data(), turn1.size());
  const std::vector<int32_t> expected = GreedyGenerate(plain, turn2, 20);
  MostlyRightDrafter right;
  right.truth = expected, right.prompt_len = turn1.size() + turn2.size(), right.vocab = lm->config.vocab_size;
  Session session(*lm, 8);
  session.prefill(turn1.data(), turn1.size());
  Sampler sampler(SamplingParams{});
  std::vector<int32_t> got;
  const SpeculativeStats st = SpeculativeGenerate(session, right, turn2, 20, 4, sampler, [&](int32_t t) {
    got.push_back(t);
    return true;
  });
  CHECK(got == expected);
  CHECK(st.accepted > 0);
  RequireSameCache(session.cache, plain.cache, lm->config);
}

TEST_CASE("SpeculativeGenerateFn feeds a long prompt in chunks as Generate does, and an interrupt drops it",
          "[speculative]") {
  auto lm = Gemma4ForCausalLM::from_pretrained(GoldenDir() + "/e2b_like");
  const std::vector<int32_t> turn1 = {2, 71, 68, 408, 257};
  std::vector<int32_t> turn2;  // 3 chunks of the session's 8 tokens and a part
  for (int32_t i = 0; i < 27; ++i) turn2.push_back(int32_t((i * 37 + 11) % lm->config.vocab_size));
  Session plain(*lm, 8);
  plain.prefill(turn1.data(), turn1.size());
  const std::vector<int32_t> expected = GreedyGenerate(plain, turn2, 12);
  REQUIRE(std::none_of(expected.begin(), expected.end(), [&](int32_t t) { return lm->config.is_eos(t); }));
  MostlyRightDrafter right;
  right.truth = expected, right.prompt_len = turn1.size() + turn2.size(), right.vocab = lm->config.vocab_size;
  SpeculativeStats totals;
  const GenerateFn generate = SpeculativeGenerateFn(right, 4, &totals);
  Sampler sampler(SamplingParams{});
  GenerateOptions options;
  options.max_new_tokens = 12;
  Session session(*lm, 8);
  session.prefill(turn1.data(), turn1.size());
  std::vector<int32_t> history = turn1, got;
  SECTION("as plain greedy decoding") {
    const GenerateResult r = generate(session, sampler, history, turn2, options, [&](int32_t t) {
      got.push_back(t);
      return true;
    });
    CHECK(got == expected);
    CHECK(r.prompt_fed == turn2.size());
    CHECK(totals.accepted > 0);
  }
  SECTION("Ctrl-C before the prompt: nothing fed, the session as before") {
    std::atomic<bool> interrupt{true};
    options.interrupt = &interrupt;
    const GenerateResult r = generate(session, sampler, history, turn2, options, [&](int32_t t) {
      got.push_back(t);
      return true;
    });
    CHECK(r.interrupted);
    CHECK(r.prompt_fed == 0);
    CHECK(r.generated == 0);
    CHECK(got.empty());
    CHECK(history == turn1);
    CHECK(session.position() == turn1.size());
  }
}

TEST_CASE("speculative sampling draws from the target's distribution (chi-square, false failure <= 1e-6)",
          "[speculative]") {
  // A tiny target (V = 16) and a random MTP drafter for it. Temperature 0.5 sharpens the near-uniform
  // random logits so p and q differ but overlap: about 40% of drafts are accepted, so acceptance,
  // rejection with resampling and bonus tokens all happen.
  const nlohmann::json target_config = {
      {"model_type", "gemma4_text"}, {"vocab_size", 16}, {"hidden_size", 32}, {"intermediate_size", 48},
      {"num_hidden_layers", 4}, {"num_attention_heads", 4}, {"num_key_value_heads", 2}, {"head_dim", 8},
      {"global_head_dim", 16}, {"sliding_window", 3}, {"hidden_size_per_layer_input", 0},
      {"eos_token_id", nlohmann::json::array()},  // no stop token: every run yields its 5 tokens
      {"final_logit_softcapping", 30.0},
      {"layer_types", {"sliding_attention", "sliding_attention", "sliding_attention", "full_attention"}}};
  nlohmann::json drafter_text = target_config;
  drafter_text.update({{"hidden_size", 16}, {"intermediate_size", 32}, {"num_kv_shared_layers", 4},
                       {"vocab_size_per_layer_input", 0}, {"final_logit_softcapping", nullptr}});
  const nlohmann::json drafter_config = {{"model_type", "gemma4_assistant"}, {"backbone_hidden_size", 32},
                                         {"use_ordered_embeddings", true}, {"num_centroids", 4},
                                         {"centroid_intermediate_top_k", 2}, {"text_config", drafter_text}};
  auto lm = Gemma4ForCausalLM::from_checkpoint(tools::RandomCheckpoint(target_config, DType::F32, 21));
  auto assistant = Gemma4AssistantForCausalLM::from_checkpoint(tools::RandomAssistantCheckpoint(drafter_config, DType::F32, 22));
  const size_t V = 16;
  SamplingParams params;
  params.temperature = 0.5;
  const std::vector<int32_t> prompt = {2, 5, 9, 11, 3};

  // Exact joint distribution of the 2nd and 3rd generated tokens (the 1st comes from the prefill; the 2nd
  // and 3rd go through the draft/verify/accept rule), summed over the 1st.
  Session base(*lm, 8);
  const float* logits = base.prefill(prompt.data(), prompt.size());
  Sampler exact(params);
  std::vector<double> p1, p2, p3;
  std::vector<int32_t> history = prompt;
  exact.distribution(logits, V, history, p1);
  std::map<std::vector<int32_t>, double> expected;
  for (int32_t x1 = 0; x1 < int32_t(V); ++x1) {
    if (p1[size_t(x1)] == 0) continue;
    Session s1 = base;
    exact.distribution(s1.decode(x1), V, history, p2);
    for (int32_t x2 = 0; x2 < int32_t(V); ++x2) {
      if (p2[size_t(x2)] == 0) continue;
      Session s2 = s1;
      exact.distribution(s2.decode(x2), V, history, p3);
      for (int32_t x3 = 0; x3 < int32_t(V); ++x3) expected[{x2, x3}] += p1[size_t(x1)] * p2[size_t(x2)] * p3[size_t(x3)];
    }
  }

  // draws: one speculative run per seed, draft-max 3
  auto sample = [&](SpeculativeRule rule, size_t draws, SpeculativeStats& total) {
    std::map<std::vector<int32_t>, size_t> observed;
    MtpDrafter drafter(*assistant, lm->config);
    for (size_t i = 0; i < draws; ++i) {
      SamplingParams seeded = params;
      seeded.seed = 1000 + i;
      Sampler sampler(seeded);
      Session session(*lm, 8);
      std::vector<int32_t> got;
      const SpeculativeStats st = SpeculativeGenerate(session, drafter, prompt, 5, 3, sampler, [&](int32_t t) {
        got.push_back(t);
        return true;
      }, rule);
      total.drafted += st.drafted, total.accepted += st.accepted, total.target_forwards += st.target_forwards;
      ++observed[{got.at(1), got.at(2)}];
    }
    return observed;
  };
  const size_t draws = 6000;
  SpeculativeStats stats;
  const double p_value = ChiSquarePValue(expected, sample(SpeculativeAccept, draws, stats), draws);
  INFO("p-value " << p_value << ", acceptance " << stats.acceptance_rate());
  // both paths were taken often: accepted drafts and rejections with resampling
  CHECK(stats.acceptance_rate() > 0.2);
  CHECK(stats.acceptance_rate() < 0.9);
  // A correct rule fails this with probability 1e-6 (the test's seeds are fixed, so it either passes or
  // fails every time; 1e-6 is the chance that a fixed seed set is an unlucky one).
  CHECK(p_value > 1e-6);

  // A broken rule must fail the same test: accept every draft (the output then follows the drafter).
  SpeculativeStats broken_stats;
  auto accept_all = [](const std::vector<double>&, const std::vector<double>&, int32_t d, Sampler&) {
    return SpeculativeVerdict{true, d};
  };
  CHECK(ChiSquarePValue(expected, sample(accept_all, draws, broken_stats), draws) < 1e-6);
  // and a subtler one: on rejection, draw from p instead of norm(max(0, p − q))
  auto resample_from_p = [](const std::vector<double>& p, const std::vector<double>& q, int32_t d, Sampler& s) {
    if (p[size_t(d)] >= q[size_t(d)] || s.Uniform() * q[size_t(d)] < p[size_t(d)]) return SpeculativeVerdict{true, d};
    return SpeculativeVerdict{false, s.Draw(p)};
  };
  CHECK(ChiSquarePValue(expected, sample(resample_from_p, draws, broken_stats), draws) < 1e-6);
}
