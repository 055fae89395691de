// profile.proto → Profile, for files written by any producer.
//
// Two passes over the (decompressed) message. The first walks the top-level fields by hand:
// it checks every tag, wire type and length against the bytes that are there, collects the
// string table and notes where each submessage lies. The second converts the submessages one at
// a time through a reused generated message, in dependency order (mappings and functions, then
// locations, then samples), so that every id is resolved as it is read. Memory is bounded by
// DecodeLimits: the decompressed size, and an estimate of the model that is charged before each
// allocation.

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <climits>
#include <new>
#include <optional>
#include <stdexcept>
#include <vector>

#include "common/checked.h"
#include "common/text.h"
#include "proto/gzip.h"
#include "proto/pprof.h"
#include "proto/profile.pb.h"
#include "proto/resources_field.h"
#include "proto/timeline_field.h"
#include "profile/timeline.h"
#include "proto/wire.h"

namespace ember::proto {

namespace {

namespace pb = perftools::profiles;
using google::protobuf::FieldDescriptor;
using profile::FunctionId;
using profile::LocationId;
using profile::MappingId;
using profile::StringId;

// libprotobuf may hold this many bytes per byte of a submessage while parsing it (an empty Line
// or Label: 2 bytes on the wire, a heap object of about 48 bytes and a pointer in memory).
constexpr size_t kParseBytesPerWireByte = 32;
// Heap cost of one string in the model beyond its characters: the deque slot and the index entry.
constexpr size_t kStringOverhead = sizeof(std::string) + 48;
// Entries of one table (and strings) that model indices can address.
constexpr size_t kMaxTableSize = UINT32_MAX - 1;
// Bytes of the prefix that decide whether data is text.
constexpr size_t kTextSniffBytes = 512;

// True when the first bytes of `data` are printable ASCII, tabs, line breaks and well-formed
// UTF-8 only: folded stacks and other text. The start of a real profile never is: its tags,
// short lengths and small ids are control bytes (string_table[0] alone is "\x32\x00").
bool looks_like_text(std::string_view data) {
  std::string_view prefix = data.substr(0, kTextSniffBytes);
  if (prefix.empty()) return false;
  size_t i = 0;
  while (i < prefix.size()) {
    auto c = static_cast<unsigned char>(prefix[i]);
    if (c == '\t' || c == '\n' || c == '\r' || (c >= 0x20 && c < 0x7f)) {
      ++i;
      continue;
    }
    size_t continuation = c >= 0xc2 && c <= 0xdf ? 1 : c >= 0xe0 && c <= 0xef ? 2
                          : c >= 0xf0 && c <= 0xf4 ? 3 : 0;
    if (continuation == 0) return false;
    for (size_t k = 1; k <= continuation; ++k) {
      if (i + k == prefix.size()) return true;  // a character cut by the prefix's end
      auto cc = static_cast<unsigned char>(prefix[i + k]);
      if ((cc & 0xc0) != 0x80) return false;
    }
    i += continuation + 1;
  }
  return true;
}

// Whether wire type `wt` may carry field `fd`: messages and strings are length-delimited,
// scalars varints, and repeated scalars either (packed or not), as every proto3 reader accepts.
bool wire_type_fits(const FieldDescriptor* fd, uint32_t wt) {
  switch (fd->type()) {
    case FieldDescriptor::TYPE_MESSAGE:
    case FieldDescriptor::TYPE_STRING:
    case FieldDescriptor::TYPE_BYTES:
      return wt == wire::kLengthDelimited;
    default:
      return wt == wire::kVarint || (fd->is_repeated() && wt == wire::kLengthDelimited);
  }
}

std::string expected_wire_type(const FieldDescriptor* fd) {
  switch (fd->type()) {
    case FieldDescriptor::TYPE_MESSAGE:
    case FieldDescriptor::TYPE_STRING:
    case FieldDescriptor::TYPE_BYTES:
      return "length-delimited";
    default:
      return fd->is_repeated() ? "varint or packed varints" : "varint";
  }
}

uint32_t wire_type_of(const google::protobuf::UnknownField& f) {
  switch (f.type()) {
    case google::protobuf::UnknownField::TYPE_VARINT: return wire::kVarint;
    case google::protobuf::UnknownField::TYPE_FIXED32: return wire::kFixed32;
    case google::protobuf::UnknownField::TYPE_FIXED64: return wire::kFixed64;
    case google::protobuf::UnknownField::TYPE_LENGTH_DELIMITED: return wire::kLengthDelimited;
    case google::protobuf::UnknownField::TYPE_GROUP: return wire::kStartGroup;
  }
  return wire::kStartGroup;
}

// The Profile message's field with this number, or nullptr for numbers it does not have. A
// table built once, because the top-level walk asks for every field of the file.
const FieldDescriptor* profile_field(uint32_t number) {
  static const auto table = [] {
    std::array<const FieldDescriptor*, 64> t{};
    const auto* descriptor = pb::Profile::descriptor();
    for (int i = 0; i < descriptor->field_count(); ++i) {
      const FieldDescriptor* fd = descriptor->field(i);
      if (static_cast<size_t>(fd->number()) < t.size()) t[static_cast<size_t>(fd->number())] = fd;
    }
    return t;
  }();
  return number < table.size() ? table[number] : nullptr;
}

// Maps a table's ids (arbitrary nonzero uint64 in the file) to model indices. Ids 1..n in order,
// what most producers write, need no table; otherwise a sorted vector (no hashing, so no
// collisions an attacker could choose).
class IdIndex {
 public:
  void reserve(size_t n) { pairs_.reserve(n); }
  void add(uint64_t id) {
    auto index = static_cast<uint32_t>(pairs_.size());
    if (id != uint64_t{index} + 1) dense_ = false;
    pairs_.emplace_back(id, index);
  }
  // Sorts for lookups; returns a duplicated id, if any.
  std::optional<uint64_t> finish() {
    if (dense_) return std::nullopt;
    std::sort(pairs_.begin(), pairs_.end());
    for (size_t i = 1; i < pairs_.size(); ++i) {
      if (pairs_[i].first == pairs_[i - 1].first) return pairs_[i].first;
    }
    return std::nullopt;
  }
  std::optional<uint32_t> find(uint64_t id) const {
    if (dense_) {
      if (id == 0 || id > pairs_.size()) return std::nullopt;
      return static_cast<uint32_t>(id - 1);
    }
    auto it = std::lower_bound(pairs_.begin(), pairs_.end(), std::pair<uint64_t, uint32_t>(id, 0));
    if (it == pairs_.end() || it->first != id) return std::nullopt;
    return it->second;
  }
  static constexpr size_t kBytesPerEntry = sizeof(std::pair<uint64_t, uint32_t>);

