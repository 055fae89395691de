// `ember symbolize -e BINARY ADDR...`: function, file:line and the inline chain of addresses,
// like `addr2line -f -i -C` or `llvm-symbolizer`, with the symbolizer the profiler uses.

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/debuginfod_option.h"
#include "cli/io.h"
#include "common/command_line.h"
#include "common/files.h"
#include "common/types.h"
#include "symbolizer/symbolizer.h"

namespace ember::cli {

namespace {

struct SymbolizeArgs {
  std::string binary;
  std::vector<std::string> addresses;
  bool no_inline = false;
  bool full_names = false;
  bool no_demangle = false;
  bool json = false;
  bool print_address = false;
  std::vector<std::string> debug_dirs;
  bool no_debuginfod = false;
};

// Addresses are hex with or without 0x, as addr2line takes them.
[[nodiscard]] Result<common::ElfAddress> parse_address(const std::string& text) {
  std::string digits = text;
  if (digits.starts_with("0x") || digits.starts_with("0X")) digits = digits.substr(2);
  if (digits.empty() || digits.size() > 16 ||
      digits.find_first_not_of("0123456789abcdefABCDEF") != std::string::npos) {
    return make_error(ErrorCode::kInvalidArgument,
                      "'" + common::echo_input(text) + "' is not a hexadecimal address");
  }
  return common::ElfAddress(std::stoull(digits, nullptr, 16));
}

int run_symbolize(SymbolizeArgs& args) {
  if (args.addresses.empty()) {
    // Addresses from stdin, whitespace separated, as addr2line reads them.
    auto input = common::read_fd(STDIN_FILENO, "stdin", size_t{256} << 20);
    if (!input) {
      fail(input.error().message());
      return kExitFailure;
    }
    size_t i = 0;
    const std::string& text = *input;
    while (i < text.size()) {
      while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
      size_t start = i;
      while (i < text.size() && !std::isspace(static_cast<unsigned char>(text[i]))) ++i;
      if (i > start) args.addresses.push_back(text.substr(start, i - start));
    }
  }
  std::vector<common::ElfAddress> addresses;
  for (const auto& text : args.addresses) {
    auto address = parse_address(text);
    if (!address) {
      fail(address.error().message());
      return kExitUsage;
    }
    addresses.push_back(*address);
  }
  symbolizer::Options options;
  options.inline_frames = !args.no_inline;
  options.full_names = args.full_names;
  options.demangle = !args.no_demangle;
  if (!args.debug_dirs.empty()) options.debug_directories = args.debug_dirs;
  options.debuginfod = debuginfod_from_environment(args.no_debuginfod);
  std::vector<std::string> problems;
  auto symbols = symbolizer::symbolize_file(args.binary, addresses, options, &problems);
  warn_about_debuginfod(options.debuginfod.get());
  if (!symbols) {
    fail(symbols.error().message());
    return kExitFailure;
  }
  for (const auto& problem : problems) fail(problem);
  size_t named = 0;
  for (const auto& symbol : *symbols) {
    bool has_name = std::any_of(symbol.frames.begin(), symbol.frames.end(),
                                [](const auto& f) { return !f.function.empty(); });
    named += has_name ? 1 : 0;
  }

  std::string out;
  if (args.json) {
    nlohmann::json array = nlohmann::json::array();
    for (size_t i = 0; i < addresses.size(); ++i) {
      nlohmann::json frames = nlohmann::json::array();
      for (const auto& f : (*symbols)[i].frames) {
        frames.push_back({{"function", f.function}, {"system_name", f.system_name},
                          {"file", f.file}, {"line", f.line}, {"column", f.column}});
      }
      array.push_back({{"address", common::hex_address(addresses[i].value())}, {"frames", frames}});
    }
    out = array.dump(2) + "\n";
  } else {
    // llvm-symbolizer's layout: per frame (innermost first) the function, then file:line:column;
    // "??" when unknown; a blank line after each address.
    for (size_t i = 0; i < addresses.size(); ++i) {
      if (args.print_address) out += common::hex_address(addresses[i].value()) + "\n";
      const auto& frames = (*symbols)[i].frames;
      if (frames.empty()) out += "??\n??:0:0\n";
      for (const auto& f : frames) {
        out += (f.function.empty() ? "??" : f.function) + "\n";
        out += fmt::format("{}:{}:{}\n", f.file.empty() ? "??" : f.file, f.line, f.column);
      }
      out += "\n";
    }
  }
  if (auto ok = common::write_all(STDOUT_FILENO, out, "stdout"); !ok) {
    fail("cannot write " + ok.error().message());
    return kExitFailure;
  }
  // "??" for every address is not an answer: say so, and fail, as a script needs to know.
  if (named == 0 && !addresses.empty()) {
    fail(fmt::format("{}: none of the {} {} could be symbolized{}", args.binary, addresses.size(),
                     addresses.size() == 1 ? "address" : "addresses",
                     problems.empty() ? " (no symbol or debug information covers them)" : ""));
    return kExitFailure;
  }
  return kExitOk;
}

}  // namespace

void add_symbolize_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<SymbolizeArgs>();
  CLI::App* cmd = app.add_subcommand(
      "symbolize", "Function, file:line and inline chain of addresses in a binary (like addr2line -f -i -C)");
  cmd->add_option("-e,--exe", args->binary, "The ELF binary or shared library")->required();
  cmd->add_option("addresses", args->addresses,
                  "Addresses as in the binary (link-time virtual addresses, hex); read from stdin when none");
  cmd->add_flag("--no-inline", args->no_inline, "Only the function the address belongs to, no inline chain");
  cmd->add_flag("--full-names", args->full_names, "Keep C++ parameter lists in function names");
  cmd->add_flag("--no-demangle", args->no_demangle, "Show names as in the symbol table");
  cmd->add_flag("-a,--addresses", args->print_address, "Print each address before its frames");
  cmd->add_flag("--json", args->json, "JSON output");
  cmd->add_option("--debug-dir", args->debug_dirs,
                  "Directory of separate debug files (repeatable) [default: /usr/lib/debug]")
      ->allow_extra_args(false);
  add_debuginfod_flag(cmd, args->no_debuginfod);
  cmd->footer(
      "\nSeparate debug files are found through .gnu_debuglink and /usr/lib/debug/.build-id/xx/rest.debug,\n"
      "then by build-id from the debuginfod servers in DEBUGINFOD_URLS (off with --no-debuginfod).\n"
      "\nExample:\n  ember symbolize -e ./app 0x401136 0x4011a0\n  nm -n ./app | awk '{print $1}' | ember symbolize -e ./app");
  cmd->callback([args, &exit_code] { exit_code = run_symbolize(*args); });
}

}  // namespace ember::cli
