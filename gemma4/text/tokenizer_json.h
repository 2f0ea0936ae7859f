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

#include <string>

#include <nlohmann/json.hpp>

#include "gemma4/error.h"
#include "gemma4/io/json.h"
#include "gemma4/io/mapped_file.h"
#include "gemma4/text/tokenizer.h"

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

inline void ParseModel(const json& j, const std::string& where, TokenizerSpec& s) {
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

}  // namespace tokenizer_json

inline TokenizerSpec TokenizerSpecFromJsonUnguarded(const nlohmann::json& j, const std::string& where);

// The pipeline of a parsed tokenizer.json; `where` names it in messages. Only Error leaves it.
inline TokenizerSpec TokenizerSpecFromJson(const nlohmann::json& j, const std::string& where) {
  return JsonGuard(where, [&] { return TokenizerSpecFromJsonUnguarded(j, where); });
}

inline TokenizerSpec TokenizerSpecFromJsonUnguarded(const nlohmann::json& j, const std::string& where) {
  using namespace tokenizer_json;
  if (!j.is_object()) throw Error(Str(where, ": not a tokenizer.json (expected a JSON object)"));
  if (!j.contains("model")) throw Error(Str(where, ": not a tokenizer.json (no \"model\")"));
  for (const char* key : {"truncation", "padding"})
    if (j.contains(key) && !j[key].is_null()) throw Error(Str(where, ": \"", key, "\" is not supported"));
  TokenizerSpec s;
  s.source = where;
  ParseModel(j["model"], where + ": model", s);
  ParseAddedTokens(Optional(j, "added_tokens"), where + ": added_tokens", s);
  ParseNormalizer(Optional(j, "normalizer"), where + ": normalizer", s);
  ParsePreTokenizer(Optional(j, "pre_tokenizer"), where + ": pre_tokenizer", s);
  ParseDecoder(Optional(j, "decoder"), where + ": decoder", s);
  ParsePostProcessor(Optional(j, "post_processor"), where + ": post_processor", s);
  return s;
}

inline TokenizerSpec LoadTokenizerJson(const std::string& path) {
  return TokenizerSpecFromJson(ParseJson(ReadTextFile(path), path), path);
}

}  // namespace gemma4

#endif  // GEMMA4_TOKENIZER_JSON_H_
