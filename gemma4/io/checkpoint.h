// gemma4/io/checkpoint.h — the one loader interface: a checkpoint is a config (HF config.json form) plus a
// name → Tensor map of memory-mapped weights. Hugging Face directories (single or sharded safetensors)
// load here; any other format must produce the same structure, with HF tensor names, so every block
// binds its weights the same way whatever the file.
#ifndef GEMMA4_CHECKPOINT_H_
#define GEMMA4_CHECKPOINT_H_

#include <sys/stat.h>

#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "gemma4/error.h"
#include "gemma4/io/json.h"
#include "gemma4/io/mapped_file.h"
#include "gemma4/io/safetensors.h"
#include "gemma4/tensor.h"

namespace gemma4 {

struct Checkpoint {
  std::string path;                                  // what the user named: a directory or a file
  nlohmann::json config;                             // config.json (HF form)
  std::map<std::string, Tensor> tensors;             // by HF name
  std::vector<std::shared_ptr<const void>> owners;   // keep the mapped files (and any decoded data) alive

  std::string config_from;                           // where `config` came from, for errors ("" = path/config.json)

  std::string config_source() const { return config_from.empty() ? path + "/config.json" : config_from; }
  const Tensor* find(const std::string& name) const {
    const auto it = tensors.find(name);
    return it == tensors.end() ? nullptr : &it->second;
  }
};

inline bool IsDirectory(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}
inline bool IsFile(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

inline nlohmann::json ReadJsonFile(const std::string& path) { return ParseJson(ReadTextFile(path), path); }

// Adds every tensor of one safetensors file; a name already present (from another shard) is an error.
inline void AddSafetensors(Checkpoint& ckpt, const SafetensorsFile& st) {
  for (auto& [name, t] : st.tensors) {
    const Tensor* prev = ckpt.find(name);
    if (prev) throw Error(Str(t.file, ": tensor ", name, " is also in ", prev->file));
    ckpt.tensors.emplace(name, t);
  }
  if (st.file) ckpt.owners.push_back(st.file);
}

// A Hugging Face checkpoint directory: config.json plus model.safetensors, or the shards listed by
// model.safetensors.index.json ("weight_map": {tensor: file}).
inline Checkpoint LoadSafetensorsDirectoryUnguarded(const std::string& dir);
inline Checkpoint LoadSafetensorsDirectory(const std::string& dir) {
  return JsonGuard(dir, [&] { return LoadSafetensorsDirectoryUnguarded(dir); });
}
inline Checkpoint LoadSafetensorsDirectoryUnguarded(const std::string& dir) {
  Checkpoint ckpt;
  ckpt.path = dir;
  ckpt.config = ReadJsonFile(dir + "/config.json");
  const std::string index_path = dir + "/model.safetensors.index.json";
  if (IsFile(index_path)) {
    const nlohmann::json index = ReadJsonFile(index_path);
    if (!index.contains("weight_map") || !index["weight_map"].is_object())
      throw Error(Str(index_path, ": no \"weight_map\" object"));
    std::set<std::string> shards;
    for (const auto& [name, file] : index["weight_map"].items()) {
      if (!file.is_string()) throw Error(Str(index_path, ": weight_map[\"", name, "\"] is not a file name"));
      const std::string f = file.get<std::string>();
      if (f.find('/') != std::string::npos) throw Error(Str(index_path, ": shard name ", f, " is not a plain file name"));
      shards.insert(f);
    }
    for (const std::string& shard : shards) AddSafetensors(ckpt, ReadSafetensors(dir + "/" + shard));
    for (const auto& [name, file] : index["weight_map"].items()) {
      const Tensor* t = ckpt.find(name);
      if (!t) throw Error(Str(index_path, ": lists tensor ", name, " in ", file.get<std::string>(), ", which lacks it"));
      if (t->file != dir + "/" + file.get<std::string>())
        throw Error(Str(index_path, ": lists tensor ", name, " in ", file.get<std::string>(), " but it is in ", t->file));
    }
  } else if (IsFile(dir + "/model.safetensors")) {
    AddSafetensors(ckpt, ReadSafetensors(dir + "/model.safetensors"));
  } else {
    throw Error(Str(dir, ": no model.safetensors or model.safetensors.index.json"));
  }
  return ckpt;
}

// A checkpoint whose config.json text and model.safetensors bytes are in memory (the tools' embedded
// default model). The bytes must outlive the checkpoint.
inline Checkpoint LoadCheckpointFromMemory(const std::string& name, const std::string& config_json,
                                           const uint8_t* safetensors, size_t size) {
  Checkpoint ckpt;
  ckpt.path = name;
  ckpt.config = ParseJson(config_json, name + "/config.json");
  AddSafetensors(ckpt, ParseSafetensors(safetensors, size, name + "/model.safetensors"));
  return ckpt;
}

// Defined in gemma4/io/gguf_checkpoint.h (included at the end of this file).
inline Checkpoint LoadGgufCheckpoint(const std::string& path);
inline bool LooksLikeGguf(const std::string& path);

// Opens a checkpoint: a Hugging Face directory or a llama.cpp GGUF file (gemma4 / gemma4-assistant).
inline Checkpoint LoadCheckpoint(const std::string& path) {
  if (IsDirectory(path)) return LoadSafetensorsDirectory(path);
  if (!IsFile(path)) throw Error(Str(path, ": no such file or directory"));
  if (LooksLikeGguf(path)) return LoadGgufCheckpoint(path);
  throw Error(Str(path, ": not a checkpoint (expected a Hugging Face directory with config.json and *.safetensors, "
                  "or a .gguf file)"));
}

}  // namespace gemma4

#include "gemma4/io/gguf_checkpoint.h"  // LoadGgufCheckpoint, declared above

#endif  // GEMMA4_CHECKPOINT_H_
