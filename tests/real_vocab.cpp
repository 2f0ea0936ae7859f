// The real Gemma 4 vocabulary against llama.cpp's own tokenizer test vectors (run by
// tests/real/vocab_test.sh, which finds llama.cpp's source tree):
//   real_vocab ggml-vocab-gemma-4.gguf ggml-vocab-gemma-4.gguf.inp ggml-vocab-gemma-4.gguf.out [--jsonl OUT.jsonl]
// .inp holds the strings separated by lines "__ggml_vocab_test__" (llama.cpp's tests/test-tokenizer-0.cpp
// splits at "\n__ggml_vocab_test__\n"), .out one line of space-separated ids per string, without <bos>.
// Requires, for every string, our ids (encode without specials) equal to the .out ids and decode(ids) equal
// to the string; prints the counts. --jsonl writes the strings as JSON lines for
// `gemma4-run --tokenize --tokenize-jsonl` (the same check as a user runs it, in the script).
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "gemma4/text/tokenizer_gguf.h"

namespace {

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw gemma4::Error(path + ": cannot open");
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<std::string> SplitInputs(const std::string& raw) {
  const std::string sep = "\n__ggml_vocab_test__\n";
  std::vector<std::string> out;
  for (size_t pos = 0; pos < raw.size();) {
    const size_t next = raw.find(sep, pos);
    if (next == std::string::npos) {
      out.push_back(raw.substr(pos));
      break;
    }
    out.push_back(raw.substr(pos, next - pos));
    pos = next + sep.size();
  }
  return out;
}

std::vector<int32_t> ParseIds(const std::string& line, const std::string& where) {
  std::vector<int32_t> ids;
  std::istringstream s(line);
  for (std::string w; s >> w;) {
    size_t used = 0;
    long v = -1;
    try {
      v = std::stol(w, &used);
    } catch (const std::exception&) {
    }
    if (used != w.size() || v < 0) throw gemma4::Error(where + ": \"" + w + "\" is not a token id");
    ids.push_back(int32_t(v));
  }
  return ids;
}

std::string Ids(const std::vector<int32_t>& ids) {
  std::string s;
  for (size_t i = 0; i < ids.size(); ++i) s += (i ? " " : "") + std::to_string(ids[i]);
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4 && !(argc == 6 && std::strcmp(argv[4], "--jsonl") == 0)) {
    std::fprintf(stderr, "usage: real_vocab VOCAB.gguf INP OUT [--jsonl OUT.jsonl]\n");
    return 2;
  }
  try {
    const gemma4::Tokenizer tok(gemma4::LoadTokenizerGguf(argv[1]));
    const std::vector<std::string> texts = SplitInputs(ReadAll(argv[2]));
    std::vector<std::string> lines;
    {
      std::istringstream s(ReadAll(argv[3]));
      for (std::string l; std::getline(s, l);) lines.push_back(l);
    }
    if (lines.size() != texts.size())
      throw gemma4::Error(std::string(argv[3]) + ": " + std::to_string(lines.size()) + " id lines for " +
                          std::to_string(texts.size()) + " strings in " + argv[2]);
    if (argc == 6) {
      std::ofstream j(argv[5], std::ios::binary);
      for (const std::string& t : texts) j << nlohmann::json(t).dump() << "\n";
      if (!j) throw gemma4::Error(std::string(argv[5]) + ": cannot write");
    }
    size_t same = 0, round_trips = 0;
    for (size_t i = 0; i < texts.size(); ++i) {
      const std::vector<int32_t> expected = ParseIds(lines[i], std::string(argv[3]) + ":" + std::to_string(i + 1));
      const std::vector<int32_t> ids = tok.encode(texts[i], /*add_special=*/false);
      if (ids == expected) ++same;
      else std::printf("string %zu: ids differ\n  ours:     %s\n  llama.cpp: %s\n", i + 1, Ids(ids).c_str(), Ids(expected).c_str());
      if (tok.decode(ids) == texts[i]) ++round_trips;
      else std::printf("string %zu: decode does not give the string back\n", i + 1);
    }
    std::printf("real vocabulary (%zu pieces): identical ids for %zu of %zu llama.cpp test strings; exact decode round trip %zu of %zu\n",
                tok.size(), same, texts.size(), round_trips, texts.size());
    return same == texts.size() && round_trips == texts.size() ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "real_vocab: error: %s\n", e.what());
    return 1;
  }
}
