// gemma4/text/tokenizer.h — text ↔ token ids, the pipeline of Hugging Face `tokenizers` (what a tokenizer.json
// declares), for the BPE model Gemma uses.
//
// HF: tokenizers' TokenizerImpl::encode_single_sequence, then post_process; decode = decoder.decode_chain.
//   encode(text):
//     1. added tokens first: split the raw text at every added token (leftmost, longest match; all added
//        tokens, special or not; lstrip/rstrip eat the whitespace beside them),
//     2. each piece between them: normalizer (e.g. Replace ' ' → '▁'), then pre-tokenizer (Split at a
//        pattern, keeping or dropping the matches as `behavior` says) into words,
//     3. each word: BPE — start from its characters, repeatedly merge the adjacent pair with the lowest
//        merge rank (leftmost on equal ranks); a character missing from the vocabulary becomes its bytes'
//        <0xHH> tokens (byte_fallback) or <unk>,
//     4. post-processor: the special ids around the sequence (Gemma: <bos> first).
//   decode(ids): each id's piece through the decoder steps (Replace '▁' → ' ', ByteFallback <0xHH> → the
//     byte, Fuse), concatenated.
// vs HF: ByteFallback gives back the raw bytes even when they are not valid UTF-8 (HF's Rust strings turn
// each such byte into U+FFFD), and invalid UTF-8 in the input is encoded byte by byte as <0xHH> (HF takes
// only valid UTF-8), so any byte string survives encode → decode unchanged.
//
// A TokenizerSpec is the pipeline as data. It comes from a tokenizer.json (gemma4/text/tokenizer_json.h) or
// from a vocabulary list such as GGUF's tokenizer.ggml.* metadata (TokenizerSpecFromVocabulary below).
#ifndef GEMMA4_TOKENIZER_H_
#define GEMMA4_TOKENIZER_H_

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "gemma4/error.h"
#include "gemma4/text/utf8.h"

namespace gemma4 {

// A pattern in a tokenizer pipeline: a literal string, or a regular expression (PCRE2 with UTF and
// Unicode properties, so \p{L} and \s mean what they mean in HF's Oniguruma patterns).
class Pattern {
 public:
  Pattern() = default;
  static Pattern Literal(std::string s) {
    Pattern p;
    p.literal_ = std::move(s);
    return p;
  }
  static Pattern Regex(const std::string& re, const std::string& where) {
    int error = 0;
    PCRE2_SIZE offset = 0;
    pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(re.data()), re.size(),
                                     PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &error, &offset, nullptr);
    if (!code) {
      PCRE2_UCHAR message[256];
      pcre2_get_error_message(error, message, sizeof message);
      throw Error(Str(where, ": regex \"", re, "\" does not compile at offset ", offset, ": ",
                      reinterpret_cast<const char*>(message)));
    }
    pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);  // best effort: without JIT it still matches, slower
    Pattern p;
    p.regex_ = re;
    p.code_ = std::shared_ptr<pcre2_code>(code, pcre2_code_free);
    return p;
  }
  bool is_regex() const { return code_ != nullptr; }
  const std::string& text() const { return code_ ? regex_ : literal_; }

  // Non-overlapping matches in text, left to right, as [begin, end) byte offsets (empty matches skipped).
  std::vector<std::pair<size_t, size_t>> find_all(const std::string& text) const {
    std::vector<std::pair<size_t, size_t>> out;
    if (!code_) {
      if (literal_.empty()) return out;
      for (size_t at = text.find(literal_); at != std::string::npos; at = text.find(literal_, at + literal_.size()))
        out.emplace_back(at, at + literal_.size());
      return out;
    }
    std::unique_ptr<pcre2_match_data, void (*)(pcre2_match_data*)> md(
        pcre2_match_data_create_from_pattern(code_.get(), nullptr), pcre2_match_data_free);
    size_t start = 0;
    while (start <= text.size()) {
      const int rc = pcre2_match(code_.get(), reinterpret_cast<PCRE2_SPTR>(text.data()), text.size(), start, 0,
                                 md.get(), nullptr);
      if (rc == PCRE2_ERROR_NOMATCH) break;
      if (rc < 0) throw Error(Str("regex \"", regex_, "\": matching failed (PCRE2 error ", rc, ")"));
      const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md.get());
      if (ov[1] > ov[0]) {
        out.emplace_back(ov[0], ov[1]);
        start = ov[1];
      } else {  // empty match: step over one character
        const size_t len = utf8::SequenceLength(text.data() + ov[0], text.size() - ov[0]);
        start = ov[0] + std::max<size_t>(len, 1);
      }
    }
    return out;
  }

  std::string replace_all(const std::string& text, const std::string& content) const {
    std::string out;
    size_t prev = 0;
    for (const auto& [b, e] : find_all(text)) {
      out.append(text, prev, b - prev);
      out += content;
      prev = e;
    }
    out.append(text, prev, std::string::npos);
    return out;
  }

 private:
  std::string literal_, regex_;
  std::shared_ptr<pcre2_code> code_;
};