 private:
  bool dense_ = true;
  std::vector<std::pair<uint64_t, uint32_t>> pairs_;
};

class Decoder {
 public:
  Decoder(std::string_view source, const DecodeLimits& limits, bool decompressed)
      : source_(source), limits_(limits), decompressed_(decompressed) {}

  Result<profile::Profile> run(std::string_view message) {
    if (message.empty()) {
      return fail(decompressed_ ? "not a pprof profile: the gzip data decompresses to nothing"
                                : "not a pprof profile: empty file");
    }
    if (looks_like_text(message)) {
      return fail(decompressed_
                      ? "not a pprof profile: the decompressed data is text (folded stacks?), "
                        "not protobuf"
                      : "not a pprof profile: the file is text (folded stacks?), not gzip or "
                        "protobuf");
    }
    if (!scan(message)) return std::unexpected(std::move(*error_));
    if (decode_sample_types() && decode_mappings() && decode_functions() && decode_locations() &&
        decode_samples() && decode_scalars() && decode_timeline_field() && decode_resources_field()) {
      return std::move(profile_);
    }
    return std::unexpected(std::move(*error_));
  }

 private:
  std::unexpected<Error> fail(std::string_view message, ErrorCode code = ErrorCode::kMalformed) {
    return std::unexpected<Error>(std::in_place, code, fmt::format("{}: {}", source_, message));
  }
  // Records the first error; returns false so that callers can `return set_error(...)`.
  bool set_error(std::string message, ErrorCode code = ErrorCode::kMalformed) {
    if (!error_) error_.emplace(code, fmt::format("{}: {}", source_, message));
    return false;
  }

  bool too_many(std::string_view what) {
    return set_error(fmt::format("more than {} {}", kMaxTableSize, what),
                     ErrorCode::kResourceExhausted);
  }

