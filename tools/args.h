// tools/args.h — the tools' one command-line parser: flags a llama.cpp user knows (-m/--model, -n, -t …),
// "--flag value" or "--flag=value", a usage text built from the declarations, and one-line errors.
#ifndef GEMMA4_TOOLS_ARGS_H_
#define GEMMA4_TOOLS_ARGS_H_

#include <cctype>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "gemma4/error.h"

// The version --version prints: the project's, set by both build systems (CMake, Meson).
#ifndef GEMMA4_VERSION
#define GEMMA4_VERSION "unknown"
#endif

namespace gemma4::tools {

class ArgParser {
 public:
  // synopsis: what follows the program name on the usage line ("[options]", "INPUT OUTPUT.gguf [options]").
  ArgParser(std::string program, std::string summary, std::string synopsis = "[options]")
      : program_(std::move(program)), summary_(std::move(summary)), synopsis_(std::move(synopsis)) {}

  // A switch: present or not.
  ArgParser& flag(const std::string& names, bool* out, const std::string& help) {
    options_.push_back({names, "", help, [out](const std::string&) { *out = true; }});
    return *this;
  }
  // An option with a value, converted by the overload for the target's type.
  ArgParser& option(const std::string& names, const std::string& metavar, std::string* out, const std::string& help) {
    return add(names, metavar, help, [out](const std::string& v) { *out = v; });
  }
  // Where "not given" and "given empty" differ (--prompt-ids "" is an error, not the default prompt).
  ArgParser& option(const std::string& names, const std::string& metavar, std::optional<std::string>* out,
                    const std::string& help) {
    return add(names, metavar, help, [out](const std::string& v) { *out = v; });
  }
  ArgParser& option(const std::string& names, const std::string& metavar, long* out, const std::string& help) {
    return add(names, metavar, help, [out, names](const std::string& v) { *out = ParseLong(names, v); });
  }
  ArgParser& option(const std::string& names, const std::string& metavar, double* out, const std::string& help) {
    return add(names, metavar, help, [out, names](const std::string& v) { *out = ParseDouble(names, v); });
  }
  // Repeatable: every occurrence appends.
  ArgParser& option(const std::string& names, const std::string& metavar, std::vector<std::string>* out,
                    const std::string& help) {
    return add(names, metavar, help, [out](const std::string& v) { out->push_back(v); });
  }

  // Repeatable, each occurrence handed to `apply` as it is parsed (which may throw Error).
  ArgParser& option(const std::string& names, const std::string& metavar, std::function<void(const std::string&)> apply,
                    const std::string& help) {
    return add(names, metavar, help, std::move(apply));
  }

  // Parses argv[first..]; prints usage (-h/--help) or the version (--version) and exits 0; throws Error on
  // anything it does not know.
  std::vector<std::string> parse(int argc, char** argv, int first = 1) {
    std::vector<std::string> positional;
    for (int i = first; i < argc; ++i) {
      std::string arg = argv[i], value;
      bool has_value = false;
      if (arg == "-h" || arg == "--help") {
        std::fputs(usage().c_str(), stdout);
        std::exit(0);
      }
      if (arg == "--version") {
        std::printf("%s\n", Version(program_).c_str());
        std::exit(0);
      }
      if (arg.size() > 1 && arg[0] == '-' && !IsNumber(arg)) {
        const size_t eq = arg.find('=');
        if (arg.compare(0, 2, "--") == 0 && eq != std::string::npos) {
          value = arg.substr(eq + 1);
          arg = arg.substr(0, eq);
          has_value = true;
        }
        const Option* opt = find(arg);
        if (!opt) throw Error(Str("unknown flag ", arg, " (see ", program_, " --help)"));
        if (opt->metavar.empty()) {
          if (has_value) throw Error(Str(arg, " takes no value"));
          opt->apply("");
        } else {
          if (!has_value) {
            if (i + 1 >= argc) throw Error(Str(arg, " needs a value (", opt->metavar, ")"));
            value = argv[++i];
          }
          opt->apply(value);
        }
      } else {
        positional.push_back(arg);
      }
    }
    return positional;
  }

