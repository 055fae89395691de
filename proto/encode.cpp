// Profile → profile.proto. The top-level Profile message is written field by field here and each
// submessage through one reused generated message, so that encoding holds the model and the
// output, not a third copy of the profile as a protobuf object graph.

#include <fmt/format.h>

#include <limits>
#include <new>
#include <optional>
#include <unordered_map>
#include <vector>

#include "common/text.h"
#include "proto/gzip.h"
#include "proto/pprof.h"
#include "proto/profile.pb.h"
#include "proto/resources_field.h"
#include "proto/timeline_field.h"
#include "proto/wire.h"

namespace ember::proto {

namespace {

namespace pb = perftools::profiles;
using profile::FunctionId;
using profile::LocationId;
using profile::MappingId;
using profile::StringId;

// Gives model strings their index in the file: only strings that are referenced, each content
// once (a decoded model may hold duplicates), "" at index 0.
class StringIndexer {
 public:
  explicit StringIndexer(const profile::StringTable& strings)
      : strings_(strings), file_index_(strings.size(), kUnassigned) {
    table_.emplace_back("");
    by_content_.emplace("", 0);
  }

  bool contains(StringId id) const { return id.value < file_index_.size(); }

  // Precondition: contains(id).
  int64_t index(StringId id) {
    uint32_t& slot = file_index_[id.value];
    if (slot == kUnassigned) {
      std::string_view s = strings_.get(id);
      auto [it, inserted] = by_content_.try_emplace(s, static_cast<uint32_t>(table_.size()));
      if (inserted) table_.push_back(s);
      slot = it->second;
    }
    return slot;
  }

  const std::vector<std::string_view>& table() const { return table_; }

 private:
  static constexpr uint32_t kUnassigned = std::numeric_limits<uint32_t>::max();
  const profile::StringTable& strings_;
  std::vector<uint32_t> file_index_;
  std::unordered_map<std::string_view, uint32_t> by_content_;
  std::vector<std::string_view> table_;
};

class Encoder {
 public:
  explicit Encoder(const profile::Profile& p) : p_(p), strings_(p.strings) {}

  Result<std::string> run() {
    out_.reserve(estimated_size());
    write_sample_types();
    if (!error_) write_samples();
    if (!error_) write_mappings();
    if (!error_) write_locations();
    if (!error_) write_functions();
    if (!error_) write_trailer();
    if (error_) return std::unexpected(std::move(*error_));
    return std::move(out_);
  }

 private:
  // The first problem found; later ones are not reported (one line per error).
  void fail(std::string message) {
    if (!error_) error_.emplace(ErrorCode::kInvalidArgument, "cannot encode profile: " + message);
  }

  template <class Describe>
  int64_t str(StringId id, Describe&& describe) {
    if (strings_.contains(id)) return strings_.index(id);
    fail(fmt::format("{} refers to string {}, but the profile has {}", describe(), id.value,
                     common::count_of(p_.strings.size(), "string")));
    return 0;
  }

  size_t estimated_size() const {
    size_t n = 64 + p_.mappings.size() * 32 + p_.functions.size() * 16 +
               p_.locations.size() * 16 + p_.samples.size() * 8;
    for (const auto& l : p_.locations) n += l.lines.size() * 8;
    for (const auto& s : p_.samples) n += s.locations.size() * 2 + s.values.size() * 5 + s.labels.size() * 8;
    return n;
  }

  void put_message(uint32_t field, const google::protobuf::MessageLite& m) {
    size_t size = m.ByteSizeLong();
    wire::put_tag(out_, field, wire::kLengthDelimited);
    wire::put_varint(out_, size);
    size_t at = out_.size();
    out_.resize(at + size);
    m.SerializeWithCachedSizesToArray(reinterpret_cast<uint8_t*>(out_.data() + at));
  }

  void write_sample_types() {
    pb::ValueType vt;
    for (size_t i = 0; i < p_.sample_types.size(); ++i) {
      auto what = [&] { return fmt::format("sample type {}", i); };
      vt.set_type(str(p_.sample_types[i].type, what));
      vt.set_unit(str(p_.sample_types[i].unit, what));
      put_message(pb::Profile::kSampleTypeFieldNumber, vt);
    }
  }

  void write_samples() {
    if (!p_.samples.empty() && p_.sample_types.empty()) {
      fail("it has samples but no sample types");
      return;
    }
    pb::Sample s;
    for (size_t i = 0; i < p_.samples.size() && !error_; ++i) {
      const profile::Sample& sample = p_.samples[i];
      if (sample.values.size() != p_.sample_types.size()) {
        fail(fmt::format("sample {} has {}, but the profile has {}", i,
                         common::count_of(sample.values.size(), "value"),
                         common::count_of(p_.sample_types.size(), "sample type")));
        return;
      }
      s.Clear();
      auto* ids = s.mutable_location_id();
      ids->Reserve(static_cast<int>(sample.locations.size()));
      for (LocationId loc : sample.locations) {
        if (!loc.valid() || loc.value >= p_.locations.size()) {
          fail(fmt::format("sample {} refers to location {}, but the profile has {}", i,
                           loc.valid() ? std::to_string(loc.value) : "(none)",
                           common::count_of(p_.locations.size(), "location")));
          return;
        }
        ids->AddAlreadyReserved(uint64_t{loc.value} + 1);
      }
      s.mutable_value()->Add(sample.values.begin(), sample.values.end());
      for (const profile::Label& l : sample.labels) {
        auto what = [&] { return fmt::format("a label of sample {}", i); };
        pb::Label* out = s.add_label();
        out->set_key(str(l.key, what));
        out->set_str(str(l.str, what));
        out->set_num(l.num);
        out->set_num_unit(str(l.num_unit, what));
      }
      put_message(pb::Profile::kSampleFieldNumber, s);
    }
  }

