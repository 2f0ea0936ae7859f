// libFuzzer harness for the GGUF reader: parse arbitrary bytes, then everything a loader does with a
// parsed file (config from metadata, tensors mapped to HF names and widened, tokenizer metadata).
// Any gemma4::Error is a correct answer; a crash, a sanitizer report or a huge allocation is a bug.
// Build and run: tests/fuzz/run.sh N.
#include <cstddef>
#include <cstdint>

#include "gemma4/io/gguf.h"
#include "gemma4/io/gguf_checkpoint.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace gemma4;
  GgufFile g;
  try {
    g = ParseGguf(data, size, "fuzz.gguf");
  } catch (const Error&) {
    return 0;
  }
  try {
    ReadGgufTokenizerMetadata(g);
  } catch (const Error&) {
  }
  try {
    const Checkpoint ckpt = CheckpointFromGguf(g);
    ParseGemma4TextConfig(ckpt.config, "fuzz.gguf");
  } catch (const Error&) {
  }
  return 0;
}
