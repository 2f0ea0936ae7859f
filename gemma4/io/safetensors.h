// gemma4/io/safetensors.h — reading and writing the safetensors format, with every offset checked.
//
// Format: 8-byte little-endian header length N, N bytes of JSON
//   {"__metadata__": {str: str}, "<name>": {"dtype": "BF16", "shape": [..], "data_offsets": [begin, end]}, ...}
// then the data; offsets are relative to the first byte after the header.
// A corrupt file is an Error naming the file and the tensor, never a crash.
#ifndef GEMMA4_SAFETENSORS_H_
#define GEMMA4_SAFETENSORS_H_

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "gemma4/error.h"
#include "gemma4/io/mapped_file.h"
#include "gemma4/tensor.h"

namespace gemma4 {

inline bool ParseSafetensorsDType(const std::string& s, DType* out) {
  static const std::map<std::string, DType> kNames = {
      {"F32", DType::F32}, {"F16", DType::F16}, {"BF16", DType::BF16}, {"F64", DType::F64}, {"I64", DType::I64},
      {"I32", DType::I32}, {"I16", DType::I16}, {"I8", DType::I8},     {"U8", DType::U8},   {"BOOL", DType::BOOL}};
  const auto it = kNames.find(s);
  if (it == kNames.end()) return false;
  *out = it->second;
  return true;
}

struct SafetensorsFile {
  std::shared_ptr<MappedFile> file;
  std::map<std::string, Tensor> tensors;
  std::map<std::string, std::string> metadata;
};

// Parses safetensors bytes held in memory; `path` names them in errors. The tensors point into `base`.
inline SafetensorsFile ParseSafetensors(const uint8_t* base, size_t size, const std::string& path) {
  SafetensorsFile st;
  if (size < 8) throw Error(Str(path, ": truncated safetensors file (", size, " bytes, no header length)"));
  uint64_t header_len;
  std::memcpy(&header_len, base, 8);  // little-endian on every platform we build for
  if (header_len > size - 8)
    throw Error(Str(path, ": header length ", header_len, " runs past the end of the file (", size, " bytes)"));
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(base + 8, base + 8 + header_len);
  } catch (const nlohmann::json::exception& e) {
    throw Error(Str(path, ": malformed JSON header (", e.what(), ")"));
  }
  if (!header.is_object()) throw Error(Str(path, ": JSON header is not an object"));
  const uint8_t* data = base + 8 + header_len;
  const uint64_t data_size = size - 8 - header_len;

