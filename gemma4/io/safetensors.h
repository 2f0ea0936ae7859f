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
#include "gemma4/io/json.h"
#include "gemma4/io/mapped_file.h"
#include "gemma4/io/temp_file.h"
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
inline SafetensorsFile ParseSafetensorsUnguarded(const uint8_t* base, size_t size, const std::string& path);
inline SafetensorsFile ParseSafetensors(const uint8_t* base, size_t size, const std::string& path) {
  return JsonGuard(path, [&] { return ParseSafetensorsUnguarded(base, size, path); });
}
inline SafetensorsFile ParseSafetensorsUnguarded(const uint8_t* base, size_t size, const std::string& path) {
  SafetensorsFile st;
  if (size < 8) throw Error(Str(path, ": truncated safetensors file (", size, " bytes, no header length)"));
  uint64_t header_len;
  std::memcpy(&header_len, base, 8);  // little-endian on every platform we build for
  if (header_len > size - 8)
    throw Error(Str(path, ": header length ", header_len, " runs past the end of the file (", size, " bytes)"));
  const nlohmann::json header = ParseJson(reinterpret_cast<const char*>(base) + 8, size_t(header_len), path + " (header)");
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
      throw Error(Str(where, ": unknown dtype ", Brief(entry["dtype"])));
    if (!entry["shape"].is_array()) throw Error(Str(where, ": shape is not an array"));
    uint64_t nbytes = ops::DTypeSize(t.dtype);
    for (const auto& d : entry["shape"]) {
      if (!d.is_number_unsigned()) throw Error(Str(where, ": shape ", Brief(entry["shape"]), " is not a list of sizes"));
      const uint64_t dim = d.get<uint64_t>();
      if (dim > (uint64_t{1} << 40) || __builtin_mul_overflow(nbytes, dim, &nbytes))
        throw Error(Str(where, ": shape ", Brief(entry["shape"]), " is too large"));
      t.shape.push_back(static_cast<int64_t>(dim));
    }
    const auto& off = entry["data_offsets"];
    if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() || !off[1].is_number_unsigned())
      throw Error(Str(where, ": data_offsets ", Brief(off), " is not [begin, end]"));
    const uint64_t begin = off[0].get<uint64_t>(), end = off[1].get<uint64_t>();
    if (begin > end) throw Error(Str(where, ": data_offsets ", Brief(off), " end before begin"));
    if (end > data_size)
      throw Error(Str(where, ": data ends at byte ", end, " but the file holds only ", data_size,
                      " bytes of data (truncated file?)"));
    if (end - begin != nbytes)
      throw Error(Str(where, ": data_offsets span ", end - begin, " bytes but ", DTypeName(t.dtype), " ",
                      ShapeString(t.shape), " needs ", nbytes));
    // Kernels load elements in place: each tensor must start at a multiple of its element size (writers
    // pad the header to 8 bytes for this; a file that does not is refused, not read with misaligned loads).
    if (reinterpret_cast<uintptr_t>(data + begin) % ops::DTypeSize(t.dtype) != 0)
      throw Error(Str(where, ": data starts at byte ", 8 + header_len + begin, " of the file, not a multiple of its ",
                      ops::DTypeSize(t.dtype), "-byte ", DTypeName(t.dtype), " elements (header length ", header_len,
                      " is not padded to 8 bytes?)"));
    t.data = data + begin;
    t.nbytes = nbytes;
    spans.push_back({begin, end, name});
    st.tensors.emplace(name, std::move(t));
  }
  // No two tensors share a byte, and no tensor (even an empty one) starts inside another: sorted by
  // (begin, end), each span must start at or after the furthest end seen so far (not just its neighbour's:
  // A[0,16) B[4,4) C[8,16) overlaps although no neighbours do).
  std::sort(spans.begin(), spans.end(), [](const Span& a, const Span& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  const Span* furthest = nullptr;  // the span with the largest end so far
  for (const Span& span : spans) {
    if (furthest && span.begin < furthest->end)
      throw Error(Str(path, ": tensors ", furthest->name, " and ", span.name, " overlap"));
    if (!furthest || span.end > furthest->end) furthest = &span;
  }
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
  // Largest elements first (as HF's writer does): with the header padded to 8, every tensor then starts
  // at a multiple of its element size without gaps between tensors (which HF's reader refuses).
  std::vector<Tensor> sorted = tensors;
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const Tensor& a, const Tensor& b) { return ops::DTypeSize(a.dtype) > ops::DTypeSize(b.dtype); });
  uint64_t offset = 0;
  for (const Tensor& t : sorted) {
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
  TempFile out(path);  // path.tmp, renamed over path by commit(), removed on any failure (temp_file.h)
  const uint64_t header_len = text.size();
  bool ok = out.write(&header_len, 8) && out.write(text.data(), text.size());
  for (const Tensor& t : sorted) ok = ok && out.write(t.data, t.nbytes);
  if (!ok) throw Error(Str(path, ": ", out.error()));  // (out's destructor removes path.tmp)
  out.commit();
}

}  // namespace gemma4

#endif  // GEMMA4_SAFETENSORS_H_
