#include "common/command_line.h"

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <memory>
#include <vector>

namespace ember::common {

namespace {

// Whether CLI11 reads `token` as an option rather than a value: "--name", "--name=value", "-x",
// "-xVALUE". A lone "-" (stdin/stdout) and negative numbers are values.
bool looks_like_option(std::string_view token) {
  if (token.size() < 2 || token[0] != '-' || token == "--") return false;
  if (token[1] == '-') return token.size() > 2;
  return !(std::isdigit(static_cast<unsigned char>(token[1])) || token[1] == '.');
}

// The option name a token stands for: "--name=value" → "--name"; "-xVALUE" → "-x".
std::string option_name(std::string_view token) {
  if (token.starts_with("--")) return std::string(token.substr(0, token.find('=')));
  return std::string(token.substr(0, 2));
}

bool is_known(const CLI::App& app, std::string_view token) {
  return app.get_option_no_throw(option_name(token)) != nullptr;
}

// Damerau-Levenshtein distance (optimal string alignment), for typo suggestions.
size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

// The unknown option as the user wrote it, shortened for the message; "-frequency" stays whole
// (it is not "-f" with a value when -f does not exist).
std::string shown(std::string_view token) {
  return echo_input(token.starts_with("--") ? token.substr(0, token.find('=')) : token, 60);
}

std::string unknown_option(const CLI::App& app, std::string_view token) {
  std::string message = "unknown option " + shown(token);
  if (auto guess = closest_option(app, token)) message += " (did you mean " + *guess + "?)";
  return message;
}

// The program and the subcommands given, outermost first.
std::vector<const CLI::App*> parsed_commands(const CLI::App& app) {
  std::vector<const CLI::App*> chain{&app};
  for (;;) {
    auto subs = chain.back()->get_subcommands();
    if (subs.empty()) return chain;
    chain.push_back(subs.front());
  }
}

// Thrown when an option's value looks like an option; the message is complete.
class OptionAsValue : public CLI::ParseError {
 public:
  explicit OptionAsValue(std::string message)
      : CLI::ParseError("OptionAsValue", std::move(message), CLI::ExitCodes::ArgumentMismatch) {}
};

// In tokens[begin, end), parsed by `command`: an option that takes a value written apart from it
// ("-o FILE", not "-oFILE" or "--output=FILE") and followed by something that looks like an
// option. That is almost always a forgotten value or a misspelled option, not a file named
// "--fromat" (which can still be given as --output=--fromat).
void check_values(const CLI::App& command, const std::vector<std::string>& tokens, size_t begin,
                  size_t end) {
  for (size_t i = begin; i + 1 < end; ++i) {
    const std::string& token = tokens[i];
    if (!looks_like_option(token)) continue;
    if (token.starts_with("--") ? token.find('=') != std::string::npos : token.size() != 2) continue;
    const CLI::Option* option = command.get_option_no_throw(option_name(token));
    if (option == nullptr || option->get_items_expected_max() == 0) continue;  // a flag
    const std::string& next = tokens[i + 1];
    if (!looks_like_option(next)) continue;
    std::string message;
    if (is_known(command, next)) {
      message = fmt::format("{} needs a value, but the option {} follows it", shown(token), shown(next));
    } else {
      message = fmt::format("{} needs a value; {} is not an option", shown(token), shown(next));
      if (auto guess = closest_option(command, next)) message += " (did you mean " + *guess + "?)";
    }
    throw OptionAsValue(message);
  }
}

// Where a command's own tokens end: at "--", or (a prefix command) where the launched command
// begins.
size_t end_of_own_tokens(const CLI::App& command, const std::vector<std::string>& tokens, size_t begin) {
  std::vector<std::string> rest = command.remaining(false);
  for (size_t i = begin; i < tokens.size(); ++i) {
    if (tokens[i] == "--") return i;
    if (command.get_prefix_command() && !rest.empty() && tokens[i] == rest.front()) return i;
  }
  return tokens.size();
}

// Refuses what a prefix command must not keep: an option it does not know before its command,
// or anything at all when the command came after "--".
void check_prefix_command(const CLI::App& command, bool command_after_dashes) {
  std::vector<std::string> rest = command.remaining(false);
  if (rest.empty()) return;
  if (command_after_dashes || looks_like_option(rest.front())) {
    throw CLI::ExtrasError(command.get_name(), rest);
  }
}

}  // namespace

std::string echo_input(std::string_view text, size_t max_chars) {
  if (text.size() <= max_chars) return std::string(text);
  size_t cut = max_chars;
  // Back up to the start of a UTF-8 character.
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xc0) == 0x80) --cut;
  return fmt::format("{}… ({} bytes)", text.substr(0, cut), text.size());
}

