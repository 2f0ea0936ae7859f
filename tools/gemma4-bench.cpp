// gemma4-bench — prefill and decode speed of a model, next to what the memory system allows.
//
// Decoding one token reads every weight it uses once, so its ceiling is (bytes read per token) ÷ (memory
// read bandwidth). The benchmark prints both: tok/s, the GB/s that implies, and the machine's own read
// bandwidth measured the same run. Models: a checkpoint (-m) or a real-shape random-weight one (--random).
#include "gemma4/gemma4.h"  // first: ops/ops.h drives Highway's per-target compilation

#include <algorithm>
#include <chrono>
#include <map>
#include <cstdio>
#include <mutex>
#include <random>
#include <sys/resource.h>
#include <string>
#include <vector>

#include "tools/args.h"
#include "tools/common.h"
#include "tools/random_model.h"

using namespace gemma4;

// Bytes of weights one decoded token reads: every matrix once, one row of each embedding table, and for
// MoE layers only top_k of num_experts experts.
static double WeightBytesPerToken(const Gemma4ForCausalLM& lm) {
  const Gemma4TextConfig& c = lm.config;
  double bytes = double(lm.lm_head.weight.tensor.nbytes);
  const Gemma4TextModel& m = lm.model;
  bytes += double(m.embed_tokens.weight.tensor.row_bytes());
  if (c.has_per_layer_inputs())
    bytes += double(m.embed_tokens_per_layer.weight.tensor.row_bytes() + m.per_layer_model_projection.weight.tensor.nbytes);
  for (const Gemma4TextDecoderLayer& l : m.layers) {
    for (const Linear* p : {&l.self_attn.q_proj, &l.self_attn.k_proj, &l.self_attn.v_proj, &l.self_attn.o_proj,
                            &l.mlp.gate_proj, &l.mlp.up_proj, &l.mlp.down_proj, &l.per_layer_input_gate,
                            &l.per_layer_projection, &l.router.proj})
      bytes += double(p->weight.tensor.nbytes);
    if (l.enable_moe_block)
      bytes += double(l.experts.gate_up_proj.tensor.nbytes + l.experts.down_proj.tensor.nbytes) *
               double(l.router.top_k) / double(l.router.num_experts);
  }
  return bytes;
}

// Read bandwidth of this machine: XOR a buffer far larger than the caches, with all threads. XOR is
// associative, so the compiler vectorizes the loop and memory, not an add chain, is the limit.
static double MeasureReadBandwidth() {
  const size_t n = size_t(1) << 27;  // 1 GiB of uint64
  std::vector<uint64_t> buffer(n);
  ops::ParallelRanges(n, 1 << 20, 16, [&](size_t b, size_t e) {
    for (size_t i = b; i < e; ++i) buffer[i] = i;  // touch every page first
  });
  double best = 0;
  for (int rep = 0; rep < 3; ++rep) {
    const auto t0 = std::chrono::steady_clock::now();
    std::mutex mutex;
    uint64_t total = 0;
    ops::ParallelRanges(n, 1 << 20, 16, [&](size_t b, size_t e) {
      uint64_t x = 0;
      for (size_t i = b; i < e; ++i) x ^= buffer[i];
      std::lock_guard<std::mutex> lock(mutex);
      total ^= x;
    });
    const double s = tools::Seconds(t0);
    if (total == 1) std::puts("");  // keep the result alive
    best = std::max(best, double(n * sizeof(uint64_t)) / s / 1e9);
  }
  return best;
}

// What a decode step can actually stream: a matrix-vector product over 1 GiB of bf16 weights (the access
// pattern of decoding: every weight row once, several rows in flight per thread).
static double MeasureMatvecBandwidth() {
  const size_t K = 8192, N = 65536;
  std::vector<uint16_t> w(N * K, ops::BF16FromF32(0.001f));
  std::vector<float> x(K, 1.0f), y(N);
  double best = 0;
  for (int rep = 0; rep < 3; ++rep) {
    const auto t0 = std::chrono::steady_clock::now();
    ops::MatMul(x.data(), 1, K, w.data(), DType::BF16, N, y.data());
    best = std::max(best, double(N * K * 2) / tools::Seconds(t0) / 1e9);
  }
  return best;
}