// piece → id for a whole vocabulary: an open-addressing table of ids, each slot keyed by the piece its id
// names in `pieces` (no copy of the strings, no allocation per piece). A lookup may name the piece in two
// parts (find(l, r) is find(l + r) without building the string: what each merge asks). For 262,144
// pieces it replaced an unordered_map<string, int32_t> whose node allocations and chained lookups were half
// of loading the real Gemma 4 vocabulary.
class PieceIndex {
 public:
  // Room for n pieces (at most half the slots full); forgets any earlier ones.
  void reset(size_t n) {
    size_t cap = 16;
    while (cap < 2 * n) cap *= 2;
    slots_.assign(cap, -1);
    mask_ = cap - 1;
  }
  // The id stored for the piece l + r, or -1.
  int32_t find(const std::vector<std::string>& pieces, std::string_view l, std::string_view r = {}) const {
    if (slots_.empty()) return -1;
    for (size_t i = Hash(l, r) & mask_;; i = (i + 1) & mask_) {
      const int32_t id = slots_[i];
      if (id < 0) return -1;
      const std::string& p = pieces[size_t(id)];
      if (p.size() == l.size() + r.size() && p.compare(0, l.size(), l.data(), l.size()) == 0 &&
          p.compare(l.size(), r.size(), r.data(), r.size()) == 0)
        return id;
    }
  }
  // Stores `id` for pieces[id]; returns the id that piece had before (now replaced), or -1.
  int32_t insert(const std::vector<std::string>& pieces, int32_t id) {
    const std::string& p = pieces[size_t(id)];
    for (size_t i = Hash(p, {}) & mask_;; i = (i + 1) & mask_) {
      const int32_t old = slots_[i];
      if (old < 0 || pieces[size_t(old)] == p) {
        slots_[i] = id;
        return old;
      }
    }
  }

 private:
  static size_t Hash(std::string_view l, std::string_view r) {  // FNV-1a over the bytes of l then r
    uint64_t h = 0xcbf29ce484222325ull;
    for (const char c : l) h = (h ^ static_cast<unsigned char>(c)) * 0x100000001b3ull;
    for (const char c : r) h = (h ^ static_cast<unsigned char>(c)) * 0x100000001b3ull;
    return size_t(h ^ (h >> 29));
  }
  std::vector<int32_t> slots_;
  size_t mask_ = 0;
};

struct TokenizerSpec {
  std::string source;  // where it came from, for messages

  // model: BPE. vocab[id] is the piece of each id (empty where no piece has that id).
  std::vector<std::string> vocab;
  std::vector<std::pair<std::string, std::string>> merges;  // in rank order: merges[0] is applied first
  std::string unk_token;                                    // empty: none
  bool byte_fallback = false;                               // unknown characters → <0xHH> tokens
  bool fuse_unk = false;                                    // consecutive <unk> become one
  bool ignore_merges = false;                               // a word that is itself a piece is taken whole

  // Matched in the raw text before anything else (HF AddedVocabulary).
  struct AddedToken {
    int32_t id = -1;
    std::string content;
    bool special = false;  // skipped by decode(skip_special) and never produced by ordinary text pieces
    bool lstrip = false, rstrip = false;
  };
  std::vector<AddedToken> added_tokens;

  struct NormalizerStep {
    enum Kind { kReplace, kPrepend } kind;
    Pattern pattern;      // kReplace
    std::string content;  // the replacement, or the prefix
  };
  std::vector<NormalizerStep> normalizer;  // applied in order

