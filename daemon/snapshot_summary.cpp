#include "daemon/snapshot_summary.h"

#include <fmt/format.h>

#include <zlib.h>

#include <algorithm>
#include <map>
#include <unordered_map>

#include "profile/folded.h"
#include "proto/gzip.h"
#include "proto/wire.h"

namespace ember::daemon {

namespace {

// 3: with process resources. A summary of an older version is refused and rebuilt.
constexpr std::string_view kMagic = "ember-summary-3\n";
// A summary is a fraction of its snapshot; more than this is not one.
constexpr size_t kMaxSummaryBytes = size_t{256} << 20;

using proto::wire::unzigzag;
using proto::wire::zigzag;

class Decoder {
 public:
  explicit Decoder(std::string_view bytes) : rest_(bytes) {}
  bool ok() const { return ok_; }
  bool done() const { return rest_.empty(); }
  uint64_t u() {
    uint64_t v = 0;
    if (ok_ && !proto::wire::take_varint(rest_, v)) ok_ = false;
    return ok_ ? v : 0;
  }
  int64_t i() { return unzigzag(u()); }
  // A count of things each at least `min_bytes` long: never more than the bytes left.
  size_t count(size_t min_bytes) {
    uint64_t n = u();
    if (n > rest_.size() / min_bytes) ok_ = false;
    return ok_ ? static_cast<size_t>(n) : 0;
  }
  std::string str() {
    size_t n = count(1);
    if (!ok_) return {};
    std::string s(rest_.substr(0, n));
    rest_.remove_prefix(n);
    return s;
  }