// Speculative decoding's ceiling: verifying k drafted tokens is one forward of k + 1 tokens at the same
// context; its cost relative to one decode step bounds any MTP speedup (k accepted tokens cost that much).
// Each measurement is best-of-reps, from the same context, rolled back after every forward.
static int VerifyCost(const Gemma4ForCausalLM& lm, const std::string& name, long context, long reps, bool as_json) {
  const size_t V = size_t(lm.config.vocab_size), kMax = 8;
  std::mt19937 rng(7);
  std::vector<int32_t> prompt(static_cast<size_t>(context)), batch(kMax + 1);
  for (int32_t& id : prompt) id = int32_t(rng() % V);
  for (int32_t& id : batch) id = int32_t(rng() % V);
  Session session(lm, std::max<size_t>(size_t(context), kMax + 2), size_t(context) + kMax + 1);
  session.prefill(prompt.data(), prompt.size());
  std::vector<double> ms(kMax + 1, 1e30);  // ms[k]: a forward of k + 1 tokens (k = 0: one decode step)
  for (long r = 0; r < reps; ++r)
    for (size_t k = 0; k <= kMax; ++k) {
      const auto t0 = std::chrono::steady_clock::now();
      lm.forward(batch.data(), k + 1, session.cache, session.state, session.logits.data(), /*all_rows=*/true);
      ms[k] = std::min(ms[k], tools::Seconds(t0) * 1e3);
      session.cache.truncate(size_t(context));
    }
  if (as_json) {
    nlohmann::json j = {{"model", name}, {"simd", ops::TargetName()}, {"threads", ops::Pool().NumThreads()},
                        {"context", context}, {"repetitions", reps}, {"decode_ms", ms[0]}, {"verify", nlohmann::json::array()}};
    for (size_t k = 1; k <= kMax; ++k) j["verify"].push_back({{"k", k}, {"ms", ms[k]}, {"relative", ms[k] / ms[0]}});
    std::printf("%s\n", j.dump(1).c_str());
    return 0;
  }
  std::printf("model %s | SIMD %s, %zu threads | context %ld | best of %ld\n", name.c_str(), ops::TargetName(),
              ops::Pool().NumThreads(), context, reps);
  std::printf("%-8s %10s %10s %16s\n", "drafted", "tokens", "ms", "x decode step");
  std::printf("%-8s %10d %10.3f %16.3f\n", "decode", 1, ms[0], 1.0);
  for (size_t k = 1; k <= kMax; ++k) std::printf("%-8zu %10zu %10.3f %16.3f\n", k, k + 1, ms[k], ms[k] / ms[0]);
  return 0;
}

