// gemma4/io/gguf.h — reading and writing GGUF (llama.cpp's model file format), every offset checked.
//
// Layout (little-endian; gguf-py/gguf/constants.py, ggml/include/gguf.h), version 3:
//   "GGUF" u32 version  u64 n_tensors  u64 n_kv
//   n_kv ×  { string key, u32 value_type, value }        string = u64 length + bytes (no terminator)
//            array value = u32 element_type, u64 count, count elements
//   n_tensors × { string name, u32 n_dims, u64 ne[n_dims], u32 ggml_type, u64 offset }
//   padding to `general.alignment` (u32, default 32), then the data section; each tensor's offset is
//   relative to the data section and a multiple of the alignment.
// ggml's `ne` lists dimensions innermost first: ne = {in, out} is the PyTorch shape [out, in].
//
// The reader maps the file and never allocates from a count it has not checked against the bytes that
// remain, so a corrupt or hostile file is a gemma4::Error naming the file and the key or tensor, never a
// crash or a giant allocation. The writer streams tensors (a callback produces each one's bytes) into a
// temporary file renamed over the target only when complete.
#ifndef GEMMA4_GGUF_H_
#define GEMMA4_GGUF_H_

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "gemma4/error.h"
#include "gemma4/io/mapped_file.h"
#include "gemma4/io/temp_file.h"

namespace gemma4 {

// Metadata value types (GGUF_TYPE_*).
enum class GgufType : uint32_t {
  UINT8 = 0, INT8 = 1, UINT16 = 2, INT16 = 3, UINT32 = 4, INT32 = 5, FLOAT32 = 6, BOOL = 7, STRING = 8,
  ARRAY = 9, UINT64 = 10, INT64 = 11, FLOAT64 = 12,
};

inline const char* GgufTypeName(GgufType t) {
  static const char* const kNames[] = {"u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "string",
                                       "array", "u64", "i64", "f64"};
  return uint32_t(t) <= 12 ? kNames[uint32_t(t)] : "?";
}

// ggml tensor types this project knows the block layout of (ggml.h enum ggml_type). Block = elements
// stored together (1 for plain types, 32 for Q8_0/Q4_0/Q5_0, 256 for K-quants), with their byte size.
struct GgmlTypeInfo {
  uint32_t id;
  const char* name;
  uint32_t block_size;
  uint32_t block_bytes;
};

inline const GgmlTypeInfo* FindGgmlType(uint32_t id) {
  static const GgmlTypeInfo kTypes[] = {
      {0, "F32", 1, 4},       {1, "F16", 1, 2},        {2, "Q4_0", 32, 18},   {3, "Q4_1", 32, 20},
      {6, "Q5_0", 32, 22},    {7, "Q5_1", 32, 24},     {8, "Q8_0", 32, 34},   {9, "Q8_1", 32, 36},
      {10, "Q2_K", 256, 84},  {11, "Q3_K", 256, 110},  {12, "Q4_K", 256, 144}, {13, "Q5_K", 256, 176},
      {14, "Q6_K", 256, 210}, {15, "Q8_K", 256, 292},  {24, "I8", 1, 1},      {25, "I16", 1, 2},
      {26, "I32", 1, 4},      {27, "I64", 1, 8},       {28, "F64", 1, 8},     {30, "BF16", 1, 2},
  };
  for (const GgmlTypeInfo& t : kTypes)
    if (t.id == id) return &t;
  return nullptr;
}

namespace ggml_type {
constexpr uint32_t F32 = 0, F16 = 1, Q4_0 = 2, Q5_0 = 6, Q8_0 = 8, Q4_K = 12, Q5_K = 13, Q6_K = 14, BF16 = 30;
}

// One metadata value. Scalars use the field of their kind (unsigned → u, signed → i, floats → f, bool →
// b, string → str); arrays hold their elements in ints (integers and bools), floats or strings, with
// `array_type` saying which. Nested arrays are not used by any model file and are rejected.
struct GgufValue {
  GgufType type = GgufType::UINT32;
  GgufType array_type = GgufType::UINT32;
  uint64_t u = 0;
  int64_t i = 0;
  double f = 0;
  bool b = false;
  std::string str;
  std::vector<int64_t> ints;
  std::vector<double> floats;
  std::vector<std::string> strings;

