#include "flamegraph/palette.h"

#include <fmt/format.h>

#include <cmath>
#include <iterator>
#include <vector>

#include "profile/folded.h"
#include "profile/sample_types.h"

namespace ember::flamegraph {

namespace {

constexpr int kHotShades = 64;
constexpr int kKernelShades = 12;
constexpr int kJitShades = 12;
constexpr int kPythonShades = 12;
constexpr int kRampShades = 16;  // each of flamegraph.pl's single-colour palettes

struct PaletteName {
  std::string_view name;
  Palette palette;
};
constexpr PaletteName kPaletteNames[] = {
    {"hot", Palette::kHot},       {"mem", Palette::kMem},       {"io", Palette::kIo},
    {"wakeup", Palette::kWakeup}, {"chain", Palette::kChain},   {"java", Palette::kJava},
    {"js", Palette::kJs},         {"perl", Palette::kPerl},     {"red", Palette::kRed},
    {"green", Palette::kGreen},   {"blue", Palette::kBlue},     {"aqua", Palette::kAqua},
    {"yellow", Palette::kYellow}, {"purple", Palette::kPurple}, {"orange", Palette::kOrange},
};

constexpr Hue kRamps[] = {Hue::kMem, Hue::kIo, Hue::kRed, Hue::kGreen, Hue::kBlue,
                          Hue::kAqua, Hue::kYellow, Hue::kPurple, Hue::kOrange};

bool is_language_palette(Palette p) {
  return p == Palette::kJava || p == Palette::kJs || p == Palette::kPerl;
}

// flamegraph.pl's rules for a user-space frame (its bare name) under each palette.
Hue ordinary_hue(Palette palette, std::string_view name) {
  switch (palette) {
    case Palette::kHot: return Hue::kHot;
    case Palette::kMem: return Hue::kMem;
    case Palette::kIo: return Hue::kIo;
    case Palette::kWakeup: return Hue::kAqua;
    case Palette::kChain: return name.find("_[w]") != std::string_view::npos ? Hue::kAqua : Hue::kBlue;
    case Palette::kJava: {
      std::string_view path = name.starts_with('L') ? name.substr(1) : name;
      for (std::string_view package : {"java/", "javax/", "jdk/", "net/", "org/", "com/", "io/", "sun/"}) {
        if (path.starts_with(package) || name.starts_with(package)) return Hue::kGreen;
      }
      if (name.find(":::") != std::string_view::npos) return Hue::kGreen;  // perf-map-agent
      if (name.find("::") != std::string_view::npos) return Hue::kYellow;   // C++
      return Hue::kRed;
    }
    case Palette::kPerl:
      if (name.find("::") != std::string_view::npos) return Hue::kYellow;
      if (name.find("Perl") != std::string_view::npos || name.find(".pl") != std::string_view::npos) {
        return Hue::kGreen;
      }
      return Hue::kRed;
    case Palette::kJs: {
      if (name.find("::") != std::string_view::npos) return Hue::kYellow;
      size_t slash = name.find('/');
      if (slash != std::string_view::npos && name.find(".js", slash) != std::string_view::npos) return Hue::kGreen;
      if (name.find(':') != std::string_view::npos) return Hue::kAqua;  // builtins
      if (name == " ") return Hue::kGreen;
      return Hue::kRed;
    }
    case Palette::kRed: return Hue::kRed;
    case Palette::kGreen: return Hue::kGreen;
    case Palette::kBlue: return Hue::kBlue;
    case Palette::kAqua: return Hue::kAqua;
    case Palette::kYellow: return Hue::kYellow;
    case Palette::kPurple: return Hue::kPurple;
    case Palette::kOrange: return Hue::kOrange;
  }
  return Hue::kHot;
}

constexpr char prefix(Hue hue) {
  switch (hue) {
    case Hue::kHot: return 'h';
    case Hue::kKernel: return 'k';
    case Hue::kJit: return 'j';
    case Hue::kPython: return 'p';
    case Hue::kUnknown: return 'u';
    case Hue::kOffCpu: return 'o';
    // Ramps: one letter each, none of which the other classes use.
    case Hue::kMem: return 'm';
    case Hue::kIo: return 'i';
    case Hue::kRed: return 'r';
    case Hue::kGreen: return 'g';
    case Hue::kBlue: return 'b';
    case Hue::kAqua: return 'a';
    case Hue::kYellow: return 'y';
    case Hue::kPurple: return 'v';
    case Hue::kOrange: return 'e';
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

std::optional<Palette> palette_from_name(std::string_view name) {
  for (const PaletteName& p : kPaletteNames) {
    if (p.name == name) return p.palette;
  }
  return std::nullopt;
}

std::string palette_names() {
  std::string out;
  for (const PaletteName& p : kPaletteNames) {
    if (!out.empty()) out += ", ";
    out += p.name;
  }
  return out;
}

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
    default: return kRampShades;
  }
}

FrameColor frame_color(std::string_view annotated_name, Palette palette) {
  std::string_view bare;
  Hue hue = Hue::kHot;
  switch (profile::frame_kind(annotated_name, &bare)) {
    case profile::MappingKind::kKernel:
      hue = is_language_palette(palette) ? Hue::kOrange : Hue::kKernel;
      break;
    case profile::MappingKind::kJit:
      hue = Hue::kJit;
      if (palette == Palette::kJava) hue = Hue::kGreen;
      if (palette == Palette::kJs) hue = bare.find('/') != std::string_view::npos ? Hue::kGreen : Hue::kAqua;
      break;
    case profile::MappingKind::kPython:
      hue = Hue::kPython;
      // The function decides the shade, not the line it was on: "f (a.py:3)" and "f (a.py:9)"
      // are one colour.
      bare = bare.substr(0, bare.rfind(" ("));
      break;
    default:
      hue = bare == "[unknown]" ? Hue::kUnknown : ordinary_hue(palette, annotated_name);
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
    default: break;
  }
  // flamegraph.pl's ramps, v1 (and v2 for mem and io) taken from the shade.
  const double v1 = s / double(n - 1);
  const double v2 = ((s * 5) % n) / double(n - 1);
  switch (color.hue) {
    case Hue::kMem: return Rgb{0, channel(190, 240, v2), channel(0, 210, v1)};
    case Hue::kIo: return Rgb{channel(80, 140, v1), channel(80, 140, v1), channel(190, 245, v2)};
    case Hue::kRed: return Rgb{channel(200, 255, v1), channel(50, 130, v1), channel(50, 130, v1)};
    case Hue::kGreen: return Rgb{channel(50, 110, v1), channel(200, 255, v1), channel(50, 110, v1)};
    case Hue::kBlue: return Rgb{channel(80, 140, v1), channel(80, 140, v1), channel(205, 255, v1)};
    case Hue::kAqua: return Rgb{channel(50, 110, v1), channel(165, 220, v1), channel(165, 220, v1)};
    case Hue::kYellow: return Rgb{channel(175, 230, v1), channel(175, 230, v1), channel(50, 70, v1)};
    case Hue::kPurple: return Rgb{channel(190, 255, v1), channel(80, 140, v1), channel(190, 255, v1)};
    case Hue::kOrange: return Rgb{channel(190, 255, v1), channel(90, 155, v1), 0};
    default: return Rgb{};
  }
}

void append_class(std::string& out, FrameColor color) {
  out += prefix(color.hue);
  fmt::format_to(std::back_inserter(out), "{}", static_cast<int>(color.shade));
}

void append_palette_css(std::string& out, Palette palette) {
  std::vector<Hue> hues;
  if (palette == Palette::kHot) hues.push_back(Hue::kHot);
  hues.insert(hues.end(), {Hue::kKernel, Hue::kJit, Hue::kPython, Hue::kUnknown, Hue::kOffCpu});
  // The ramps only when a palette other than hot can use them: the default file stays small.
  if (palette != Palette::kHot) hues.insert(hues.end(), std::begin(kRamps), std::end(kRamps));
  for (Hue hue : hues) {
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
