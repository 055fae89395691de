// Reading folded text: one pass over the text, every frame of every line into one buffer.
// Lines of folded text share long prefixes (stackcollapse output is sorted), so each frame is
// first compared with the frame at the same depth of the line before: most frames are then found
// without hashing their name.

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <unordered_map>
#include <unordered_set>

#include "common/checked.h"
#include "profile/folded.h"

namespace ember::profile {

namespace {

struct SpanHash {
  size_t operator()(std::span<const StringId> frames) const noexcept {
    uint64_t h = 1469598103934665603ull;
    for (StringId id : frames) {
      h ^= id.value;
      h *= 1099511628211ull;
    }
    return h;
  }
};

}  // namespace

Result<FlatStacks> parse_folded_flat(std::string_view text, std::string_view source, const InputLimits& limits,
                                     LimitReport* report) {
  FlatStacks out;
  LimitReport cuts;
  std::unordered_set<std::string_view> long_names;  // counted once each
  // The previous line's frames: their text (views into `text`) and ids.
  std::vector<std::string_view> previous_text;
  std::vector<StringId> previous_ids;
  std::vector<std::string_view> parts;  // one line's frames
  // A name as the table holds it: cut to the name length limit (and counted) when longer.
  auto intern = [&](std::string_view name) {
    if (name.size() <= limits.max_name_length) return out.names.intern(name);
    if (long_names.insert(name).second) {
      ++cuts.names_cut;
      cuts.longest = std::max<uint64_t>(cuts.longest, name.size());
    }
    return out.names.intern(shorten_name(name, limits.max_name_length));
  };
  size_t line_number = 0;
  int64_t total = 0;
  // A guess that saves most reallocations: a frame every 40 bytes or so.
  out.frames.reserve(std::min<size_t>(text.size() / 40, limits.max_frames));
  while (!text.empty()) {
    ++line_number;
    const char* nl = static_cast<const char*>(std::memchr(text.data(), '\n', text.size()));
    size_t eol = nl == nullptr ? text.size() : static_cast<size_t>(nl - text.data());
    std::string_view line = text.substr(0, eol);
    text.remove_prefix(nl == nullptr ? text.size() : eol + 1);
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) {
      line.remove_suffix(1);
    }
    if (line.empty()) continue;
    auto fail = [&](std::string_view what) {
      return make_error(ErrorCode::kMalformed, fmt::format("{}:{}: {}", source, line_number, what));
    };
    if (std::memchr(line.data(), '\0', line.size()) != nullptr) {
      return fail("binary data, not folded stacks (expected 'frame;frame COUNT' lines)");
    }
    size_t space = line.find_last_of(" \t");
    if (space == std::string_view::npos) {
      return fail("no sample count at the end of the line (expected 'frame;frame COUNT')");
    }
    std::string_view count_text = line.substr(space + 1);
    std::string_view stack_text = line.substr(0, space);
    while (!stack_text.empty() && (stack_text.back() == ' ' || stack_text.back() == '\t')) {
      stack_text.remove_suffix(1);
    }
    int64_t count = 0;
    auto [ptr, ec] = std::from_chars(count_text.data(), count_text.data() + count_text.size(), count);
    if (ec == std::errc::result_out_of_range) return fail("sample count out of range");
    if (ec != std::errc() || ptr != count_text.data() + count_text.size()) {
      return fail(fmt::format("'{}' is not a sample count (expected 'frame;frame COUNT')",
                              count_text.substr(0, 40)));
    }
    if (count < 0) return fail("negative sample count");
    // Every later sum (equal stacks merged, frames' totals, shares) is bounded by this one.
    auto new_total = common::checked_add(total, count);
    if (!new_total) {
      return fail(fmt::format("the sample counts add up past {}, the largest total ember can hold",
                              INT64_MAX));
    }
    total = *new_total;
    if (stack_text.empty()) return fail("empty stack before the sample count");
    const size_t offset = out.frames.size();
    // The frames, split at ';' up to one more than the depth limit.
    parts.clear();
    bool more = true;
    for (size_t at = 0; parts.size() <= limits.max_stack_depth;) {
      const char* semi = static_cast<const char*>(std::memchr(stack_text.data() + at, ';', stack_text.size() - at));
      if (semi == nullptr) {
        parts.push_back(stack_text.substr(at));
        more = false;
        break;
      }
      const size_t end = static_cast<size_t>(semi - stack_text.data());
      parts.push_back(stack_text.substr(at, end - at));
      at = end + 1;
    }
    const bool whole = !more && parts.size() <= limits.max_stack_depth;
    if (whole) {
      for (size_t j = 0; j < parts.size(); ++j) {
        std::string_view name = parts[j];
        StringId id;
        if (j < previous_text.size() && previous_text[j] == name) {
          id = previous_ids[j];
        } else {
          id = intern(name);
          if (j < previous_text.size()) {
            previous_text[j] = name;
            previous_ids[j] = id;
          } else {
            previous_text.push_back(name);
            previous_ids.push_back(id);
          }
        }
        out.frames.push_back(id);
      }
    } else {
      // Deeper than the limit. Frames between the cut's two ends are never interned: a
      // 20-million-frame line costs one pass over its text, not 20 million entries.
      const size_t depth = static_cast<size_t>(std::count(stack_text.begin(), stack_text.end(), ';')) + 1;
      const StackCut cut = cut_stack(depth, limits.max_stack_depth);
      ++cuts.stacks_cut;
      cuts.deepest = std::max<uint64_t>(cuts.deepest, depth);
      size_t at = 0;
      for (size_t j = 0;; ++j) {
        const size_t semi = stack_text.find(';', at);
        if (j < cut.root_end || j >= cut.leaf_begin) {
          out.frames.push_back(intern(stack_text.substr(at, semi - at)));
        } else if (j == cut.root_end) {
          out.frames.push_back(out.names.intern(kElidedFrames));
        }
        if (semi == std::string_view::npos) break;
        at = semi + 1;
      }
    }
    const size_t length = out.frames.size() - offset;
    // Only this line's frames are a prefix for the next; a cut line shares none.
    previous_text.resize(whole ? length : 0);
    previous_ids.resize(whole ? length : 0);
    if (out.frames.size() > limits.max_frames) {
      return fail(fmt::format("more than {} frames in all stacks (the limit; --max-frames raises it)",
                              limits.max_frames));
    }
    out.stacks.push_back(FlatStacks::Stack{offset, static_cast<uint32_t>(length), count});
  }
  if (report != nullptr) report->add(cuts);
  return out;
}

