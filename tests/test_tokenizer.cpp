// The tokenizer pipeline, one component at a time, on small hand-written tokenizer.json files whose right
// answers can be worked out by hand (the real 262144-piece vocabulary: tests/tokenizer/fixture_test.sh).
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "gemma4/text/tokenizer_json.h"
#include "gemma4/text/utf8.h"

using gemma4::Tokenizer;
using nlohmann::json;
using Ids = std::vector<int32_t>;

namespace {

// A tokenizer.json with single characters a..e (ids 10..14), '▁' 15, byte tokens <0x00>..<0xFF> (100..355),
// and the given merges; the caller adds or replaces pipeline parts.
json Base(const json& merges = json::array()) {
  json vocab = {{"<pad>", 0}, {"<eos>", 1}, {"<bos>", 2}, {"<unk>", 3}, {"a", 10}, {"b", 11}, {"c", 12},
                {"d", 13}, {"e", 14}, {"\xE2\x96\x81", 15}};
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof name, "<0x%02X>", b);
    vocab[name] = 100 + b;
  }
  int next = 400;
  for (const json& m : merges) vocab[m[0].get<std::string>() + m[1].get<std::string>()] = next++;
  return {{"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", merges}, {"unk_token", "<unk>"}, {"byte_fallback", true}}},
          {"added_tokens", json::array({{{"id", 0}, {"content", "<pad>"}, {"special", true}},
                                        {{"id", 1}, {"content", "<eos>"}, {"special", true}},
                                        {{"id", 2}, {"content", "<bos>"}, {"special", true}}})},
          {"normalizer", nullptr}, {"pre_tokenizer", nullptr}, {"post_processor", nullptr},
          {"decoder", {{"type", "Sequence"}, {"decoders", json::array({{{"type", "Replace"}, {"pattern", {{"String", "\xE2\x96\x81"}}}, {"content", " "}},
                                                                     {{"type", "ByteFallback"}}, {{"type", "Fuse"}}})}}}};
}

Tokenizer Make(const json& j) { return Tokenizer(gemma4::TokenizerSpecFromJson(j, "test.json")); }

int32_t Id(const Tokenizer& t, const std::string& piece) {
  const int32_t id = t.token_id(piece);
  REQUIRE(id >= 0);
  return id;
}