  enum class SplitBehavior { kRemoved, kIsolated, kMergedWithPrevious, kMergedWithNext, kContiguous };
  struct SplitStep {
    Pattern pattern;
    SplitBehavior behavior = SplitBehavior::kIsolated;
    bool invert = false;  // the pattern matches the words instead of the delimiters
  };
  std::vector<SplitStep> pre_tokenizer;  // each step splits every piece of the one before

  struct DecoderStep {
    enum Kind { kReplace, kByteFallback, kFuse, kStrip } kind;
    Pattern pattern;      // kReplace
    std::string content;  // kReplace: replacement; kStrip: the character to strip
    size_t start = 0, stop = 0;  // kStrip: at most this many at the start / end
  };
  std::vector<DecoderStep> decoder;

  // post-processor (single sequence): ids before and after the text when special tokens are added.
  std::vector<int32_t> prefix_ids, suffix_ids;
};

// GGUF-style vocabulary (tokenizer.ggml.*): what TokenizerSpecFromVocabulary needs. A GGUF reader fills
// it from its metadata (tokens, scores, token_type, merges, bos/eos ids, add_bos_token).
struct TokenizerVocabulary {
  std::string model;                 // tokenizer.ggml.model; "gemma4" is supported
  std::vector<std::string> tokens;   // piece of each id
  std::vector<float> scores;         // unused by BPE (kept so the struct mirrors the metadata)
  std::vector<int32_t> token_type;   // 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte
  std::vector<std::string> merges;   // "left right", in rank order
  int64_t bos_token_id = -1, eos_token_id = -1, unknown_token_id = -1;
  bool add_bos_token = true;
  std::string source = "<vocabulary>";
};

// The Gemma 4 pipeline over a GGUF vocabulary, as llama.cpp's LLAMA_VOCAB_PRE_TYPE_GEMMA4 runs it: spaces
// become '▁', the text is split into runs of newlines and runs of everything else, BPE with byte fallback;
// control tokens (type 3) are special added tokens, user-defined ones (type 4) plain added tokens.
inline TokenizerSpec TokenizerSpecFromVocabulary(const TokenizerVocabulary& v) {
  const std::string where = v.source + ": tokenizer.ggml.model";
  if (v.model != "gemma4") throw Error(Str(where, " \"", v.model, "\" is not supported (supported: gemma4)"));
  if (!v.token_type.empty() && v.token_type.size() != v.tokens.size())
    throw Error(Str(v.source, ": tokenizer.ggml.token_type has ", v.token_type.size(), " entries for ",
                    v.tokens.size(), " tokens"));
  TokenizerSpec s;
  s.source = v.source;
  s.vocab = v.tokens;
  for (const std::string& m : v.merges) {
    const size_t sp = m.find(' ');
    if (sp == std::string::npos) throw Error(Str(v.source, ": tokenizer.ggml.merges entry \"", m, "\" has no space"));
    s.merges.emplace_back(m.substr(0, sp), m.substr(sp + 1));
  }
  if (v.unknown_token_id >= 0 && size_t(v.unknown_token_id) < v.tokens.size()) s.unk_token = v.tokens[size_t(v.unknown_token_id)];
  s.byte_fallback = true;
  for (size_t id = 0; id < v.token_type.size(); ++id)
    if (v.token_type[id] == 3 || v.token_type[id] == 4)
      s.added_tokens.push_back({int32_t(id), v.tokens[id], v.token_type[id] == 3, false, false});
  s.normalizer.push_back({TokenizerSpec::NormalizerStep::kReplace, Pattern::Literal(" "), "\xE2\x96\x81"});
  s.pre_tokenizer.push_back({Pattern::Regex("\\n+", where), TokenizerSpec::SplitBehavior::kIsolated, false});
  s.decoder.push_back({TokenizerSpec::DecoderStep::kReplace, Pattern::Literal("\xE2\x96\x81"), " ", 0, 0});
  s.decoder.push_back({TokenizerSpec::DecoderStep::kByteFallback, {}, "", 0, 0});
  s.decoder.push_back({TokenizerSpec::DecoderStep::kFuse, {}, "", 0, 0});
  if (v.add_bos_token) {
    if (v.bos_token_id < 0 || size_t(v.bos_token_id) >= v.tokens.size())
      throw Error(Str(v.source, ": add_bos_token is set but tokenizer.ggml.bos_token_id is missing or out of range"));
    s.prefix_ids.push_back(int32_t(v.bos_token_id));
  }
  return s;
}

