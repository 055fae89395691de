#include "symbolizer/debug_file.h"

#include <sys/stat.h>
#include <zlib.h>

#include <algorithm>
#include <filesystem>

#include "symbolizer/debuginfod_client.h"

namespace ember::symbolizer {

namespace {

bool same_file(const elf::ElfFile& a, const elf::ElfFile& b) {
  struct stat sa{}, sb{};
  if (a.fd() < 0 || b.fd() < 0) return false;
  if (::fstat(a.fd(), &sa) != 0 || ::fstat(b.fd(), &sb) != 0) return false;
  return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

std::string join(std::string_view a, std::string_view b) {
  std::string out(a);
  if (!out.empty() && out.back() == '/' && b.starts_with('/')) b.remove_prefix(1);
  if (!out.empty() && out.back() != '/' && !b.starts_with('/')) out += '/';
  out += b;
  return out;
}

}  // namespace

uint32_t debuglink_crc(std::span<const std::byte> bytes) {
  uLong crc = crc32(0L, Z_NULL, 0);
  const auto* data = reinterpret_cast<const Bytef*>(bytes.data());
  size_t left = bytes.size();
  while (left > 0) {  // zlib takes 32-bit lengths
    auto chunk = static_cast<uInt>(std::min<size_t>(left, 1u << 30));
    crc = crc32(crc, data, chunk);
    data += chunk;
    left -= chunk;
  }
  return static_cast<uint32_t>(crc);
}

namespace {

std::optional<elf::ElfFile> find_local_debug_file(const elf::ElfFile& binary, const std::string& binary_path,
                                                  const DebugFileSearch& search, DebugFileCounters& counters) {
  const common::BuildId& id = binary.build_id();
  if (id.raw().size() >= 2) {
    std::string hex = id.hex();
    std::string relative = ".build-id/" + hex.substr(0, 2) + "/" + hex.substr(2) + ".debug";
    for (const auto& root : search.roots) {
      for (const auto& dir : search.debug_directories) {
        auto candidate = elf::ElfFile::open_path(join(root + dir, relative));
        if (!candidate) continue;
        if (candidate->build_id() != id) {
          ++counters.rejected;
          continue;
        }
        return std::move(*candidate);
      }
    }
  }

  auto link = binary.debug_link();
  if (!link || link->file.find('/') != std::string::npos) return std::nullopt;
  std::filesystem::path path(binary_path);
  std::string dir = path.parent_path().string();
  if (!path.is_absolute()) {
    std::error_code ec;
    auto absolute = std::filesystem::absolute(path, ec);
    if (!ec) dir = absolute.parent_path().string();
  }
  if (dir.empty()) dir = "/";
  for (const auto& root : search.roots) {
    std::vector<std::string> candidates = {join(root + dir, link->file),
                                           join(join(root + dir, ".debug"), link->file)};
    for (const auto& debug_dir : search.debug_directories) {
      candidates.push_back(join(join(root + debug_dir, dir), link->file));
    }
    for (const auto& name : candidates) {
      auto candidate = elf::ElfFile::open_path(name);
      if (!candidate || same_file(*candidate, binary)) continue;
      bool build_id_differs = !id.empty() && !candidate->build_id().empty() &&
                              candidate->build_id() != id;
      if (build_id_differs || debuglink_crc(candidate->image()) != link->crc) {
        ++counters.rejected;
        continue;
      }
      return std::move(*candidate);
    }
  }
  return std::nullopt;
}

}  // namespace

std::optional<elf::ElfFile> find_debug_file(const elf::ElfFile& binary, const std::string& binary_path,
                                            const DebugFileSearch& search,
                                            DebugFileCounters& counters) {
  if (auto local = find_local_debug_file(binary, binary_path, search, counters)) return local;
  const common::BuildId& id = binary.build_id();
  if (search.debuginfod == nullptr || id.empty()) return std::nullopt;
  auto path = search.debuginfod->find_debuginfo(id);
  if (!path) return std::nullopt;
  auto candidate = elf::ElfFile::open_path(*path);
  if (!candidate || candidate->build_id() != id) {
    ++counters.rejected;
    return std::nullopt;
  }
  counters.from_debuginfod = true;
  return std::move(*candidate);
}

}  // namespace ember::symbolizer
