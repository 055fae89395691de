#include "python/interpreter.h"

#include <elf.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <set>

#include <fmt/format.h>

#include "common/files.h"
#include "common/proc_maps.h"
#include "elf/elf_file.h"

namespace ember::python {

namespace {

constexpr uint64_t kPage = 4096;

struct Symbol {
  uint64_t value = 0;
  uint64_t size = 0;
};

// The defined symbols named in `wanted` from .dynsym and .symtab (the latter wins; it also
// has local symbols such as "_PyEval_EvalFrameDefault.cold").
std::map<std::string, Symbol, std::less<>> find_symbols(const elf::ElfFile& file,
                                                        const std::set<std::string_view>& wanted) {
  std::map<std::string, Symbol, std::less<>> out;
  for (auto [table, strings] : {std::pair{".dynsym", ".dynstr"}, std::pair{".symtab", ".strtab"}}) {
    const elf::SectionInfo* sym = file.section(table);
    const elf::SectionInfo* str = file.section(strings);
    if (!sym || !str) continue;
    auto sym_bytes = file.section_bytes(*sym);
    auto str_bytes = file.section_bytes(*str);
    if (!sym_bytes || !str_bytes) continue;
    size_t count = sym_bytes->size() / sizeof(Elf64_Sym);
    for (size_t i = 0; i < count; ++i) {
      Elf64_Sym s;
      std::memcpy(&s, sym_bytes->data() + i * sizeof s, sizeof s);
      if (s.st_shndx == SHN_UNDEF || s.st_name >= str_bytes->size()) continue;
      const char* name = reinterpret_cast<const char*>(str_bytes->data()) + s.st_name;
      size_t max_len = str_bytes->size() - s.st_name;
      std::string_view n(name, strnlen(name, max_len));
      if (n.size() == max_len || !wanted.contains(n)) continue;
      out[std::string(n)] = {s.st_value, s.st_size};
    }
  }
  return out;
}

bool is_digit(std::byte b) { return b >= std::byte{'0'} && b <= std::byte{'9'}; }

// Parses "N" at `p`, advancing it; -1 when there is no number.
int parse_int(std::span<const std::byte> s, size_t& p) {
  int v = -1;
  size_t start = p;
  while (p < s.size() && is_digit(s[p]) && p - start < 3) {
    v = (v < 0 ? 0 : v * 10) + (static_cast<int>(s[p]) - '0');
    ++p;
  }
  return v;
}

// "pid 123: " prefix of every message about a process.
std::string who(int32_t pid) { return fmt::format("pid {}", pid); }

bool looks_like_python(std::string_view path) {
  std::string_view base = path.substr(path.rfind('/') + 1);
  return base.starts_with("python") || base.starts_with("libpython");
}

}  // namespace

std::optional<Version> version_from_rodata(std::span<const std::byte> rodata) {
  std::optional<Version> found;
  for (size_t i = 0; i + 6 <= rodata.size(); ++i) {
    if (rodata[i] != std::byte{'3'} || rodata[i + 1] != std::byte{'.'}) continue;
    if (i > 0 && (is_digit(rodata[i - 1]) || rodata[i - 1] == std::byte{'.'})) continue;
    size_t p = i + 2;
    int minor = parse_int(rodata, p);
    if (minor < 0 || p >= rodata.size() || rodata[p] != std::byte{'.'}) continue;
    ++p;
    int micro = parse_int(rodata, p);
    if (micro < 0) continue;
    // An optional pre-release tag (a1, b2, rc1) or '+', then the end of the string.
    auto at = [&](size_t k) { return k < rodata.size() ? static_cast<char>(rodata[k]) : '\x01'; };
    if (at(p) == 'a' || at(p) == 'b') {
      ++p;
      if (parse_int(rodata, p) < 0) continue;
    } else if (at(p) == 'r' && at(p + 1) == 'c') {
      p += 2;
      if (parse_int(rodata, p) < 0) continue;
    }
    if (at(p) == '+') ++p;
    if (at(p) != '\0') continue;
    Version v{3, minor, micro};
    if (found && (found->minor != v.minor || found->micro != v.micro)) return std::nullopt;
    found = v;
  }
  return found;
}

Result<InterpreterInfo> find_interpreter(int32_t pid, const std::string& proc_root) {
  auto maps = common::read_maps(proc_root, pid);
  if (!maps) return make_error(ErrorCode::kNotFound, fmt::format("{}: no such process", who(pid)));

  // Candidate files: the mapped executables and libraries named python*/libpython*, each once.
  std::vector<const common::MapsEntry*> candidates;
  std::set<std::pair<uint64_t, uint64_t>> seen;
  for (const common::MapsEntry& m : *maps) {
    if (m.inode == 0 || m.path.empty() || !looks_like_python(m.path)) continue;
    uint64_t dev = makedev(m.major, m.minor);
    if (seen.insert({dev, m.inode}).second) candidates.push_back(&m);
  }

  static const std::set<std::string_view> kWanted = {
      "_PyRuntime",     "Py_Version",  "PyCode_Type", "PyUnicode_Type", "PyBytes_Type",
      "PyFrame_Type",   "_PyEval_EvalFrameDefault",   "_PyEval_EvalFrameDefault.cold"};

  std::optional<Error> last_error;
  for (const common::MapsEntry* m : candidates) {
    // Open the file as the process maps it (map_files), or through its root (containers).
    common::UniqueFd fd;
    for (const std::string& path :
         {fmt::format("{}/{}/map_files/{:x}-{:x}", proc_root, pid, m->start, m->end),
          fmt::format("{}/{}/root{}", proc_root, pid, m->path)}) {
      auto opened = common::open_regular_file(path);
      if (!opened) continue;
      struct stat st{};
      if (::fstat(opened->get(), &st) != 0 || st.st_ino != m->inode) continue;
      fd = std::move(*opened);
      break;
    }
    if (!fd) continue;
    auto file = elf::ElfFile::open(std::move(fd), m->path);
    if (!file) {
      last_error = file.error().with_context(who(pid));
      continue;
    }
    auto syms = find_symbols(*file, kWanted);
    if (!syms.contains("PyCode_Type")) continue;  // not the module that defines CPython

    // The version, from the binary: Py_Version (3.11+), else PY_VERSION in .rodata.
    std::optional<Version> version;
    if (auto it = syms.find("Py_Version"); it != syms.end()) {
      auto off = file->to_file_offset(common::ElfAddress(it->second.value));
      auto image = file->image();
      if (off && off->value() + 4 <= image.size()) {
        uint32_t hex = 0;
        std::memcpy(&hex, image.data() + off->value(), 4);
        version = Version{static_cast<int>(hex >> 24), static_cast<int>((hex >> 16) & 0xff),
                          static_cast<int>((hex >> 8) & 0xff)};
      }
    } else if (const elf::SectionInfo* ro = file->section(".rodata")) {
      if (auto bytes = file->section_bytes(*ro)) {
        version = version_from_rodata(*bytes);
        // A binary without Py_Version is older than 3.11: anything else is a wrong guess.
        if (version && version->minor >= 11) version.reset();
      }
    }
    if (!version) {
      return make_error(ErrorCode::kUnsupported,
                        fmt::format("{}: {}: cannot tell which CPython version this is", who(pid),
                                    m->path));
    }
    if (version->major != 3 || version->minor < 8 || version->minor > 13) {
      return make_error(ErrorCode::kUnsupported,
                        fmt::format("{}: CPython {} is not supported (3.8-3.13 are)", who(pid),
                                    to_string(*version)));
    }
    auto runtime = syms.find("_PyRuntime");
    if (runtime == syms.end()) {
      return make_error(ErrorCode::kUnsupported,
                        fmt::format("{}: {}: CPython {} without a _PyRuntime symbol (stripped?)",
                                    who(pid), m->path, to_string(*version)));
    }

    // Load bias: where the first PT_LOAD segment was mapped, minus its link-time address.
    uint64_t bias = 0;
    if (file->is_shared_object()) {
      const auto& segs = file->load_segments();
      if (segs.empty()) {
        return make_error(ErrorCode::kMalformed,
                          fmt::format("{}: {}: no PT_LOAD segment", who(pid), m->path));
      }
      const elf::LoadSegment& first = *std::min_element(
          segs.begin(), segs.end(), [](auto& a, auto& b) { return a.vaddr < b.vaddr; });
      uint64_t want_offset = first.file_offset & ~(kPage - 1);
      bool found = false;
      for (const common::MapsEntry& e : *maps) {
        if (e.inode == m->inode && e.major == m->major && e.minor == m->minor &&
            e.page_offset == want_offset) {
          bias = e.start - (first.vaddr & ~(kPage - 1));
          found = true;
          break;
        }
      }
      if (!found) {
        return make_error(ErrorCode::kMalformed,
                          fmt::format("{}: {}: its first segment is not mapped", who(pid), m->path));
      }
    }

    InterpreterInfo info;
    info.version = *version;
    info.path = m->path;
    info.inode = m->inode;
    info.device = makedev(m->major, m->minor);
    auto address = [&](std::string_view name) -> uint64_t {
      auto it = syms.find(name);
      return it == syms.end() ? 0 : it->second.value + bias;
    };
    info.runtime_address = address("_PyRuntime");
    info.code_type = address("PyCode_Type");
    info.unicode_type = address("PyUnicode_Type");
    info.bytes_type = address("PyBytes_Type");
    info.frame_type = address("PyFrame_Type");
    if (!info.unicode_type || !info.bytes_type || (version->minor <= 10 && !info.frame_type)) {
      return make_error(ErrorCode::kUnsupported,
                        fmt::format("{}: {}: CPython {} lacks the type symbols ember checks "
                                    "objects against",
                                    who(pid), m->path, to_string(*version)));
    }
    for (std::string_view name : {"_PyEval_EvalFrameDefault", "_PyEval_EvalFrameDefault.cold"}) {
      auto it = syms.find(name);
      if (it == syms.end() || it->second.size == 0) continue;
      auto off = file->to_file_offset(common::ElfAddress(it->second.value));
      if (off) info.eval_ranges.push_back({off->value(), off->value() + it->second.size});
    }
    if (info.eval_ranges.empty()) {
      return make_error(ErrorCode::kUnsupported,
                        fmt::format("{}: {}: no _PyEval_EvalFrameDefault symbol", who(pid),
                                    m->path));
    }
    return info;
  }
  if (last_error) return std::unexpected(*last_error);
  return make_error(ErrorCode::kNotFound, fmt::format("{}: no CPython in the process", who(pid)));
}

}  // namespace ember::python