  void write_mappings() {
    pb::Mapping m;
    for (size_t i = 0; i < p_.mappings.size() && !error_; ++i) {
      const profile::Mapping& mapping = p_.mappings[i];
      auto what = [&] { return fmt::format("mapping {}", i); };
      m.set_id(i + 1);
      m.set_memory_start(mapping.memory_start);
      m.set_memory_limit(mapping.memory_limit);
      m.set_file_offset(mapping.file_offset);
      m.set_filename(str(mapping.filename, what));
      m.set_build_id(str(mapping.build_id, what));
      m.set_has_functions(mapping.has_functions);
      m.set_has_filenames(mapping.has_filenames);
      m.set_has_line_numbers(mapping.has_line_numbers);
      m.set_has_inline_frames(mapping.has_inline_frames);
      put_message(pb::Profile::kMappingFieldNumber, m);
    }
  }

  void write_locations() {
    pb::Location l;
    for (size_t i = 0; i < p_.locations.size() && !error_; ++i) {
      const profile::Location& loc = p_.locations[i];
      l.Clear();
      l.set_id(i + 1);
      if (loc.mapping.valid()) {
        if (loc.mapping.value >= p_.mappings.size()) {
          fail(fmt::format("location {} refers to mapping {}, but the profile has {}", i,
                           loc.mapping.value, common::count_of(p_.mappings.size(), "mapping")));
          return;
        }
        l.set_mapping_id(uint64_t{loc.mapping.value} + 1);
      }
      l.set_address(loc.address);
      for (const profile::Line& line : loc.lines) {
        pb::Line* out = l.add_line();
        if (line.function.valid()) {
          if (line.function.value >= p_.functions.size()) {
            fail(fmt::format("location {} refers to function {}, but the profile has {}", i,
                             line.function.value, common::count_of(p_.functions.size(), "function")));
            return;
          }
          out->set_function_id(uint64_t{line.function.value} + 1);
        }
        out->set_line(line.line);
        out->set_column(line.column);
      }
      l.set_is_folded(loc.is_folded);
      put_message(pb::Profile::kLocationFieldNumber, l);
    }
  }

  void write_functions() {
    pb::Function f;
    for (size_t i = 0; i < p_.functions.size() && !error_; ++i) {
      const profile::Function& function = p_.functions[i];
      auto what = [&] { return fmt::format("function {}", i); };
      f.set_id(i + 1);
      f.set_name(str(function.name, what));
      f.set_system_name(str(function.system_name, what));
      f.set_filename(str(function.filename, what));
      f.set_start_line(function.start_line);
      put_message(pb::Profile::kFunctionFieldNumber, f);
    }
  }

  // The string table, then the scalar fields. Strings that only these fields use get their
  // indices first, because the table must be complete when it is written.
  void write_trailer() {
    auto what = [] { return std::string("the profile"); };
    int64_t drop_frames = str(p_.drop_frames, what);
    int64_t keep_frames = str(p_.keep_frames, what);
    int64_t period_type = str(p_.period_type.type, what);
    int64_t period_unit = str(p_.period_type.unit, what);
    std::vector<int64_t> comments;
    comments.reserve(p_.comments.size());
    for (StringId c : p_.comments) comments.push_back(str(c, what));
    int64_t default_sample_type = str(p_.default_sample_type, what);
    int64_t doc_url = str(p_.doc_url, what);
    if (error_) return;

    for (std::string_view s : strings_.table()) {
      wire::put_bytes_field(out_, pb::Profile::kStringTableFieldNumber, s);
    }
    // proto3 leaves zero scalars out; negative int64 values are 10-byte varints.
    auto put_int = [&](uint32_t field, int64_t v) {
      if (v != 0) wire::put_varint_field(out_, field, static_cast<uint64_t>(v));
    };
    put_int(pb::Profile::kDropFramesFieldNumber, drop_frames);
    put_int(pb::Profile::kKeepFramesFieldNumber, keep_frames);
    put_int(pb::Profile::kTimeNanosFieldNumber, p_.time_nanos);
    put_int(pb::Profile::kDurationNanosFieldNumber, p_.duration_nanos);
    if (period_type != 0 || period_unit != 0) {
      pb::ValueType vt;
      vt.set_type(period_type);
      vt.set_unit(period_unit);
      put_message(pb::Profile::kPeriodTypeFieldNumber, vt);
    }
    put_int(pb::Profile::kPeriodFieldNumber, p_.period);
    if (!comments.empty()) {
      std::string packed;
      for (int64_t c : comments) wire::put_varint(packed, static_cast<uint64_t>(c));
      wire::put_bytes_field(out_, pb::Profile::kCommentFieldNumber, packed);
    }
    put_int(pb::Profile::kDefaultSampleTypeFieldNumber, default_sample_type);
    put_int(pb::Profile::kDocUrlFieldNumber, doc_url);
    if (auto timeline = encode_timeline(p_, out_); !timeline) fail(timeline.error().message());
    encode_resources(p_, out_);
  }

  const profile::Profile& p_;
  StringIndexer strings_;
  std::string out_;
  std::optional<Error> error_;
};

}  // namespace

Result<std::string> encode(const profile::Profile& profile, Compression compression) {
  try {
    auto raw = Encoder(profile).run();
    if (!raw || compression == Compression::kNone) return raw;
    return gzip_compress(*raw);
  } catch (const std::bad_alloc&) {
    return make_error(ErrorCode::kResourceExhausted, "out of memory while encoding a profile");
  }
}

}  // namespace ember::proto
