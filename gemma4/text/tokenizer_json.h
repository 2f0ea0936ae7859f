// gemma4/text/tokenizer_json.h — reads a Hugging Face tokenizer.json into a TokenizerSpec: the pipeline the
// file declares, not a hard-coded one.
//
// Supported (everything Gemma's files use, and the common neighbours):
//   normalizer     Replace (String or Regex pattern), Prepend, Sequence, null
//   pre_tokenizer  Split (String or Regex pattern; behavior Removed, Isolated, MergedWithPrevious,
//                  MergedWithNext, Contiguous; invert), Sequence, null
//   model          BPE (vocab, merges as "a b" or ["a", "b"], unk_token, byte_fallback, fuse_unk, ignore_merges)
//   decoder        Replace, ByteFallback, Fuse, Strip, Sequence, null
//   post_processor TemplateProcessing (its "single" template), null
//   added_tokens   id, content, special, lstrip, rstrip
// Anything else is an Error naming the component and the file, never silently skipped.
#ifndef GEMMA4_TOKENIZER_JSON_H_
#define GEMMA4_TOKENIZER_JSON_H_

#include <algorithm>
#include <cstdint>
#include <exception>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "gemma4/error.h"
#include "gemma4/io/json.h"
#include "gemma4/io/mapped_file.h"
#include "gemma4/text/tokenizer.h"
#include "gemma4/text/utf8.h"

