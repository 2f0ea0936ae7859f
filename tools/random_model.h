// tools/random_model.h — real-shape random-weight checkpoints, for benchmarks (no real weights here).
//
// The tensor set is exactly what the model asks for: it walks the same visit() tree the loader binds,
// so a random E2B has E2B's every tensor and shape (the 262144 × 35·256 per-layer table included).
// Matrices are uniform with standard deviation 0.02; norm weights, layer_scalar and router scales are 1.
// Each tensor's values depend only on (seed, tensor name).
#ifndef GEMMA4_TOOLS_RANDOM_MODEL_H_
#define GEMMA4_TOOLS_RANDOM_MODEL_H_

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "gemma4/gemma4.h"
#include "tools/progress.h"

namespace gemma4::tools {

// Element i of the tensor whose stream starts at `base`: splitmix64 of base + (i+1)·golden ratio, mapped
// to uniform(−a, a) with a = 0.02·√3 (standard deviation 0.02). A pure function of (base, i), so any
// range of a tensor can be made on its own.
inline uint64_t RandomBase(uint64_t seed, const std::string& name) { return seed ^ std::hash<std::string>()(name); }
inline float RandomWeight(uint64_t base, size_t i) {
  uint64_t z = base + (uint64_t(i) + 1) * 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  const float u = float(z >> 40) * (1.0f / float(1 << 24)) * 2.0f - 1.0f;
  return u * (0.02f * std::sqrt(3.0f));
}

struct RandomFiller {
  Checkpoint& checkpoint;
  DType dtype;
  uint64_t seed;
  std::string prefix;
  std::function<void(size_t)> made = {};  // called with each weight's element count once it is filled

  Tensor& make(const std::string& name, const std::vector<int64_t>& shape, DType t) {
    // A block type (Q8_0, Q4_0) stores each last-dimension row as whole blocks.
    const size_t last = shape.empty() ? 1 : size_t(shape.back());
    auto buffer = std::make_shared<std::vector<uint8_t>>(size_t(NumElements(shape)) / std::max<size_t>(last, 1) *
                                                         ops::RowBytes(t, last));
    Tensor tensor;
    tensor.name = prefix + name;
    tensor.dtype = t;
    tensor.shape = shape;
    tensor.data = buffer->data();
    tensor.nbytes = buffer->size();
    tensor.file = "<random>";
    checkpoint.owners.push_back(buffer);
    return checkpoint.tensors[tensor.name] = tensor;
  }

  void operator()(const std::string& name, Weight& w) {
    Tensor& t = make(name, w.shape, dtype);
    const uint64_t base = RandomBase(seed, t.name);
    const size_t n = size_t(t.numel());
    uint8_t* out = const_cast<uint8_t*>(t.bytes());
    const auto value = [&](size_t i) { return RandomWeight(base, i); };
    struct Done {  // reports the weight when filled, on every path out
      const std::function<void(size_t)>& f;
      size_t n;
      ~Done() {
        if (f) f(n);
      }
    } done{made, n};
    if (ops::IsBlockType(dtype)) {  // quantize row by row with llama.cpp's reference quantizer
      const size_t K = size_t(w.shape.back()), row_bytes = ops::RowBytes(dtype, K);
      ops::ParallelRanges(n / K, std::max<size_t>(1, (1 << 16) / K), 1, [&](size_t begin, size_t end) {
        std::vector<float> row(K);
        for (size_t r = begin; r < end; ++r) {
          for (size_t k = 0; k < K; ++k) row[k] = value(r * K + k);
          ops::QuantizeRow(row.data(), dtype, K, out + r * row_bytes);
        }
      });
      return;
    }
    ops::ParallelRanges(n, 1 << 16, 1 << 12, [&](size_t begin, size_t end) {
      for (size_t i = begin; i < end; ++i) {
        const float v = value(i);
        if (dtype == DType::F32) std::memcpy(out + 4 * i, &v, 4);
        else {
          const uint16_t h = dtype == DType::BF16 ? ops::BF16FromF32(v) : ops::F16FromF32(v);
          std::memcpy(out + 2 * i, &h, 2);
        }
      }
    });
  }

  void operator()(const std::string& name, ParamF32& p) {
    Tensor& t = make(name, p.shape, DType::F32);
    float* out = reinterpret_cast<float*>(const_cast<uint8_t*>(t.bytes()));
    for (int64_t i = 0; i < t.numel(); ++i) out[i] = 1.0f;
  }