  static GgufValue U32(uint32_t v) { GgufValue x; x.type = GgufType::UINT32; x.u = v; return x; }
  static GgufValue I32(int32_t v) { GgufValue x; x.type = GgufType::INT32; x.i = v; return x; }
  static GgufValue F32(float v) { GgufValue x; x.type = GgufType::FLOAT32; x.f = v; return x; }
  static GgufValue Bool(bool v) { GgufValue x; x.type = GgufType::BOOL; x.b = v; return x; }
  static GgufValue String(std::string v) { GgufValue x; x.type = GgufType::STRING; x.str = std::move(v); return x; }
  static GgufValue Array(GgufType element, std::vector<int64_t> v) {
    GgufValue x; x.type = GgufType::ARRAY; x.array_type = element; x.ints = std::move(v); return x;
  }
  static GgufValue FloatArray(std::vector<double> v) {
    GgufValue x; x.type = GgufType::ARRAY; x.array_type = GgufType::FLOAT32; x.floats = std::move(v); return x;
  }
  static GgufValue StringArray(std::vector<std::string> v) {
    GgufValue x; x.type = GgufType::ARRAY; x.array_type = GgufType::STRING; x.strings = std::move(v); return x;
  }

  bool is_integer() const {
    return type == GgufType::UINT8 || type == GgufType::INT8 || type == GgufType::UINT16 || type == GgufType::INT16 ||
           type == GgufType::UINT32 || type == GgufType::INT32 || type == GgufType::UINT64 || type == GgufType::INT64;
  }
  bool is_unsigned() const {
    return type == GgufType::UINT8 || type == GgufType::UINT16 || type == GgufType::UINT32 || type == GgufType::UINT64;
  }
  size_t array_size() const {
    return array_type == GgufType::STRING ? strings.size()
           : (array_type == GgufType::FLOAT32 || array_type == GgufType::FLOAT64) ? floats.size()
                                                                                  : ints.size();
  }
};

struct GgufTensorInfo {
  std::string name;
  std::vector<uint64_t> ne;  // innermost first
  uint32_t type = 0;         // ggml type id
  uint64_t offset = 0;       // relative to the data section
  uint64_t nbytes = 0;
  const uint8_t* data = nullptr;

  uint64_t numel() const {
    uint64_t n = 1;
    for (uint64_t d : ne) n *= d;
    return n;
  }
  // PyTorch order: ne reversed.
  std::vector<int64_t> shape() const { return std::vector<int64_t>(ne.rbegin(), ne.rend()); }
};

// A parsed GGUF file. `metadata` keeps the file's key order in `keys`.
struct GgufFile {
  std::string path;
  uint32_t version = 0;
  uint32_t alignment = 32;
  std::vector<std::string> keys;
  std::map<std::string, GgufValue> metadata;
  std::vector<GgufTensorInfo> tensors;       // in file order
  std::map<std::string, size_t> tensor_index;
  std::shared_ptr<MappedFile> file;          // set by ReadGguf; the tensors point into it

  const GgufValue* find(const std::string& key) const {
    const auto it = metadata.find(key);
    return it == metadata.end() ? nullptr : &it->second;
  }
  const GgufTensorInfo* find_tensor(const std::string& name) const {
    const auto it = tensor_index.find(name);
    return it == tensor_index.end() ? nullptr : &tensors[it->second];
  }
  std::string where(const std::string& key) const { return Str(path, ": key ", key); }