Result<FoldedStacks> parse_folded(std::string_view text, std::string_view source, const InputLimits& limits,
                                  LimitReport* report) {
  auto flat = parse_folded_flat(text, source, limits, report);
  if (!flat) return std::unexpected(flat.error());
  return merge_stacks(std::move(*flat));
}

FoldedStacks merge_stacks(FlatStacks&& flat_stacks) {
  FlatStacks* flat = &flat_stacks;
  FoldedStacks out;
  out.names = std::move(flat->names);
  out.sources = std::move(flat->sources);
  out.value_type = std::move(flat->value_type);
  out.value_unit = std::move(flat->value_unit);
  // Equal lines merge, in the order of their first appearance.
  std::unordered_multimap<size_t, size_t> index;  // hash of the frames -> index in out.stacks
  index.reserve(flat->stacks.size());
  for (const FlatStacks::Stack& s : flat->stacks) {
    std::span<const StringId> frames = flat->frames_of(s);
    const size_t hash = SpanHash{}(frames);
    auto [first, last] = index.equal_range(hash);
    auto found = std::find_if(first, last, [&](const auto& entry) {
      return std::ranges::equal(out.stacks[entry.second].frames, frames);
    });
    if (found != last) {
      int64_t& sum = out.stacks[found->second].value;
      sum = common::saturating_add(sum, s.value);
    } else {
      index.emplace(hash, out.stacks.size());
      out.stacks.push_back(FoldedStacks::Stack{std::vector<StringId>(frames.begin(), frames.end()), s.value});
    }
  }
  return out;
}

}  // namespace ember::profile
