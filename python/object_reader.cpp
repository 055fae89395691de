#include "python/object_reader.h"

#include <cstring>

#include "python/bytes.h"
#include "python/line_table.h"
#include "python/objects.h"

namespace ember::python {

namespace {

constexpr size_t kCodeInfoOverhead = sizeof(CodeInfo) + 64;

}  // namespace

std::optional<int32_t> CodeInfo::line_at(LineTableFormat format, int64_t byte_offset) const {
  for (const Recent& r : recent_) {
    if (r.offset == byte_offset) return r.line;
  }
  auto line = line_for_offset(format, line_table, first_line, byte_offset);
  recent_[next_recent_] = {byte_offset, line};
  next_recent_ = (next_recent_ + 1) % recent_.size();
  return line;
}

Miss to_miss(ReadResult r) {
  switch (r) {
    case ReadResult::kOk: return Miss::kNone;
    case ReadResult::kGone: return Miss::kGone;
    case ReadResult::kFault: return Miss::kFault;
  }
  return Miss::kFault;
}

ObjectReader::ObjectReader(const RemoteMemory& memory, const Layout& layout,
                           const InterpreterInfo& info, ReaderStats& stats, CacheLimits limits)
    : memory_(memory),
      layout_(layout),
      info_(info),
      stats_(stats),
      codes_(limits.code_entries, limits.code_bytes),
      strings_(limits.string_entries, limits.string_bytes) {}

std::optional<CodeHead> ObjectReader::parse_head(std::span<const std::byte> bytes) const {
  if (bytes.size() < layout_.code_size) return std::nullopt;
  CodeHead h;
  h.type = load<uint64_t>(bytes, layout_.object_type);
  if (h.type != info_.code_type) return std::nullopt;
  h.size = load<uint64_t>(bytes, layout_.bytes_size);  // PyVarObject ob_size, as for bytes
  h.name = load<uint64_t>(bytes, layout_.code_name);
  if (layout_.code_qualname) h.qualname = load<uint64_t>(bytes, layout_.code_qualname);
  h.filename = load<uint64_t>(bytes, layout_.code_filename);
  h.line_table = load<uint64_t>(bytes, layout_.code_linetable);
  h.first_line = load<int32_t>(bytes, layout_.code_firstlineno);
  if (!plausible(h)) return std::nullopt;
  return h;
}

bool ObjectReader::plausible(const CodeHead& h) const {
  if (h.type != info_.code_type) return false;
  if (!h.name || !h.filename || !h.line_table || h.first_line < 0) return false;
  return !layout_.code_qualname || h.qualname;
}

std::shared_ptr<const CodeInfo> ObjectReader::code(uint64_t address, const CodeHead& head,
                                                   Miss& miss) {
  if (const CachedCode* c = codes_.find(address); c && c->head == head) {
    stats_.code_cache_hits++;
    return c->info;
  }
  stats_.code_cache_misses++;
  auto info = std::make_shared<CodeInfo>();
  auto function = string(head.qualname ? head.qualname : head.name, miss);
  if (!function) return nullptr;
  auto file = string(head.filename, miss);
  if (!file) return nullptr;
  if (!bytes_object(head.line_table, info->line_table, miss)) return nullptr;
  info->function = *function;
  info->file = *file;
  info->first_line = head.first_line;
  info->code_units = head.size;
  size_t bytes = kCodeInfoOverhead + info->function.size() + info->file.size() +
                 info->line_table.size();
  std::shared_ptr<const CodeInfo> shared = std::move(info);
  stats_.code_cache_evictions += codes_.insert(address, CachedCode{head, shared}, bytes);
  return shared;
}

std::shared_ptr<const std::string> ObjectReader::string(uint64_t address, Miss& miss) {
  // The PyASCIIObject part is inside every str object: read it, then the characters.
  std::byte head[256];
  if (layout_.unicode_ascii_size > sizeof head) {
    miss = Miss::kBadObject;
    return nullptr;
  }
  std::span<std::byte> head_span(head, layout_.unicode_ascii_size);
  if (ReadResult r = memory_.read(address, head_span); r != ReadResult::kOk) {
    miss = to_miss(r);
    return nullptr;
  }
  StringIdentity id;
  id.type = load<uint64_t>(head_span, layout_.object_type);
  id.length = load<int64_t>(head_span, layout_.unicode_length);
  id.hash = load<int64_t>(head_span, layout_.unicode_length + 8);
  id.state = load<uint32_t>(head_span, layout_.unicode_state);
  if (id.type != info_.unicode_type) {
    miss = Miss::kBadObject;
    return nullptr;
  }
  // A str's hash is computed once and kept; -1 means not yet, so it cannot prove identity.
  if (id.hash != -1) {
    if (const CachedString* c = strings_.find(address); c && c->identity == id) {
      stats_.string_cache_hits++;
      return c->text;
    }
  }
  stats_.string_cache_misses++;
  auto h = parse_string_header(head_span, layout_, kMaxStringBytes);
  if (!h) {
    miss = Miss::kBadObject;
    return nullptr;
  }
  std::vector<std::byte> data(h->data_bytes);
  if (ReadResult r = memory_.read(address + h->data_offset, data); r != ReadResult::kOk) {
    miss = to_miss(r);
    return nullptr;
  }
  auto text = decode_string_data(data, *h);
  if (!text) {
    miss = Miss::kBadObject;
    return nullptr;
  }
  auto shared = std::make_shared<const std::string>(std::move(*text));
  if (id.hash != -1) {
    stats_.string_cache_evictions +=
        strings_.insert(address, CachedString{id, shared}, shared->size() + 64);
  }
  return shared;
}

bool ObjectReader::bytes_object(uint64_t address, std::vector<std::byte>& out, Miss& miss) {
  std::byte head[64];
  if (layout_.bytes_sval > sizeof head || layout_.bytes_size + 8 > layout_.bytes_sval) {
    miss = Miss::kBadObject;
    return false;
  }
  std::span<std::byte> head_span(head, layout_.bytes_sval);
  if (ReadResult r = memory_.read(address, head_span); r != ReadResult::kOk) {
    miss = to_miss(r);
    return false;
  }
  if (load<uint64_t>(head_span, layout_.object_type) != info_.bytes_type) {
    miss = Miss::kBadObject;
    return false;
  }
  auto size = parse_bytes_size(head_span, layout_, kMaxLineTableBytes);
  if (!size) {
    miss = Miss::kBadObject;
    return false;
  }
  out.resize(*size);
  if (ReadResult r = memory_.read(address + layout_.bytes_sval, out); r != ReadResult::kOk) {
    miss = to_miss(r);
    return false;
  }
  return true;
}

}  // namespace ember::python
