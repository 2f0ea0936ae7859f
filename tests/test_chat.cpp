// The Gemma 4 chat format, each template variant against strings written out from the format (see
// gemma4/text/chat.h; the thinking and 26B expectations are the ones in transformers' own Gemma 4 tests).
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "gemma4/text/chat.h"
#include "gemma4/text/tokenizer_json.h"

using gemma4::ChatFormat;
using gemma4::ChatMessage;
using Msgs = std::vector<ChatMessage>;

TEST_CASE("E2B/E4B template: user turn, system turn, thinking", "[chat]") {
  const ChatFormat e2b{false};
  CHECK(e2b.render({{"user", "Write a long essay about Portugal."}}, true, false) ==
        "<bos><|turn>user\nWrite a long essay about Portugal.<turn|>\n<|turn>model\n");
  CHECK(e2b.render({{"user", "Write a long essay about Portugal."}}, true, true) ==
        "<bos><|turn>system\n<|think|>\n<turn|>\n<|turn>user\nWrite a long essay about Portugal.<turn|>\n<|turn>model\n");
  CHECK(e2b.render({{"system", "  Be brief.\n"}, {"user", "\tHi \n"}}, true, false) ==
        "<bos><|turn>system\nBe brief.<turn|>\n<|turn>user\nHi<turn|>\n<|turn>model\n");
  CHECK(e2b.render({{"system", "Be brief."}, {"user", "Hi"}}, true, true) ==
        "<bos><|turn>system\n<|think|>\nBe brief.<turn|>\n<|turn>user\nHi<turn|>\n<|turn>model\n");
  CHECK(e2b.render({{"user", "Hi"}}, false, false) == "<bos><|turn>user\nHi<turn|>\n");
}

TEST_CASE("26B/31B template: an empty thought channel when thinking is off", "[chat]") {
  const ChatFormat big{true};
  CHECK(big.render({{"user", "Write a long essay about Portugal."}}, true, false) ==
        "<bos><|turn>user\nWrite a long essay about Portugal.<turn|>\n<|turn>model\n<|channel>thought\n<channel|>");
  CHECK(big.render({{"user", "Write a long essay about Portugal."}}, true, true) ==
        "<bos><|turn>system\n<|think|>\n<turn|>\n<|turn>user\nWrite a long essay about Portugal.<turn|>\n<|turn>model\n");
  CHECK(big.generation_prompt(false) == "<|turn>model\n<|channel>thought\n<channel|>");
  CHECK(big.generation_prompt(true) == "<|turn>model\n");
}

TEST_CASE("earlier replies lose their thought channel — the variant is read from the template text", "[chat]") {
  const ChatFormat f{false};
  const Msgs history = {{"user", "2+2?"}, {"assistant", "<|channel>thought\nsimple sum\n<channel|>4 "}, {"user", "and 3+3?"}};
  CHECK(f.render(history, true, false) ==
        "<bos><|turn>user\n2+2?<turn|>\n<|turn>model\n4<turn|>\n<|turn>user\nand 3+3?<turn|>\n<|turn>model\n");
  CHECK(gemma4::StripThinking("a<|channel>x<channel|>b<|channel>y<channel|> c ") == "ab c");
  CHECK(ChatFormat::FromTemplate("{{- '<|turn>model\\n' -}}{%- if not enable_thinking -%}{{- '<|channel>thought\\n<channel|>' -}}")
            .empty_thought_channel);
  CHECK_FALSE(ChatFormat::FromTemplate("{%- if add_generation_prompt -%}{{- '<|turn>model\\n' -}}{%- endif -%}").empty_thought_channel);
}

TEST_CASE("what the real 31B template does with other roles, repeated replies and tools", "[chat]") {
  // Written out from google-gemma-4-31B-it.jinja (tests/real_gemma4/template_test.sh renders it with jinja2).
  const ChatFormat f{false};
  CHECK(f.render({{"developer", " Be brief. "}, {"user", "a"}}, false, false) ==
        "<bos><|turn>system\nBe brief.<turn|>\n<|turn>user\na<turn|>\n");
  CHECK(f.render({{"user", "a"}, {"system", " late "}}, false, false) ==
        "<bos><|turn>user\na<turn|>\n<|turn>system\nlate<turn|>\n");
  const Msgs twice = {{"user", "a"}, {"assistant", "b"}, {"assistant", "c"}};
  CHECK(f.render(twice, false, false) == "<bos><|turn>user\na<turn|>\n<|turn>model\nb<turn|>\n<|turn>model\nc<turn|>\n");
  CHECK(ChatFormat{false, true}.render(twice, false, false) == "<bos><|turn>user\na<turn|>\n<|turn>model\nb<turn|>\nc<turn|>\n");
  CHECK(ChatFormat::FromTemplate("{%- set continue_same_model_turn = (role == 'model') -%}").continue_model_turn);
  CHECK_THROWS_WITH(f.render({{"user", "a"}, {"tool", "42"}}, true, false),
                    Catch::Contains("message 2 has role \"tool\": tool calls and responses are not supported"));
}

TEST_CASE("appending a turn to the cache gives what a re-render of the whole chat gives", "[chat]") {
  const ChatFormat f{false};
  const std::string reply = "Four.";
  // The model's reply ended with its own <turn|> (fed to the cache): the next text starts with "\n".
  const std::string incremental = f.render({{"user", "2+2?"}}, true, false) + reply + "<turn|>" + f.next_turn(" 3+3? ", true, false);
  CHECK(incremental == f.render({{"user", "2+2?"}, {"assistant", reply}, {"user", "3+3?"}}, true, false));
  // A reply cut short (Ctrl-C, -n) is closed by us.
  CHECK(f.next_turn("x", false, true) == "<turn|>\n<|turn>user\nx<turn|>\n<|turn>model\n");
}

TEST_CASE("the rendered chat encodes to the Gemma 4 control ids — stop ids are <eos> and <turn|>", "[chat]") {
  const gemma4::Tokenizer tok(gemma4::LoadTokenizerJson(GEMMA4_SOURCE_DIR "/tests/tokenizer/tiny_tokenizer.json"));
  const std::vector<int32_t> ids = tok.encode(ChatFormat{true}.render({{"user", "hello"}}, true, false), false);
  REQUIRE(ids.size() > 8);
  CHECK(ids[0] == 2);    // <bos> once: rendered, not added again
  CHECK(ids[1] == 105);  // <|turn>
  CHECK(std::count(ids.begin(), ids.end(), 105) == 2);
  CHECK(std::count(ids.begin(), ids.end(), 106) == 1);
  CHECK(ids[ids.size() - 4] == 100);  // <|channel> thought \n <channel|>
  CHECK(tok.decode({ids[ids.size() - 3]}) == "thought");
  CHECK(ids.back() == 101);
  CHECK(gemma4::ChatStopIds(tok, {1, 106}) == std::vector<int32_t>{1, 106});
  CHECK(gemma4::ChatStopIds(tok, {7}) == std::vector<int32_t>{1, 106, 7});
}
