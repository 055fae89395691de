#include "flamegraph/palette.h"

#include <fmt/format.h>

#include <cmath>
#include <iterator>

#include "profile/folded.h"
#include "profile/sample_types.h"

namespace ember::flamegraph {

namespace {

constexpr int kHotShades = 64;
constexpr int kKernelShades = 12;
constexpr int kJitShades = 12;
constexpr int kPythonShades = 12;

constexpr char prefix(Hue hue) {
  switch (hue) {
    case Hue::kHot: return 'h';
    case Hue::kKernel: return 'k';
    case Hue::kJit: return 'j';
    case Hue::kPython: return 'p';
    case Hue::kUnknown: return 'u';
    case Hue::kOffCpu: return 'o';
  }
  return 'h';
}

uint8_t channel(double lo, double hi, double t) {
  return static_cast<uint8_t>(std::lround(lo + (hi - lo) * t));
}

void append_hex(std::string& out, Rgb c) {
  fmt::format_to(std::back_inserter(out), "#{:02x}{:02x}{:02x}", c.r, c.g, c.b);
}

}  // namespace

uint64_t name_hash(std::string_view name) {
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : name) {
    h ^= c;
    h *= 1099511628211ull;
  }
  // splitmix64's finalizer: FNV's low bits alone vary too little between similar names.
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebull;
  h ^= h >> 31;
  return h;
}

int shades(Hue hue) {
  switch (hue) {
    case Hue::kHot: return kHotShades;
    case Hue::kKernel: return kKernelShades;
    case Hue::kJit: return kJitShades;
    case Hue::kPython: return kPythonShades;
    case Hue::kUnknown: return 1;
    case Hue::kOffCpu: return 3;
  }
  return 1;
}

FrameColor frame_color(std::string_view annotated_name) {
  std::string_view bare;
  Hue hue = Hue::kHot;
  switch (profile::frame_kind(annotated_name, &bare)) {
    case profile::MappingKind::kKernel: hue = Hue::kKernel; break;
    case profile::MappingKind::kJit: hue = Hue::kJit; break;
    case profile::MappingKind::kPython:
      hue = Hue::kPython;
      // The function decides the shade, not the line it was on: "f (a.py:3)" and "f (a.py:9)"
      // are one colour.
      bare = bare.substr(0, bare.rfind(" ("));
      break;
    default:
      if (bare == "[unknown]") hue = Hue::kUnknown;
      if (profile::is_off_cpu_frame(bare)) {
        // One shade each for the two kinds of waiting, one for stacks nobody saw.
        return FrameColor{Hue::kOffCpu, static_cast<uint8_t>(bare == profile::kBlockedFrame    ? 0
                                                              : bare == profile::kRunnableFrame ? 1
                                                                                                : 2)};
      }
      break;
  }
  // The bare name decides the shade, so "read" and "read_[k]" differ only in hue.
  auto shade = static_cast<uint8_t>(name_hash(bare) % static_cast<uint64_t>(shades(hue)));
  return FrameColor{hue, shade};
}

Rgb rgb(FrameColor color) {
  int n = shades(color.hue);
  int s = color.shade % n;
  switch (color.hue) {
    case Hue::kHot: {
      // Two axes, as flamegraph.pl's hot palette: green from red to yellow (16 steps) and red
      // from deep to bright (4 steps); a little blue varies with both.
      double g = (s % 16) / 15.0;
      double r = (s / 16) / 3.0;
      double b = ((s * 7) % 16) / 15.0;
      return Rgb{channel(205, 255, r), channel(0, 230, g), channel(0, 55, b)};
    }
    case Hue::kKernel: {
      double t = s / double(n - 1);
      double u = ((s * 5) % n) / double(n - 1);
      return Rgb{channel(95, 150, u), channel(150, 205, t), channel(215, 250, u)};
    }
    case Hue::kJit: {
      double t = s / double(n - 1);
      double u = ((s * 5) % n) / double(n - 1);
      return Rgb{channel(60, 130, u), channel(185, 230, t), channel(60, 120, t)};
    }
    case Hue::kPython: {
      double t = s / double(n - 1);
      double u = ((s * 5) % n) / double(n - 1);
      return Rgb{channel(150, 200, t), channel(120, 170, u), channel(210, 245, u)};
    }
    case Hue::kUnknown: return Rgb{190, 190, 190};
    case Hue::kOffCpu: {
      constexpr Rgb kShades[] = {{140, 110, 210}, {225, 120, 190}, {175, 160, 210}};
      return kShades[s];
    }
  }
  return Rgb{};
}

void append_class(std::string& out, FrameColor color) {
  out += prefix(color.hue);
  fmt::format_to(std::back_inserter(out), "{}", static_cast<int>(color.shade));
}

void append_palette_css(std::string& out) {
  for (Hue hue : {Hue::kHot, Hue::kKernel, Hue::kJit, Hue::kPython, Hue::kUnknown, Hue::kOffCpu}) {
    for (int s = 0; s < shades(hue); ++s) {
      FrameColor c{hue, static_cast<uint8_t>(s)};
      out += '.';
      append_class(out, c);
      out += "{fill:";
      append_hex(out, rgb(c));
      out += "}\n";
    }
  }
}

Rgb diff_rgb(bool grew, int level) {
  if (level <= 0) return Rgb{220, 220, 220};
  if (level > kDiffLevels) level = kDiffLevels;
  // The other two channels fall from pale to deep, as flamegraph.pl's differential colours.
  uint8_t other = channel(205, 70, double(level) / kDiffLevels);
  return grew ? Rgb{255, other, other} : Rgb{other, other, 255};
}

void append_diff_class(std::string& out, bool grew, int level) {
  if (level <= 0) {
    out += 'n';
    return;
  }
  out += grew ? 'r' : 'b';
  fmt::format_to(std::back_inserter(out), "{}", level);
}

void append_diff_palette_css(std::string& out) {
  auto rule = [&](bool grew, int level) {
    out += '.';
    append_diff_class(out, grew, level);
    out += "{fill:";
    append_hex(out, diff_rgb(grew, level));
    out += "}\n";
  };
  rule(true, 0);
  for (int level = 1; level <= kDiffLevels; ++level) {
    rule(true, level);
    rule(false, level);
  }
}

}  // namespace ember::flamegraph