  bool charge(size_t bytes) {
    if (bytes > limits_.max_profile_bytes - std::min(used_, limits_.max_profile_bytes)) {
      return set_error(fmt::format("the decoded profile would exceed the memory limit of {} bytes",
                                   limits_.max_profile_bytes),
                       ErrorCode::kResourceExhausted);
    }
    used_ += bytes;
    return true;
  }

  // ---- Pass 1: the top-level fields.

  bool scan(std::string_view message) {
    wire::Reader reader(message);
    bool seen_string = false;
    bool seen_time = false;
    size_t known = 0;
    while (!reader.done()) {
      auto field = reader.next();
      if (!field) return set_error("not a pprof profile: " + field.error().message());
      if (field->number == kTimelineFieldNumber && field->wire_type == wire::kLengthDelimited) {
        spans_.timeline = field->bytes;  // ember's own extra (proto/timeline_field.h)
        continue;
      }
      if (field->number == kResourcesFieldNumber && field->wire_type == wire::kLengthDelimited) {
        // And another (proto/resources_field.h), one per process.
        if (spans_.resources.size() >= kMaxResourceProcesses) return too_many("processes with resources");
        spans_.resources.push_back(field->bytes);
        continue;
      }
      const FieldDescriptor* fd = profile_field(field->number);
      if (fd == nullptr) continue;  // a field from a newer profile.proto: skipped, as pprof does
      if (!wire_type_fits(fd, field->wire_type)) {
        return set_error(fmt::format("not a pprof profile: field {} ({}) at byte {} is {}, "
                                     "expected {}",
                                     field->number, fd->name(), field->offset,
                                     wire::wire_type_name(field->wire_type),
                                     expected_wire_type(fd)));
      }
      ++known;
      int64_t value = static_cast<int64_t>(field->value);
      switch (field->number) {
        case pb::Profile::kSampleTypeFieldNumber:
          if (!note(spans_.sample_types, field->bytes)) return false;
          break;
        case pb::Profile::kSampleFieldNumber:
          if (!note(spans_.samples, field->bytes)) return false;
          break;
        case pb::Profile::kMappingFieldNumber:
          if (!note(spans_.mappings, field->bytes)) return false;
          break;
        case pb::Profile::kLocationFieldNumber:
          if (!note(spans_.locations, field->bytes)) return false;
          break;
        case pb::Profile::kFunctionFieldNumber:
          if (!note(spans_.functions, field->bytes)) return false;
          break;
        case pb::Profile::kStringTableFieldNumber:
          if (!seen_string) {
            // The model's table already starts with "", which the file must agree with.
            seen_string = true;
            if (!field->bytes.empty()) {
              return set_error(fmt::format("string_table[0] must be the empty string, but it has {}",
                                           common::count_of(field->bytes.size(), "byte")));
            }
            break;
          }
          if (profile_.strings.size() >= kMaxTableSize) return too_many("strings");
          if (!charge(kStringOverhead + (field->bytes.size() > 15 ? field->bytes.size() + 1 : 0))) {
            return false;
          }
          profile_.strings.append(field->bytes);
          break;
        case pb::Profile::kDropFramesFieldNumber: scalars_.drop_frames = value; break;
        case pb::Profile::kKeepFramesFieldNumber: scalars_.keep_frames = value; break;
        case pb::Profile::kTimeNanosFieldNumber:
          // Protobuf merges concatenated messages; pprof refuses concatenated profiles, which
          // show up as a second time_nanos. So does ember: the tables would clash anyway.
          if (seen_time) {
            return set_error("two profiles concatenated into one (time_nanos appears twice)");
          }
          seen_time = true;
          profile_.time_nanos = value;
          break;
        case pb::Profile::kDurationNanosFieldNumber: profile_.duration_nanos = value; break;
        case pb::Profile::kPeriodTypeFieldNumber: spans_.period_type = field->bytes; break;
        case pb::Profile::kPeriodFieldNumber: profile_.period = value; break;
        case pb::Profile::kCommentFieldNumber:
          if (field->wire_type == wire::kVarint) {
            if (!charge(sizeof(int64_t))) return false;
            scalars_.comments.push_back(value);
          } else {
            if (!charge(field->bytes.size() * (sizeof(int64_t) + sizeof(StringId)))) return false;
            auto ok = wire::for_each_packed_varint(field->bytes, [&](uint64_t v) {
              scalars_.comments.push_back(static_cast<int64_t>(v));
            });
            if (!ok) {
              return set_error(fmt::format("not a pprof profile: field 13 (comment) at byte {}: {}",
                                           field->offset, ok.error().message()));
            }
          }
          break;
        case pb::Profile::kDefaultSampleTypeFieldNumber:
          scalars_.default_sample_type = value;
          break;
        case pb::Profile::kDocUrlFieldNumber: scalars_.doc_url = value; break;
        default: break;
      }
    }
    if (known == 0) {
      return set_error("not a pprof profile: no field of profile.proto's Profile message");
    }
    return true;
  }