namespace gemma4 {

namespace tokenizer_json {

using nlohmann::json;

inline std::string Type(const json& j, const std::string& where) {
  if (!j.is_object() || !j.contains("type") || !j["type"].is_string())
    throw Error(Str(where, ": expected an object with a \"type\""));
  return j["type"].get<std::string>();
}

inline const json& Field(const json& j, const char* key, const std::string& where) {
  if (!j.is_object() || !j.contains(key)) throw Error(Str(where, ": missing \"", key, "\""));
  return j[key];
}

inline std::string String(const json& j, const char* key, const std::string& where) {
  const json& v = Field(j, key, where);
  if (!v.is_string()) throw Error(Str(where, ".", key, ": expected a string"));
  return v.get<std::string>();
}

// The array at j[key] (a Sequence's components).
inline const json& Array(const json& j, const char* key, const std::string& where) {
  const json& v = Field(j, key, where);
  if (!v.is_array()) throw Error(Str(where, ".", key, ": expected an array, got ", Brief(v)));
  return v;
}

// j[key] by reference (no copy of what may be a large value), null when absent.
inline const json& Optional(const json& j, const char* key) {
  static const json kNull;
  const auto it = j.find(key);
  return it == j.end() ? kNull : *it;
}

inline bool Bool(const json& j, const char* key, bool fallback, const std::string& where) {
  if (!j.contains(key) || j[key].is_null()) return fallback;
  if (!j[key].is_boolean()) throw Error(Str(where, ".", key, ": expected true or false"));
  return j[key].get<bool>();
}

// {"String": " "} or {"Regex": "\\s+"}
inline Pattern ParsePattern(const json& j, const std::string& where) {
  const json& p = Field(j, "pattern", where);
  if (p.is_object() && p.contains("String") && p["String"].is_string()) return Pattern::Literal(p["String"].get<std::string>());
  if (p.is_object() && p.contains("Regex") && p["Regex"].is_string()) return Pattern::Regex(p["Regex"].get<std::string>(), where + ".pattern");
  throw Error(Str(where, ".pattern: expected {\"String\": ...} or {\"Regex\": ...}"));
}

inline void ParseNormalizer(const json& j, const std::string& where, TokenizerSpec& s) {
  if (j.is_null()) return;
  const std::string type = Type(j, where);
  if (type == "Sequence") {
    const json& list = Array(j, "normalizers", where);
    for (size_t i = 0; i < list.size(); ++i) ParseNormalizer(list[i], Str(where, ".normalizers[", i, "]"), s);
  } else if (type == "Replace") {
    s.normalizer.push_back({TokenizerSpec::NormalizerStep::kReplace, ParsePattern(j, where), String(j, "content", where)});
  } else if (type == "Prepend") {
    s.normalizer.push_back({TokenizerSpec::NormalizerStep::kPrepend, Pattern(), String(j, "prepend", where)});
  } else {
    throw Error(Str(where, ": normalizer type \"", type, "\" is not supported (supported: Replace, Prepend, Sequence)"));
  }
}

inline void ParsePreTokenizer(const json& j, const std::string& where, TokenizerSpec& s) {
  if (j.is_null()) return;
  const std::string type = Type(j, where);
  if (type == "Sequence") {
    const json& list = Array(j, "pretokenizers", where);
    for (size_t i = 0; i < list.size(); ++i) ParsePreTokenizer(list[i], Str(where, ".pretokenizers[", i, "]"), s);
  } else if (type == "Split") {
    using B = TokenizerSpec::SplitBehavior;
    const std::string behavior = String(j, "behavior", where);
    B b;
    if (behavior == "Removed") b = B::kRemoved;
    else if (behavior == "Isolated") b = B::kIsolated;
    else if (behavior == "MergedWithPrevious") b = B::kMergedWithPrevious;
    else if (behavior == "MergedWithNext") b = B::kMergedWithNext;
    else if (behavior == "Contiguous") b = B::kContiguous;
    else throw Error(Str(where, ".behavior: \"", behavior, "\" is not one of Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous"));
    s.pre_tokenizer.push_back({ParsePattern(j, where), b, Bool(j, "invert", false, where)});
  } else {
    throw Error(Str(where, ": pre_tokenizer type \"", type, "\" is not supported (supported: Split, Sequence)"));
  }
}

inline void ParseDecoder(const json& j, const std::string& where, TokenizerSpec& s) {
  if (j.is_null()) return;
  using D = TokenizerSpec::DecoderStep;
  const std::string type = Type(j, where);
  if (type == "Sequence") {
    const json& list = Array(j, "decoders", where);
    for (size_t i = 0; i < list.size(); ++i) ParseDecoder(list[i], Str(where, ".decoders[", i, "]"), s);
  } else if (type == "Replace") {
    s.decoder.push_back({D::kReplace, ParsePattern(j, where), String(j, "content", where), 0, 0});
  } else if (type == "ByteFallback") {
    s.decoder.push_back({D::kByteFallback, Pattern(), "", 0, 0});
  } else if (type == "Fuse") {
    s.decoder.push_back({D::kFuse, Pattern(), "", 0, 0});
  } else if (type == "Strip") {
    const json& start = Field(j, "start", where);
    const json& stop = Field(j, "stop", where);
    if (!start.is_number_integer() || !stop.is_number_integer() || start.get<int64_t>() < 0 || stop.get<int64_t>() < 0)
      throw Error(Str(where, ": Strip start and stop must be whole numbers >= 0"));
    s.decoder.push_back({D::kStrip, Pattern(), String(j, "content", where), start.get<size_t>(), stop.get<size_t>()});
  } else {
    throw Error(Str(where, ": decoder type \"", type, "\" is not supported (supported: Replace, ByteFallback, Fuse, Strip, Sequence)"));
  }
}

// model.vocab and model.merges as the fast path (FastTables below) has already read them.
struct Tables {
  std::vector<std::string> vocab;
  std::vector<std::pair<std::string, std::string>> merges;
};

// `pre`: vocab and merges already read (j's are then the placeholders {} and []); nullptr: read them from j.
inline void ParseModel(const json& j, const std::string& where, TokenizerSpec& s, Tables* pre = nullptr) {
  const std::string type = Type(j, where);
  if (type != "BPE") throw Error(Str(where, ": model type \"", type, "\" is not supported (supported: BPE)"));
  if (j.contains("dropout") && !j["dropout"].is_null()) throw Error(Str(where, ".dropout: BPE dropout is not supported"));
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"})
    if (j.contains(key) && !j[key].is_null() && !(j[key].is_string() && j[key].get<std::string>().empty()))
      throw Error(Str(where, ".", key, ": not supported"));
  const json& vocab = Field(j, "vocab", where);
  if (!vocab.is_object()) throw Error(Str(where, ".vocab: expected an object {piece: id}"));
  // Ids are bounded by the vocabulary present (TokenIdLimit: room for holes, but a table proportional to
  // the file): a 68-byte file with one piece of id 2^30 − 1 once asked for a table of 2^30 strings.
  const int64_t limit = TokenIdLimit(vocab.size());
  if (pre) s.vocab = std::move(pre->vocab);
  for (auto it = vocab.begin(); it != vocab.end(); ++it) {
    if (!it.value().is_number_integer() || it.value().get<int64_t>() < 0 || it.value().get<int64_t>() >= limit)
      throw Error(Str(where, ".vocab[\"", it.key(), "\"]: expected an id in [0, ", limit, ") (the vocabulary has ",
                      vocab.size(), " pieces), got ", Brief(it.value())));
    const size_t id = it.value().get<size_t>();
    if (id >= s.vocab.size()) s.vocab.resize(id + 1);
    if (!s.vocab[id].empty()) throw Error(Str(where, ".vocab: id ", id, " is given to both \"", s.vocab[id], "\" and \"", it.key(), "\""));
    s.vocab[id] = it.key();
  }
  const json& merges = Field(j, "merges", where);
  if (!merges.is_array()) throw Error(Str(where, ".merges: expected an array"));
  if (pre) s.merges = std::move(pre->merges);
  s.merges.reserve(merges.size());
  for (size_t i = 0; i < merges.size(); ++i) {
    const json& m = merges[i];
    if (m.is_string()) {
      const std::string& text = m.get_ref<const std::string&>();
      const size_t sp = text.find(' ');
      if (sp == std::string::npos || text.find(' ', sp + 1) != std::string::npos)
        throw Error(Str(where, ".merges[", i, "]: \"", text, "\" is not two pieces separated by one space"));
      s.merges.emplace_back(text.substr(0, sp), text.substr(sp + 1));
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
      s.merges.emplace_back(m[0].get<std::string>(), m[1].get<std::string>());
    } else {
      throw Error(Str(where, ".merges[", i, "]: expected \"a b\" or [\"a\", \"b\"]"));
    }
  }
  if (j.contains("unk_token") && j["unk_token"].is_string()) s.unk_token = j["unk_token"].get<std::string>();
  s.byte_fallback = Bool(j, "byte_fallback", false, where);
  s.fuse_unk = Bool(j, "fuse_unk", false, where);
  s.ignore_merges = Bool(j, "ignore_merges", false, where);
}

inline void ParsePostProcessor(const json& j, const std::string& where, TokenizerSpec& s) {
  if (j.is_null()) return;
  const std::string type = Type(j, where);
  if (type != "TemplateProcessing")
    throw Error(Str(where, ": post_processor type \"", type, "\" is not supported (supported: TemplateProcessing)"));
  const json& single = Array(j, "single", where);
  const json& specials = Field(j, "special_tokens", where);
  if (!specials.is_object()) throw Error(Str(where, ".special_tokens: expected an object"));
  bool seen_sequence = false;
  for (size_t i = 0; i < single.size(); ++i) {
    const json& item = single[i];
    const std::string at = Str(where, ".single[", i, "]");
    if (!item.is_object()) throw Error(Str(at, ": expected a Sequence or a SpecialToken"));
    if (item.contains("Sequence")) {
      if (seen_sequence) throw Error(Str(at, ": a second Sequence in the single template"));
      seen_sequence = true;
    } else if (item.contains("SpecialToken")) {
      const std::string name = String(item["SpecialToken"], "id", at + ".SpecialToken");
      if (!specials.contains(name)) throw Error(Str(at, ": special token \"", name, "\" is not in special_tokens"));
      const json& ids = Array(specials[name], "ids", Str(where, ".special_tokens.", name));
      for (const json& id : ids) {
        // (an id of 2^32 must not wrap to token 0: the Tokenizer checks each against the vocabulary)
        if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() > INT32_MAX)
          throw Error(Str(where, ".special_tokens.", name, ".ids: expected token ids, got ", Brief(id)));
        (seen_sequence ? s.suffix_ids : s.prefix_ids).push_back(id.get<int32_t>());
      }
    } else {
      throw Error(Str(at, ": expected a Sequence or a SpecialToken"));
    }
  }
  if (!seen_sequence) throw Error(Str(where, ".single: no Sequence"));
}

inline void ParseAddedTokens(const json& j, const std::string& where, TokenizerSpec& s) {
  if (j.is_null()) return;
  if (!j.is_array()) throw Error(Str(where, ": expected an array"));
  for (size_t i = 0; i < j.size(); ++i) {
    const std::string at = Str(where, "[", i, "]");
    const json& t = j[i];
    const json& id = Field(t, "id", at);
    // bounded by the vocabulary present: the model's pieces plus the added tokens
    const int64_t limit = TokenIdLimit(s.vocab.size() + j.size());
    if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() >= limit)
      throw Error(Str(at, ".id: expected an id in [0, ", limit, ") (vocabulary and added tokens), got ", Brief(id)));
    TokenizerSpec::AddedToken a;
    a.id = id.get<int32_t>();
    a.content = String(t, "content", at);
    a.special = Bool(t, "special", false, at);
    a.lstrip = Bool(t, "lstrip", false, at);
    a.rstrip = Bool(t, "rstrip", false, at);
    if (Bool(t, "single_word", false, at)) throw Error(Str(at, " (\"", a.content, "\"): single_word is not supported"));
    if (Bool(t, "normalized", false, at) && !a.special)
      throw Error(Str(at, " (\"", a.content, "\"): normalized added tokens are not supported"));
    s.added_tokens.push_back(a);
  }
}


