// gemma4/io/json.h — the one way JSON text enters gemma4: ParseJson (a nesting-depth limit, then nlohmann's
// parser), Brief (a bounded description of a value for error messages) and JsonGuard (no nlohmann
// exception leaves a loader; it becomes a gemma4::Error naming the file).
//
// Traps this header closes (each found by fuzzing, each with a test in tests/test_reliability.cpp):
// - nlohmann's parser is iterative, but dump(), copying and comparing a value recurse once per nesting
//   level: a 200 kB file of '[' overflows the stack in an error message. ParseJson refuses more than
//   kMaxJsonDepth levels before anything recurses, and error messages use Brief, never dump() of a value
//   the user gave (it could be a 1 GB array).
// - Parsing can throw out_of_range (a number like 1e400) as well as parse_error; a get<T>() of the wrong
//   type throws type_error. JsonGuard turns all of them into Error.
#ifndef GEMMA4_JSON_H_
#define GEMMA4_JSON_H_

#include <cstddef>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

#include "gemma4/error.h"

namespace gemma4 {

// Deeper than any file gemma4 reads (tokenizer.json: 6; config.json: 4), shallow enough for any stack.
constexpr size_t kMaxJsonDepth = 64;

// The deepest nesting of [ and { in `text`, outside strings (stops counting past `limit`).
inline size_t JsonDepth(const char* text, size_t size, size_t limit) {
  size_t depth = 0, deepest = 0;
  bool in_string = false;
  for (size_t i = 0; i < size; ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > deepest && (deepest = depth) > limit) return deepest;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return deepest;
}

// Parses JSON text; `where` (a file name) names it in the Error for malformed or too deeply nested text.
inline nlohmann::json ParseJson(const char* text, size_t size, const std::string& where) {
  if (JsonDepth(text, size, kMaxJsonDepth) > kMaxJsonDepth)
    throw Error(Str(where, ": JSON nested more than ", kMaxJsonDepth, " levels deep"));
  try {
    return nlohmann::json::parse(text, text + size);
  } catch (const nlohmann::json::exception& e) {
    throw Error(Str(where, ": malformed JSON (", e.what(), ")"));
  }
}
inline nlohmann::json ParseJson(const std::string& text, const std::string& where) {
  return ParseJson(text.data(), text.size(), where);
}

// A short description of a value for an error message: scalars as JSON (strings cut at 60 bytes), arrays
// and objects by their size only.
inline std::string Brief(const nlohmann::json& v) {
  if (v.is_array()) return Str("an array of ", v.size());
  if (v.is_object()) return Str("an object of ", v.size(), " keys");
  if (v.is_string()) {
    const std::string& s = v.get_ref<const std::string&>();
    if (s.size() > 60) return nlohmann::json(s.substr(0, 60)).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "...";
  }
  return v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// Runs f(); an nlohmann exception (a value of the wrong type deep in a loader) becomes an Error naming `where`.
template <class F>
auto JsonGuard(const std::string& where, F&& f) -> decltype(f()) {
  try {
    return std::forward<F>(f)();
  } catch (const nlohmann::json::exception& e) {
    throw Error(Str(where, ": unexpected JSON value (", e.what(), ")"));
  }
}

}  // namespace gemma4

#endif  // GEMMA4_JSON_H_
