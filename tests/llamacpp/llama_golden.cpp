// llama.cpp on the golden prompts, through its C API (include/llama.h, linked against libllama):
//   llama_golden MODEL.gguf GOLDEN.safetensors [--greedy] [--logits OUTDIR] [--kv f32|f16] [-t THREADS]
// For every prompt of the golden file (each "<prompt>.input_ids"):
//   --greedy   llama.cpp's greedy continuation (argmax of its logits), as many tokens as the golden's
//              "<prompt>.greedy_tokens"; prints "ok"/"FAIL" per prompt, exit 1 on any FAIL;
//   --logits   llama.cpp's logits at every prompt position, one batch, raw f32 [T, V] in OUTDIR/<prompt>.f32
//              (for gemma4-eval compare).
//   --hidden   with --logits: also each decoder layer's output (llama.cpp's "l_out-<i>" graph nodes, after
//              layer_scalar, read through the cb_eval callback), raw f32 [L, T, H] in
//              OUTDIR/<prompt>.hidden_states.f32 (gemma4-eval compare --capture hidden_states=FILE).
// The context: F32 K/V cache (--kv f16 for llama.cpp's default), a full-size sliding-window cache, flash
// attention off, one batch for the whole prompt: what tests/llamacpp/README.md explains the tiny models need.
// Built by tests/llamacpp/llama.sh against a llama.cpp build; never part of the default build.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "llama.h"

#include "gemma4/io/safetensors.h"
#include "tests/llamacpp/golden_ids.h"