// --- The fast path for a whole file ------------------------------------------------------------------------
// A real vocabulary is 262,144 pieces and 514,906 merges, 32 MB of JSON: nlohmann's DOM of it (a std::map
// node per piece, a vector and two strings per merge) took 2 s of CPU and 200 MB, and was then copied into
// the spec and freed. So model.vocab and model.merges are read straight into the spec by the strict reader
// below, and nlohmann parses only the rest (the text with those two values replaced by {} and []).
// Strict: whatever the reader does not handle exactly as nlohmann would — a duplicate key, an id that is not
// a plain whole number below the limit, an escape it does not know, invalid UTF-8, malformed text — makes
// it give up, and the caller reads the file the slow way, so every spec and every error message is the DOM
// path's (tests/test_tokenizer.cpp holds the two paths equal on valid and broken files).
class FastReader {
 public:
  FastReader(const char* p, const char* end) : p_(p), end_(end) {}
  const char* pos() const { return p_; }
  void SkipSpace() {
    while (p_ < end_ && (*p_ == ' ' || *p_ == '\n' || *p_ == '\r' || *p_ == '\t')) ++p_;
  }
  bool Eat(char c) {
    SkipSpace();
    if (p_ == end_ || *p_ != c) return false;
    ++p_;
    return true;
  }

