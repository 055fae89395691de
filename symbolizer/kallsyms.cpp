#include "symbolizer/kallsyms.h"

#include <algorithm>
#include <charconv>
#include <unordered_map>

#include "common/files.h"

namespace ember::symbolizer {

namespace {

// kallsyms has no sizes: a symbol reaches to the next one. The last symbol of the kernel or of a
// module is followed by a gap of unknown size; it gets at most this much.
constexpr uint64_t kMaxLastSymbolSize = 64 * 1024;

bool is_text_type(char type) { return type == 't' || type == 'T' || type == 'w' || type == 'W'; }

}  // namespace

Result<KernelSymbols> KernelSymbols::load(const std::string& path, size_t max_bytes) {
  auto text = common::read_file(path, max_bytes);
  if (!text) return std::unexpected(text.error());
  return parse(std::move(*text), path);
}

Result<KernelSymbols> KernelSymbols::parse(std::string text, std::string_view name) {
  KernelSymbols out;
  std::string_view all = text;
  struct Parsed {
    uint64_t start;
    std::string_view name;
    uint32_t module;
  };
  std::vector<Parsed> entries;
  std::unordered_map<std::string_view, uint32_t> module_index;
  bool any_nonzero = false;
  size_t lines = 0;
  size_t pos = 0;
  while (pos < all.size()) {
    size_t eol = all.find('\n', pos);
    if (eol == std::string_view::npos) eol = all.size();
    std::string_view line = all.substr(pos, eol - pos);
    pos = eol + 1;
    if (line.empty()) continue;
    ++lines;
    // "ffffffff81000000 T _stext" or "ffffffffc0a01000 t foo\t[mod]"
    uint64_t address = 0;
    auto [ptr, ec] = std::from_chars(line.data(), line.data() + line.size(), address, 16);
    size_t i = static_cast<size_t>(ptr - line.data());
    if (ec != std::errc() || i + 3 > line.size() || line[i] != ' ' || line[i + 2] != ' ') {
      ++out.malformed_lines_;
      continue;
    }
    if (address != 0) any_nonzero = true;
    char type = line[i + 1];
    std::string_view rest = line.substr(i + 3);
    size_t name_end = rest.find_first_of(" \t");
    std::string_view symbol = rest.substr(0, name_end);
    if (symbol.empty()) {
      ++out.malformed_lines_;
      continue;
    }
    if (!is_text_type(type) || address == 0) continue;
    uint32_t module = 0;
    if (name_end != std::string_view::npos) {
      std::string_view tail = rest.substr(name_end);
      size_t open = tail.find('[');
      size_t close = tail.find(']');
      if (open != std::string_view::npos && close != std::string_view::npos && close > open + 1) {
        std::string_view module_name = tail.substr(open + 1, close - open - 1);
        auto [it, inserted] =
            module_index.try_emplace(module_name, static_cast<uint32_t>(out.modules_.size()));
        if (inserted) out.modules_.emplace_back(module_name);
        module = it->second;
      }
    }
    entries.push_back(Parsed{address, symbol, module});
  }
  if (lines > 0 && !any_nonzero) {
    return make_error(ErrorCode::kPermissionDenied,
                      std::string(name) +
                          ": all addresses are zero (hidden by kernel.kptr_restrict; needs root "
                          "or CAP_SYSLOG)");
  }

  std::stable_sort(entries.begin(), entries.end(),
                   [](const Parsed& a, const Parsed& b) { return a.start < b.start; });
  out.symbols_.reserve(entries.size());
  for (size_t i = 0; i < entries.size();) {
    // Aliases at one address: the first listed is kept, except that a name without a leading
    // underscore is preferred to one with.
    size_t j = i;
    size_t best = i;
    for (; j < entries.size() && entries[j].start == entries[i].start; ++j) {
      if (entries[best].name.starts_with('_') && !entries[j].name.starts_with('_')) best = j;
    }
    const Parsed& p = entries[best];
    uint64_t end = 0;
    if (j < entries.size()) {
      end = entries[j].start;
      if (entries[j].module != p.module) end = std::min(end, p.start + kMaxLastSymbolSize);
    } else {
      end = p.start + kMaxLastSymbolSize;
      if (end < p.start) end = UINT64_MAX;
    }
    if (out.names_.size() + p.name.size() > UINT32_MAX) {
      return make_error(ErrorCode::kResourceExhausted, std::string(name) + ": too many symbols");
    }
    out.symbols_.add(Entry{p.start, end, static_cast<uint32_t>(out.names_.size()),
                           static_cast<uint32_t>(p.name.size()), p.module});
    out.names_.append(p.name);
    i = j;
  }
  out.symbols_.finish();
  out.names_.shrink_to_fit();
  return out;
}

std::optional<KernelSymbols::Found> KernelSymbols::find(uint64_t address) const {
  const Entry* e = symbols_.find(address);
  if (e == nullptr) return std::nullopt;
  return Found{std::string_view(names_).substr(e->name_offset, e->name_size), modules_[e->module]};
}

}  // namespace ember::symbolizer