class Tokenizer {
 public:
  explicit Tokenizer(TokenizerSpec spec) : spec_(std::move(spec)) { build(); }

  const TokenizerSpec& spec() const { return spec_; }
  // One past the largest id (added tokens may lie beyond the BPE vocabulary).
  size_t size() const { return pieces_.size(); }
  // The id of a piece (vocabulary or added token), or -1.
  int32_t token_id(const std::string& piece) const {
    return piece_ids_.find(pieces_, piece);
  }
  const std::string& piece(int32_t id) const {
    check_id(id);
    return pieces_[size_t(id)];
  }
  bool is_special(int32_t id) const { return id >= 0 && size_t(id) < special_.size() && special_[size_t(id)]; }

  // Text → ids. add_special: the post-processor's ids around it (Gemma: <bos> first).
  std::vector<int32_t> encode(const std::string& text, bool add_special = true) const {
    std::vector<int32_t> ids;
    if (add_special) ids = spec_.prefix_ids;
    for (const Segment& seg : split_added(text)) {
      if (seg.added >= 0) {
        ids.push_back(seg.added);
        continue;
      }
      if (seg.end == seg.begin) continue;
      std::string piece = text.substr(seg.begin, seg.end - seg.begin);
      for (const auto& step : spec_.normalizer) {
        if (step.kind == TokenizerSpec::NormalizerStep::kReplace) piece = step.pattern.replace_all(piece, step.content);
        else if (!piece.empty()) piece = step.content + piece;
      }
      for (const std::string& word : pre_tokenize(piece)) bpe(word, ids);
    }
    if (add_special) ids.insert(ids.end(), spec_.suffix_ids.begin(), spec_.suffix_ids.end());
    return ids;
  }

  // The words the pre-tokenizer makes of a normalized piece (HF: NormalizedString::split per Split step).
  std::vector<std::string> pre_tokenize(const std::string& text) const {
    std::vector<std::string> pieces{text};
    for (const auto& step : spec_.pre_tokenizer) {
      std::vector<std::string> next;
      for (const std::string& p : pieces) split(p, step, next);
      pieces.swap(next);
    }
    return pieces;
  }

  // ids → bytes, all at once. skip_special: leave out special tokens (<bos>, <turn|>, ...).
  std::string decode(const std::vector<int32_t>& ids, bool skip_special = false) const {
    DecodeStream stream(*this, skip_special);
    std::string out;
    for (int32_t id : ids) out += stream.push_bytes(id);
    return out;
  }

  // Decoding token by token as they are generated; text() never returns half a UTF-8 character.
  class DecodeStream {
   public:
    explicit DecodeStream(const Tokenizer& tok, bool skip_special = true) : tok_(tok), skip_special_(skip_special) {}
    // The bytes this token adds (may end inside a character).
    std::string push_bytes(int32_t id) {
      tok_.check_id(id);
      if (skip_special_ && tok_.is_special(id)) return "";
      std::string bytes = tok_.decode_piece(id);
      // Steps after Fuse see the whole text: only Strip of leading characters is allowed there.
      for (size_t i = tok_.fuse_at_ + 1; i < tok_.spec_.decoder.size(); ++i) {
        const auto& step = tok_.spec_.decoder[i];
        while (stripped_ < step.start && bytes.compare(0, step.content.size(), step.content) == 0 && !bytes.empty()) {
          bytes.erase(0, step.content.size());
          ++stripped_;
        }
        if (!bytes.empty()) stripped_ = step.start;  // only the very start of the text is stripped
      }
      return bytes;
    }
    // The printable text this token completes.
    std::string text(int32_t id) { return utf8_.push(push_bytes(id)); }
    std::string flush() { return utf8_.flush(); }

   private:
    const Tokenizer& tok_;
    bool skip_special_;
    size_t stripped_ = 0;
    utf8::Stream utf8_;
  };

 private:
  struct Segment {
    size_t begin = 0, end = 0;
    int32_t added = -1;  // the added token's id, or -1 for text [begin, end)
  };

  void check_id(int32_t id) const {
    if (id < 0 || size_t(id) >= pieces_.size())
      throw Error(Str(spec_.source, ": token id ", id, " is outside the vocabulary of ", pieces_.size()));
  }