  bool note(std::vector<std::string_view>& spans, std::string_view bytes) {
    // Model indices are 32 bits with UINT32_MAX meaning "none"; only limits far above the
    // defaults could let a table reach that.
    if (spans.size() >= kMaxTableSize) return too_many("entries in one table");
    if (!charge(sizeof(std::string_view))) return false;
    spans.push_back(bytes);
    return true;
  }

  // ---- Pass 2: the submessages.

  // Parses one submessage into the reused `m` and checks that no known field came with the
  // wrong wire type (libprotobuf keeps those as unknown fields instead of failing).
  template <class Message, class Describe>
  bool parse(Message& m, std::string_view bytes, Describe&& describe) {
    if (bytes.size() > static_cast<size_t>(INT_MAX) ||
        bytes.size() > (limits_.max_profile_bytes - std::min(used_, limits_.max_profile_bytes)) /
                           kParseBytesPerWireByte) {
      return set_error(fmt::format("{} ({} bytes) is too large to decode within the memory limit "
                                   "of {} bytes",
                                   describe(), bytes.size(), limits_.max_profile_bytes),
                       ErrorCode::kResourceExhausted);
    }
    if (!m.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
      return set_error(fmt::format("{}: {}", describe(), parse_failure(bytes)));
    }
    return check_unknown(m, describe);
  }

  // Why libprotobuf refused a submessage, found by walking its fields again.
  static std::string parse_failure(std::string_view bytes) {
    wire::Reader reader(bytes);
    while (!reader.done()) {
      auto field = reader.next();
      if (!field) return field.error().message();
    }
    return "malformed protobuf data in a nested message";
  }

  template <class Message, class Describe>
  bool check_unknown(const Message& m, Describe&& describe) {
    // Looked up once per message type: GetReflection() goes through descriptor initialisation
    // on every call, which showed in profiles of large decodes.
    static const google::protobuf::Reflection* const reflection =
        Message::default_instance().GetReflection();
    const auto& unknown = reflection->GetUnknownFields(m);
    if (unknown.empty()) return true;
    for (int i = 0; i < unknown.field_count(); ++i) {
      const auto& f = unknown.field(i);
      const FieldDescriptor* fd = m.GetDescriptor()->FindFieldByNumber(f.number());
      if (fd != nullptr) {
        return set_error(fmt::format("{}: field {} ({}) is {}, expected {}", describe(), f.number(),
                                     fd->name(), wire::wire_type_name(wire_type_of(f)),
                                     expected_wire_type(fd)));
      }
    }
    return true;
  }

  template <class Describe>
  bool string_id(int64_t index, StringId& out, Describe&& describe) {
    if (index < 0 || static_cast<uint64_t>(index) >= profile_.strings.size()) {
      return set_error(fmt::format("{} is string {}, but the string table has {}", describe(),
                                   index, common::count_of(profile_.strings.size(), "string")));
    }
    out = StringId{static_cast<uint32_t>(index)};
    return true;
  }

  template <class T>
  bool reserve(std::vector<T>& v, size_t n, size_t extra_per_element = 0) {
    if (!charge(n * (sizeof(T) + extra_per_element))) return false;
    v.reserve(n);
    return true;
  }

  bool finish_ids(IdIndex& ids, std::string_view table) {
    if (auto duplicate = ids.finish()) {
      return set_error(fmt::format("duplicate {} id {}", table, *duplicate));
    }
    return true;
  }

