// gemma4/text/chat.h — the Gemma 4 chat format: turns, the system turn, thinking on/off, stop tokens.
//
// HF: the chat_template.jinja shipped with the -it checkpoints, written out (checked against the real
// google-gemma-4-31B-it.jinja and its -interleaved variant, rendered by Python jinja2, in
// tests/real_gemma4/template_test.sh):
//   <bos>
//   <|turn>system\n{<|think|>\n if thinking}{system | trim}<turn|>\n      (only with a system text or thinking;
//                                                                    a first "developer" message is the system text)
//   <|turn>user\n{text | trim}<turn|>\n
//   <|turn>model\n{reply with any <|channel>…<channel|> removed, trimmed}<turn|>\n   (earlier replies)
//   <|turn>model\n                                                          (the generation prompt)
// The 26B-A4B and 31B templates add an empty thought channel, <|channel>thought\n<channel|>, after the
// generation prompt when thinking is off (E2B/E4B's template does not). The model ends its turn with
// <turn|> (or <eos>); with thinking on it first writes <|channel>thought\n…<channel|>.
// Any other role (a later "system" too) is a turn of that name with its text trimmed.
// Trap: google-gemma-4-31B-it.jinja continues the model turn when an "assistant" message follows another
// one: the second gets no <|turn>model header (its <turn|>\n still follows the first); -interleaved opens
// a new turn. Tools (declarations, calls, role "tool" responses) are not rendered: a "tool" message is an
// Error, since ChatMessage carries text only.
// vs Gemma 3: <start_of_turn>/<end_of_turn> became <|turn>/<turn|>, and the system turn is real.
#ifndef GEMMA4_CHAT_H_
#define GEMMA4_CHAT_H_

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "gemma4/error.h"
#include "gemma4/io/json.h"
#include "gemma4/text/tokenizer.h"
#include "gemma4/text/utf8.h"

namespace gemma4 {

struct ChatMessage {
  std::string role;  // "system", "user", "assistant" (rendered as "model")
  std::string content;
};

// Jinja's `trim` (Python str.strip()): whitespace off both ends.
inline std::string ChatTrim(const std::string& s) {
  auto space = [](uint32_t c) {
    return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
  };
  size_t begin = 0, end = s.size();
  while (begin < end) {
    const size_t len = utf8::SequenceLength(s.data() + begin, end - begin);
    if (len == 0 || !space(utf8::Decode(s.data() + begin, len))) break;
    begin += len;
  }
  while (end > begin) {
    size_t back = end - 1;
    while (back > begin && (static_cast<unsigned char>(s[back]) & 0xC0) == 0x80) --back;
    const size_t len = utf8::SequenceLength(s.data() + back, end - back);
    if (len != end - back || !space(utf8::Decode(s.data() + back, len))) break;
    end = back;
  }
  return s.substr(begin, end - begin);
}

// The template's strip_thinking: drops every <|channel>…<channel|> span of an earlier reply, then trims.
inline std::string StripThinking(const std::string& text) {
  std::string out;
  size_t at = 0;
  while (at <= text.size()) {
    size_t close = text.find("<channel|>", at);
    const std::string part = text.substr(at, close == std::string::npos ? std::string::npos : close - at);
    const size_t open = part.find("<|channel>");
    out += open == std::string::npos ? part : part.substr(0, open);
    if (close == std::string::npos) break;
    at = close + 10;
  }
  return ChatTrim(out);
}

struct ChatFormat {
  // 26B-A4B / 31B: an empty thought channel after the generation prompt when thinking is off.
  bool empty_thought_channel = false;
  // google-gemma-4-31B-it.jinja: an "assistant" message after an "assistant" message continues its turn.
  bool continue_model_turn = false;

  // The variant a chat_template text asks for.
  static ChatFormat FromTemplate(const std::string& jinja) {
    return ChatFormat{jinja.find("<|channel>thought\\n<channel|>") != std::string::npos ||
                          jinja.find("<|channel>thought\n<channel|>") != std::string::npos,
                      jinja.find("continue_same_model_turn") != std::string::npos};
  }