int main(int argc, char** argv) {
  return tools::RunMain("gemma4-bench", [&] {
    std::string model_path, random, dtype_name = "bf16";
    long prompt_tokens = 128, decode_tokens = 32, reps = 3, layers = 0;
    tools::ModelOptions options;
    bool verify_cost = false, as_json = false;
    tools::ArgParser args("gemma4-bench", "Measure prefill and decode speed.");
    args.option("-m, --model", "PATH", &model_path, "checkpoint directory or .gguf file")
        .option("--random", "PRESET", &random, "random weights in a released shape: e2b, e4b, 12b, 26b-a4b, 31b")
        .option("--dtype", "TYPE", &dtype_name, "weight dtype of --random models: f32, bf16 (default), f16, q8_0, q4_0")
        .option("--layers", "N", &layers, "--random: keep only the first N layers, KV sharing cut to fit (0 = all)")
        .option("-p, --n-prompt", "N", &prompt_tokens, "prompt tokens to prefill (default 128)")
        .option("-n, --n-gen", "N", &decode_tokens, "tokens to decode (default 32)")
        .option("-r, --repetitions", "N", &reps, "repetitions; the best is reported (default 3)")
        .flag("--verify-cost", &verify_cost, "speculative decoding: cost of verifying k = 1..8 drafted tokens (one forward "
                                             "of k+1 at context -p) relative to one decode step")
        .flag("--json", &as_json, "print one line of JSON instead of the table (with --verify-cost: its table as JSON)");
    tools::AddModelOptions(args, &options, "fast");
    const Study& study = options.study;
    if (!args.parse(argc, argv).empty()) throw Error("unexpected argument (see gemma4-bench --help)");
    if (prompt_tokens < 1 || decode_tokens < 1 || reps < 1) throw Error("-p, -n and -r must be >= 1");
    options.Configure();

    const auto t_load = std::chrono::steady_clock::now();
    std::unique_ptr<Gemma4ForCausalLM> lm;
    if (!random.empty()) {
      nlohmann::json config = Gemma4PresetConfig(random);
      if (layers < 0) throw Error("--layers must be >= 0");
      if (layers > 0) config = tools::TruncateLayers(config, layers);
      const std::map<std::string, DType> dtypes = {{"f32", DType::F32}, {"bf16", DType::BF16}, {"f16", DType::F16},
                                                   {"q8_0", DType::Q8_0}, {"q4_0", DType::Q4_0}};
      if (!dtypes.count(dtype_name)) throw Error("--dtype: f32, bf16, f16, q8_0 or q4_0");
      const DType dtype = dtypes.at(dtype_name);
      // a minute or two for a real-shape model: one line first, a bar on a terminal
      std::fprintf(stderr, "building random %s weights (%s, %ld layers, %ld KV-shared) ...\n", random.c_str(),
                   dtype_name.c_str(), config["num_hidden_layers"].get<long>(), config["num_kv_shared_layers"].get<long>());
      lm = LoadStudied(tools::RandomCheckpoint(config, dtype, 1234, "random " + random), study);
    } else {
      lm = tools::LoadModel(model_path, study);
    }
    const double load_s = tools::Seconds(t_load);
    const size_t V = size_t(lm->config.vocab_size);
    if (verify_cost)
      return VerifyCost(*lm, !random.empty() ? "random " + random + " " + dtype_name
                                             : (model_path.empty() ? tools::kEmbeddedModelName : model_path),
                        prompt_tokens, reps, as_json);

    std::mt19937 rng(42);
    std::vector<int32_t> prompt(static_cast<size_t>(prompt_tokens));
    for (int32_t& id : prompt) id = int32_t(rng() % V);
    double best_prefill = 0, best_decode = 0;
    for (long r = 0; r < reps; ++r) {
      Session session(*lm, size_t(prompt_tokens), size_t(prompt_tokens + decode_tokens));
      const auto t0 = std::chrono::steady_clock::now();
      const float* logits = session.prefill(prompt.data(), prompt.size());
      best_prefill = std::max(best_prefill, double(prompt_tokens) / tools::Seconds(t0));
      const auto t1 = std::chrono::steady_clock::now();
      for (long i = 0; i < decode_tokens; ++i) logits = session.decode(int32_t(ops::Argmax(logits, V)));
      best_decode = std::max(best_decode, double(decode_tokens) / tools::Seconds(t1));
    }
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);  // before the bandwidth probes allocate their own gigabytes
    const double peak_rss_mb = double(usage.ru_maxrss) / 1024.0;
    const double bytes = WeightBytesPerToken(*lm);
    const double bandwidth = MeasureReadBandwidth(), matvec = MeasureMatvecBandwidth();
    double gpu_peak = 0.0;  // --device cuda: the fraction is of the GPU's peak memory bandwidth, not the CPU's
#ifdef GEMMA4_HAVE_CUDA
    if (options.device == "cuda") gpu_peak = ops::cuda::PeakBandwidthGBps();
#endif
    const double ceiling = gpu_peak > 0 ? gpu_peak : matvec;
    const std::string name = !random.empty() ? "random " + random + " " + dtype_name
                                             : (model_path.empty() ? tools::kEmbeddedModelName : model_path);
    if (as_json) {
      const nlohmann::json j = {{"model", name}, {"device", ops::DeviceName()}, {"simd", ops::TargetName()}, {"threads", ops::Pool().NumThreads()},
                                {"numerics", tools::NumericsInUse(*lm)}, {"n_prompt", prompt_tokens},
                                {"n_gen", decode_tokens}, {"load_s", load_s}, {"prefill_tps", best_prefill},
                                {"decode_tps", best_decode}, {"peak_rss_mb", peak_rss_mb},
                                {"weight_bytes_per_token", bytes}, {"bandwidth_gbps", bytes / 1e9 * best_decode},
                                {"matvec_gbps", matvec}, {"scan_gbps", bandwidth},
                                {"gpu_peak_gbps", gpu_peak},
                                {"bandwidth_fraction", bytes / 1e9 * best_decode / ceiling}};
      std::printf("%s\n", j.dump().c_str());
      return 0;
    }
    std::printf("model          %s\n", name.c_str());
    std::printf("simd, threads  %s, %zu | numerics %s | device %s\n", ops::TargetName(), ops::Pool().NumThreads(),
                tools::NumericsInUse(*lm), ops::DeviceName());
    std::printf("peak RSS       %.0f MB (before the bandwidth probes)\n", peak_rss_mb);
    std::printf("load           %.2f s\n", load_s);
    std::printf("prefill        %ld tokens: %.2f tok/s\n", prompt_tokens, best_prefill);
    std::printf("decode         %ld tokens: %.2f tok/s\n", decode_tokens, best_decode);
    std::printf("weights/token  %.3f GB  ->  %.2f GB/s at that decode speed\n", bytes / 1e9, bytes / 1e9 * best_decode);
    std::printf("memory read    %.2f GB/s scanning 1 GiB, %.2f GB/s streaming a 1 GiB bf16 matvec (all threads)\n",
                bandwidth, matvec);
    if (gpu_peak > 0)
      std::printf("GPU memory     %.0f GB/s peak: decode streams its weights at %.1f%% of it\n", gpu_peak,
                  100.0 * bytes / 1e9 * best_decode / gpu_peak);
    // Measured after the decode runs, not during them: on a busy machine the two can see different loads.
    std::printf("decode ceiling %.2f tok/s (weights/token at the matvec stream rate)\n", matvec * 1e9 / bytes);
    std::printf("               assumes a decode step only streams its weights, at the rate measured after the decode\n"
                "               runs (KV-cache reads and compute not counted); on a busy machine the two measurements\n"
                "               can see different loads, and the measured decode can exceed this\n");
    return 0;
  });
}