  void build() {
    const std::string& src = spec_.source;
    size_t n = spec_.vocab.size();
    // ids are bounded by the vocabulary present (its pieces plus the added tokens), never by the largest id
    const size_t id_limit = size_t(TokenIdLimit(spec_.vocab.size() + spec_.added_tokens.size()));
    for (const auto& a : spec_.added_tokens) {
      if (a.id < 0 || size_t(a.id) >= id_limit)
        throw Error(Str(src, ": added token \"", a.content, "\" has id ", a.id, ", outside the vocabulary of ",
                        spec_.vocab.size(), " pieces and ", spec_.added_tokens.size(), " added tokens"));
      n = std::max(n, size_t(a.id) + 1);
    }
    pieces_.assign(n, "");
    std::fill(std::begin(ascii_ids_), std::end(ascii_ids_), -1);
    special_.assign(n, false);
    piece_ids_.reset(n);
    for (size_t id = 0; id < spec_.vocab.size(); ++id) {
      const std::string& p = spec_.vocab[id];
      if (p.empty()) continue;
      pieces_[id] = p;
      const int32_t before = piece_ids_.insert(pieces_, int32_t(id));
      if (before >= 0) throw Error(Str(src, ": the vocabulary has \"", p, "\" twice (ids ", before, " and ", id, ")"));
      if (p.size() == 1 && static_cast<unsigned char>(p[0]) < 0x80) ascii_ids_[size_t(p[0])] = int32_t(id);
      else if (utf8::SequenceLength(p.data(), p.size()) == p.size()) char_ids_[utf8::Decode(p.data(), p.size())] = int32_t(id);
    }
    for (const auto& a : spec_.added_tokens) {
      if (a.content.empty()) continue;
      if (!pieces_[size_t(a.id)].empty() && pieces_[size_t(a.id)] != a.content)
        throw Error(Str(src, ": added token \"", a.content, "\" has id ", a.id, ", which the vocabulary gives to \"",
                        pieces_[size_t(a.id)], "\""));
      pieces_[size_t(a.id)] = a.content;
      piece_ids_.insert(pieces_, a.id);
      special_[size_t(a.id)] = a.special;
      add_to_trie(a);
    }
    merge_rank_.reserve(spec_.merges.size());
    for (size_t r = 0; r < spec_.merges.size(); ++r) {
      const auto& [l, rt] = spec_.merges[r];
      const int32_t a = token_id(l), b = token_id(rt), c = piece_ids_.find(pieces_, l, rt);
      if (a < 0 || b < 0 || c < 0)
        throw Error(Str(src, ": merge ", r, " (\"", l, "\" \"", rt, "\") names a piece that is not in the vocabulary"));
      merge_rank_.insert(PairKey(a, b), Merge{int32_t(r), c});  // the first (lowest) rank wins
    }
    for (int b = 0; b < 256; ++b) {
      char name[8];
      std::snprintf(name, sizeof name, "<0x%02X>", b);
      byte_ids_[size_t(b)] = token_id(name);
    }
    unk_id_ = spec_.unk_token.empty() ? -1 : token_id(spec_.unk_token);
    if (!spec_.unk_token.empty() && unk_id_ < 0)
      throw Error(Str(src, ": unk_token \"", spec_.unk_token, "\" is not in the vocabulary"));
    for (int32_t id : spec_.prefix_ids) check_id(id);
    for (int32_t id : spec_.suffix_ids) check_id(id);
    fuse_at_ = spec_.decoder.size();
    for (size_t i = 0; i < spec_.decoder.size(); ++i) {
      const auto& step = spec_.decoder[i];
      if (i > fuse_at_ && (step.kind != TokenizerSpec::DecoderStep::kStrip || step.stop != 0))
        throw Error(Str(src, ": decoder: only Strip with stop 0 is supported after Fuse"));
      if (step.kind == TokenizerSpec::DecoderStep::kFuse && fuse_at_ == spec_.decoder.size()) fuse_at_ = i;
    }
  }