 private:
  std::string_view rest_;
  bool ok_ = true;
};

void put_counters(std::string& out, const profile::ResourceCounters& c) {
  for (int64_t v : {c.cpu_user_ns, c.cpu_system_ns, c.io_read_bytes, c.io_write_bytes, c.voluntary_ctx_switches,
                    c.involuntary_ctx_switches}) {
    proto::wire::put_varint(out, zigzag(v));
  }
}

void take_counters(Decoder& in, profile::ResourceCounters& c) {
  for (int64_t* v : {&c.cpu_user_ns, &c.cpu_system_ns, &c.io_read_bytes, &c.io_write_bytes, &c.voluntary_ctx_switches,
                     &c.involuntary_ctx_switches}) {
    *v = in.i();
  }
}

}  // namespace

SnapshotSummary summarize(const profile::Profile& profile) {
  SnapshotSummary out;
  out.has_functions = true;
  out.period = profile.period > 0 ? profile.period : 0;
  out.resources = profile.resources;
  auto samples_index = profile.value_index("samples");
  if (!samples_index) return out;
  auto cpu_index = profile.value_index("cpu");
  profile::FoldOptions options;
  options.value_index = *samples_index;
  options.process_root = false;
  options.python_lines = false;  // a Python function once, whatever line it was running
  options.mark_off_cpu = false;  // one stack per sample, in the samples' order
  profile::FlatStacks flat = profile::fold_flat(profile, options);

  // Keys view the names of `flat` and `profile`, which stay unchanged while this runs.
  std::unordered_map<std::string_view, uint32_t> string_ids;
  auto intern = [&](std::string_view s) {
    auto [it, added] = string_ids.emplace(s, static_cast<uint32_t>(out.strings.size()));
    if (added) out.strings.emplace_back(s);
    return it->second;
  };
  struct Acc {
    int32_t pid = 0;
    uint32_t comm = 0;
    int64_t samples = 0, cpu = 0;
    std::map<uint32_t, SnapshotSummary::Function> functions;  // by name id: a stable order
  };
  // Per frame name: the number of the last stack that counted it (stack numbers start at 1 and
  // each stack is one process's), so that a recursive function's total counts a stack once.
  std::vector<size_t> seen(flat.names.size(), 0);
  std::map<std::pair<int32_t, std::string_view>, Acc> processes;
  size_t stack_number = 0;
  // fold_flat leaves out the samples whose value is zero and, without off-CPU markers, gives
  // one stack per remaining sample, in order.
  for (const profile::Sample& s : profile.samples) {
    if (*samples_index >= s.values.size() || s.values[*samples_index] == 0) continue;
    if (stack_number >= flat.stacks.size()) break;
    const profile::FlatStacks::Stack& stack = flat.stacks[stack_number++];
    const int64_t n = s.values[*samples_index];
    const int64_t cpu = cpu_index && *cpu_index < s.values.size() ? s.values[*cpu_index] : 0;
    const int32_t pid = static_cast<int32_t>(profile.num_label(s, profile::kLabelPid).value_or(0));
    const std::string_view comm = profile.str_label(s, profile::kLabelComm);
    auto [at, added] = processes.try_emplace({pid, comm});
    Acc& acc = at->second;
    if (added) {
      acc.pid = pid;
      acc.comm = intern(comm);
    }
    acc.samples += n;
    acc.cpu += cpu;
    std::span<const profile::StringId> frames = flat.frames_of(stack);
    if (frames.empty()) continue;
    auto function = [&](profile::StringId id) -> SnapshotSummary::Function& {
      uint32_t name = intern(flat.names.get(id));
      SnapshotSummary::Function& f = acc.functions[name];
      f.name = name;
      return f;
    };
    SnapshotSummary::Function& leaf = function(frames.back());
    leaf.self_samples += n;
    leaf.self_cpu_ns += cpu;
    for (profile::StringId id : frames) {
      if (seen[id.value] == stack_number) continue;
      seen[id.value] = stack_number;
      SnapshotSummary::Function& f = function(id);
      f.total_samples += n;
      f.total_cpu_ns += cpu;
    }
  }
  for (auto& [key, acc] : processes) {
    SnapshotSummary::Process p{acc.pid, acc.comm, acc.samples, acc.cpu, {}};
    p.functions.reserve(acc.functions.size());
    for (auto& [id, f] : acc.functions) p.functions.push_back(f);
    out.processes.push_back(std::move(p));
  }
  return out;
}

// The file: kMagic, then the process section (uncompressed: a series without functions reads
// only this) with its CRC-32, then the function section, gzip'd (its own CRC). CPU times are
// stored as their difference from samples × period, which is zero for most of them.
//   process section: snapshot_bytes period n (pid comm samples cpu_delta){n}
//                    r (pid time flags rss threads total{6} [interval{6}]){r} function_section_size
//   where flags is 1 (has I/O) | 2 (has interval) and counters are in ResourceCounters' order
//   function section: strings (len bytes)* then per process: m (name total self total_cpu_delta self_cpu_delta){m}
Result<std::string> encode_summary(const SnapshotSummary& summary, uint64_t snapshot_bytes) {
  using proto::wire::put_varint;
  const int64_t period = summary.period;
  // Names sorted and front-coded (the length shared with the previous one, then the rest):
  // names of one program share long prefixes, and this is most of the section.
  std::vector<uint32_t> order(summary.strings.size());
  for (uint32_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return summary.strings[a] < summary.strings[b]; });
  std::vector<uint32_t> rank(order.size());
  std::string functions;
  put_varint(functions, order.size());
  std::string_view previous;
  for (uint32_t i = 0; i < order.size(); ++i) {
    rank[order[i]] = i;
    const std::string& name = summary.strings[order[i]];
    size_t shared = 0;
    while (shared < previous.size() && shared < name.size() && previous[shared] == name[shared]) ++shared;
    put_varint(functions, shared);
    put_varint(functions, name.size() - shared);
    functions.append(name, shared);
    previous = name;
  }
  for (const SnapshotSummary::Process& p : summary.processes) {
    put_varint(functions, p.functions.size());
    for (const SnapshotSummary::Function& f : p.functions) {
      put_varint(functions, rank[f.name]);
      put_varint(functions, zigzag(f.total_samples));
      put_varint(functions, zigzag(f.self_samples));
      put_varint(functions, zigzag(f.total_cpu_ns - f.total_samples * period));
      put_varint(functions, zigzag(f.self_cpu_ns - f.self_samples * period));
    }
  }
  // Written once a minute and read many times: the smallest gzip is worth its few milliseconds.
  auto packed = proto::gzip_compress(functions, 9);
  if (!packed) return std::unexpected(packed.error());

  std::string head;
  put_varint(head, snapshot_bytes);
  put_varint(head, zigzag(period));
  put_varint(head, summary.processes.size());
  for (const SnapshotSummary::Process& p : summary.processes) {
    put_varint(head, zigzag(p.pid));
    const std::string& comm = summary.strings[p.comm];
    put_varint(head, comm.size());
    head += comm;
    put_varint(head, zigzag(p.samples));
    put_varint(head, zigzag(p.cpu_ns - p.samples * period));
  }
  put_varint(head, summary.resources.size());
  for (const profile::ProcessResources& r : summary.resources) {
    put_varint(head, zigzag(r.pid));
    put_varint(head, zigzag(r.time_ns));
    put_varint(head, (r.has_io ? 1u : 0u) | (r.has_interval ? 2u : 0u));
    put_varint(head, zigzag(r.rss_bytes));
    put_varint(head, zigzag(r.threads));
    put_counters(head, r.total);
    if (r.has_interval) put_counters(head, r.interval);
  }
  put_varint(head, packed->size());