std::optional<std::string> closest_option(const CLI::App& app, std::string_view unknown) {
  std::string_view wanted = unknown.substr(0, unknown.find('='));
  while (wanted.starts_with('-')) wanted.remove_prefix(1);
  if (wanted.empty()) return std::nullopt;
  // A plausible typo: a third of the letters at most (one for short names).
  size_t best_distance = std::max<size_t>(1, wanted.size() / 3) + 1;
  std::optional<std::string> best;
  for (const CLI::Option* option : app.get_options()) {
    for (const std::string& name : option->get_lnames()) {
      size_t distance = edit_distance(wanted, name);
      if (distance < best_distance) {
        best_distance = distance;
        best = "--" + name;
      }
    }
  }
  return best;
}

namespace {

bool is_subcommand(const CLI::App& app, const std::string& name) {
  auto all = app.get_subcommands([](const CLI::App*) { return true; });
  return std::any_of(all.begin(), all.end(), [&](const CLI::App* c) { return c->get_name() == name; });
}

void make_strict_below(CLI::App& app, const std::shared_ptr<const std::vector<std::string>>& tokens,
                       bool command_after_dashes) {
  for (CLI::App* command : app.get_subcommands([](CLI::App*) { return true; })) {
    command->allow_extras(false);
    // Runs as soon as the command's own arguments are parsed, before its callback.
    command->parse_complete_callback([command, tokens, command_after_dashes] {
      if (command->get_prefix_command()) check_prefix_command(*command, command_after_dashes);
      auto name = std::find(tokens->begin(), tokens->end(), command->get_name());
      size_t begin = name == tokens->end() ? tokens->size() : static_cast<size_t>(name - tokens->begin()) + 1;
      check_values(*command, *tokens, begin, end_of_own_tokens(*command, *tokens, begin));
    });
    make_strict_below(*command, tokens, command_after_dashes);
  }
}

}  // namespace

void make_strict(CLI::App& app, std::vector<std::string> tokens, bool command_after_dashes) {
  auto shared = std::make_shared<const std::vector<std::string>>(std::move(tokens));
  app.allow_extras(false);
  // The program's own options come before its first subcommand.
  app.parse_complete_callback([&app, shared] {
    size_t end = shared->size();
    for (size_t i = 0; i < shared->size(); ++i) {
      if ((*shared)[i] == "--" || is_subcommand(app, (*shared)[i])) {
        end = i;
        break;
      }
    }
    check_values(app, *shared, 0, end);
  });
  make_strict_below(app, shared, command_after_dashes);
}

std::string explain_parse_error(const CLI::App& app, const CLI::ParseError& error) {
  std::vector<const CLI::App*> chain = parsed_commands(app);
  // What CLI11 set aside: an option it does not know, the likely cause of any later complaint.
  // In a prefix command only the head is ember's; the rest belongs to the launched command.
  for (const CLI::App* level : chain) {
    std::vector<std::string> rest = level->remaining(false);
    size_t ours = level->get_prefix_command() ? std::min<size_t>(rest.size(), 1) : rest.size();
    for (size_t i = 0; i < ours; ++i) {
      if (looks_like_option(rest[i])) return unknown_option(*level, rest[i]);
    }
  }
  const CLI::App& command = *chain.back();
  std::vector<std::string> rest = command.remaining(false);
  if (dynamic_cast<const OptionAsValue*>(&error) != nullptr) return error.what();
  if (dynamic_cast<const CLI::ExtrasError*>(&error) != nullptr && !rest.empty()) {
    return fmt::format("unexpected argument '{}'", echo_input(rest.front(), 60));
  }
  return echo_input(error.what(), 200);
}

}  // namespace ember::common
