// Our Tokenizer against Hugging Face `tokenizers` (run by tests/tokenizer/hf_oracle.sh, which computes the
// reference with tests/tokenizer/hf_oracle.py):
//   tokenizer_oracle TOKENIZER_JSON corpus.jsonl reference.jsonl
// For every corpus string: encode(text) and encode(text, add_special = false) give HF's ids, and decode of
// HF's ids, with and without skip_special, gives HF's text. Prints the counts; exit 0 only when all agree.
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "gemma4/text/tokenizer_json.h"

namespace {

std::vector<nlohmann::json> JsonLines(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw gemma4::Error(path + ": cannot open");
  std::vector<nlohmann::json> out;
  for (std::string l; std::getline(in, l);) out.push_back(nlohmann::json::parse(l));
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: tokenizer_oracle TOKENIZER_JSON corpus.jsonl reference.jsonl\n");
    return 2;
  }
  try {
    const gemma4::Tokenizer tok(gemma4::LoadTokenizerJson(argv[1]));
    const std::vector<nlohmann::json> texts = JsonLines(argv[2]), ref = JsonLines(argv[3]);
    if (texts.size() != ref.size()) throw gemma4::Error("the corpus and the reference differ in length");
    size_t ids = 0, ids_plain = 0, text = 0, text_skip = 0;
    auto report = [&](size_t i, const char* what, const std::string& ours, const std::string& theirs) {
      std::printf("string %zu: %s differs\n  ours: %s\n  HF:   %s\n", i + 1, what, ours.c_str(), theirs.c_str());
    };
    for (size_t i = 0; i < texts.size(); ++i) {
      const std::string s = texts[i].get<std::string>();
      const std::vector<int32_t> ref_ids = ref[i].at("ids").get<std::vector<int32_t>>();
      const std::vector<int32_t> ours = tok.encode(s), ours_plain = tok.encode(s, /*add_special=*/false);
      if (ours == ref_ids) ++ids;
      else report(i, "encode", nlohmann::json(ours).dump(), nlohmann::json(ref_ids).dump());
      if (ours_plain == ref[i].at("ids_plain").get<std::vector<int32_t>>()) ++ids_plain;
      else report(i, "encode without special tokens", nlohmann::json(ours_plain).dump(), ref[i].at("ids_plain").dump());
      const std::string d = tok.decode(ref_ids), d_skip = tok.decode(ref_ids, /*skip_special=*/true);
      if (d == ref[i].at("text").get<std::string>()) ++text;
      else report(i, "decode", nlohmann::json(d).dump(), ref[i].at("text").dump());
      if (d_skip == ref[i].at("text_skip").get<std::string>()) ++text_skip;
      else report(i, "decode skipping special tokens", nlohmann::json(d_skip).dump(), ref[i].at("text_skip").dump());
    }
    const size_t n = texts.size();
    std::printf("%s: identical ids %zu of %zu (without special tokens %zu of %zu); identical decoded text %zu of %zu "
                "(skipping special tokens %zu of %zu)\n",
                argv[1], ids, n, ids_plain, n, text, n, text_skip, n);
    return ids == n && ids_plain == n && text == n && text_skip == n ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tokenizer_oracle: error: %s\n", e.what());
    return 1;
  }
}
