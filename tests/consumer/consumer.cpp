// Loads a checkpoint through the installed headers and prints the greedy next token.
#include <cstdio>

#include "gemma4/gemma4.h"

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  auto lm = gemma4::Gemma4ForCausalLM::from_pretrained(argv[1]);
  gemma4::Session session(*lm, 4);
  const int32_t prompt[2] = {2, 71};
  const float* logits = session.prefill(prompt, 2);
  std::printf("next token %zu (SIMD %s)\n", gemma4::ops::Argmax(logits, session.vocab_size()), gemma4::ops::TargetName());
  return 0;
}