  template <class Module>
  void operator()(const std::string& name, Module& module) {
    RandomFiller child{checkpoint, dtype, seed, prefix + name + ".", made};
    module.visit(child);
  }
};

// A checkpoint for a text config (HF config.json form, e.g. Gemma4PresetConfig("e2b")), random weights
// of `dtype` (F32, BF16, F16, or Q8_0 / Q4_0 quantized by llama.cpp's reference quantizer), text-only layout
// (tensor prefix "model."). Norms, scalars and router scales stay F32.
inline std::vector<SourceTensor> RandomSources(const nlohmann::json& config_json, uint64_t seed);

// `progress`: a bar on a terminal while the weights are made (a real-shape model takes a minute or two).
inline Checkpoint RandomCheckpoint(const nlohmann::json& config_json, DType dtype, uint64_t seed,
                                   const std::string& progress = "") {
  Checkpoint ckpt;
  ckpt.path = "<random>";
  ckpt.config = config_json;
  const Gemma4TextConfig config = ParseGemma4TextConfig(config_json, "<random config>");
  Gemma4ForCausalLM shape(config);  // unbound: only its visit() tree is used
  RandomFiller filler{ckpt, dtype, seed, ""};
  std::optional<ProgressBar> bar;
  size_t done = 0;
  if (!progress.empty()) {
    size_t total = 0;
    for (const SourceTensor& s : RandomSources(config_json, seed)) total += size_t(NumElements(s.shape));
    bar.emplace(progress, total);
    filler.made = [&](size_t n) { bar->update(done += n); };
  }
  filler("model", shape.model);
  if (!config.tie_word_embeddings) filler("lm_head", shape.lm_head);
  return ckpt;
}

// A preset cut to its first `layers` layers (gemma4-bench --layers): the last kept layer becomes full
// attention (every model ends on one), and num_kv_shared_layers shrinks until every KV-shared layer has an
// earlier layer of its type with its own K/V (the rule ParseGemma4TextConfig checks), at most half the layers.
inline nlohmann::json TruncateLayers(nlohmann::json config, long layers) {
  auto& types = config.at("layer_types");
  if (layers < 1 || layers > long(types.size()))
    throw Error(Str("--layers: ", layers, " is not between 1 and the model's ", types.size(), " layers"));
  types.erase(types.begin() + layers, types.end());
  types.back() = "full_attention";
  config["num_hidden_layers"] = layers;
  long shared = std::min<long>(config.value("num_kv_shared_layers", 0L), layers / 2);
  auto valid = [&](long k) {  // every type among the last k layers also appears before them
    for (long i = layers - k; i < layers; ++i) {
      bool found = false;
      for (long j = 0; j < layers - k && !found; ++j) found = types[size_t(j)] == types[size_t(i)];
      if (!found) return false;
    }
    return true;
  };
  while (shared > 0 && !valid(shared)) --shared;
  config["num_kv_shared_layers"] = shared;
  return config;
}

// A random MTP drafter for a "gemma4_assistant" config.json (text_config, backbone_hidden_size, …), as
// Gemma4AssistantForCausalLM lays it out; with use_ordered_embeddings, token_ordering is a permutation of
// the vocabulary drawn from `seed`.
inline Checkpoint RandomAssistantCheckpoint(const nlohmann::json& config_json, DType dtype, uint64_t seed) {
  Checkpoint ckpt;
  ckpt.path = "<random assistant>";
  ckpt.config = config_json;
  Gemma4AssistantForCausalLM shape(ParseGemma4AssistantConfig(config_json, "<random assistant config>"));
  RandomFiller filler{ckpt, dtype, seed, ""};
  shape.visit(filler);
  if (!shape.config.tie_word_embeddings) filler("lm_head", shape.lm_head);
  if (shape.config.use_ordered_embeddings) {
    const int64_t V = shape.config.text_config.vocab_size;
    Tensor& t = filler.make("masked_embedding.token_ordering", {V}, DType::I64);
    std::vector<int64_t> order(static_cast<size_t>(V));
    for (int64_t i = 0; i < V; ++i) order[size_t(i)] = i;
    uint64_t state = seed;
    for (int64_t i = V - 1; i > 0; --i) {  // Fisher–Yates with splitmix64
      uint64_t z = (state += 0x9E3779B97F4A7C15ull);
      z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
      z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
      z ^= z >> 31;
      std::swap(order[size_t(i)], order[size_t(z % uint64_t(i + 1))]);
    }
    std::memcpy(const_cast<uint8_t*>(t.bytes()), order.data(), order.size() * 8);
  }
  return ckpt;
}

// The same random model as SourceTensors (f32 rows made on demand), for writing files far larger than
// memory: nothing is generated until a writer asks for rows.
struct RandomSourceCollector {
  uint64_t seed;
  std::string prefix;
  std::vector<SourceTensor>& out;

  void operator()(const std::string& name, Weight& w) {
    SourceTensor s;
    s.name = prefix + name;
    s.shape = w.shape;
    const uint64_t base = RandomBase(seed, s.name);
    const int64_t cols = s.row_length();
    s.rows_f32 = [base, cols](int64_t row0, int64_t rows, float* dst) {
      const size_t first = size_t(row0 * cols), n = size_t(rows * cols);
      ops::ParallelRanges(n, 1 << 16, 1 << 12, [&](size_t b, size_t e) {
        for (size_t i = b; i < e; ++i) dst[i] = RandomWeight(base, first + i);
      });
    };
    out.push_back(std::move(s));
  }
  void operator()(const std::string& name, ParamF32& p) {
    SourceTensor s;
    s.name = prefix + name;
    s.shape = p.shape;
    const int64_t cols = s.row_length();
    s.rows_f32 = [cols](int64_t, int64_t rows, float* dst) { std::fill(dst, dst + rows * cols, 1.0f); };
    out.push_back(std::move(s));
  }
  template <class Module>
  void operator()(const std::string& name, Module& module) {
    RandomSourceCollector child{seed, prefix + name + ".", out};
    module.visit(child);
  }
};

inline std::vector<SourceTensor> RandomSources(const nlohmann::json& config_json, uint64_t seed) {
  const Gemma4TextConfig config = ParseGemma4TextConfig(config_json, "<random config>");
  Gemma4ForCausalLM shape(config);
  std::vector<SourceTensor> out;
  RandomSourceCollector collect{seed, "", out};
  collect("model", shape.model);
  if (!config.tie_word_embeddings) collect("lm_head", shape.lm_head);
  return out;
}

}  // namespace gemma4::tools

#endif  // GEMMA4_TOOLS_RANDOM_MODEL_H_
