// libFuzzer harness for tokenizer.json: the bytes up to the first NUL are a tokenizer.json (ParseJson,
// TokenizerSpecFromJson, Tokenizer), the rest is text to encode; the ids are decoded again (with and
// without special tokens), and the input's bytes read as ids are decoded too. Differential: the text path
// LoadTokenizerJson takes (TokenizerSpecFromJsonText, which reads the vocabulary without a DOM) must end as
// the DOM path ends — the same vocabulary and merges, or the same error message — else the harness aborts.
// Any gemma4::Error is a correct answer; a crash, a sanitizer report, a timeout or a huge allocation is a bug.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "gemma4/io/json.h"
#include "gemma4/text/tokenizer.h"
#include "gemma4/text/tokenizer_json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace gemma4;
  const char* text = reinterpret_cast<const char*>(data);
  const char* nul = static_cast<const char*>(std::memchr(text, 0, size));
  const size_t json_size = nul ? size_t(nul - text) : size;
  const std::string rest = nul ? std::string(nul + 1, text + size) : std::string("Hello, world! \xE2\x96\x81 <b> \xF0\x9F\x98\x80");
  {
    const std::string json_text(text, json_size);
    std::string dom_error, text_error;
    TokenizerSpec dom, fast;
    try {
      dom = TokenizerSpecFromJson(ParseJson(json_text, "tokenizer.json"), "tokenizer.json");
    } catch (const Error& e) {
      dom_error = e.what();
    }
    try {
      fast = TokenizerSpecFromJsonText(json_text, "tokenizer.json");
    } catch (const Error& e) {
      text_error = e.what();
    }
    if (dom_error != text_error || dom.vocab != fast.vocab || dom.merges != fast.merges ||
        dom.added_tokens.size() != fast.added_tokens.size() || dom.unk_token != fast.unk_token)
      std::abort();
  }
  try {
    const Tokenizer tok(TokenizerSpecFromJson(ParseJson(text, json_size, "tokenizer.json"), "tokenizer.json"));
    const std::vector<int32_t> ids = tok.encode(rest, true);
    tok.decode(ids, false);
    tok.decode(ids, true);
    std::vector<int32_t> raw;
    for (size_t i = 0; i + 1 < rest.size() && raw.size() < 64; i += 2)
      raw.push_back(int32_t(uint8_t(rest[i]) | uint8_t(rest[i + 1]) << 8) % int32_t(tok.size() + 2));
    try {
      tok.decode(raw, false);
    } catch (const Error&) {
    }
  } catch (const Error&) {
  }
  return 0;
}
