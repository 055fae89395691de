#include "profile/perf_script.h"

#include <fmt/format.h>

#include <charconv>
#include <optional>
#include <unordered_map>
#include <vector>

#include "profile/builder.h"
#include "profile/timeline.h"

namespace ember::profile {

namespace {

bool is_space(char c) { return c == ' ' || c == '\t'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

std::string_view trim(std::string_view s) {
  while (!s.empty() && (is_space(s.front()) || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (is_space(s.back()) || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

struct Token {
  std::string_view text;
  size_t begin = 0;  // offset in the line
};

std::vector<Token> tokens_of(std::string_view line) {
  std::vector<Token> out;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && is_space(line[i])) ++i;
    size_t start = i;
    while (i < line.size() && !is_space(line[i])) ++i;
    if (i > start) out.push_back(Token{line.substr(start, i - start), start});
  }
  return out;
}

bool all_of(std::string_view s, bool (*pred)(char)) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!pred(c)) return false;
  }
  return true;
}

// "15112.057315:" → nanoseconds.
std::optional<int64_t> parse_time(std::string_view t) {
  if (t.size() < 2 || t.back() != ':') return std::nullopt;
  t.remove_suffix(1);
  size_t dot = t.find('.');
  if (dot == std::string_view::npos || dot == 0 || dot + 1 == t.size()) return std::nullopt;
  std::string_view sec = t.substr(0, dot);
  std::string_view frac = t.substr(dot + 1);
  if (!all_of(sec, is_digit) || !all_of(frac, is_digit) || sec.size() > 10 || frac.size() > 9) {
    return std::nullopt;
  }
  int64_t s = 0;
  int64_t f = 0;
  std::from_chars(sec.data(), sec.data() + sec.size(), s);
  std::from_chars(frac.data(), frac.data() + frac.size(), f);
  for (size_t i = frac.size(); i < 9; ++i) f *= 10;
  return s * 1'000'000'000 + f;
}

std::optional<int64_t> parse_int(std::string_view s) {
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

struct Header {
  std::string_view comm;
  int64_t pid = 0;
  int64_t tid = 0;
  std::optional<int64_t> time_ns;
  int64_t period = 0;
  std::string_view event;
  std::string_view inline_frame;  // without -g: "ADDRESS SYMBOL (DSO)" after the event
};

// COMM PID[/TID] [CPU] TIME: [PERIOD] EVENT: [FRAME]. COMM may contain spaces; the first
// "PID" or "PID/TID" token followed by a [CPU], a TIME: or the event ends it.
std::optional<Header> parse_header(std::string_view line) {
  std::vector<Token> tokens = tokens_of(line);
  // The event: the first token ending in ':' that is not the time.
  size_t event = tokens.size();
  size_t time = tokens.size();
  for (size_t i = 1; i < tokens.size(); ++i) {
    if (time == tokens.size() && parse_time(tokens[i].text)) {
      time = i;
      continue;
    }
    if (tokens[i].text.size() > 1 && tokens[i].text.back() == ':') {
      event = i;
      break;
    }
  }
  if (event == tokens.size()) return std::nullopt;
  Header h;
  h.event = tokens[event].text.substr(0, tokens[event].text.size() - 1);
  if (time != tokens.size()) h.time_ns = parse_time(tokens[time].text);
  size_t before = time != tokens.size() ? time : event;
  // A period between the time and the event.
  if (time != tokens.size() && event == time + 2) {
    auto period = parse_int(tokens[time + 1].text);
    if (!period) return std::nullopt;
    h.period = *period;
  }
  // Back from the time: an optional [CPU], then PID[/TID] (or TID alone).
  size_t i = before;
  if (i > 0 && tokens[i - 1].text.size() > 2 && tokens[i - 1].text.front() == '[' && tokens[i - 1].text.back() == ']') --i;
  if (i < 2) return std::nullopt;  // COMM and PID at least
  std::string_view ids = tokens[i - 1].text;
  size_t slash = ids.find('/');
  auto pid = parse_int(ids.substr(0, slash));
  if (!pid) return std::nullopt;
  h.pid = h.tid = *pid;
  if (slash != std::string_view::npos) {
    auto tid = parse_int(ids.substr(slash + 1));
    if (!tid) return std::nullopt;
    h.tid = *tid;
  }
  h.comm = trim(line.substr(0, tokens[i - 1].begin));
  if (event + 1 < tokens.size()) h.inline_frame = trim(line.substr(tokens[event + 1].begin));
  return h;
}

struct FrameLine {
  uint64_t address = 0;
  std::string_view symbol;  // without +0xOFF; "[unknown]" when perf had none
  std::string_view dso;     // "" when not printed
  bool inlined = false;
};

// ADDRESS [SYMBOL[+0xOFF]] [(DSO)]
std::optional<FrameLine> parse_frame(std::string_view line) {
  line = trim(line);
  size_t end = 0;
  while (end < line.size() && !is_space(line[end])) ++end;
  std::string_view address = line.substr(0, end);
  if (!all_of(address, is_hex) || address.size() > 16) return std::nullopt;
  FrameLine f;
  std::from_chars(address.data(), address.data() + address.size(), f.address, 16);
  std::string_view rest = trim(line.substr(end));
  if (!rest.empty() && rest.back() == ')') {
    size_t open = rest.rfind(" (");
    if (open == std::string_view::npos && rest.front() == '(') open = 0;
    else if (open != std::string_view::npos) ++open;
    if (open != std::string_view::npos) {
      f.dso = rest.substr(open + 1, rest.size() - open - 2);
      rest = trim(rest.substr(0, open));
    }
  }
  if (f.dso == "inlined") {
    f.inlined = true;
    f.dso = {};
  }
  // "main+0x1d": the offset is the address's, not the function's.
  if (size_t plus = rest.rfind("+0x"); plus != std::string_view::npos && plus > 0 &&
                                        all_of(rest.substr(plus + 3), is_hex)) {
    rest = rest.substr(0, plus);
  }
  f.symbol = rest.empty() ? std::string_view("[unknown]") : rest;
  return f;
}

// "  inl.c:2" after a frame (-F +srcline): FILE:LINE.
std::optional<std::pair<std::string_view, int64_t>> parse_srcline(std::string_view line) {
  line = trim(line);
  size_t colon = line.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return std::nullopt;
  auto number = parse_int(line.substr(colon + 1));
  if (!number || *number < 0) return std::nullopt;
  return std::pair{line.substr(0, colon), *number};
}

class Parser {
 public:
  Parser(std::string_view source, const InputLimits& limits) : source_(source), limits_(limits) {}

  Result<Profile> run(std::string_view text) {
    size_t line_number = 0;
    size_t pos = 0;
    while (pos <= text.size()) {
      size_t nl = text.find('\n', pos);
      std::string_view line = text.substr(pos, nl == std::string_view::npos ? text.size() - pos : nl - pos);
      pos = nl == std::string_view::npos ? text.size() + 1 : nl + 1;
      ++line_number;
      if (auto ok = take(line, line_number); !ok) return std::unexpected(ok.error());
    }
    finish_sample();
    if (samples_ == 0) {
      return make_error(ErrorCode::kMalformed, fmt::format("{}: no samples in the perf script text", source_));
    }
    Profile p = std::move(builder_).finish();
    p.default_sample_type = p.strings.intern("samples");
    p.time_nanos = first_time_.value_or(0);
    p.duration_nanos = last_time_ > p.time_nanos ? last_time_ - p.time_nanos : 0;
    p.timeline = std::move(timeline_);
    return p;
  }

 private:
  Result<void> take(std::string_view line, size_t number) {
    std::string_view t = trim(line);
    if (t.empty()) {
      finish_sample();
      return {};
    }
    if (t.front() == '#' && !is_space(line.front())) return {};  // perf's header comments
    // perf right-aligns short names, so a header may be indented too; a frame never has a
    // "SECONDS.MICROS:" field.
    std::optional<Header> header;
    if (is_space(line.front())) {
      header = parse_header(t);
      if (header && !header->time_ns) header.reset();
    }
    if (!is_space(line.front()) || header) {
      finish_sample();
      if (!header) header = parse_header(t);
      if (!header) {
        return fail(number, "not a perf script sample header (expected 'COMM PID/TID TIME: EVENT:')");
      }
      start_sample(*header, number);
      if (!header->inline_frame.empty()) return add_frame(header->inline_frame, number);
      return {};
    }
    if (!in_sample_) return fail(number, "a stack frame before any sample header");
    if (auto frame = parse_frame(t)) return add_frame(t, number);
    if (auto src = parse_srcline(t)) {
      attach_srcline(src->first, src->second);
      return {};
    }
    return fail(number, "not a stack frame (expected 'ADDRESS SYMBOL (DSO)')");
  }

  Result<void> fail(size_t number, std::string_view what) const {
    return make_error(ErrorCode::kMalformed, fmt::format("{}:{}: {}", source_, number, what));
  }

  void start_sample(const Header& h, size_t) {
    in_sample_ = true;
    header_ = h;
    stack_.clear();
    inline_lines_.clear();
    if (types_.empty()) {
      // The first event decides: cpu-clock and task-clock periods are nanoseconds of CPU time.
      cpu_ns_ = h.event.starts_with("cpu-clock") || h.event.starts_with("task-clock");
      types_.push_back({"samples", "count"});
      if (cpu_ns_) types_.push_back({"cpu", "nanoseconds"});
      builder_.set_sample_types(types_);
      builder_.profile().period_type = ValueType{builder_.intern(cpu_ns_ ? "cpu" : "events"),
                                                 builder_.intern(cpu_ns_ ? "nanoseconds" : "count")};
    }
  }

  Result<void> add_frame(std::string_view text, size_t number) {
    auto f = parse_frame(text);
    if (!f) return fail(number, "not a stack frame (expected 'ADDRESS SYMBOL (DSO)')");
    if (++frames_ > limits_.max_frames) {
      return make_error(ErrorCode::kResourceExhausted,
                        fmt::format("{}: more than {} frames in all stacks (the limit; --max-frames raises it)",
                                    source_, limits_.max_frames));
    }
    const FunctionId function = builder_.add_function(f->symbol, f->symbol, "");
    // Inlined functions come first (innermost first), then the function they were inlined
    // into: one location with all of them, in pprof's order.
    inline_lines_.push_back(Line{function, 0, 0});
    if (f->inlined) return {};
    pending_.push_back(Pending{mapping(f->dso), f->address, std::move(inline_lines_)});
    inline_lines_.clear();
    stack_.push_back(pending_.size() - 1);
    return {};
  }

  // A srcline (-F +srcline) names the file and line of the frame it follows.
  void attach_srcline(std::string_view file, int64_t line) {
    if (stack_.empty()) return;
    Pending& p = pending_[stack_.back()];
    if (p.lines.empty()) return;
    Line& last = p.lines.back();
    std::string name(builder_.profile().str(builder_.profile().function(last.function).name));
    last.function = builder_.add_function(name, name, file);
    last.line = line;
  }

  MappingId mapping(std::string_view dso) {
    auto it = mappings_.find(std::string(dso));
    if (it != mappings_.end()) return it->second;
    Mapping m;
    m.filename = builder_.intern(dso.empty() ? "[unknown]" : dso);
    m.kind = mapping_kind_from_filename(dso);
    m.memory_limit = UINT64_MAX;
    m.has_functions = true;
    MappingId id = builder_.add_mapping(m);
    mappings_.emplace(std::string(dso), id);
    return id;
  }

  void finish_sample() {
    if (!in_sample_) return;
    in_sample_ = false;
    if (!inline_lines_.empty()) {
      // Inlined frames with no frame after them: a location of their own.
      pending_.push_back(Pending{mapping(""), 0, inline_lines_});
      stack_.push_back(pending_.size() - 1);
      inline_lines_.clear();
    }
    locations_.clear();
    for (size_t i : stack_) {
      const Pending& p = pending_[i];
      locations_.push_back(builder_.add_location(p.mapping, p.address, p.lines));
    }
    pending_.clear();
    stack_.clear();
    int64_t values[2] = {1, header_.period};
    labels_.clear();
    labels_.push_back(Label{builder_.intern(kLabelPid), {}, header_.pid, {}});
    labels_.push_back(Label{builder_.intern(kLabelTid), {}, header_.tid, {}});
    if (!header_.comm.empty()) {
      labels_.push_back(Label{builder_.intern(kLabelComm), builder_.intern(header_.comm), 0, {}});
      labels_.push_back(Label{builder_.intern(kLabelThreadComm), builder_.intern(header_.comm), 0, {}});
    }
    uint32_t sample = builder_.add_sample(locations_, std::span<const int64_t>(values, cpu_ns_ ? 2 : 1), labels_);
    ++samples_;
    if (header_.time_ns && timeline_.size() < kMaxTimelineSamples) {
      timeline_.push_back(TimedSample{*header_.time_ns, sample});
      if (!first_time_ || *header_.time_ns < *first_time_) first_time_ = header_.time_ns;
      last_time_ = std::max(last_time_, *header_.time_ns);
    }
  }

  struct Pending {
    MappingId mapping;
    uint64_t address = 0;
    std::vector<Line> lines;
  };

  std::string_view source_;
  const InputLimits& limits_;
  ProfileBuilder builder_;
  std::vector<std::pair<std::string_view, std::string_view>> types_;
  bool cpu_ns_ = false;
  bool in_sample_ = false;
  Header header_;
  std::vector<Pending> pending_;
  std::vector<size_t> stack_;
  std::vector<Line> inline_lines_;
  std::vector<LocationId> locations_;
  std::vector<Label> labels_;
  std::unordered_map<std::string, MappingId> mappings_;
  std::vector<TimedSample> timeline_;
  std::optional<int64_t> first_time_;
  int64_t last_time_ = 0;
  uint64_t frames_ = 0;
  uint64_t samples_ = 0;
};

}  // namespace

bool looks_like_perf_script(std::string_view text) {
  size_t pos = 0;
  for (int lines = 0; lines < 64 && pos < text.size(); ++lines) {
    size_t nl = text.find('\n', pos);
    std::string_view line = text.substr(pos, nl == std::string_view::npos ? text.size() - pos : nl - pos);
    pos = nl == std::string_view::npos ? text.size() : nl + 1;
    std::string_view t = trim(line);
    if (t.empty() || t.front() == '#') continue;
    auto h = parse_header(t);
    return h && h->time_ns.has_value();
  }
  return false;
}

Result<Profile> parse_perf_script(std::string_view text, std::string_view source, const InputLimits& limits) {
  return Parser(source, limits).run(text);
}

}  // namespace ember::profile
