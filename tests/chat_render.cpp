// ChatFormat over a set of conversations, for tests/real_gemma4/template_test.sh, which renders the same
// conversations with the real template through Python jinja2 and compares:
//   chat_render TEMPLATE.jinja CONVERSATIONS.json
// The format is ChatFormat::FromTemplate(TEMPLATE), as gemma4-run picks it from a checkpoint's
// chat_template.jinja. Each conversation {"name", "messages": [{"role", "content"}]} is rendered with
// add_generation_prompt false and true, each with enable_thinking absent, false and true (the order
// render_jinja.py uses); one JSON line per rendering: {"name", "add_generation_prompt", "enable_thinking",
// "text"} or, where ChatFormat refuses the conversation, "error" (its one-line message) instead of "text".
#include <cstdio>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "gemma4/text/chat.h"
#include "gemma4/io/mapped_file.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: chat_render TEMPLATE.jinja CONVERSATIONS.json\n");
    return 2;
  }
  try {
    const gemma4::ChatFormat format = gemma4::ChatFormat::FromTemplate(gemma4::ReadTextFile(argv[1]));
    const nlohmann::json cases = nlohmann::json::parse(gemma4::ReadTextFile(argv[2]));
    for (const auto& c : cases) {
      std::vector<gemma4::ChatMessage> messages;
      for (const auto& m : c.at("messages")) messages.push_back({m.at("role"), m.at("content")});
      for (const bool generation_prompt : {false, true}) {
        for (const char* thinking : {"absent", "false", "true"}) {
          nlohmann::json out = {{"name", c.at("name")}, {"add_generation_prompt", generation_prompt},
                                {"enable_thinking", thinking}};
          try {
            out["text"] = format.render(messages, generation_prompt, std::string(thinking) == "true");
          } catch (const gemma4::Error& e) {
            out["error"] = e.what();
          }
          std::printf("%s\n", out.dump().c_str());
        }
      }
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "chat_render: error: %s\n", e.what());
    return 1;
  }
}
