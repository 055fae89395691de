#pragma once
// Reads code objects and their strings out of the target, through two bounded caches per
// process: code object address → (function, file, first line, line table) and string address
// → text. A cached entry is used only when the object in memory still carries the same
// identity (type, the pointers to its parts, length, hash), so a freed and reused address
// yields a fresh read, never a stale name.

#include <array>
#include <cstdint>
#include <optional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "python/bounded_cache.h"
#include "python/interpreter.h"
#include "python/layout.h"
#include "python/process_reader.h"
#include "python/remote_memory.h"

namespace ember::python {

// Why a read produced nothing; each maps to one ReaderStats counter.
enum class Miss { kNone, kGone, kFault, kBadObject };

struct CodeInfo {
  std::string function;
  std::string file;
  int32_t first_line = 0;
  uint64_t code_units = 0;  // 3.11+: Py_SIZE of the code object (length of its bytecode)
  std::vector<std::byte> line_table;

  // The line of the instruction at `byte_offset`. Remembers the last few answers: a frame
  // below the leaf is at the same call instruction sample after sample. (Mutable memo of a
  // value that is otherwise immutable; a reader and its caches are used by one thread.)
  std::optional<int32_t> line_at(LineTableFormat format, int64_t byte_offset) const;

 private:
  struct Recent {
    int64_t offset = -3;  // never a real offset
    std::optional<int32_t> line;
  };
  mutable std::array<Recent, 4> recent_{};
  mutable size_t next_recent_ = 0;
};

// The fields of a code object that identify it, read in one go for every frame of a stack.
struct CodeHead {
  uint64_t type = 0;
  uint64_t size = 0;  // ob_size
  uint64_t name = 0;
  uint64_t qualname = 0;
  uint64_t filename = 0;
  uint64_t line_table = 0;
  int32_t first_line = 0;
  bool operator==(const CodeHead&) const = default;
};

// Cache bounds: enough for the working set of a large application, small in memory.
struct CacheLimits {
  size_t code_entries = 16384;
  size_t code_bytes = 8u << 20;
  size_t string_entries = 32768;
  size_t string_bytes = 4u << 20;
};

class ObjectReader {
 public:
  ObjectReader(const RemoteMemory& memory, const Layout& layout, const InterpreterInfo& info,
               ReaderStats& stats, CacheLimits limits = {});

  // Decodes the head of a code object from the bytes read at its address (layout.code_size).
  std::optional<CodeHead> parse_head(std::span<const std::byte> bytes) const;
  // The checks of parse_head on a head read elsewhere (the kernel-side reader).
  bool plausible(const CodeHead& head) const;

  // The named code object, from the cache when `head` still matches, else read afresh.
  std::shared_ptr<const CodeInfo> code(uint64_t address, const CodeHead& head, Miss& miss);

 private:
  std::shared_ptr<const std::string> string(uint64_t address, Miss& miss);
  bool bytes_object(uint64_t address, std::vector<std::byte>& out, Miss& miss);

  struct CachedCode {
    CodeHead head;
    std::shared_ptr<const CodeInfo> info;
  };
  struct StringIdentity {
    uint64_t type = 0;
    int64_t length = 0;
    int64_t hash = 0;
    uint32_t state = 0;
    bool operator==(const StringIdentity&) const = default;
  };
  struct CachedString {
    StringIdentity identity;
    std::shared_ptr<const std::string> text;
  };

  const RemoteMemory& memory_;
  const Layout& layout_;
  const InterpreterInfo& info_;
  ReaderStats& stats_;
  BoundedCache<uint64_t, CachedCode> codes_;
  BoundedCache<uint64_t, CachedString> strings_;
};

Miss to_miss(ReadResult r);

}  // namespace ember::python
