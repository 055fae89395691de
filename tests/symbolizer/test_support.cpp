#include "test_support.h"

#include <gtest/gtest.h>

#include "tests/support/process.h"

#include <stdlib.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>

namespace ember::symbolizer::testing {

std::string fixture(const std::string& name) {
  return std::string(EMBER_BINARY_DIR) + "/tests/fixtures/symbols/" + name;
}

std::vector<Symbol> symbolize(const std::string& path, const std::vector<uint64_t>& addresses,
                              const Options& options) {
  std::vector<common::ElfAddress> elf;
  for (uint64_t a : addresses) elf.emplace_back(a);
  auto out = symbolize_file(path, elf, options);
  EXPECT_TRUE(out) << (out ? "" : out.error().message());
  return out ? *out : std::vector<Symbol>(addresses.size());
}

std::string fixture_source(const std::string& name) {
  return std::string(EMBER_SOURCE_DIR) + "/tests/fixtures/symbols/" + name;
}

std::string run(const std::string& command) {
  return ember::testing::run({"/bin/sh", "-c", command}, {}, std::chrono::seconds(600)).out;
}

std::map<std::string, NmSymbol> nm_symbols(const std::string& path, bool dynamic) {
  std::map<std::string, NmSymbol> out;
  std::istringstream in(run(std::string("nm -S --defined-only ") + (dynamic ? "-D " : "") + "'" +
                            path + "' 2>/dev/null"));
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string address, second, third, fourth;
    fields >> address >> second >> third;
    bool sized = static_cast<bool>(fields >> fourth);
    if (dynamic) {  // "name@@VERSION"
      auto strip = [](std::string& name) { name = name.substr(0, name.find('@')); };
      strip(third);
      strip(fourth);
    }
    NmSymbol s;
    s.address = std::stoull(address, nullptr, 16);
    if (sized) {  // address size type name
      s.size = std::stoull(second, nullptr, 16);
      s.type = third[0];
      out[fourth] = s;
    } else {  // address type name (no size)
      s.type = second[0];
      out[third] = s;
    }
  }
  return out;
}

int64_t tagged_line(const std::string& source, const std::string& tag) {
  std::ifstream in(source);
  std::string line;
  int64_t number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line.find("LINE:" + tag) != std::string::npos) return number;
  }
  throw std::runtime_error("no LINE:" + tag + " in " + source);
}

void copy_file(const std::string& from, const std::string& to) {
  std::filesystem::create_directories(std::filesystem::path(to).parent_path());
  std::filesystem::copy_file(from, to, std::filesystem::copy_options::overwrite_existing);
}

void write_text(const std::string& path, const std::string& text) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

}  // namespace ember::symbolizer::testing