  bool decode_sample_types() {
    if (!reserve(profile_.sample_types, spans_.sample_types.size())) return false;
    pb::ValueType vt;
    for (size_t i = 0; i < spans_.sample_types.size(); ++i) {
      auto what = [&] { return fmt::format("sample_type #{}", i + 1); };
      if (!parse(vt, spans_.sample_types[i], what)) return false;
      profile::ValueType t;
      if (!string_id(vt.type(), t.type, [&] { return what() + " type"; }) ||
          !string_id(vt.unit(), t.unit, [&] { return what() + " unit"; })) {
        return false;
      }
      profile_.sample_types.push_back(t);
    }
    if (spans_.period_type.data() != nullptr) {
      auto what = [] { return std::string("period_type"); };
      if (!parse(vt, spans_.period_type, what) ||
          !string_id(vt.type(), profile_.period_type.type, [] { return "period_type type"; }) ||
          !string_id(vt.unit(), profile_.period_type.unit, [] { return "period_type unit"; })) {
        return false;
      }
    }
    return true;
  }

  bool decode_mappings() {
    if (!reserve(profile_.mappings, spans_.mappings.size(), IdIndex::kBytesPerEntry)) return false;
    mapping_ids_.reserve(spans_.mappings.size());
    pb::Mapping m;
    for (size_t i = 0; i < spans_.mappings.size(); ++i) {
      if (!parse(m, spans_.mappings[i], [&] { return fmt::format("mapping #{}", i + 1); })) {
        return false;
      }
      if (m.id() == 0) return set_error(fmt::format("mapping #{} has id 0 (ids must be nonzero)", i + 1));
      auto what = [&](std::string_view field) { return fmt::format("mapping {} {}", m.id(), field); };
      profile::Mapping out;
      out.memory_start = m.memory_start();
      out.memory_limit = m.memory_limit();
      out.file_offset = m.file_offset();
      if (!string_id(m.filename(), out.filename, [&] { return what("filename"); }) ||
          !string_id(m.build_id(), out.build_id, [&] { return what("build_id"); })) {
        return false;
      }
      out.kind = profile::mapping_kind_from_filename(profile_.str(out.filename));
      out.has_functions = m.has_functions();
      out.has_filenames = m.has_filenames();
      out.has_line_numbers = m.has_line_numbers();
      out.has_inline_frames = m.has_inline_frames();
      profile_.mappings.push_back(out);
      mapping_ids_.add(m.id());
    }
    return finish_ids(mapping_ids_, "mapping");
  }

  bool decode_functions() {
    if (!reserve(profile_.functions, spans_.functions.size(), IdIndex::kBytesPerEntry)) {
      return false;
    }
    function_ids_.reserve(spans_.functions.size());
    pb::Function f;
    for (size_t i = 0; i < spans_.functions.size(); ++i) {
      if (!parse(f, spans_.functions[i], [&] { return fmt::format("function #{}", i + 1); })) {
        return false;
      }
      if (f.id() == 0) {
        return set_error(fmt::format("function #{} has id 0 (ids must be nonzero)", i + 1));
      }
      auto what = [&](std::string_view field) { return fmt::format("function {} {}", f.id(), field); };
      profile::Function out;
      if (!string_id(f.name(), out.name, [&] { return what("name"); }) ||
          !string_id(f.system_name(), out.system_name, [&] { return what("system_name"); }) ||
          !string_id(f.filename(), out.filename, [&] { return what("filename"); })) {
        return false;
      }
      out.start_line = f.start_line();
      profile_.functions.push_back(out);
      function_ids_.add(f.id());
    }
    return finish_ids(function_ids_, "function");
  }

  bool decode_locations() {
    if (!reserve(profile_.locations, spans_.locations.size(), IdIndex::kBytesPerEntry)) {
      return false;
    }
    location_ids_.reserve(spans_.locations.size());
    pb::Location l;
    for (size_t i = 0; i < spans_.locations.size(); ++i) {
      if (!parse(l, spans_.locations[i], [&] { return fmt::format("location #{}", i + 1); })) {
        return false;
      }
      if (l.id() == 0) {
        return set_error(fmt::format("location #{} has id 0 (ids must be nonzero)", i + 1));
      }
      profile::Location out;
      if (l.mapping_id() != 0) {
        auto index = mapping_ids_.find(l.mapping_id());
        if (!index) {
          return set_error(
              fmt::format("location {} refers to missing mapping {}", l.id(), l.mapping_id()));
        }
        out.mapping = MappingId{*index};
      }
      out.address = l.address();
      out.is_folded = l.is_folded();
      if (!reserve(out.lines, static_cast<size_t>(l.line_size()))) return false;
      for (const pb::Line& line : l.line()) {
        if (!check_unknown(line, [&] { return fmt::format("location {} line", l.id()); })) {
          return false;
        }
        profile::Line model_line;
        if (line.function_id() != 0) {
          auto index = function_ids_.find(line.function_id());
          if (!index) {
            return set_error(fmt::format("location {} refers to missing function {}", l.id(),
                                         line.function_id()));
          }
          model_line.function = FunctionId{*index};
        }
        model_line.line = line.line();
        model_line.column = line.column();
        out.lines.push_back(model_line);
      }
      profile_.locations.push_back(std::move(out));
      location_ids_.add(l.id());
    }
    return finish_ids(location_ids_, "location");
  }