  // Typed access; a missing or mistyped required key is an Error naming it.
  const GgufValue& require(const std::string& key) const {
    const GgufValue* v = find(key);
    if (!v) throw Error(Str(path, ": missing required key ", key));
    return *v;
  }
  uint64_t get_uint(const std::string& key) const {
    const GgufValue& v = require(key);
    if (!v.is_integer() || (!v.is_unsigned() && v.i < 0))
      throw Error(Str(where(key), " must be a non-negative integer, is ", GgufTypeName(v.type)));
    return v.is_unsigned() ? v.u : uint64_t(v.i);
  }
  uint64_t get_uint(const std::string& key, uint64_t fallback) const { return find(key) ? get_uint(key) : fallback; }
  double get_float(const std::string& key) const {
    const GgufValue& v = require(key);
    if (v.type == GgufType::FLOAT32 || v.type == GgufType::FLOAT64) return v.f;
    if (v.is_integer()) return v.is_unsigned() ? double(v.u) : double(v.i);
    throw Error(Str(where(key), " must be a number, is ", GgufTypeName(v.type)));
  }
  std::string get_string(const std::string& key) const {
    const GgufValue& v = require(key);
    if (v.type != GgufType::STRING) throw Error(Str(where(key), " must be a string, is ", GgufTypeName(v.type)));
    return v.str;
  }
  bool get_bool(const std::string& key, bool fallback) const {
    const GgufValue* v = find(key);
    if (!v) return fallback;
    if (v->type != GgufType::BOOL) throw Error(Str(where(key), " must be a bool, is ", GgufTypeName(v->type)));
    return v->b;
  }
};

namespace gguf_detail {

// A cursor over the header bytes; every read checks the bytes remain.
struct Reader {
  const uint8_t* base;
  uint64_t size;
  uint64_t pos = 0;
  const std::string& path;

