// ember-symbolize-bench [--full-names] [--no-inline] [--no-lines] [--no-demangle] [--warm N]
//                       -e BINARY < addresses
// Output per address, like `addr2line -a -f -i -C`:
//   0x0000000000001234
//   function
//   file:line            (one pair per frame, innermost first; "??" / "??:0" when unknown)
// --warm N: then symbolizes the same addresses N more times through one long-lived symbolizer
// (as the daemon does window after window) and prints the CPU time per address of those passes
// on stderr.

#include <fmt/format.h>

#include <charconv>
#include <ctime>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "elf/elf_file.h"
#include "symbolizer/symbolizer.h"

int main(int argc, char** argv) {
  ember::symbolizer::Options options;
  std::string binary;
  int warm_passes = 0;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--full-names") {
      options.full_names = true;
    } else if (arg == "--no-inline") {
      options.inline_frames = false;
    } else if (arg == "--no-lines") {
      options.line_numbers = false;
    } else if (arg == "--no-demangle") {
      options.demangle = false;
    } else if (arg == "--warm" && i + 1 < argc) {
      warm_passes = std::atoi(argv[++i]);
    } else if (arg == "-e" && i + 1 < argc) {
      binary = argv[++i];
    } else {
      fmt::print(stderr, "usage: {} [--full-names] [--no-inline] [--no-lines] [--no-demangle] -e BINARY < addresses\n",
                 argv[0]);
      return 2;
    }
  }
  if (binary.empty()) {
    fmt::print(stderr, "{}: -e BINARY is required\n", argv[0]);
    return 2;
  }
  std::vector<ember::common::ElfAddress> addresses;
  std::string line;
  while (std::getline(std::cin, line)) {
    std::string_view text = line;
    while (!text.empty() && (text.back() == '\r' || text.back() == ' ')) text.remove_suffix(1);
    if (text.starts_with("0x") || text.starts_with("0X")) text.remove_prefix(2);
    if (text.empty()) continue;
    uint64_t value = 0;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value, 16);
    if (ec != std::errc() || ptr != text.data() + text.size()) {
      fmt::print(stderr, "{}: not a hex address: {}\n", argv[0], line);
      return 2;
    }
    addresses.emplace_back(value);
  }
  auto symbols = ember::symbolizer::symbolize_file(binary, addresses, options);
  if (!symbols) {
    fmt::print(stderr, "{}: {}\n", argv[0], symbols.error().message());
    return 1;
  }
  std::string out;
  for (size_t i = 0; i < addresses.size(); ++i) {
    fmt::format_to(std::back_inserter(out), "0x{:016x}\n", addresses[i].value());
    const auto& frames = (*symbols)[i].frames;
    if (frames.empty()) {
      out += "??\n??:0\n";
      continue;
    }
    for (const auto& f : frames) {
      fmt::format_to(std::back_inserter(out), "{}\n{}:{}\n", f.function.empty() ? "??" : f.function,
                     f.file.empty() ? "??" : f.file, f.line);
    }
  }
  std::fwrite(out.data(), 1, out.size(), stdout);

  if (warm_passes > 0) {
    // The daemon's case: the module's file offsets, through a symbolizer whose cache is warm.
    auto file = ember::elf::ElfFile::open_path(binary);
    if (!file) {
      fmt::print(stderr, "{}: {}\n", argv[0], file.error().message());
      return 1;
    }
    ember::profile::Module module;
    module.path = binary;
    module.build_id = file->build_id();
    std::vector<uint64_t> offsets;
    for (auto a : addresses) {
      if (auto offset = file->to_file_offset(a)) offsets.push_back(offset->value());
    }
    auto symbolizer = ember::symbolizer::make_symbolizer(options);
    symbolizer->symbolize(module, offsets);  // indexes the binary
    auto cpu = [] {
      timespec ts{};
      clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
      return static_cast<double>(ts.tv_sec) * 1e6 + static_cast<double>(ts.tv_nsec) / 1e3;
    };
    double begin = cpu();
    size_t frames = 0;
    for (int pass = 0; pass < warm_passes; ++pass) {
      for (const auto& s : symbolizer->symbolize(module, offsets)) frames += s.frames.size();
    }
    double per_address = (cpu() - begin) / (static_cast<double>(warm_passes) * offsets.size());
    fmt::print(stderr, "warm: {:.2f} us per address ({} passes, {} frames)\n", per_address, warm_passes, frames);
  }
  return 0;
}