  // A string (decoded into out): plain runs copied at once, escapes and UTF-8 checked as nlohmann does.
  bool String(std::string& out) {
    if (!Eat('"')) return false;
    out.clear();
    for (;;) {
      const char* run = p_;
      while (p_ < end_) {
        const unsigned char c = static_cast<unsigned char>(*p_);
        if (c == '"' || c == '\\' || c < 0x20 || c >= 0x80) break;
        ++p_;
      }
      out.append(run, size_t(p_ - run));
      if (p_ == end_) return false;
      const unsigned char c = static_cast<unsigned char>(*p_);
      if (c == '"') {
        ++p_;
        return true;
      }
      if (c < 0x20) return false;  // a raw control character: malformed
      if (c >= 0x80) {
        const size_t len = utf8::SequenceLength(p_, size_t(end_ - p_));
        if (len == 0) return false;
        out.append(p_, len);
        p_ += len;
        continue;
      }
      if (end_ - p_ < 2) return false;
      const char e = p_[1];
      p_ += 2;
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          uint32_t cp, low;
          if (!Hex4(cp)) return false;
          if (cp >= 0xDC00 && cp <= 0xDFFF) return false;  // a low surrogate alone
          if (cp >= 0xD800 && cp <= 0xDBFF) {               // a high one: its low half must follow
            if (end_ - p_ < 2 || p_[0] != '\\' || p_[1] != 'u') return false;
            p_ += 2;
            if (!Hex4(low) || low < 0xDC00 || low > 0xDFFF) return false;
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
          }
          utf8::Append(out, cp);
          break;
        }
        default: return false;
      }
    }
  }

  // A whole number without sign, fraction, exponent or leading zero, followed by ',', '}' or ']'.
  bool Whole(uint64_t& v) {
    SkipSpace();
    const char* start = p_;
    v = 0;
    while (p_ < end_ && *p_ >= '0' && *p_ <= '9' && p_ - start < 18) v = v * 10 + uint64_t(*p_++ - '0');
    if (p_ == start || (*start == '0' && p_ - start > 1)) return false;
    SkipSpace();
    return p_ < end_ && (*p_ == ',' || *p_ == '}' || *p_ == ']');
  }

  // Steps over one value of any kind by its brackets and quotes (not checked: nlohmann parses it later).
  bool Skip() {
    SkipSpace();
    if (p_ == end_) return false;
    if (*p_ == '"') return SkipString();
    if (*p_ == '{' || *p_ == '[') {
      size_t depth = 0;
      while (p_ < end_) {
        const char c = *p_;
        if (c == '"') {
          if (!SkipString()) return false;
          continue;
        }
        ++p_;
        if (c == '{' || c == '[') ++depth;
        else if ((c == '}' || c == ']') && --depth == 0) return true;
      }
      return false;
    }
    while (p_ < end_ && *p_ != ',' && *p_ != '}' && *p_ != ']' && *p_ != ' ' && *p_ != '\n' && *p_ != '\r' && *p_ != '\t') ++p_;
    return true;
  }

 private:
  bool SkipString() {
    for (++p_; p_ < end_; ++p_) {
      if (*p_ == '\\') ++p_;
      else if (*p_ == '"') return ++p_, true;
    }
    return false;
  }
  bool Hex4(uint32_t& v) {
    if (end_ - p_ < 4) return false;
    v = 0;
    for (int k = 0; k < 4; ++k, ++p_) {
      const char c = *p_;
      const int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
      if (d < 0) return false;
      v = v * 16 + uint32_t(d);
    }
    return true;
  }
  const char* p_;
  const char* end_;
};