std::string ErrorOf(const json& j) {
  try {
    Make(j);
  } catch (const gemma4::Error& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST_CASE("BPE merges the lowest-ranked pair first, leftmost on ties", "[tokenizer]") {
  // "abc": with b+c ranked first the result is a|bc; with a+b first it is ab|c, then abc.
  Tokenizer bc_first = Make(Base(json::array({{"b", "c"}, {"a", "b"}})));
  CHECK(bc_first.encode("abc", false) == Ids{10, Id(bc_first, "bc")});
  Tokenizer ab_first = Make(Base(json::array({{"a", "b"}, {"b", "c"}, {"ab", "c"}})));
  CHECK(ab_first.encode("abc", false) == Ids{Id(ab_first, "abc")});
  // "aaa" with only a+a: the leftmost pair merges, the last a stays.
  Tokenizer aa = Make(Base(json::array({{"a", "a"}})));
  CHECK(aa.encode("aaa", false) == Ids{Id(aa, "aa"), 10});
  CHECK(aa.encode("aaaa", false) == Ids{Id(aa, "aa"), Id(aa, "aa")});
  // merges may also be written "left right"
  json j = Base(json::array({{"a", "b"}}));
  j["model"]["merges"] = json::array({"a b"});
  CHECK(Make(j).encode("ab", false) == Ids{400});
}

TEST_CASE("byte_fallback, <unk>, fuse_unk and invalid UTF-8", "[tokenizer]") {
  Tokenizer t = Make(Base());
  CHECK(t.encode("a\xC3\xA9", false) == Ids{10, 100 + 0xC3, 100 + 0xA9});    // é has no piece: its bytes
  CHECK(t.encode("a\xFF" "b", false) == Ids{10, 100 + 0xFF, 11});            // an invalid byte is a byte token
  CHECK(t.encode("\xED\xA0\x80", false) == Ids{100 + 0xED, 100 + 0xA0, 100 + 0x80});  // a surrogate is invalid
  CHECK(t.decode({10, 100 + 0xFF, 11}) == "a\xFF" "b");                    // ... and comes back unchanged
  json no_fallback = Base();
  no_fallback["model"]["byte_fallback"] = false;
  CHECK(Make(no_fallback).encode("a\xC3\xA9\xC3\xA9" "b", false) == Ids{10, 3, 3, 11});
  no_fallback["model"]["fuse_unk"] = true;
  CHECK(Make(no_fallback).encode("a\xC3\xA9\xC3\xA9" "b", false) == Ids{10, 3, 11});
  no_fallback["model"].erase("unk_token");
  CHECK_THROWS_WITH(Make(no_fallback).encode("\xC3\xA9"), Catch::Contains("no unk_token"));
}

TEST_CASE("added tokens are matched first, longest match, in the raw text", "[tokenizer]") {
  json j = Base(json::array({{"a", "b"}}));
  j["added_tokens"].push_back({{"id", 50}, {"content", "<x>"}, {"special", false}});
  j["added_tokens"].push_back({{"id", 51}, {"content", "<x><y>"}, {"special", true}});
  j["added_tokens"].push_back({{"id", 52}, {"content", "[L]"}, {"lstrip", true}});
  j["added_tokens"].push_back({{"id", 53}, {"content", "[R]"}, {"rstrip", true}});
  Tokenizer t = Make(j);
  CHECK(t.encode("a<x>b", false) == Ids{10, 50, 11});
  CHECK(t.encode("a<x><y>b", false) == Ids{10, 51, 11});       // the longer token wins
  CHECK(t.encode("<x<x>", false) == Ids{100 + '<', 100 + 'x', 50});
  CHECK(t.encode("a<bos>b", false) == Ids{10, 2, 11});
  CHECK(t.encode("a<x>b<x>ab", false) == Ids{10, 50, 11, 50, 400});  // BPE never merges across an added token
  CHECK(t.encode("a  [L]  b", false) == Ids{10, 52, 100 + ' ', 100 + ' ', 11});  // lstrip eats the spaces before
  CHECK(t.encode("a  [R]  b", false) == Ids{10, 100 + ' ', 100 + ' ', 53, 11});  // rstrip those after
  CHECK(t.decode({10, 51, 11}) == "a<x><y>b");
  CHECK(t.decode({10, 51, 50, 11}, /*skip_special=*/true) == "a<x>b");  // special skipped, non-special kept
  CHECK(t.is_special(51));
  CHECK_FALSE(t.is_special(50));
}

TEST_CASE("normalizer: Replace (string and regex), Prepend, Sequence", "[tokenizer]") {
  json j = Base();
  j["normalizer"] = {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", "\xE2\x96\x81"}};
  CHECK(Make(j).encode("a b", false) == Ids{10, 15, 11});
  j["normalizer"] = {{"type", "Sequence"},
                     {"normalizers", json::array({{{"type", "Replace"}, {"pattern", {{"Regex", " +"}}}, {"content", " "}},
                                                  {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", "\xE2\x96\x81"}},
                                                  {{"type", "Prepend"}, {"prepend", "\xE2\x96\x81"}}})}};
  Tokenizer t = Make(j);
  CHECK(t.encode("a   b", false) == Ids{15, 10, 15, 11});
  CHECK(t.encode("", false).empty());  // Prepend leaves an empty text empty
  CHECK(t.decode(t.encode("a b", false)) == " a b");
}

TEST_CASE("pre_tokenizer Split: every behavior, invert, Sequence", "[tokenizer]") {
  using V = std::vector<std::string>;
  auto words = [](const std::string& behavior, const json& pattern, const std::string& text, bool invert = false) {
    json j = Base();
    j["pre_tokenizer"] = {{"type", "Split"}, {"pattern", pattern}, {"behavior", behavior}, {"invert", invert}};
    return Make(j).pre_tokenize(text);
  };
  const json dash = {{"String", "-"}};
  CHECK(words("Removed", dash, "a-b--c") == V{"a", "b", "c"});
  CHECK(words("Isolated", dash, "a-b--c") == V{"a", "-", "b", "-", "-", "c"});
  CHECK(words("MergedWithPrevious", dash, "a-b--c") == V{"a-", "b-", "-", "c"});
  CHECK(words("MergedWithNext", dash, "a-b--c") == V{"a", "-b", "-", "-c"});
  CHECK(words("MergedWithNext", dash, "a-b-c") == V{"a", "-b", "-c"});
  CHECK(words("Contiguous", dash, "a-b--c") == V{"a", "-", "b", "--", "c"});
  CHECK(words("Isolated", {{"Regex", "\\n+"}}, "ab\n\n\ncd\ne") == V{"ab", "\n\n\n", "cd", "\n", "e"});
  CHECK(words("Isolated", {{"Regex", "\\p{L}+"}}, "ab12\xCE\xB1\xCE\xB2!", /*invert=*/true) == V{"ab", "12", "\xCE\xB1\xCE\xB2", "!"});
  CHECK(words("Removed", {{"Regex", "\\p{L}+"}}, "ab12\xCE\xB1\xCE\xB2!", /*invert=*/true) == V{"ab", "\xCE\xB1\xCE\xB2"});
  json j = Base(json::array({{"a", "b"}}));
  j["pre_tokenizer"] = {{"type", "Sequence"},
                        {"pretokenizers", json::array({{{"type", "Split"}, {"pattern", {{"String", "-"}}}, {"behavior", "Removed"}},
                                                       {{"type", "Split"}, {"pattern", {{"String", "c"}}}, {"behavior", "Isolated"}}})}};
  Tokenizer t = Make(j);
  CHECK(t.pre_tokenize("ab-acb") == V{"ab", "a", "c", "b"});
  CHECK(t.encode("a-b", false) == Ids{10, 11});  // words are merged separately: no "ab" across the split
  CHECK(t.encode("ab", false) == Ids{400});
}

TEST_CASE("decoder: Replace, ByteFallback, Fuse, Strip — post_processor TemplateProcessing", "[tokenizer]") {
  json j = Base();
  j["normalizer"] = {{"type", "Sequence"}, {"normalizers", json::array({{{"type", "Prepend"}, {"prepend", "\xE2\x96\x81"}},
                                                                      {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", "\xE2\x96\x81"}}})}};
  j["decoder"]["decoders"].push_back({{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}});  // Llama-2 style
  j["post_processor"] = {{"type", "TemplateProcessing"},
                         {"single", json::array({{{"SpecialToken", {{"id", "<bos>"}, {"type_id", 0}}}},
                                                 {{"Sequence", {{"id", "A"}, {"type_id", 0}}}},
                                                 {{"SpecialToken", {{"id", "<eos>"}, {"type_id", 0}}}}})},
                         {"special_tokens", {{"<bos>", {{"id", "<bos>"}, {"ids", {2}}}}, {"<eos>", {{"id", "<eos>"}, {"ids", {1}}}}}}};
  Tokenizer t = Make(j);
  const Ids ids = t.encode("a b");
  CHECK(ids == Ids{2, 15, 10, 15, 11, 1});
  CHECK(t.decode(ids, /*skip_special=*/true) == "a b");  // the prepended space is stripped once, at the start
  CHECK(t.decode({100 + 0xE4, 100 + 0xBD, 100 + 0xA0}) == "\xE4\xBD\xA0");
}

TEST_CASE("streaming decode never returns half a character", "[tokenizer]") {
  Tokenizer t = Make(Base());
  Tokenizer::DecodeStream stream(t);
  CHECK(stream.text(10) == "a");
  CHECK(stream.text(100 + 0xE4) == "");  // 你 = E4 BD A0, one byte token at a time
  CHECK(stream.text(100 + 0xBD) == "");
  CHECK(stream.text(100 + 0xA0) == "\xE4\xBD\xA0");
  CHECK(stream.text(100 + 0xF0) == "");
  CHECK(stream.text(10) == "\xF0" "a");  // a byte that cannot start a character any more is let through
  CHECK(stream.text(2) == "");           // special tokens are skipped
  CHECK(stream.text(100 + 0xC3) == "");
  CHECK(stream.flush() == "\xC3");

  gemma4::utf8::Stream s;
  std::string all;
  const std::string text = "h\xC3\xA9\xF0\x9F\x99\x82\xE2\x96\x81!";
  for (char c : text) {
    const std::string out = s.push(std::string(1, c));
    CHECK(gemma4::utf8::IsValid(out));
    all += out;
  }
  CHECK(all + s.flush() == text);
}

TEST_CASE("a GGUF-style vocabulary builds the Gemma 4 pipeline", "[tokenizer]") {
  gemma4::TokenizerVocabulary v;
  v.model = "gemma4";
  v.tokens = {"<pad>", "<eos>", "<bos>", "<unk>", "<|turn>", "<turn|>", "\n", "\n\n", "\xE2\x96\x81", "a", "b",
              "\xE2\x96\x81" "a", "ab"};
  v.token_type = {3, 3, 3, 2, 3, 3, 1, 1, 1, 1, 1, 1, 1};
  v.merges = {"\n \n", "\xE2\x96\x81 a", "a b"};
  v.bos_token_id = 2;
  v.unknown_token_id = 3;
  Tokenizer t(gemma4::TokenizerSpecFromVocabulary(v));
  CHECK(t.encode("<|turn>ab a\n\nab<turn|>") == Ids{2, 4, 12, 11, 7, 12, 5});
  CHECK(t.decode(t.encode("ab a\n\nab"), true) == "ab a\n\nab");
  v.model = "llama";
  CHECK_THROWS_WITH(gemma4::TokenizerSpecFromVocabulary(v), Catch::Contains("\"llama\" is not supported"));
}

TEST_CASE("unknown pipeline components and malformed files are errors that name them", "[tokenizer]") {
  json j = Base();
  j["normalizer"] = {{"type", "NFKC"}};
  CHECK_THAT(ErrorOf(j), Catch::Contains("test.json: normalizer") && Catch::Contains("\"NFKC\" is not supported"));
  j = Base();
  j["pre_tokenizer"] = {{"type", "Sequence"}, {"pretokenizers", json::array({{{"type", "ByteLevel"}}})}};
  CHECK_THAT(ErrorOf(j), Catch::Contains("pretokenizers[0]") && Catch::Contains("\"ByteLevel\" is not supported"));
  j = Base();
  j["pre_tokenizer"] = {{"type", "Split"}, {"pattern", {{"String", "-"}}}, {"behavior", "Sideways"}};
  CHECK_THAT(ErrorOf(j), Catch::Contains("\"Sideways\""));
  j = Base();
  j["pre_tokenizer"] = {{"type", "Split"}, {"pattern", {{"Regex", "(unclosed"}}}, {"behavior", "Isolated"}};
  CHECK_THAT(ErrorOf(j), Catch::Contains("regex \"(unclosed\" does not compile"));
  j = Base();
  j["decoder"] = {{"type", "Metaspace"}};
  CHECK_THAT(ErrorOf(j), Catch::Contains("decoder type \"Metaspace\" is not supported"));
  j = Base();
  j["model"]["type"] = "Unigram";
  CHECK_THAT(ErrorOf(j), Catch::Contains("model type \"Unigram\" is not supported"));
  j = Base();
  j["post_processor"] = {{"type", "BertProcessing"}};
  CHECK_THAT(ErrorOf(j), Catch::Contains("post_processor type \"BertProcessing\" is not supported"));
  j = Base(json::array({{"a", "b"}}));
  j["model"]["merges"] = json::array({{"a", "z"}});
  CHECK_THAT(ErrorOf(j), Catch::Contains("merge 0 (\"a\" \"z\") names a piece that is not in the vocabulary"));
  j = Base();
  j["model"]["vocab"]["zz"] = 10;
  CHECK_THAT(ErrorOf(j), Catch::Contains("id 10 is given to both"));
  j = Base();
  j["added_tokens"].push_back({{"id", 60}, {"content", "<w>"}, {"single_word", true}});
  CHECK_THAT(ErrorOf(j), Catch::Contains("\"<w>\"") && Catch::Contains("single_word is not supported"));
  j = Base();
  j["model"]["unk_token"] = "<nope>";
  CHECK_THAT(ErrorOf(j), Catch::Contains("unk_token \"<nope>\" is not in the vocabulary"));
  CHECK_THAT(ErrorOf(json::array()), Catch::Contains("not a tokenizer.json"));
  CHECK_THROWS_WITH(gemma4::LoadTokenizerJson("/no/such/tokenizer.json"), Catch::Contains("/no/such/tokenizer.json: cannot open"));
  CHECK_THROWS_WITH(Make(Base()).decode({999}), Catch::Contains("token id 999 is outside the vocabulary"));
}

TEST_CASE("the tiny tokenizer fixture matches the Gemma 4 special ids", "[tokenizer]") {
  const Tokenizer t(gemma4::LoadTokenizerJson(GEMMA4_SOURCE_DIR "/tests/tokenizer/tiny_tokenizer.json"));
  CHECK(t.size() <= 512);  // fits the tiny golden models' vocab_size
  CHECK(t.token_id("<|turn>") == 105);
  CHECK(t.token_id("<turn|>") == 106);
  CHECK(t.token_id("<0x00>") == 238);
  const Ids ids = t.encode("<|turn>user\nhello world<turn|>");
  CHECK(ids.front() == 2);
  CHECK(ids[1] == 105);
  CHECK(ids.back() == 106);
  CHECK(t.decode(ids) == "<bos><|turn>user\nhello world<turn|>");
}

namespace {

// What TokenizerSpecFromJsonText (LoadTokenizerJson's fast path) gives for `text`, and what the DOM path
// gives: the same spec, or the same error message, is required.
struct Outcome {
  std::string error;  // empty: a spec
  gemma4::TokenizerSpec spec;
};
template <class F>
Outcome Run(F&& f) {
  Outcome o;
  try {
    o.spec = f();
  } catch (const gemma4::Error& e) {
    o.error = e.what();
  }
  return o;
}
void RequireSameAsDom(const std::string& text) {
  INFO(text.substr(0, 300));
  const Outcome fast = Run([&] { return gemma4::TokenizerSpecFromJsonText(text, "t.json"); });
  const Outcome dom = Run([&] { return gemma4::TokenizerSpecFromJson(gemma4::ParseJson(text, "t.json"), "t.json"); });
  CHECK(fast.error == dom.error);
  CHECK(fast.spec.vocab == dom.spec.vocab);
  CHECK(fast.spec.merges == dom.spec.merges);
  CHECK(fast.spec.unk_token == dom.spec.unk_token);
  CHECK(fast.spec.byte_fallback == dom.spec.byte_fallback);
  CHECK(fast.spec.added_tokens.size() == dom.spec.added_tokens.size());
  CHECK(fast.spec.prefix_ids == dom.spec.prefix_ids);
  CHECK(fast.spec.decoder.size() == dom.spec.decoder.size());
}
bool FastPathTaken(const std::string& text) {
  gemma4::tokenizer_json::Tables tables;
  std::string rest;
  return gemma4::tokenizer_json::FastTables(text, tables, rest);
}

}  // namespace

TEST_CASE("a tokenizer.json's text is read without a DOM of its vocabulary, to the DOM path's spec and errors", "[tokenizer]") {
  // Valid files, read by the fast path: pretty and compact, merges as pairs and as "a b", escapes of every
  // kind in the pieces (\uXXXX, a surrogate pair, \n, \", \\, \/), raw UTF-8, vocab after merges.
  json pairs = Base(json::array({{"a", "b"}, {"ab", "c"}}));
  pairs["model"]["vocab"]["\xC3\xA9\n\"\\/\xF0\x9F\x98\x80"] = 500;
  json strings = pairs;
  strings["model"]["merges"] = json::array({"a b", "ab c"});
  std::string escaped = pairs.dump();
  const std::string raw = "\xC3\xA9\\n\\\"\\\\/\xF0\x9F\x98\x80";
  REQUIRE(escaped.find(raw) != std::string::npos);
  escaped.replace(escaped.find(raw), raw.size(), "\\u00e9\\n\\\"\\\\\\/\\ud83d\\ude00");
  json merges_first = json::object();
  merges_first["model"] = {{"type", "BPE"}, {"merges", pairs["model"]["merges"]}};
  std::string reordered = pairs.dump(1);  // nlohmann writes keys sorted: "merges" before "vocab"
  const std::vector<std::string> valid = {pairs.dump(), pairs.dump(2), strings.dump(), strings.dump(4), escaped, reordered};
  for (const std::string& text : valid) {
    CHECK(FastPathTaken(text));
    RequireSameAsDom(text);
  }
  Tokenizer from_text(gemma4::TokenizerSpecFromJsonText(escaped, "t.json"));
  CHECK(from_text.token_id("\xC3\xA9\n\"\\/\xF0\x9F\x98\x80") == 500);
  CHECK(from_text.encode("abc", false) == Make(pairs).encode("abc", false));

  // Files the fast path gives up on (the DOM path then decides): each must end as the DOM path ends.
  std::vector<std::string> other;
  const std::string base = pairs.dump();
  auto edit = [&](const std::string& from, const std::string& to) {
    std::string t = base;
    const size_t at = t.find(from);
    REQUIRE(at != std::string::npos);
    t.replace(at, from.size(), to);
    other.push_back(t);
  };
  edit("\"a\":10", "\"a\":10.0");                  // an id that is not a whole number
  edit("\"a\":10", "\"a\":-10");                   // negative
  edit("\"a\":10", "\"a\":010");                   // a leading zero: malformed
  edit("\"a\":10", "\"a\":10,\"zz\":10");          // an id given twice
  edit("\"a\":10", "\"a\":10,\"b\":99");           // a piece given twice: nlohmann keeps the last
  edit("\"a\":10", "\"a\":10,\"big\":999999");     // past the id limit
  edit("\"a\":10", "\"a\":10,");                   // a trailing comma
  edit("\"a\":10", "\"a\\q\":10");                 // an unknown escape
  edit("\"a\":10", "\"\\udc00\":10");              // a lone low surrogate
  edit("\"a\":10", "\"\xFF\":10");                 // invalid UTF-8
  edit("[\"a\",\"b\"]", "[\"a\",\"b\",\"c\"]");    // a merge of three
  edit("[\"a\",\"b\"]", "\"a  b\"");               // two spaces
  edit("\"type\":\"BPE\"", "\"type\":\"Unigram\"");  // an error outside the big values
  edit("\"model\":{", "\"model\":{\"vocab\":{},");  // vocab twice
  edit("\"normalizer\":null", "\"normalizer\":" + std::string(100, '[') + std::string(100, ']'));  // too deep
  other.push_back(base.substr(0, base.size() - 1));     // truncated
  other.push_back(base + "x");                          // trailing garbage
  other.push_back("\xEF\xBB\xBF" + base);               // a byte-order mark (nlohmann skips it)
  other.push_back("{\"model\":" + pairs["model"].dump() + "," + base.substr(1));  // model twice
  for (const std::string& text : other) RequireSameAsDom(text);
}