  // --- added tokens: a byte trie, matched leftmost-longest -------------------------------------------------
  struct TrieNode {
    std::unordered_map<unsigned char, int32_t> next;
    int32_t token = -1;  // index into spec_.added_tokens of the token ending here
  };
  void add_to_trie(const TokenizerSpec::AddedToken& a) {
    if (trie_.empty()) trie_.emplace_back();
    int32_t node = 0;
    for (unsigned char c : a.content) {
      auto it = trie_[size_t(node)].next.find(c);
      if (it == trie_[size_t(node)].next.end()) {
        trie_.emplace_back();
        it = trie_[size_t(node)].next.emplace(c, int32_t(trie_.size() - 1)).first;
      }
      node = it->second;
    }
    trie_[size_t(node)].token = int32_t(&a - spec_.added_tokens.data());
    first_byte_[static_cast<unsigned char>(a.content[0])] = true;
  }

  static bool IsSpaceAt(const std::string& s, size_t i, size_t* len) {  // Unicode White_Space
    const size_t l = utf8::SequenceLength(s.data() + i, s.size() - i);
    if (l == 0) return false;
    const uint32_t c = utf8::Decode(s.data() + i, l);
    *len = l;
    return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
  }

  std::vector<Segment> split_added(const std::string& text) const {
    std::vector<Segment> out;
    size_t text_start = 0, i = 0;
    while (i < text.size()) {
      int32_t best = -1;
      size_t best_end = 0;
      if (first_byte_[static_cast<unsigned char>(text[i])]) {
        int32_t node = 0;
        for (size_t j = i; j < text.size(); ++j) {
          auto it = trie_[size_t(node)].next.find(static_cast<unsigned char>(text[j]));
          if (it == trie_[size_t(node)].next.end()) break;
          node = it->second;
          if (trie_[size_t(node)].token >= 0) best = trie_[size_t(node)].token, best_end = j + 1;
        }
      }
      if (best < 0) {
        ++i;
        continue;
      }
      const auto& tok = spec_.added_tokens[size_t(best)];
      size_t text_end = i;
      if (tok.lstrip)  // eat the whitespace before it
        while (text_end > text_start) {
          size_t back = text_end - 1;
          while (back > text_start && (static_cast<unsigned char>(text[back]) & 0xC0) == 0x80) --back;
          size_t len;
          if (!IsSpaceAt(text, back, &len) || back + len != text_end) break;
          text_end = back;
        }
      out.push_back({text_start, text_end, -1});
      out.push_back({i, best_end, tok.id});
      i = best_end;
      size_t len;
      if (tok.rstrip)  // and after it
        while (i < text.size() && IsSpaceAt(text, i, &len)) i += len;
      text_start = i;
    }
    out.push_back({text_start, text.size(), -1});
    return out;
  }

  static void split(const std::string& text, const TokenizerSpec::SplitStep& step, std::vector<std::string>& out) {
    using B = TokenizerSpec::SplitBehavior;
    // The text as alternating (range, is_match) parts covering all of it.
    struct Part {
      size_t begin, end;
      bool match;
    };
    std::vector<Part> parts;
    size_t prev = 0;
    for (const auto& [b, e] : step.pattern.find_all(text)) {
      if (b > prev) parts.push_back({prev, b, false});
      parts.push_back({b, e, true});
      prev = e;
    }
    if (prev < text.size() || parts.empty()) parts.push_back({prev, text.size(), false});
    if (step.invert)
      for (Part& p : parts) p.match = !p.match;
    std::vector<Part> kept;  // match now means "drop"
    bool previous_match = false;
    switch (step.behavior) {
      case B::kRemoved:
        kept = parts;
        break;
      case B::kIsolated:
        for (Part p : parts) kept.push_back({p.begin, p.end, false});
        break;
      case B::kMergedWithPrevious:  // a delimiter joins the piece before it
        for (const Part& p : parts) {
          if (p.match && !previous_match && !kept.empty()) kept.back().end = p.end;
          else kept.push_back({p.begin, p.end, false});
          previous_match = p.match;
        }
        break;
      case B::kMergedWithNext:  // a delimiter joins the piece after it
        for (size_t k = parts.size(); k-- > 0;) {
          const Part& p = parts[k];
          if (p.match && !previous_match && !kept.empty()) kept.back().begin = p.begin;
          else kept.push_back({p.begin, p.end, false});
          previous_match = p.match;
        }
        std::reverse(kept.begin(), kept.end());
        break;
      case B::kContiguous:  // runs of delimiters stay together
        for (const Part& p : parts) {
          if (p.match == previous_match && !kept.empty()) kept.back().end = p.end;
          else kept.push_back({p.begin, p.end, false});
          previous_match = p.match;
        }
        break;
    }
    for (const Part& p : kept)
      if (!p.match && p.end > p.begin) out.push_back(text.substr(p.begin, p.end - p.begin));
  }