  bool decode_samples() {
    if (!reserve(profile_.samples, spans_.samples.size())) return false;
    if (!spans_.samples.empty() && profile_.sample_types.empty()) {
      return set_error("the profile has samples but no sample types");
    }
    pb::Sample s;
    for (size_t i = 0; i < spans_.samples.size(); ++i) {
      auto what = [&] { return fmt::format("sample #{}", i + 1); };
      if (!parse(s, spans_.samples[i], what)) return false;
      if (static_cast<size_t>(s.value_size()) != profile_.sample_types.size()) {
        return set_error(fmt::format("sample #{} has {}, but the profile has {}", i + 1,
                                     common::count_of(static_cast<size_t>(s.value_size()), "value"),
                                     common::count_of(profile_.sample_types.size(), "sample type")));
      }
      profile::Sample out;
      if (!reserve(out.locations, static_cast<size_t>(s.location_id_size())) ||
          !reserve(out.values, static_cast<size_t>(s.value_size())) ||
          !reserve(out.labels, static_cast<size_t>(s.label_size()))) {
        return false;
      }
      for (uint64_t id : s.location_id()) {
        auto index = location_ids_.find(id);
        if (!index) {
          return set_error(fmt::format("sample #{} refers to missing location {}", i + 1, id));
        }
        out.locations.push_back(LocationId{*index});
      }
      out.values.assign(s.value().begin(), s.value().end());
      if (!check_values(out.values, i)) return false;
      for (const pb::Label& label : s.label()) {
        auto label_what = [&](std::string_view field) {
          return fmt::format("sample #{} label {}", i + 1, field);
        };
        if (!check_unknown(label, [&] { return fmt::format("sample #{} label", i + 1); })) {
          return false;
        }
        profile::Label l;
        if (!string_id(label.key(), l.key, [&] { return label_what("key"); }) ||
            !string_id(label.str(), l.str, [&] { return label_what("str"); }) ||
            !string_id(label.num_unit(), l.num_unit, [&] { return label_what("num_unit"); })) {
          return false;
        }
        l.num = label.num();
        out.labels.push_back(l);
      }
      profile_.samples.push_back(std::move(out));
    }
    return true;
  }

  // Values count time or events: a negative one is a broken (or hostile) file, and a total past
  // int64 would wrap in every sum made later (merges, folding, shares). Checking the total here
  // bounds all of those sums.
  bool check_values(const std::vector<int64_t>& values, size_t sample) {
    if (totals_.size() < values.size()) totals_.resize(values.size(), 0);
    for (size_t v = 0; v < values.size(); ++v) {
      auto type = [&] {
        const profile::ValueType& t = profile_.sample_types[v];
        return fmt::format("{}/{}", profile_.str(t.type), profile_.str(t.unit));
      };
      if (values[v] < 0) {
        return set_error(fmt::format("sample #{} value #{} ({}) is negative: {}", sample + 1, v + 1,
                                     type(), values[v]));
      }
      auto sum = common::checked_add(totals_[v], values[v]);
      if (!sum) {
        // A total no profile can hold: the file is wrong, no limit of ember's would help.
        return set_error(fmt::format("the {} values add up past {} at sample #{}", type(), INT64_MAX,
                                     sample + 1),
                         ErrorCode::kMalformed);
      }
      totals_[v] = *sum;
    }
    return true;
  }