// {"piece": id, ...} into vocab[id] = piece; false where ParseModel's loop would throw or nlohmann would
// not give the same pieces (a repeated piece: nlohmann keeps the last).
inline bool FastVocab(FastReader& r, std::vector<std::string>& vocab) {
  std::vector<std::pair<uint64_t, std::string>> entries;
  std::string piece;
  uint64_t id = 0, largest = 0;
  if (!r.Eat('{')) return false;
  if (!r.Eat('}')) {
    do {
      if (!r.String(piece) || !r.Eat(':') || !r.Whole(id)) return false;
      largest = std::max(largest, id);
      entries.emplace_back(id, std::move(piece));
    } while (r.Eat(','));
    if (!r.Eat('}')) return false;
  }
  if (!entries.empty() && largest >= uint64_t(TokenIdLimit(entries.size()))) return false;
  vocab.assign(entries.empty() ? 0 : size_t(largest) + 1, std::string());
  std::vector<bool> taken(vocab.size(), false);
  for (auto& [i, p] : entries) {
    if (taken[size_t(i)]) return false;
    taken[size_t(i)] = true;
    vocab[size_t(i)] = std::move(p);
  }
  PieceIndex index;  // a piece twice (two ids: nlohmann would keep only the last)
  index.reset(vocab.size());
  for (size_t i = 0; i < vocab.size(); ++i)
    if (!vocab[i].empty() && index.insert(vocab, int32_t(i)) >= 0) return false;
  return true;
}

// ["a b", ...] or [["a", "b"], ...] into merges; false where ParseModel's loop would throw.
inline bool FastMerges(FastReader& r, std::vector<std::pair<std::string, std::string>>& merges) {
  std::string text, right;
  if (!r.Eat('[')) return false;
  if (r.Eat(']')) return true;
  do {
    r.SkipSpace();
    if (r.Eat('[')) {
      if (!r.String(text) || !r.Eat(',') || !r.String(right) || !r.Eat(']')) return false;
      merges.emplace_back(std::move(text), std::move(right));
    } else {
      if (!r.String(text)) return false;
      const size_t sp = text.find(' ');
      if (sp == std::string::npos || text.find(' ', sp + 1) != std::string::npos) return false;
      merges.emplace_back(text.substr(0, sp), text.substr(sp + 1));
    }
  } while (r.Eat(','));
  return r.Eat(']');
}

