// gemma4/text/tokenizer_gguf.h — reads a GGUF's tokenizer.ggml.* metadata into a TokenizerSpec (a model GGUF or a
// vocab-only one such as llama.cpp's models/ggml-vocab-gemma-4.gguf). The pipeline itself is
// TokenizerSpecFromVocabulary's (gemma4/text/tokenizer.h); this header only carries the metadata across.
#ifndef GEMMA4_TOKENIZER_GGUF_H_
#define GEMMA4_TOKENIZER_GGUF_H_

#include <string>

#include "gemma4/io/gguf.h"
#include "gemma4/text/tokenizer.h"

namespace gemma4 {

// A GGUF's tokenizer.ggml.* as the vocabulary TokenizerSpecFromVocabulary builds the pipeline from.
inline TokenizerVocabulary VocabularyFromGguf(const GgufTokenizerMetadata& m, const std::string& path) {
  TokenizerVocabulary v;
  v.model = m.model;
  v.tokens = m.tokens;
  v.scores = m.scores;
  v.token_type = m.token_type;
  v.merges = m.merges;
  v.bos_token_id = m.bos_token_id;
  v.eos_token_id = m.eos_token_id;
  v.unknown_token_id = m.unknown_token_id;
  v.add_bos_token = m.add_bos_token || m.model == "gemma4";  // llama.cpp forces <bos> on for gemma4
  v.source = path;
  return v;
}

inline TokenizerSpec LoadTokenizerGguf(const std::string& path) {
  return TokenizerSpecFromVocabulary(VocabularyFromGguf(ReadGgufTokenizerMetadata(ReadGguf(path)), path));
}

}  // namespace gemma4

#endif  // GEMMA4_TOKENIZER_GGUF_H_
