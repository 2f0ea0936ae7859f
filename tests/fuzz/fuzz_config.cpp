// libFuzzer harness for config.json: ParseJson, then the config of every accepted model_type ("gemma4",
// "gemma4_text": Gemma4TextConfig; "gemma4_assistant": Gemma4AssistantConfig); for a config small enough
// to be quick, a model with random weights is built from it and runs a short forward (a prompt longer
// than a small sliding window, then decode steps) — the huge-sliding_window overflow lived there.
// Any gemma4::Error is a correct answer; a crash, a sanitizer report, a timeout or a huge allocation is a bug.
#include "gemma4/gemma4.h"  // first: ops/ops.h drives Highway's per-target compilation

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "gemma4/io/json.h"
#include "tools/random_model.h"

namespace {

// Small enough to build and run in well under a millisecond or so.
bool Small(const gemma4::Gemma4TextConfig& c) {
  int64_t qd = 0;
  for (const auto& g : c.layers) qd = std::max(qd, g.num_attention_heads * g.head_dim);
  return c.vocab_size <= 512 && c.hidden_size <= 128 && c.intermediate_size <= 256 && c.num_hidden_layers <= 10 &&
         qd <= 512 && c.hidden_size_per_layer_input <= 32 && c.vocab_size_per_layer_input <= 512 &&
         c.num_experts.value_or(0) <= 8 && c.moe_intermediate_size.value_or(0) <= 128;
}

}  // namespace

// One kernel thread: the same results (kernels do not depend on the thread count), and no pool threads
// that a busy machine can starve into a false timeout.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  gemma4::ops::SetNumThreads(1);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace gemma4;
  try {
    const nlohmann::json j = ParseJson(reinterpret_cast<const char*>(data), size, "config.json");
    const std::string type = config_detail::GetModelType(j, "config.json");
    if (type == "gemma4_assistant") {
      ParseGemma4AssistantConfig(j, "config.json");
      return 0;
    }
    const Gemma4TextConfig c = ParseGemma4TextConfig(j, "config.json");
    if (!Small(c)) return 0;
    const nlohmann::json& text = j.contains("text_config") ? j["text_config"] : j;
    nlohmann::json plain = text;  // RandomCheckpoint takes the text config ("model." names)
    plain["model_type"] = "gemma4_text";
    auto lm = Gemma4ForCausalLM::from_checkpoint(tools::RandomCheckpoint(plain, DType::F32, 1));
    Session session(*lm, 4, 16);
    std::vector<int32_t> ids;
    for (int32_t i = 0; i < 9; ++i) ids.push_back(i % int32_t(c.vocab_size));
    session.prefill(ids.data(), ids.size());
    session.decode(0);
    session.decode(int32_t(c.vocab_size - 1));
  } catch (const Error&) {
  }
  return 0;
}