  uint64_t remaining() const { return size - pos; }
  void need(uint64_t n, const std::string& what) const {
    if (n > remaining())
      throw Error(Str(path, ": truncated file: ", what, " needs ", n, " bytes at offset ", pos, " but only ",
                      remaining(), " remain"));
  }
  template <class T>
  T read(const std::string& what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, base + pos, sizeof(T));
    pos += sizeof(T);
    return v;
  }
  std::string read_string(const std::string& what) {
    const uint64_t n = read<uint64_t>(what + " (string length)");
    need(n, Str(what, " (string of ", n, " bytes)"));
    std::string s(reinterpret_cast<const char*>(base + pos), size_t(n));
    pos += n;
    return s;
  }
};

inline uint64_t ScalarBytes(GgufType t) {
  switch (t) {
    case GgufType::UINT8: case GgufType::INT8: case GgufType::BOOL: return 1;
    case GgufType::UINT16: case GgufType::INT16: return 2;
    case GgufType::UINT32: case GgufType::INT32: case GgufType::FLOAT32: return 4;
    case GgufType::UINT64: case GgufType::INT64: case GgufType::FLOAT64: return 8;
    case GgufType::STRING: return 8;  // at least its length field
    case GgufType::ARRAY: return 12;
  }
  return 0;
}

// Reads one scalar of type t into v's scalar fields.
inline void ReadScalar(Reader& r, GgufType t, GgufValue& v, const std::string& what) {
  v.type = t;
  switch (t) {
    case GgufType::UINT8: v.u = r.read<uint8_t>(what); break;
    case GgufType::INT8: v.i = r.read<int8_t>(what); break;
    case GgufType::UINT16: v.u = r.read<uint16_t>(what); break;
    case GgufType::INT16: v.i = r.read<int16_t>(what); break;
    case GgufType::UINT32: v.u = r.read<uint32_t>(what); break;
    case GgufType::INT32: v.i = r.read<int32_t>(what); break;
    case GgufType::UINT64: v.u = r.read<uint64_t>(what); break;
    case GgufType::INT64: v.i = r.read<int64_t>(what); break;
    case GgufType::FLOAT32: v.f = r.read<float>(what); break;
    case GgufType::FLOAT64: v.f = r.read<double>(what); break;
    case GgufType::BOOL: {
      const uint8_t b = r.read<uint8_t>(what);
      if (b > 1) throw Error(Str(r.path, ": ", what, ": bool value ", int(b), " is neither 0 nor 1"));
      v.b = b != 0;
      break;
    }
    case GgufType::STRING: v.str = r.read_string(what); break;
    case GgufType::ARRAY: throw Error(Str(r.path, ": ", what, ": nested arrays are not supported"));
  }
}

inline GgufType CheckType(uint32_t raw, const std::string& path, const std::string& what) {
  if (raw > 12) throw Error(Str(path, ": ", what, ": unknown value type ", raw));
  return GgufType(raw);
}

inline GgufValue ReadValue(Reader& r, GgufType t, const std::string& what) {
  GgufValue v;
  if (t != GgufType::ARRAY) {
    ReadScalar(r, t, v, what);
    return v;
  }
  v.type = GgufType::ARRAY;
  v.array_type = CheckType(r.read<uint32_t>(what + " (array type)"), r.path, what);
  if (v.array_type == GgufType::ARRAY) throw Error(Str(r.path, ": ", what, ": nested arrays are not supported"));
  const uint64_t n = r.read<uint64_t>(what + " (array length)");
  // Each element takes at least ScalarBytes bytes: a count the remaining bytes cannot hold is corrupt,
  // and checking it first bounds every allocation below by the file size.
  if (n > r.remaining() / ScalarBytes(v.array_type))
    throw Error(Str(r.path, ": ", what, ": array of ", n, " ", GgufTypeName(v.array_type),
                    " runs past the end of the file (truncated or corrupt)"));
  GgufValue e;
  if (v.array_type == GgufType::STRING) v.strings.reserve(size_t(n));
  else if (v.array_type == GgufType::FLOAT32 || v.array_type == GgufType::FLOAT64) v.floats.reserve(size_t(n));
  else v.ints.reserve(size_t(n));
  for (uint64_t k = 0; k < n; ++k) {
    ReadScalar(r, v.array_type, e, what);
    switch (v.array_type) {
      case GgufType::STRING: v.strings.push_back(std::move(e.str)); break;
      case GgufType::FLOAT32: case GgufType::FLOAT64: v.floats.push_back(e.f); break;
      case GgufType::BOOL: v.ints.push_back(e.b); break;
      case GgufType::UINT64:
        if (e.u > uint64_t(INT64_MAX)) throw Error(Str(r.path, ": ", what, "[", k, "] = ", e.u, " is too large"));
        v.ints.push_back(int64_t(e.u));
        break;
      default: v.ints.push_back(e.is_unsigned() ? int64_t(e.u) : e.i);
    }
  }
  return v;
}

}  // namespace gguf_detail

constexpr uint32_t kGgufMagic = 0x46554747;  // "GGUF" read as a little-endian u32
constexpr uint64_t kGgufMaxDims = 4;          // GGML_MAX_DIMS

