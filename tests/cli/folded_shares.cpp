#include "tests/cli/folded_shares.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "profile/folded.h"

namespace ember::testing {

namespace {
std::vector<std::string> user_frames(const std::vector<std::string>& frames) {
  std::vector<std::string> out;
  for (const auto& f : frames) {
    if (!f.ends_with("_[k]")) out.push_back(f);
  }
  return out;
}
}  // namespace

FoldedSummary summarize_folded(const std::string& text) {
  FoldedSummary s;
  auto parsed = profile::parse_folded(text, "output");
  EXPECT_TRUE(parsed) << parsed.error().message();
  if (!parsed) return s;
  for (const auto& stack : parsed->stacks) {
    std::vector<std::string> frames;
    for (auto id : stack.frames) frames.emplace_back(parsed->names.get(id));
    s.total += stack.value;
    s.stacks.emplace_back(std::move(frames), stack.value);
  }
  return s;
}

int64_t FoldedSummary::leaf_samples(std::string_view leaf) const {
  int64_t n = 0;
  for (const auto& [frames, value] : stacks) {
    auto user = user_frames(frames);
    if (!user.empty() && user.back() == leaf) n += value;
  }
  return n;
}

int64_t FoldedSummary::chain_samples(const std::vector<std::string>& chain) const {
  int64_t n = 0;
  for (const auto& [frames, value] : stacks) {
    auto user = user_frames(frames);
    if (std::search(user.begin(), user.end(), chain.begin(), chain.end()) != user.end()) n += value;
  }
  return n;
}

int64_t FoldedSummary::containing(std::string_view frame) const {
  int64_t n = 0;
  for (const auto& [frames, value] : stacks) {
    for (const auto& f : frames) {
      if (f == frame) {
        n += value;
        break;
      }
    }
  }
  return n;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace ember::testing