namespace {

using gemma4_llamacpp::ContextParams;
using gemma4_llamacpp::Ints;
using gemma4_llamacpp::Join;
using gemma4_llamacpp::Quiet;

// Each decoder layer's output, collected as llama.cpp computes it: cb_eval is asked about every graph node
// ("ask"), and shown the ones it asked for once their data exist.
struct LayerOutputs {
  std::vector<std::vector<float>> layers;  // [L][T·H]
  std::string error;                       // set (and the computation stopped) on a node it cannot read
  static bool Callback(ggml_tensor* t, bool ask, void* user) {
    const char* prefix = "l_out-";
    if (std::strncmp(t->name, prefix, std::strlen(prefix)) != 0) return ask ? false : true;
    if (ask) return true;
    auto& self = *static_cast<LayerOutputs*>(user);
    if (t->type != GGML_TYPE_F32 || !ggml_is_contiguous(t)) {  // no exception through llama.cpp's frames
      self.error = std::string(t->name) + ": not a contiguous f32 tensor";
      return false;
    }
    const size_t layer = size_t(std::atoi(t->name + std::strlen(prefix)));
    if (self.layers.size() <= layer) self.layers.resize(layer + 1);
    self.layers[layer].resize(size_t(ggml_nelements(t)));
    ggml_backend_tensor_get(t, self.layers[layer].data(), 0, ggml_nbytes(t));
    return true;
  }
};

struct Context {
  llama_context* ctx;
  Context(llama_model* model, uint32_t n_ctx, ggml_type kv, int threads, LayerOutputs* hidden = nullptr) {
    llama_context_params p = ContextParams(n_ctx, kv, threads);
    if (hidden) {
      p.cb_eval = LayerOutputs::Callback;
      p.cb_eval_user_data = hidden;
    }
    ctx = llama_init_from_model(model, p);
    if (!ctx) throw gemma4::Error("llama_init_from_model failed");
  }
  ~Context() { llama_free(ctx); }
  // Decodes ids at positions start.., logits for every position (all) or the last only.
  void decode(const std::vector<int32_t>& ids, int start, bool all) {
    llama_batch b = llama_batch_init(int32_t(ids.size()), 0, 1);
    for (size_t i = 0; i < ids.size(); ++i) {
      b.token[i] = ids[i];
      b.pos[i] = start + int32_t(i);
      b.n_seq_id[i] = 1;
      b.seq_id[i][0] = 0;
      b.logits[i] = all || i + 1 == ids.size();
    }
    b.n_tokens = int32_t(ids.size());
    const int32_t rc = llama_decode(ctx, b);
    llama_batch_free(b);
    if (rc != 0) throw gemma4::Error("llama_decode returned " + std::to_string(rc));
  }
};

int32_t Argmax(const float* x, int32_t n) { return int32_t(std::max_element(x, x + n) - x); }

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> pos;
  std::string logits_dir, kv_name = "f32";
  bool greedy = false, hidden = false;
  int threads = 2;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--greedy") greedy = true;
    else if (a == "--hidden") hidden = true;
    else if (a == "--logits" && i + 1 < argc) logits_dir = argv[++i];
    else if (a == "--kv" && i + 1 < argc) kv_name = argv[++i];
    else if (a == "-t" && i + 1 < argc) threads = std::atoi(argv[++i]);
    else pos.push_back(a);
  }
  if (pos.size() != 2 || (!greedy && logits_dir.empty()) || (hidden && logits_dir.empty()) ||
      (kv_name != "f32" && kv_name != "f16") || threads < 1) {
    std::fprintf(stderr, "usage: llama_golden MODEL.gguf GOLDEN.safetensors [--greedy] [--logits OUTDIR [--hidden]] "
                         "[--kv f32|f16] [-t N]\n");
    return 2;
  }
  const std::string model_path = pos[0], golden_path = pos[1];
  llama_model* model = nullptr;
  int failures = 0;
  try {
    const gemma4::SafetensorsFile st = gemma4::ReadSafetensors(golden_path);
    std::set<std::string> prompts;
    for (const auto& [name, _] : st.tensors)
      if (name.size() > 10 && name.compare(name.size() - 10, 10, ".input_ids") == 0) prompts.insert(name.substr(0, name.size() - 10));
    if (prompts.empty()) throw gemma4::Error(golden_path + ": no <prompt>.input_ids tensors");

    llama_log_set(Quiet, nullptr);
    llama_backend_init();
    llama_model_params mp = llama_model_default_params();
    mp.n_gpu_layers = 0;
    model = llama_model_load_from_file(model_path.c_str(), mp);
    if (!model) throw gemma4::Error(model_path + ": llama.cpp could not load it");
    const int32_t V = llama_vocab_n_tokens(llama_model_get_vocab(model));
    const ggml_type kv = kv_name == "f32" ? GGML_TYPE_F32 : GGML_TYPE_F16;

    for (const std::string& prompt : prompts) {
      const std::vector<int32_t> ids = Ints(st, prompt + ".input_ids", golden_path);
      if (!logits_dir.empty()) {
        LayerOutputs layers;
        Context c(model, uint32_t(std::max<size_t>(256, ids.size())), kv, threads, hidden ? &layers : nullptr);
        c.decode(ids, 0, true);
        std::vector<float> out(ids.size() * size_t(V));
        for (size_t t = 0; t < ids.size(); ++t) {
          const float* l = llama_get_logits_ith(c.ctx, int32_t(t));
          if (!l) throw gemma4::Error(prompt + ": no logits at position " + std::to_string(t));
          std::memcpy(&out[t * size_t(V)], l, sizeof(float) * size_t(V));
        }
        const std::string file = logits_dir + "/" + prompt + ".f32";
        std::ofstream f(file, std::ios::binary);
        f.write(reinterpret_cast<const char*>(out.data()), std::streamsize(out.size() * sizeof(float)));
        if (!f) throw gemma4::Error(file + ": cannot write");
        std::printf("%s: %zu x %d logits -> %s\n", prompt.c_str(), ids.size(), V, file.c_str());
        if (hidden) {
          if (!layers.error.empty()) throw gemma4::Error(prompt + ": " + layers.error);
          const int32_t L = llama_model_n_layer(model);
          const size_t TH = ids.size() * size_t(llama_model_n_embd(model));
          if (layers.layers.size() != size_t(L)) throw gemma4::Error(prompt + ": llama.cpp showed no l_out of every layer");
          const std::string hfile = logits_dir + "/" + prompt + ".hidden_states.f32";
          std::ofstream h(hfile, std::ios::binary);
          for (const std::vector<float>& l : layers.layers) {
            if (l.size() != TH) throw gemma4::Error(prompt + ": a layer output of " + std::to_string(l.size()) + " values, not T x H");
            h.write(reinterpret_cast<const char*>(l.data()), std::streamsize(l.size() * sizeof(float)));
          }
          if (!h) throw gemma4::Error(hfile + ": cannot write");
          std::printf("%s: %d x %zu x %d layer outputs -> %s\n", prompt.c_str(), L, ids.size(), llama_model_n_embd(model),
                      hfile.c_str());
        }
      }
      if (greedy) {
        const std::vector<int32_t> want = Ints(st, prompt + ".greedy_tokens", golden_path);
        Context c(model, uint32_t(std::max<size_t>(256, ids.size() + want.size() + 1)), kv, threads);
        c.decode(ids, 0, false);
        std::vector<int32_t> got;
        while (got.size() < want.size()) {
          got.push_back(Argmax(llama_get_logits_ith(c.ctx, -1), V));
          if (got.size() < want.size()) c.decode({got.back()}, int(ids.size() + got.size() - 1), false);
        }
        const bool ok = got == want;
        failures += !ok;
        std::printf("%s %s %s: llama.cpp %s%s\n", ok ? "ok  " : "FAIL", model_path.c_str(), prompt.c_str(), Join(got).c_str(),
                    ok ? "" : (" vs golden " + Join(want)).c_str());
      }
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "llama_golden: error: %s\n", e.what());
    if (model) llama_model_free(model);
    return 1;
  }
  llama_model_free(model);
  return failures ? 1 : 0;
}
