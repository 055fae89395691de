#pragma once
// The one test double of symbolizer::Symbolizer: names without binaries, predictable from the
// offset, so that a test can say which name a frame must get.
//
//   offset X of a module            "<prefix>x" in hex; the prefix is the module's path and '_'
//                                   unless one is given (FakeSymbolizer("fn_"): "fn_10")
//   offsets ending in 0xff          unknown (no frame)
//   offsets ending in 0xee          an inlined frame "inl_<name>" (inl.h:7:3) before the function
//
// Header-only: the tests that use it link ember::symbolizer themselves.

#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <fmt/format.h>

#include "symbolizer/symbolizer.h"

namespace ember::testing {

class FakeSymbolizer : public symbolizer::Symbolizer {
 public:
  explicit FakeSymbolizer(std::string prefix = {}) : prefix_(std::move(prefix)) {}

  std::vector<symbolizer::Symbol> symbolize(const profile::Module& module, std::span<const uint64_t> offsets) override {
    std::this_thread::sleep_for(delay);
    calls.push_back({module.path, std::vector<uint64_t>(offsets.begin(), offsets.end())});
    std::vector<symbolizer::Symbol> out;
    for (uint64_t offset : offsets) {
      symbolizer::Symbol s;
      const std::string name = fmt::format("{}{:x}", prefix_.empty() ? module.path + "_" : prefix_, offset);
      if ((offset & 0xff) == 0xee) {
        s.frames.push_back(symbolizer::Frame{"inl_" + name, "_Zinl_" + name, "inl.h", 7, 3});
      }
      if ((offset & 0xff) != 0xff) {
        s.frames.push_back(symbolizer::Frame{name, "_Z" + name, module.path + ".c", 42, 0});
      }
      out.push_back(std::move(s));
    }
    return out;
  }
  symbolizer::Stats stats() const override { return {}; }
  symbolizer::ModuleInfo module_info(const profile::Module& module) override {
    auto it = module_infos.find(module.path);
    return it == module_infos.end() ? symbolizer::ModuleInfo{} : it->second;
  }

  // How long each symbolize() takes: a slow step of a query, for deadline tests.
  std::chrono::milliseconds delay{0};
  // What module_info() answers, by module path.
  std::unordered_map<std::string, symbolizer::ModuleInfo> module_infos;
  struct Call {
    std::string path;
    std::vector<uint64_t> offsets;
  };
  std::vector<Call> calls;  // every symbolize() call, in order

 private:
  std::string prefix_;
};

}  // namespace ember::testing
