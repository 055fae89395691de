#pragma once
// A strict command line for ember and emberd: an option a program does not know is an error that
// names it (and the option it was probably meant to be), never silently dropped or taken for the
// start of a command to launch. One place for every subcommand, so options added later are
// covered without further work.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace CLI {
class App;
class ParseError;
}  // namespace CLI

namespace ember::common {

// Makes every subcommand of `app` refuse what it does not know. A prefix command (`ember record
// ./prog --its-own-options`) keeps what follows its first positional argument for the command,
// but an unknown option before it is an error, and so is anything left over when the command was
// already given after "--" (`command_after_dashes`).
// `tokens` are the arguments that will be parsed (argv without the program name): an option that
// takes a value but is followed by something that looks like an option (`-o --fromat`) is an
// error too, although CLI11 would take "--fromat" as the file name.
void make_strict(CLI::App& app, std::vector<std::string> tokens, bool command_after_dashes);

// One line explaining why `app` refused its arguments, e.g.
//   "unknown option --frequncy (did you mean --frequency?)"
//   "-o needs a value; --fromat is not an option (did you mean --format?)"
// falling back to CLI11's own message for other mistakes.
std::string explain_parse_error(const CLI::App& app, const CLI::ParseError& error);

// The long option of `app` closest to `unknown` by edit distance (a transposition counts once),
// when it is close enough to be a plausible typo: "--frequncy" → "--frequency".
std::optional<std::string> closest_option(const CLI::App& app, std::string_view unknown);

// Shortens text taken from the user's input for an error message: at most `max_chars` bytes
// (cut on a UTF-8 boundary) followed by "…" and the total size, so a 10 MB argument is not
// echoed whole.
std::string echo_input(std::string_view text, size_t max_chars = 80);

}  // namespace ember::common