  struct Span { uint64_t begin, end; std::string name; };
  std::vector<Span> spans;
  for (const auto& [name, entry] : header.items()) {
    if (name == "__metadata__") {
      if (!entry.is_object()) throw Error(Str(path, ": __metadata__ is not an object"));
      for (const auto& [k, v] : entry.items()) {
        if (!v.is_string()) throw Error(Str(path, ": __metadata__[\"", k, "\"] is not a string"));
        st.metadata[k] = v.get<std::string>();
      }
      continue;
    }
    const std::string where = Str(path, ": tensor ", name);
    if (!entry.is_object() || !entry.contains("dtype") || !entry.contains("shape") || !entry.contains("data_offsets"))
      throw Error(Str(where, ": entry needs dtype, shape and data_offsets"));
    Tensor t;
    t.name = name;
    t.file = path;
    if (!entry["dtype"].is_string() || !ParseSafetensorsDType(entry["dtype"].get<std::string>(), &t.dtype))
      throw Error(Str(where, ": unknown dtype ", entry["dtype"].dump()));
    if (!entry["shape"].is_array()) throw Error(Str(where, ": shape is not an array"));
    uint64_t nbytes = ops::DTypeSize(t.dtype);
    for (const auto& d : entry["shape"]) {
      if (!d.is_number_unsigned()) throw Error(Str(where, ": shape ", entry["shape"].dump(), " is not a list of sizes"));
      const uint64_t dim = d.get<uint64_t>();
      if (dim > (uint64_t{1} << 40) || __builtin_mul_overflow(nbytes, dim, &nbytes))
        throw Error(Str(where, ": shape ", entry["shape"].dump(), " is too large"));
      t.shape.push_back(static_cast<int64_t>(dim));
    }
    const auto& off = entry["data_offsets"];
    if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() || !off[1].is_number_unsigned())
      throw Error(Str(where, ": data_offsets ", off.dump(), " is not [begin, end]"));
    const uint64_t begin = off[0].get<uint64_t>(), end = off[1].get<uint64_t>();
    if (begin > end) throw Error(Str(where, ": data_offsets ", off.dump(), " end before begin"));
    if (end > data_size)
      throw Error(Str(where, ": data ends at byte ", end, " but the file holds only ", data_size,
                      " bytes of data (truncated file?)"));
    if (end - begin != nbytes)
      throw Error(Str(where, ": data_offsets span ", end - begin, " bytes but ", DTypeName(t.dtype), " ",
                      ShapeString(t.shape), " needs ", nbytes));
    t.data = data + begin;
    t.nbytes = nbytes;
    spans.push_back({begin, end, name});
    st.tensors.emplace(name, std::move(t));
  }
  std::sort(spans.begin(), spans.end(), [](const Span& a, const Span& b) { return a.begin < b.begin; });
  for (size_t i = 1; i < spans.size(); ++i)
    if (spans[i].begin < spans[i - 1].end && spans[i].begin != spans[i].end)
      throw Error(Str(path, ": tensors ", spans[i - 1].name, " and ", spans[i].name, " overlap"));
  return st;
}

// Maps a file and parses it; the file stays mapped as long as the returned SafetensorsFile (or a copy of
// its `file` pointer) lives.
inline SafetensorsFile ReadSafetensors(const std::string& path) {
  auto file = std::make_shared<MappedFile>(path);
  SafetensorsFile st = ParseSafetensors(file->data(), file->size(), path);
  st.file = file;
  return st;
}

// Writes `tensors` (views; their names are the keys) and string metadata; atomically: a temporary file
// is renamed over `path` only once complete.
inline void WriteSafetensors(const std::string& path, const std::vector<Tensor>& tensors,
                             const std::map<std::string, std::string>& metadata) {
  nlohmann::json header = nlohmann::json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (const Tensor& t : tensors) {
    if (header.contains(t.name)) throw Error(Str(path, ": tensor ", t.name, " given twice"));
    header[t.name] = {{"dtype", DTypeName(t.dtype)}, {"shape", t.shape}, {"data_offsets", {offset, offset + t.nbytes}}};
    offset += t.nbytes;
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // keep the data 8-byte aligned
  // Errors name the user's path and the system's reason, never the temporary file.
  struct stat st;
  if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode))
    throw Error(Str(path, ": is a directory; give a file path to write (e.g. ", path, "/out.safetensors)"));
  const std::string tmp = path + ".tmp";
  FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) throw Error(Str(path, ": cannot create (", std::strerror(errno), ")"));
  const uint64_t header_len = text.size();
  bool ok = std::fwrite(&header_len, 8, 1, f) == 1 && std::fwrite(text.data(), 1, text.size(), f) == text.size();
  for (const Tensor& t : tensors) ok = ok && std::fwrite(t.data, 1, t.nbytes, f) == t.nbytes;
  int error = ok ? 0 : errno;
  if (std::fclose(f) != 0 && ok) ok = false, error = errno;
  if (ok && std::rename(tmp.c_str(), path.c_str()) != 0) ok = false, error = errno;
  if (!ok) {
    std::remove(tmp.c_str());
    throw Error(Str(path, ": write failed (", error ? std::strerror(error) : "short write", ")"));
  }
}

}  // namespace gemma4

#endif  // GEMMA4_SAFETENSORS_H_