  bool decode_scalars() {
    if (!string_id(scalars_.drop_frames, profile_.drop_frames, [] { return "drop_frames"; }) ||
        !string_id(scalars_.keep_frames, profile_.keep_frames, [] { return "keep_frames"; }) ||
        !string_id(scalars_.default_sample_type, profile_.default_sample_type,
                   [] { return "default_sample_type"; }) ||
        !string_id(scalars_.doc_url, profile_.doc_url, [] { return "doc_url"; }) ||
        !reserve(profile_.comments, scalars_.comments.size())) {
      return false;
    }
    for (size_t i = 0; i < scalars_.comments.size(); ++i) {
      StringId id;
      if (!string_id(scalars_.comments[i], id, [&] { return fmt::format("comment #{}", i + 1); })) {
        return false;
      }
      profile_.comments.push_back(id);
    }
    return true;
  }

  struct Spans {
    std::vector<std::string_view> sample_types, samples, mappings, locations, functions;
    std::string_view period_type;  // data() == nullptr: absent
    std::string_view timeline;     // ember's extra field; empty: none
    std::vector<std::string_view> resources;  // another, one per process
  };

  bool decode_timeline_field() {
    if (spans_.timeline.empty()) return true;
    // 16 bytes in memory per timed sample, each at least 2 bytes on the wire.
    if (!charge(spans_.timeline.size() / 2 * sizeof(profile::TimedSample))) return false;
    auto ok = decode_timeline(spans_.timeline, profile_, profile::kMaxTimelineSamples);
    if (!ok) return set_error(ok.error().message());
    return true;
  }
  bool decode_resources_field() {
    if (!charge(spans_.resources.size() * sizeof(profile::ProcessResources))) return false;
    for (std::string_view payload : spans_.resources) {
      if (auto ok = decode_resources(payload, profile_); !ok) return set_error(ok.error().message());
    }
    return true;
  }
  // Top-level string indices, checked once the whole string table is known.
  struct Scalars {
    int64_t drop_frames = 0;
    int64_t keep_frames = 0;
    int64_t default_sample_type = 0;
    int64_t doc_url = 0;
    std::vector<int64_t> comments;
  };

  std::string_view source_;
  const DecodeLimits& limits_;
  bool decompressed_;
  size_t used_ = 0;
  std::optional<Error> error_;
  profile::Profile profile_;
  Spans spans_;
  Scalars scalars_;
  IdIndex mapping_ids_, function_ids_, location_ids_;
  std::vector<int64_t> totals_;  // per sample type, of the samples decoded so far
};

}  // namespace

bool is_gzip(std::string_view bytes) {
  return bytes.size() >= 2 && static_cast<unsigned char>(bytes[0]) == 0x1f &&
         static_cast<unsigned char>(bytes[1]) == 0x8b;
}

bool looks_like_pprof(std::string_view bytes) {
  if (is_gzip(bytes)) return true;
  if (bytes.empty() || looks_like_text(bytes)) return false;
  // The first fields must be Profile fields with their wire types. A field that runs past the
  // end of what we were given is fine (a prefix of a file) if something before it fitted.
  constexpr size_t kFieldsToCheck = 16;
  wire::Reader reader(bytes);
  size_t fields = 0;
  while (!reader.done() && fields < kFieldsToCheck) {
    auto field = reader.next();
    if (!field) return fields > 0 && reader.cut_off();
    const FieldDescriptor* fd = profile_field(field->number);
    if (fd == nullptr || !wire_type_fits(fd, field->wire_type)) return false;
    ++fields;
  }
  return fields > 0;
}

Result<profile::Profile> decode(std::string_view bytes, std::string_view source,
                                const DecodeLimits& limits) {
  // The limits bound what a file can make us allocate, but not what the machine has left:
  // running out of memory within them is an error for this file, not a crash.
  try {
    if (!is_gzip(bytes)) return Decoder(source, limits, false).run(bytes);
    auto inflated = gzip_decompress(bytes, limits.max_decompressed_bytes);
    if (!inflated) {
      const Error& e = inflated.error();
      std::string prefix = e.code() == ErrorCode::kMalformed ? "not a pprof profile: " : "";
      return std::unexpected<Error>(std::in_place, e.code(),
                                    fmt::format("{}: {}{}", source, prefix, e.message()));
    }
    return Decoder(source, limits, true).run(*inflated);
  } catch (const std::bad_alloc&) {
    return std::unexpected<Error>(std::in_place, ErrorCode::kResourceExhausted,
                                  fmt::format("{}: out of memory while decoding", source));
  } catch (const std::length_error&) {
    return std::unexpected<Error>(std::in_place, ErrorCode::kResourceExhausted,
                                  fmt::format("{}: out of memory while decoding", source));
  }
}

}  // namespace ember::proto