  // --- BPE ------------------------------------------------------------------------------------------------
  struct Merge {
    int32_t rank = -1, id = -1;  // rank -1: no merge
  };
  static uint64_t PairKey(int32_t a, int32_t b) { return (uint64_t(uint32_t(a)) << 32) | uint32_t(b); }

  // (left id, right id) → merge: an open-addressing table, the hot lookup of encoding (one per candidate pair).
  class MergeTable {
   public:
    void reserve(size_t n) {
      size_t cap = 16;
      while (cap < 2 * n) cap *= 2;
      slots_.assign(cap, Slot{});
      mask_ = cap - 1;
    }
    // Keeps the first (lowest-rank) merge of a pair.
    void insert(uint64_t key, Merge m) {
      for (size_t i = Hash(key) & mask_;; i = (i + 1) & mask_)
        if (slots_[i].merge.rank < 0) {
          slots_[i] = {key, m};
          return;
        } else if (slots_[i].key == key) {
          return;
        }
    }
    Merge find(uint64_t key) const {
      for (size_t i = Hash(key) & mask_;; i = (i + 1) & mask_)
        if (slots_[i].merge.rank < 0 || slots_[i].key == key) return slots_[i].merge;
    }

   private:
    struct Slot {
      uint64_t key = 0;
      Merge merge;
    };
    static size_t Hash(uint64_t k) { return size_t((k * 0x9E3779B97F4A7C15ull) >> 20); }
    std::vector<Slot> slots_;
    size_t mask_ = 0;
  };

  void push_unknown(const std::string& word, size_t at, size_t len, std::vector<int32_t>& ids, bool& last_unk) const {
    if (spec_.byte_fallback) {
      bool all = true;
      for (size_t k = 0; k < len; ++k) all = all && byte_ids_[static_cast<unsigned char>(word[at + k])] >= 0;
      if (all) {
        for (size_t k = 0; k < len; ++k) ids.push_back(byte_ids_[static_cast<unsigned char>(word[at + k])]);
        last_unk = false;
        return;
      }
    }
    if (unk_id_ < 0) throw Error(Str(spec_.source, ": a character has no token and there is no unk_token"));
    if (!(spec_.fuse_unk && last_unk)) ids.push_back(unk_id_);
    last_unk = true;
  }