// Parses GGUF bytes held in memory; `path` names them in errors. The tensors point into `base`.
inline GgufFile ParseGguf(const uint8_t* base, uint64_t size, const std::string& path) {
  using namespace gguf_detail;
  GgufFile g;
  g.path = path;
  Reader r{base, size, 0, path};
  const uint32_t magic = r.read<uint32_t>("magic");
  if (magic != kGgufMagic) throw Error(Str(path, ": not a GGUF file (wrong magic; expected \"GGUF\")"));
  g.version = r.read<uint32_t>("version");
  if (g.version != 2 && g.version != 3)
    throw Error(Str(path, ": GGUF version ", g.version, " is not supported (2 or 3)"));
  const uint64_t n_tensors = r.read<uint64_t>("tensor count");
  const uint64_t n_kv = r.read<uint64_t>("metadata count");
  if (n_kv > r.remaining() / 13)  // key length 8 + ≥1 byte + type 4 + ≥1-byte value... at least 13 bytes each
    throw Error(Str(path, ": metadata count ", n_kv, " cannot fit in the file (truncated or corrupt)"));
  if (n_tensors > r.remaining() / 32)  // name length 8, n_dims 4, ne 8, type 4, offset 8
    throw Error(Str(path, ": tensor count ", n_tensors, " cannot fit in the file (truncated or corrupt)"));

  for (uint64_t k = 0; k < n_kv; ++k) {
    const std::string key = r.read_string(Str("metadata key #", k));
    const std::string what = "key " + key;
    const GgufType t = CheckType(r.read<uint32_t>(what + " (type)"), path, what);
    GgufValue v = ReadValue(r, t, what);
    if (!g.metadata.emplace(key, std::move(v)).second) throw Error(Str(path, ": key ", key, " appears twice"));
    g.keys.push_back(key);
  }
  if (const GgufValue* a = g.find("general.alignment")) {
    if (a->type != GgufType::UINT32) throw Error(Str(g.where("general.alignment"), " must be u32, is ", GgufTypeName(a->type)));
    // A power of two, and at least 8: the kernels load f32 (and f16 block scales) in place, so tensor data
    // must sit at addresses that are multiples of the element size (alignment 1 gave misaligned loads).
    if (a->u < 8 || (a->u & (a->u - 1)) != 0)
      throw Error(Str(g.where("general.alignment"), " = ", a->u, " is not a power of two >= 8"));
    g.alignment = uint32_t(a->u);
  }

  g.tensors.reserve(size_t(n_tensors));
  for (uint64_t k = 0; k < n_tensors; ++k) {
    GgufTensorInfo t;
    t.name = r.read_string(Str("tensor #", k, " name"));
    const std::string what = "tensor " + t.name;
    const uint32_t n_dims = r.read<uint32_t>(what + " (n_dims)");
    if (n_dims == 0 || n_dims > kGgufMaxDims)
      throw Error(Str(path, ": ", what, ": ", n_dims, " dimensions (1 to ", kGgufMaxDims, " allowed)"));
    uint64_t numel = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      const uint64_t ne = r.read<uint64_t>(what + " (ne)");
      if (ne > (uint64_t{1} << 40) || __builtin_mul_overflow(numel, ne, &numel) || numel > (uint64_t{1} << 50))
        throw Error(Str(path, ": ", what, ": dimension ", ne, " makes the tensor absurdly large"));
      t.ne.push_back(ne);
    }
    t.type = r.read<uint32_t>(what + " (type)");
    const GgmlTypeInfo* info = FindGgmlType(t.type);
    if (!info) throw Error(Str(path, ": ", what, ": unknown ggml type ", t.type));
    if (t.ne[0] % info->block_size)
      throw Error(Str(path, ": ", what, ": row length ", t.ne[0], " is not a multiple of ", info->name, "'s block of ",
                      info->block_size));
    t.nbytes = numel / info->block_size * info->block_bytes;
    t.offset = r.read<uint64_t>(what + " (offset)");
    if (t.offset % g.alignment)
      throw Error(Str(path, ": ", what, ": offset ", t.offset, " is not a multiple of the alignment ", g.alignment));
    if (!g.tensor_index.emplace(t.name, g.tensors.size()).second)
      throw Error(Str(path, ": tensor ", t.name, " appears twice"));
    g.tensors.push_back(std::move(t));
  }
  const uint64_t data_start = (r.pos + g.alignment - 1) / g.alignment * g.alignment;
  if (data_start > size && !g.tensors.empty())
    throw Error(Str(path, ": truncated file: the data section would start at ", data_start, ", past the end (", size, ")"));
  const uint64_t data_size = data_start <= size ? size - data_start : 0;
  // Tensor data must lie inside the file and not overlap (sorted by offset).
  std::vector<size_t> order(g.tensors.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return g.tensors[a].offset < g.tensors[b].offset; });
  uint64_t prev_end = 0;
  const GgufTensorInfo* prev = nullptr;
  for (size_t i : order) {
    GgufTensorInfo& t = g.tensors[i];
    if (t.offset > data_size || t.nbytes > data_size - t.offset)
      throw Error(Str(path, ": tensor ", t.name, ": data [", t.offset, ", ", t.offset + t.nbytes,
                      ") runs past the end of the file (", data_size, " bytes of data; truncated file?)"));
    if (prev && t.offset < prev_end && t.nbytes)
      throw Error(Str(path, ": tensors ", prev->name, " and ", t.name, " overlap"));
    t.data = base + data_start + t.offset;
    if (t.nbytes) {
      prev_end = t.offset + t.nbytes;
      prev = &t;
    }
  }
  return g;
}