// Finds model.vocab and model.merges in a tokenizer.json's text and reads them into `tables`; `rest` is the
// text with the two values replaced by {} and []. False (the caller takes the slow path) where the file is
// not an object, has no model with exactly one vocab and one merges, repeats "model", or either value is not
// one FastVocab / FastMerges read.
inline bool FastTables(const std::string& text, Tables& tables, std::string& rest) {
  const char* const begin = text.data();
  FastReader r(begin, begin + text.size());
  std::string key;
  const char *vocab_begin = nullptr, *vocab_end = nullptr, *merges_begin = nullptr, *merges_end = nullptr;
  bool model_seen = false;
  if (!r.Eat('{')) return false;
  if (r.Eat('}')) return false;
  do {
    if (!r.String(key) || !r.Eat(':')) return false;
    if (key != "model") {
      if (!r.Skip()) return false;
      continue;
    }
    if (model_seen || !r.Eat('{')) return false;
    model_seen = true;
    if (r.Eat('}')) return false;
    do {
      if (!r.String(key) || !r.Eat(':')) return false;
      r.SkipSpace();
      if (key == "vocab") {
        if (vocab_begin) return false;
        vocab_begin = r.pos();
        if (!FastVocab(r, tables.vocab)) return false;
        vocab_end = r.pos();
      } else if (key == "merges") {
        if (merges_begin) return false;
        merges_begin = r.pos();
        if (!FastMerges(r, tables.merges)) return false;
        merges_end = r.pos();
      } else if (!r.Skip()) {
        return false;
      }
    } while (r.Eat(','));
    if (!r.Eat('}')) return false;
  } while (r.Eat(','));
  if (!r.Eat('}') || !vocab_begin || !merges_begin) return false;
  const bool vocab_first = vocab_begin < merges_begin;
  const char* first_begin = vocab_first ? vocab_begin : merges_begin;
  const char* first_end = vocab_first ? vocab_end : merges_end;
  const char* second_begin = vocab_first ? merges_begin : vocab_begin;
  const char* second_end = vocab_first ? merges_end : vocab_end;
  rest.assign(begin, first_begin);
  rest += vocab_first ? "{}" : "[]";
  rest.append(first_end, second_begin);
  rest += vocab_first ? "[]" : "{}";
  rest.append(second_end, begin + text.size());
  return true;
}

}  // namespace tokenizer_json

inline TokenizerSpec TokenizerSpecFromJsonUnguarded(const nlohmann::json& j, const std::string& where,
                                                    tokenizer_json::Tables* pre = nullptr);

// The pipeline of a parsed tokenizer.json; `where` names it in messages. Only Error leaves it.
inline TokenizerSpec TokenizerSpecFromJson(const nlohmann::json& j, const std::string& where) {
  return JsonGuard(where, [&] { return TokenizerSpecFromJsonUnguarded(j, where); });
}

inline TokenizerSpec TokenizerSpecFromJsonUnguarded(const nlohmann::json& j, const std::string& where,
                                                    tokenizer_json::Tables* pre) {
  using namespace tokenizer_json;
  if (!j.is_object()) throw Error(Str(where, ": not a tokenizer.json (expected a JSON object)"));
  if (!j.contains("model")) throw Error(Str(where, ": not a tokenizer.json (no \"model\")"));
  for (const char* key : {"truncation", "padding"})
    if (j.contains(key) && !j[key].is_null()) throw Error(Str(where, ": \"", key, "\" is not supported"));
  TokenizerSpec s;
  s.source = where;
  ParseModel(j["model"], where + ": model", s, pre);
  ParseAddedTokens(Optional(j, "added_tokens"), where + ": added_tokens", s);
  ParseNormalizer(Optional(j, "normalizer"), where + ": normalizer", s);
  ParsePreTokenizer(Optional(j, "pre_tokenizer"), where + ": pre_tokenizer", s);
  ParseDecoder(Optional(j, "decoder"), where + ": decoder", s);
  ParsePostProcessor(Optional(j, "post_processor"), where + ": post_processor", s);
  return s;
}

// The pipeline of a tokenizer.json's text; `where` names it in messages. Only Error leaves it. The same
// spec and the same errors as TokenizerSpecFromJson(ParseJson(text, where), where), without building a DOM
// of the vocabulary (see FastTables).
inline TokenizerSpec TokenizerSpecFromJsonText(const std::string& text, const std::string& where) {
  try {
    tokenizer_json::Tables tables;
    std::string rest;
    if (tokenizer_json::FastTables(text, tables, rest)) {
      const nlohmann::json j = nlohmann::json::parse(rest);  // small: the file without its two big values
      return TokenizerSpecFromJsonUnguarded(j, where, &tables);
    }
  } catch (const std::exception&) {
    // anything at all: the slow path below says what is wrong, in its own words
  }
  return TokenizerSpecFromJson(ParseJson(text, where), where);
}

inline TokenizerSpec LoadTokenizerJson(const std::string& path) {
  return TokenizerSpecFromJsonText(ReadTextFile(path), path);
}

}  // namespace gemma4

#endif  // GEMMA4_TOKENIZER_JSON_H_
