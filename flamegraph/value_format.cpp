#include "flamegraph/value_format.h"

#include <fmt/format.h>

#include <cmath>
#include <cstdlib>
#include <iterator>

#include "common/text.h"
#include "flamegraph/text.h"

namespace ember::flamegraph {

ValueFormat::ValueFormat(std::string_view type, std::string_view unit,
                         std::string_view count_name) {
  if (unit == "nanoseconds") {
    kind_ = Kind::kNanoseconds;
    if (type == "cpu") qualifier_ = " of CPU";
    else if (!type.empty()) qualifier_ = fmt::format(" of {}", type);
  } else if (unit == "bytes") {
    kind_ = Kind::kBytes;
    if (!type.empty()) qualifier_ = fmt::format(" ({})", type);
  } else if (!count_name.empty()) {
    noun_ = count_name;
  } else if (unit == "count" || unit.empty()) {
    noun_ = type.empty() ? std::string_view("samples") : type;
  } else {
    noun_ = unit;
  }
  if (!count_name.empty() && kind_ == Kind::kCount) noun_ = count_name;
  // Both come from the profile, which may come from anywhere.
  noun_ = displayable(noun_);
  qualifier_ = displayable(qualifier_);
}

void append_grouped(std::string& out, int64_t value) {
  // INT64_MIN has no positive counterpart: go through the unsigned magnitude.
  const uint64_t magnitude = value < 0 ? 0 - static_cast<uint64_t>(value) : static_cast<uint64_t>(value);
  common::append_thousands(out, magnitude, value < 0);
}

void append_percent(std::string& out, double part, double whole) {
  double pct = whole > 0 ? 100.0 * part / whole : 0.0;
  fmt::format_to(std::back_inserter(out), "{:.2f}%", pct);
}

void ValueFormat::append_number(std::string& out, int64_t value) const {
  auto it = std::back_inserter(out);
  double v = static_cast<double>(value);
  double a = std::abs(v);
  switch (kind_) {
    case Kind::kCount:
      append_grouped(out, value);
      return;
    case Kind::kNanoseconds:
      if (a < 1e3) fmt::format_to(it, "{} ns", value);
      else if (a < 1e6) fmt::format_to(it, "{:.2f} µs", v / 1e3);
      else if (a < 1e9) fmt::format_to(it, "{:.2f} ms", v / 1e6);
      else if (a < 1e12) fmt::format_to(it, "{:.2f} s", v / 1e9);
      else {
        // "3,998.94 s": a daemon's hours of CPU stay readable.
        int64_t centis = std::llround(v / 1e7);
        append_grouped(out, centis / 100);
        fmt::format_to(it, ".{:02} s", std::abs(centis % 100));
      }
      return;
    case Kind::kBytes:
      if (a < 1024) fmt::format_to(it, "{} B", value);
      else if (a < 1024.0 * 1024) fmt::format_to(it, "{:.2f} KiB", v / 1024);
      else if (a < 1024.0 * 1024 * 1024) fmt::format_to(it, "{:.2f} MiB", v / (1024.0 * 1024));
      else fmt::format_to(it, "{:.2f} GiB", v / (1024.0 * 1024 * 1024));
      return;
  }
}

void ValueFormat::append_suffix(std::string& out, bool singular) const {
  if (kind_ == Kind::kCount) {
    out += ' ';
    // "1 sample", as a person would write it.
    if (singular && noun_ == "samples") out += "sample";
    else out += noun_;
  } else {
    out += qualifier_;
  }
}

void ValueFormat::append(std::string& out, int64_t value) const {
  append_number(out, value);
  append_suffix(out, value == 1);
}

void ValueFormat::append_change(std::string& out, int64_t before, int64_t after) const {
  append_number(out, before);
  out += " → ";
  append_number(out, after);
  append_suffix(out, false);  // the noun goes with both numbers
}

}  // namespace ember::flamegraph