// Maps a file and parses it; the mapping lives as long as the GgufFile (or a copy of `file`).
inline GgufFile ReadGguf(const std::string& path) {
  auto file = std::make_shared<MappedFile>(path);
  GgufFile g = ParseGguf(file->data(), file->size(), path);
  g.file = file;
  return g;
}

// True when the file starts with the GGUF magic (cheap format sniffing for loaders).
inline bool LooksLikeGguf(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return false;
  uint32_t magic = 0;
  const bool ok = std::fread(&magic, 4, 1, f) == 1 && magic == kGgufMagic;
  std::fclose(f);
  return ok;
}

// The tokenizer part of a GGUF (tokenizer.ggml.*, tokenizer.chat_template), as plain data for the
// tokenizer to build on. Ids are -1 where the key is absent.
struct GgufTokenizerMetadata {
  std::string model;                  // tokenizer.ggml.model ("gemma4", "llama", "gpt2", ...)
  std::string pre;                    // tokenizer.ggml.pre (may be empty)
  std::vector<std::string> tokens;    // tokenizer.ggml.tokens
  std::vector<float> scores;          // tokenizer.ggml.scores (empty or one per token)
  std::vector<int32_t> token_type;    // tokenizer.ggml.token_type (1 normal, 2 unknown, 3 control, 4 user, 6 byte)
  std::vector<std::string> merges;    // tokenizer.ggml.merges ("a b")
  int64_t bos_token_id = -1, eos_token_id = -1, unknown_token_id = -1, padding_token_id = -1;
  bool add_bos_token = false, add_eos_token = false, add_space_prefix = false;
  std::string chat_template;          // tokenizer.chat_template
};

inline GgufTokenizerMetadata ReadGgufTokenizerMetadata(const GgufFile& g) {
  GgufTokenizerMetadata m;
  auto strings = [&](const std::string& key, bool required) {
    const GgufValue* v = g.find(key);
    if (!v) {
      if (required) throw Error(Str(g.path, ": missing required key ", key));
      return std::vector<std::string>();
    }
    if (v->type != GgufType::ARRAY || v->array_type != GgufType::STRING)
      throw Error(Str(g.where(key), " must be an array of strings"));
    return v->strings;
  };
  m.model = g.get_string("tokenizer.ggml.model");
  if (g.find("tokenizer.ggml.pre")) m.pre = g.get_string("tokenizer.ggml.pre");
  m.tokens = strings("tokenizer.ggml.tokens", true);
  m.merges = strings("tokenizer.ggml.merges", false);
  if (const GgufValue* v = g.find("tokenizer.ggml.scores")) {
    if (v->type != GgufType::ARRAY || (v->array_type != GgufType::FLOAT32 && v->array_type != GgufType::FLOAT64) ||
        v->floats.size() != m.tokens.size())
      throw Error(Str(g.where("tokenizer.ggml.scores"), " must be an array of ", m.tokens.size(), " floats"));
    m.scores.assign(v->floats.begin(), v->floats.end());
  }
  if (const GgufValue* v = g.find("tokenizer.ggml.token_type")) {
    if (v->type != GgufType::ARRAY || v->array_type == GgufType::STRING || v->array_type == GgufType::FLOAT32 ||
        v->array_type == GgufType::FLOAT64 || v->ints.size() != m.tokens.size())
      throw Error(Str(g.where("tokenizer.ggml.token_type"), " must be an array of ", m.tokens.size(), " integers"));
    m.token_type.assign(v->ints.begin(), v->ints.end());
  }
  auto id = [&](const std::string& key) -> int64_t {
    if (!g.find(key)) return -1;
    const uint64_t x = g.get_uint(key);
    if (x >= m.tokens.size()) throw Error(Str(g.where(key), " = ", x, " is outside the vocabulary (", m.tokens.size(), ")"));
    return int64_t(x);
  };
  m.bos_token_id = id("tokenizer.ggml.bos_token_id");
  m.eos_token_id = id("tokenizer.ggml.eos_token_id");
  m.unknown_token_id = id("tokenizer.ggml.unknown_token_id");
  m.padding_token_id = id("tokenizer.ggml.padding_token_id");
  m.add_bos_token = g.get_bool("tokenizer.ggml.add_bos_token", false);
  m.add_eos_token = g.get_bool("tokenizer.ggml.add_eos_token", false);
  m.add_space_prefix = g.get_bool("tokenizer.ggml.add_space_prefix", false);
  if (g.find("tokenizer.chat_template")) m.chat_template = g.get_string("tokenizer.chat_template");
  return m;
}

