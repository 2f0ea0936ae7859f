// libFuzzer harness for the safetensors loaders: one file's header and offsets (ParseSafetensors, every
// tensor's bytes then read, so a span past the input is an ASan report), and a sharded checkpoint
// directory (model.safetensors.index.json + shards, LoadSafetensorsDirectory).
// Input: without the separator "\n--\n", one safetensors file; with it, the parts are the index JSON and
// the shards a.safetensors and b.safetensors (written to a private temp directory).
// Any gemma4::Error is a correct answer; a crash, a sanitizer report, a timeout or a huge allocation is a bug.
#include <stdlib.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "gemma4/io/checkpoint.h"

namespace {

volatile uint8_t g_sink;

void Touch(const gemma4::Tensor& t) {
  const uint8_t* p = t.bytes();
  uint8_t x = 0;
  for (size_t i = 0; i < t.nbytes; ++i) x ^= p[i];
  g_sink = x;
}

void WriteAll(const std::string& path, const std::string& bytes) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) std::abort();
  std::fwrite(bytes.data(), 1, bytes.size(), f);
  std::fclose(f);
}

const std::string& Dir() {
  static const std::string dir = [] {
    char tmpl[] = "/tmp/gemma4-fuzz-st-XXXXXX";
    if (!mkdtemp(tmpl)) std::abort();
    return std::string(tmpl);
  }();
  return dir;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace gemma4;
  const std::string input(reinterpret_cast<const char*>(data), size);
  const std::string sep = "\n--\n";
  if (input.find(sep) == std::string::npos) {
    std::vector<uint64_t> aligned(size / 8 + 1);  // as a mapped file is: page-aligned
    std::memcpy(aligned.data(), data, size);
    try {
      const SafetensorsFile st = ParseSafetensors(reinterpret_cast<const uint8_t*>(aligned.data()), size, "fuzz.safetensors");
      for (const auto& kv : st.tensors) Touch(kv.second);
    } catch (const Error&) {
    }
    return 0;
  }
  std::vector<std::string> parts;
  for (size_t start = 0;;) {
    const size_t end = input.find(sep, start);
    parts.push_back(input.substr(start, end == std::string::npos ? std::string::npos : end - start));
    if (end == std::string::npos || parts.size() == 3) break;
    start = end + sep.size();
  }
  parts.resize(3);
  const std::string& dir = Dir();
  WriteAll(dir + "/config.json", "{}");
  WriteAll(dir + "/model.safetensors.index.json", parts[0]);
  WriteAll(dir + "/a.safetensors", parts[1]);
  WriteAll(dir + "/b.safetensors", parts[2]);
  try {
    const Checkpoint ckpt = LoadSafetensorsDirectory(dir);
    for (const auto& kv : ckpt.tensors) Touch(kv.second);
  } catch (const Error&) {
  }
  return 0;
}