  // One word → ids: its characters, then merges by rank (leftmost first on ties), using a heap of candidate
  // pairs over a linked list of symbols — O(n log n) in the word's length (a whole line can be one word).
  void bpe(const std::string& word, std::vector<int32_t>& out) const {
    if (spec_.ignore_merges) {
      const int32_t whole = token_id(word);
      if (whole >= 0) {
        out.push_back(whole);
        return;
      }
    }
    struct Symbol {
      int32_t id;             // -1: an unknown character, emitted through byte fallback / unk
      int32_t prev, next;     // neighbours in the list (-1 at the ends)
      uint32_t begin, len;    // bytes of the word it covers
    };
    std::vector<Symbol> sym;
    sym.reserve(word.size());
    for (size_t i = 0; i < word.size();) {
      size_t len = utf8::SequenceLength(word.data() + i, word.size() - i);
      int32_t id = -1;
      if (len == 0) {
        len = 1;  // an invalid byte
      } else {
        if (len == 1) {
          id = ascii_ids_[static_cast<unsigned char>(word[i])];
        } else {
          auto it = char_ids_.find(utf8::Decode(word.data() + i, len));
          if (it != char_ids_.end()) id = it->second;
        }
      }
      sym.push_back({id, int32_t(sym.size()) - 1, int32_t(sym.size()) + 1, uint32_t(i), uint32_t(len)});
      i += len;
    }
    if (sym.empty()) return;
    sym.back().next = -1;

    // Candidate pairs as one integer, rank then left position, so the smallest is the next merge (lowest
    // rank, leftmost on ties). An entry is stale if its pair has changed since; then its rank no longer
    // matches the pair now at that position (ranks are unique per pair), and it is skipped.
    std::vector<uint64_t> heap;
    heap.reserve(sym.size());
    auto rank_at = [&](int32_t left) {
      const int32_t right = sym[size_t(left)].next;
      if (right < 0 || sym[size_t(left)].id < 0 || sym[size_t(right)].id < 0) return Merge{};
      return merge_rank_.find(PairKey(sym[size_t(left)].id, sym[size_t(right)].id));
    };
    auto key = [](int32_t rank, int32_t left) { return (uint64_t(uint32_t(rank)) << 32) | uint32_t(left); };
    const auto later = std::greater<uint64_t>();  // min-heap
    for (int32_t i = 0; i + 1 < int32_t(sym.size()); ++i) {
      const Merge m = rank_at(i);
      if (m.rank >= 0) heap.push_back(key(m.rank, i));
    }
    std::make_heap(heap.begin(), heap.end(), later);
    auto consider = [&](int32_t left) {
      if (left < 0) return;
      const Merge m = rank_at(left);
      if (m.rank < 0) return;
      heap.push_back(key(m.rank, left));
      std::push_heap(heap.begin(), heap.end(), later);
    };
    while (!heap.empty()) {
      std::pop_heap(heap.begin(), heap.end(), later);
      const uint64_t top = heap.back();
      heap.pop_back();
      const int32_t left = int32_t(uint32_t(top)), rank = int32_t(top >> 32);
      Symbol& l = sym[size_t(left)];
      if (l.len == 0) continue;  // merged into its left neighbour meanwhile
      const Merge m = rank_at(left);
      if (m.rank != rank) continue;  // stale
      Symbol& r = sym[size_t(l.next)];
      l.id = m.id;
      l.len += r.len;
      if (r.next >= 0) sym[size_t(r.next)].prev = left;
      l.next = r.next;
      r.len = 0;  // dead
      consider(l.prev);
      consider(left);
    }
    bool last_unk = false;  // fuse_unk: consecutive unknown characters give one <unk>
    for (int32_t i = 0; i >= 0; i = sym[size_t(i)].next) {
      const Symbol& s = sym[size_t(i)];
      if (s.id >= 0) {
        out.push_back(s.id);
        last_unk = false;
      } else {
        push_unknown(word, s.begin, s.len, out, last_unk);
      }
    }
  }

  // --- decoder: one piece through the steps up to Fuse ------------------------------------------------------
  std::string decode_piece(int32_t id) const {
    std::string p = pieces_[size_t(id)];
    for (size_t i = 0; i < fuse_at_; ++i) {
      const auto& step = spec_.decoder[i];
      switch (step.kind) {
        case TokenizerSpec::DecoderStep::kReplace:
          p = step.pattern.replace_all(p, step.content);
          break;
        case TokenizerSpec::DecoderStep::kByteFallback:
          if (p.size() == 6 && p.compare(0, 3, "<0x") == 0 && p[5] == '>' && std::isxdigit(static_cast<unsigned char>(p[3])) &&
              std::isxdigit(static_cast<unsigned char>(p[4])))
            p = std::string(1, char(std::stoi(p.substr(3, 2), nullptr, 16)));
          break;
        case TokenizerSpec::DecoderStep::kStrip: {
          size_t s = 0, e = p.size(), k = 0;
          const size_t w = step.content.size();
          for (k = 0; k < step.start && w && p.compare(s, w, step.content) == 0 && s + w <= e; ++k) s += w;
          for (k = 0; k < step.stop && w && e >= s + w && p.compare(e - w, w, step.content) == 0; ++k) e -= w;
          p = p.substr(s, e - s);
          break;
        }
        case TokenizerSpec::DecoderStep::kFuse:
          break;
      }
    }
    return p;
  }

  TokenizerSpec spec_;
  std::vector<std::string> pieces_;
  std::vector<bool> special_;
  PieceIndex piece_ids_;  // piece → id, keyed by pieces_
  int32_t ascii_ids_[128];                          // single-character pieces: ASCII,
  std::unordered_map<uint32_t, int32_t> char_ids_;  // and the rest by code point
  MergeTable merge_rank_;
  int32_t byte_ids_[256];
  int32_t unk_id_ = -1;
  size_t fuse_at_ = 0;
  std::vector<TrieNode> trie_;
  bool first_byte_[256] = {};  // can an added token start with this byte? (skips the trie for most text)
};

}  // namespace gemma4

#endif  // GEMMA4_TOKENIZER_H_
