// gemma4/text/utf8.h — UTF-8 as the tokenizer and the terminal need it: where a valid character starts and
// ends, and a stream that never hands out half a character.
//
// Valid means Unicode's Table 3-7 (well-formed byte sequences): no overlong forms, no surrogates
// (U+D800..DFFF), nothing above U+10FFFF. A byte that does not start a well-formed sequence is invalid on
// its own; the tokenizer encodes it as its <0xHH> byte token and the decoder gives the byte back, so text
// with invalid UTF-8 survives encode → decode unchanged.
#ifndef GEMMA4_UTF8_H_
#define GEMMA4_UTF8_H_

#include <cstddef>
#include <cstdint>
#include <string>

namespace gemma4::utf8 {

// Length (1..4) of the well-formed sequence starting at s[0] (n bytes available), or 0 if s[0] does not
// start one (an invalid or truncated sequence).
inline size_t SequenceLength(const char* s, size_t n) {
  if (n == 0) return 0;
  const auto b = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
  const unsigned char c = b(0);
  if (c < 0x80) return 1;
  size_t len;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte (Table 3-7)
  if (c >= 0xC2 && c <= 0xDF) len = 2;
  else if (c == 0xE0) len = 3, lo = 0xA0;
  else if (c == 0xED) len = 3, hi = 0x9F;  // excludes surrogates
  else if (c >= 0xE1 && c <= 0xEF) len = 3;
  else if (c == 0xF0) len = 4, lo = 0x90;
  else if (c == 0xF4) len = 4, hi = 0x8F;  // up to U+10FFFF
  else if (c >= 0xF1 && c <= 0xF3) len = 4;
  else return 0;                           // 0x80..0xC1, 0xF5..0xFF never start a character
  if (n < len || b(1) < lo || b(1) > hi) return 0;
  for (size_t i = 2; i < len; ++i)
    if (b(i) < 0x80 || b(i) > 0xBF) return 0;
  return len;
}

// Could s[0..n) still become a well-formed sequence if more bytes came? (n ≥ 1, and it is not one yet.)
inline bool IsIncompletePrefix(const char* s, size_t n) {
  const auto c = static_cast<unsigned char>(s[0]);
  size_t len = c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
  if (len == 0 || n >= len) return false;
  // Pad with a continuation byte that every position accepts, then ask whether it is well formed.
  char padded[4];
  for (size_t i = 0; i < len; ++i) padded[i] = i < n ? s[i] : char(0x90);
  if (c == 0xE0) padded[1] = n > 1 ? s[1] : char(0xA0);
  if (n == 1 && c == 0xF4) padded[1] = char(0x80);
  return SequenceLength(padded, len) == len;
}

// Decodes the code point of a well-formed sequence of length len (from SequenceLength).
inline uint32_t Decode(const char* s, size_t len) {
  const auto b = [&](size_t i) { return uint32_t(static_cast<unsigned char>(s[i])); };
  switch (len) {
    case 1: return b(0);
    case 2: return ((b(0) & 0x1F) << 6) | (b(1) & 0x3F);
    case 3: return ((b(0) & 0x0F) << 12) | ((b(1) & 0x3F) << 6) | (b(2) & 0x3F);
    default: return ((b(0) & 0x07) << 18) | ((b(1) & 0x3F) << 12) | ((b(2) & 0x3F) << 6) | (b(3) & 0x3F);
  }
}

inline void Append(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += char(cp);
  } else if (cp < 0x800) {
    out += char(0xC0 | (cp >> 6));
    out += char(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += char(0xE0 | (cp >> 12));
    out += char(0x80 | ((cp >> 6) & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  } else {
    out += char(0xF0 | (cp >> 18));
    out += char(0x80 | ((cp >> 12) & 0x3F));
    out += char(0x80 | ((cp >> 6) & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  }
}

inline bool IsValid(const std::string& s) {
  for (size_t i = 0; i < s.size();) {
    const size_t len = SequenceLength(s.data() + i, s.size() - i);
    if (len == 0) return false;
    i += len;
  }
  return true;
}

// Streaming: push() the bytes of each decoded token; it returns what can be printed now. A character cut
// between two tokens (byte-fallback tokens <0xE4><0xBD><0xA0> arrive one at a time) is held back until it
// is complete; bytes that can never complete a character are released as they are. flush() returns
// whatever is left (at the end of generation).
class Stream {
 public:
  std::string push(const std::string& bytes) {
    pending_ += bytes;
    size_t i = 0;
    while (i < pending_.size()) {
      const size_t len = SequenceLength(pending_.data() + i, pending_.size() - i);
      if (len > 0) {
        i += len;
      } else if (IsIncompletePrefix(pending_.data() + i, pending_.size() - i)) {
        break;  // wait for the rest of this character
      } else {
        i += 1;  // an invalid byte: pass it through unchanged
      }
    }
    std::string ready = pending_.substr(0, i);
    pending_.erase(0, i);
    return ready;
  }
  std::string flush() {
    std::string rest;
    rest.swap(pending_);
    return rest;
  }

 private:
  std::string pending_;
};

}  // namespace gemma4::utf8

#endif  // GEMMA4_UTF8_H_
