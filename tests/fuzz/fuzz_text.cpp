// libFuzzer harness for the small text parsers of the tools: the first byte picks one, the rest is its input.
//   0: tokenizer_config.json → chat variant (ParseJson, ChatFormatFromTokenizerConfig)
//   1: chat_template.jinja text → chat variant (ChatFormat::FromTemplate)
//   2: --prompt-ids list (ParseIdList)
//   3: an ids file (ParseIdText: commas and white space)
//   first byte >= 0xF0, even: --override KEY=VALUE (ParseConfigOverride), applied to the E4B preset's config
//     and validated by the config parser (WithOverrides); odd: --ablate NAME (ParseAblation)
// Any gemma4::Error is a correct answer; a crash, a sanitizer report or a timeout is a bug.
#include <cstddef>
#include <cstdint>
#include <string>

#include "gemma4/text/chat.h"
#include "gemma4/io/json.h"
#include "gemma4/overrides.h"
#include "tools/args.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace gemma4;
  if (size == 0) return 0;
  const std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
  try {
    static const nlohmann::json preset = Gemma4PresetConfig("e4b");
    if (data[0] >= 0xF0) {
      if (data[0] % 2 == 0) {
        WithOverrides(preset, {ParseConfigOverride(text)}, "e4b");
      } else {
        Ablations a;
        ParseAblation(text, &a);
      }
      return 0;
    }
    switch (data[0] % 4) {
      case 0: ChatFormatFromTokenizerConfig(ParseJson(text, "tokenizer_config.json"), "tokenizer_config.json"); break;
      case 1: ChatFormat::FromTemplate(text); break;
      case 2: tools::ParseIdList("--prompt-ids", text); break;
      case 3: tools::ParseIdText("ids.txt", text); break;
    }
  } catch (const Error&) {
  }
  return 0;
}
