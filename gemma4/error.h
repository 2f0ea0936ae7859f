// gemma4/error.h — the one error type. Every message names what was wrong and where: the file, the
// tensor or the config field, so a user can act on it without reading the code.
#ifndef GEMMA4_ERROR_H_
#define GEMMA4_ERROR_H_

#include <cstddef>
#include <cstdint>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace gemma4 {

struct Error : std::runtime_error {
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// Error(Str("tensor ", name, " has shape ", shape)) — stream-formats its arguments into one string.
template <class... Args>
std::string Str(Args&&... args) {
  std::ostringstream out;
  (out << ... << std::forward<Args>(args));
  return out.str();
}

// a · b for a size in elements or bytes; an Error naming `what` instead of a wrapped (tiny) size.
inline size_t CheckedMul(size_t a, size_t b, const char* what) {
  size_t r;
  if (__builtin_mul_overflow(a, b, &r)) throw Error(Str(what, ": size ", a, " x ", b, " overflows"));
  return r;
}

// The largest token-id table a tokenizer with n pieces (vocabulary entries plus added tokens) may ask
// for: ids may leave holes (test vocabularies do), but the table stays proportional to what the file
// holds, so a tiny file cannot make a giant allocation.
inline int64_t TokenIdLimit(size_t n) { return 2 * int64_t(n) + 1024; }

}  // namespace gemma4

#endif  // GEMMA4_ERROR_H_