// ---- writing ----

// A tensor to write: its name, ggml ne (innermost first), type, and a callback that passes exactly its
// bytes, in any number of pieces, to `sink` (called once, in file order, so neither the model nor even one
// tensor has to be in memory whole).
using GgufSink = std::function<void(const void* data, size_t n)>;
struct GgufTensorToWrite {
  std::string name;
  std::vector<uint64_t> ne;
  uint32_t type = ggml_type::F32;
  std::function<void(const GgufSink& sink)> produce;

  uint64_t nbytes() const {
    const GgmlTypeInfo* info = FindGgmlType(type);
    uint64_t n = 1;
    for (uint64_t d : ne) n *= d;
    return n / info->block_size * info->block_bytes;
  }
};

struct GgufWriter {
  std::vector<std::pair<std::string, GgufValue>> metadata;  // in order
  std::vector<GgufTensorToWrite> tensors;
  uint32_t alignment = 32;

  void set(const std::string& key, GgufValue v) {
    for (auto& kv : metadata)
      if (kv.first == key) {
        kv.second = std::move(v);
        return;
      }
    metadata.emplace_back(key, std::move(v));
  }

  // Writes `path` atomically (path + ".tmp", renamed when complete). `progress(done, total)` is called
  // after each tensor.
  void write(const std::string& path, const std::function<void(size_t, size_t)>& progress = nullptr) const {
    std::string header;
    auto put = [&](const void* p, size_t n) { header.append(static_cast<const char*>(p), n); };
    auto put_u32 = [&](uint32_t v) { put(&v, 4); };
    auto put_u64 = [&](uint64_t v) { put(&v, 8); };
    auto put_str = [&](const std::string& s) { put_u64(s.size()); put(s.data(), s.size()); };
    auto put_scalar = [&](GgufType t, const GgufValue& v, size_t k) {
      const bool arr = v.type == GgufType::ARRAY;
      const bool int_elem = t != GgufType::STRING && t != GgufType::FLOAT32 && t != GgufType::FLOAT64;
      const int64_t iv = !int_elem ? 0 : arr ? v.ints[k] : (v.is_unsigned() ? int64_t(v.u) : v.i);
      const double fv = int_elem || t == GgufType::STRING ? 0.0 : arr ? v.floats[k] : v.f;
      switch (t) {
        case GgufType::UINT8: case GgufType::INT8: { const uint8_t x = uint8_t(iv); put(&x, 1); break; }
        case GgufType::BOOL: { const uint8_t x = arr ? uint8_t(v.ints[k] != 0) : uint8_t(v.b); put(&x, 1); break; }
        case GgufType::UINT16: case GgufType::INT16: { const uint16_t x = uint16_t(iv); put(&x, 2); break; }
        case GgufType::UINT32: case GgufType::INT32: put_u32(uint32_t(iv)); break;
        case GgufType::UINT64: case GgufType::INT64: put_u64(uint64_t(iv)); break;
        case GgufType::FLOAT32: { const float x = float(fv); put(&x, 4); break; }
        case GgufType::FLOAT64: put(&fv, 8); break;
        case GgufType::STRING: put_str(arr ? v.strings[k] : v.str); break;
        case GgufType::ARRAY: throw Error(Str(path, ": nested arrays cannot be written"));
      }
    };
    put_u32(kGgufMagic);
    put_u32(3);
    put_u64(tensors.size());
    bool has_alignment = false;
    for (const auto& kv : metadata) has_alignment |= kv.first == "general.alignment";
    put_u64(metadata.size() + (alignment != 32 && !has_alignment));
    for (const auto& [key, v] : metadata) {
      put_str(key);
      put_u32(uint32_t(v.type));
      if (v.type == GgufType::ARRAY) {
        put_u32(uint32_t(v.array_type));
        put_u64(v.array_size());
        for (size_t k = 0; k < v.array_size(); ++k) put_scalar(v.array_type, v, k);
      } else {
        put_scalar(v.type, v, 0);
      }
    }
    if (alignment != 32 && !has_alignment) {
      put_str("general.alignment");
      put_u32(uint32_t(GgufType::UINT32));
      put_u32(alignment);
    }
    auto align_up = [&](uint64_t x) { return (x + alignment - 1) / alignment * alignment; };
    uint64_t offset = 0;
    for (const GgufTensorToWrite& t : tensors) {
      const GgmlTypeInfo* info = FindGgmlType(t.type);
      if (!info) throw Error(Str(path, ": tensor ", t.name, ": unknown ggml type ", t.type));
      if (t.ne.empty() || t.ne[0] % info->block_size)
        throw Error(Str(path, ": tensor ", t.name, ": row length is not a multiple of ", info->name, "'s block"));
      put_str(t.name);
      put_u32(uint32_t(t.ne.size()));
      for (uint64_t d : t.ne) put_u64(d);
      put_u32(t.type);
      put_u64(offset);
      offset = align_up(offset + t.nbytes());
    }
    header.append(size_t(align_up(header.size()) - header.size()), '\0');

    // The temporary file is renamed over `path`: refuse anything but a regular file there (renaming over
    // /dev/stdout or a symlink would replace the link, not write through it).
    struct stat st;
    if (::lstat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode))
      throw Error(Str(path, ": exists and is not a regular file; write the GGUF to a plain file path"));
    TempFile out(path);  // path.tmp, renamed over path by commit(), removed on any failure (temp_file.h)
    auto fail = [&](const std::string& why) {
      out.discard();
      throw Error(Str(path, ": ", why));
    };
    if (!out.write(header.data(), header.size())) fail(out.error());
    const std::vector<uint8_t> zeros(alignment, 0);
    for (size_t i = 0; i < tensors.size(); ++i) {
      const GgufTensorToWrite& t = tensors[i];
      uint64_t written = 0;
      bool io_ok = true;
      try {
        t.produce([&](const void* data, size_t n) {
          io_ok = io_ok && out.write(data, n);
          written += n;
        });
      } catch (const std::exception& e) {
        fail(Str("tensor ", t.name, ": ", e.what()));
      }
      if (!io_ok) fail(Str("write failed (", std::strerror(errno), ")"));
      if (written != t.nbytes()) fail(Str("tensor ", t.name, ": produced ", written, " bytes, expected ", t.nbytes()));
      const size_t pad = size_t(align_up(written) - written);
      if (!out.write(zeros.data(), pad)) fail(out.error());
      if (progress) progress(i + 1, tensors.size());
    }
    out.commit();
  }
};

}  // namespace gemma4

#endif  // GEMMA4_GGUF_H_