  std::string usage() const {
    std::string u = "usage: " + program_ + " " + synopsis_ + "\n" + summary_ + "\n\noptions:\n";
    auto row = [&u](const std::string& names, const std::string& metavar, const std::string& help) {
      std::string left = "  " + names + (metavar.empty() ? "" : " " + metavar);
      if (left.size() < 28) left.resize(28, ' ');
      else left += "\n" + std::string(28, ' ');
      u += left + help + "\n";
    };
    for (const Option& o : options_) row(o.names, o.metavar, o.help);
    row("-h, --help", "", "this text");
    row("--version", "", "the version, then exit");
    return u;
  }

  // "gemma4-run 0.1.0"; a subcommand's program name ("gemma4-eval ppl") prints as its tool's.
  static std::string Version(const std::string& program) {
    return program.substr(0, program.find(' ')) + " " + GEMMA4_VERSION;
  }

  static long ParseLong(const std::string& name, const std::string& v) {
    char* end = nullptr;
    const long x = std::strtol(v.c_str(), &end, 10);
    if (v.empty() || *end) throw Error(Str(name, ": \"", v, "\" is not a whole number"));
    return x;
  }
  static double ParseDouble(const std::string& name, const std::string& v) {
    char* end = nullptr;
    const double x = std::strtod(v.c_str(), &end);
    if (v.empty() || *end) throw Error(Str(name, ": \"", v, "\" is not a number"));
    return x;
  }

 private:
  struct Option {
    std::string names, metavar, help;
    std::function<void(const std::string&)> apply;
  };
  ArgParser& add(const std::string& names, const std::string& metavar, const std::string& help,
                 std::function<void(const std::string&)> apply) {
    options_.push_back({names, metavar, help, std::move(apply)});
    return *this;
  }
  const Option* find(const std::string& arg) const {
    for (const Option& o : options_) {
      size_t start = 0;
      while (start <= o.names.size()) {  // names: "-m, --model"
        size_t end = o.names.find(',', start);
        if (end == std::string::npos) end = o.names.size();
        std::string name = o.names.substr(start, end - start);
        name.erase(0, name.find_first_not_of(' '));
        if (name == arg) return &o;
        start = end + 1;
      }
    }
    return nullptr;
  }
  static bool IsNumber(const std::string& s) {  // "-1" is a value, not a flag
    return s.size() > 1 && s[0] == '-' && (std::isdigit(static_cast<unsigned char>(s[1])) || s[1] == '.');
  }
  std::string program_, summary_, synopsis_;
  std::vector<Option> options_;
};

// "2,105,4" → {2, 105, 4}
inline std::vector<int32_t> ParseIdList(const std::string& flag, const std::string& text) {
  std::vector<int32_t> ids;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find(',', start);
    if (end == std::string::npos) end = text.size();
    const long id = ArgParser::ParseLong(flag, text.substr(start, end - start));
    if (id < 0 || id > INT32_MAX) throw Error(Str(flag, ": ", id, " is not a token id"));
    ids.push_back(int32_t(id));
    start = end + 1;
  }
  if (ids.empty()) throw Error(Str(flag, ": no token ids given"));
  return ids;
}

// "2, 105 4\n7" → {2, 105, 4, 7}: ids separated by commas and/or white space (a file of ids), checked as
// --prompt-ids are (ParseIdList).
inline std::vector<int32_t> ParseIdText(const std::string& source, const std::string& text) {
  std::string list;
  for (size_t i = 0; i < text.size();) {
    auto separator = [&](size_t j) { return text[j] == ',' || std::isspace(static_cast<unsigned char>(text[j])); };
    if (separator(i)) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < text.size() && !separator(j)) ++j;
    list += (list.empty() ? "" : ",") + text.substr(i, j - i);
    i = j;
  }
  return ParseIdList(source, list);
}

}  // namespace gemma4::tools

#endif  // GEMMA4_TOOLS_ARGS_H_