  static std::string Turn(const std::string& role, const std::string& content) {
    return "<|turn>" + (role == "assistant" ? std::string("model") : role) + "\n" + content + "<turn|>\n";
  }

  std::string generation_prompt(bool thinking) const {
    return std::string("<|turn>model\n") + (empty_thought_channel && !thinking ? "<|channel>thought\n<channel|>" : "");
  }

  // The whole conversation as the template renders it (with <bos>; encode it without adding specials).
  std::string render(const std::vector<ChatMessage>& messages, bool add_generation_prompt, bool thinking) const {
    for (size_t i = 0; i < messages.size(); ++i)
      if (messages[i].role == "tool")
        throw Error(Str("chat: message ", i + 1, " has role \"tool\": tool calls and responses are not supported"));
    std::string out = "<bos>";
    size_t first = 0;
    const bool has_system = !messages.empty() && (messages[0].role == "system" || messages[0].role == "developer");
    if (thinking || has_system) {
      out += "<|turn>system\n";
      if (thinking) out += "<|think|>\n";
      if (has_system) out += ChatTrim(messages[0].content), first = 1;
      out += "<turn|>\n";
    }
    for (size_t i = first; i < messages.size(); ++i) {
      const ChatMessage& m = messages[i];
      const std::string role = m.role == "assistant" ? "model" : m.role;
      const bool continues = continue_model_turn && role == "model" && i > first && messages[i - 1].role == "assistant";
      if (!continues) out += "<|turn>" + role + "\n";
      out += (role == "model" ? StripThinking(m.content) : ChatTrim(m.content)) + "<turn|>\n";
    }
    if (add_generation_prompt) out += generation_prompt(thinking);
    return out;
  }

  // What follows a model reply that is already in the KV cache, to ask the next question: the end of the
  // reply's turn (closed unless the model's own <turn|> is fed), then the user turn and the generation
  // prompt. Interactive chat appends this instead of re-rendering the history, as llama-cli does; the
  // cache therefore keeps the reply as generated (a thought channel included, which a re-render drops).
  std::string next_turn(const std::string& user, bool reply_closed, bool thinking) const {
    return std::string(reply_closed ? "" : "<turn|>") + "\n" + Turn("user", ChatTrim(user)) + generation_prompt(thinking);
  }
};

// The chat variant a tokenizer_config.json's "chat_template" asks for (a string, or HF's list of
// {"name", "template"} objects), or nothing when it has none. Anything else there is an Error naming `path`.
inline std::optional<ChatFormat> ChatFormatFromTokenizerConfig(const nlohmann::json& j, const std::string& path) {
  if (!j.is_object()) throw Error(Str(path, ": not a JSON object"));
  const auto it = j.find("chat_template");
  if (it == j.end() || it->is_null()) return std::nullopt;
  if (it->is_string()) return ChatFormat::FromTemplate(it->get<std::string>());
  if (!it->is_array()) throw Error(Str(path, ": chat_template must be a string or a list of {name, template}"));
  std::string all;
  for (const auto& e : *it) {
    if (!e.is_object() || (e.contains("template") && !e["template"].is_string()))
      throw Error(Str(path, ": chat_template list entries must be {\"name\": ..., \"template\": \"...\"}, got ", Brief(e)));
    if (e.contains("template")) all += e["template"].get<std::string>();
  }
  return ChatFormat::FromTemplate(all);
}

// Generation stops on <eos> and <turn|> (and any other id the model's config calls an end of sequence).
inline std::vector<int32_t> ChatStopIds(const Tokenizer& tok, const std::vector<int64_t>& config_eos = {}) {
  std::vector<int32_t> ids;
  for (const char* piece : {"<eos>", "<turn|>"})
    if (tok.token_id(piece) >= 0) ids.push_back(tok.token_id(piece));
  for (int64_t e : config_eos)
    if (std::find(ids.begin(), ids.end(), int32_t(e)) == ids.end()) ids.push_back(int32_t(e));
  return ids;
}

}  // namespace gemma4

#endif  // GEMMA4_CHAT_H_