  std::string out(kMagic);
  put_varint(out, head.size());
  out += head;
  const uint32_t crc = static_cast<uint32_t>(::crc32(0, reinterpret_cast<const Bytef*>(head.data()), head.size()));
  for (int i = 0; i < 4; ++i) out += static_cast<char>((crc >> (8 * i)) & 0xff);
  out += *packed;
  return out;
}

std::optional<uint64_t> summary_made_from(std::string_view bytes) {
  if (!bytes.starts_with(kMagic)) return std::nullopt;
  bytes.remove_prefix(kMagic.size());
  uint64_t head_size = 0, made_from = 0;
  if (!proto::wire::take_varint(bytes, head_size) || !proto::wire::take_varint(bytes, made_from)) return std::nullopt;
  return made_from;
}

Result<SnapshotSummary> decode_summary(std::string_view bytes, uint64_t snapshot_bytes, bool with_functions) {
  auto damaged = [](std::string_view why) { return make_error(ErrorCode::kMalformed, "damaged summary: " + std::string(why)); };
  if (!bytes.starts_with(kMagic)) return make_error(ErrorCode::kMalformed, "not an emberd summary of this version");
  bytes.remove_prefix(kMagic.size());
  uint64_t head_size = 0;
  if (!proto::wire::take_varint(bytes, head_size) || head_size > bytes.size() || bytes.size() - head_size < 4) {
    return damaged("cut short");
  }
  const std::string_view head = bytes.substr(0, head_size);
  uint32_t crc = 0;
  for (int i = 0; i < 4; ++i) crc |= uint32_t{static_cast<unsigned char>(bytes[head_size + i])} << (8 * i);
  if (crc != static_cast<uint32_t>(::crc32(0, reinterpret_cast<const Bytef*>(head.data()), head.size()))) {
    return damaged("CRC mismatch");
  }
  const std::string_view packed = bytes.substr(head_size + 4);

  Decoder in(head);
  const uint64_t made_from = in.u();
  if (in.ok() && made_from != snapshot_bytes) {
    return make_error(ErrorCode::kMalformed,
                      fmt::format("summary made from a snapshot of {} bytes, not {}", made_from, snapshot_bytes));
  }
  SnapshotSummary out;
  out.period = in.i();
  out.processes.resize(in.count(4));
  for (SnapshotSummary::Process& p : out.processes) {
    p.pid = static_cast<int32_t>(in.i());
    p.comm = static_cast<uint32_t>(out.strings.size());
    out.strings.push_back(in.str());
    p.samples = in.i();
    p.cpu_ns = in.i() + p.samples * out.period;
  }
  out.resources.resize(in.count(10));
  for (profile::ProcessResources& r : out.resources) {
    r.pid = static_cast<int32_t>(in.i());
    r.time_ns = in.i();
    const uint64_t flags = in.u();
    r.has_io = (flags & 1) != 0;
    r.has_interval = (flags & 2) != 0;
    r.rss_bytes = in.i();
    r.threads = in.i();
    take_counters(in, r.total);
    if (r.has_interval) take_counters(in, r.interval);
  }
  const uint64_t packed_size = in.u();
  if (!in.ok() || !in.done() || packed_size != packed.size()) return damaged("cut short or with bytes after its end");
  if (!with_functions) return out;

  auto raw = proto::gzip_decompress(packed, kMaxSummaryBytes);
  if (!raw) return damaged(raw.error().message());
  Decoder fn(*raw);
  const auto base = static_cast<uint32_t>(out.strings.size());
  const size_t names = fn.count(1);
  for (size_t i = 0; i < names && fn.ok(); ++i) {
    const uint64_t shared = fn.u();
    const std::string_view& previous = i == 0 ? std::string_view() : std::string_view(out.strings.back());
    if (shared > previous.size()) return damaged("a name shares more than the previous one has");
    std::string name(previous.substr(0, shared));
    name += fn.str();
    out.strings.push_back(std::move(name));
  }
  for (SnapshotSummary::Process& p : out.processes) {
    p.functions.resize(fn.count(5));
    for (SnapshotSummary::Function& f : p.functions) {
      const uint64_t name = fn.u();
      if (name >= names) return damaged("a function names an unknown string");
      f.name = base + static_cast<uint32_t>(name);
      f.total_samples = fn.i();
      f.self_samples = fn.i();
      f.total_cpu_ns = fn.i() + f.total_samples * out.period;
      f.self_cpu_ns = fn.i() + f.self_samples * out.period;
    }
  }
  if (!fn.ok() || !fn.done()) return damaged("function section cut short or with bytes after its end");
  out.has_functions = true;
  return out;
}

}  // namespace ember::daemon
