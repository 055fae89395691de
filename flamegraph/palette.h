#pragma once
// Frame colours. A frame's colour is a CSS class chosen by a hash of its name, so the same name
// has the same colour in every graph and the file carries each colour once (in <style>), not once
// per frame.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ember::flamegraph {

enum class Hue : uint8_t {
  kHot,      // user code: red to yellow, as flamegraph.pl's "hot"
  kKernel,   // "_[k]" frames: blue
  kJit,      // "_[j]" frames: green
  kPython,   // Python frames "f (app.py:12)": violet
  kUnknown,  // "[unknown]": grey
  kOffCpu,   // "[off-cpu: ...]" frames of wall-time graphs: purple (blocked), pink (runnable)
  // The single-colour ramps of flamegraph.pl's other palettes (--colors).
  kMem,
  kIo,
  kRed,
  kGreen,
  kBlue,
  kAqua,
  kYellow,
  kPurple,
  kOrange,
};

// flamegraph.pl's --colors palettes: what ordinary (user-space, native) frames are coloured.
// Kernel, JIT, Python, off-CPU and "[unknown]" frames keep their own hues in every palette,
// except that java, js and perl colour kernel frames orange, as flamegraph.pl does.
enum class Palette : uint8_t {
  kHot, kMem, kIo, kWakeup, kChain, kJava, kJs, kPerl,
  kRed, kGreen, kBlue, kAqua, kYellow, kPurple, kOrange,
};
// "hot" → kHot ...; nullopt for a name flamegraph.pl does not know.
std::optional<Palette> palette_from_name(std::string_view name);
// "hot, mem, io, ...": every name palette_from_name() accepts.
std::string palette_names();

struct Rgb {
  uint8_t r = 0, g = 0, b = 0;
  bool operator==(const Rgb&) const = default;
};

struct FrameColor {
  Hue hue = Hue::kHot;
  uint8_t shade = 0;  // < shades(hue)
  bool operator==(const FrameColor&) const = default;
};

// 64-bit FNV-1a with a final mix: stable across runs, builds and machines.
uint64_t name_hash(std::string_view name);

// The colour of a frame named `annotated_name` (with its "_[k]"/"_[j]" suffix, if any; Python
// frames by their " (file.py:LINE)" ending). The shade is a hash of the name only: the same
// function has the same colour in every graph drawn with the same palette.
FrameColor frame_color(std::string_view annotated_name, Palette palette = Palette::kHot);
int shades(Hue hue);
Rgb rgb(FrameColor color);
// Appends the CSS class of `color`: "h0".."h63", "k0".., "j0".., "p0".., "u0", "o0".."o2".
void append_class(std::string& out, FrameColor color);
// Appends one CSS rule per class of every hue `palette` can give.
void append_palette_css(std::string& out, Palette palette = Palette::kHot);

// Differential graphs: level 0 is unchanged, 1..kDiffLevels grew (red) or shrank (blue).
inline constexpr int kDiffLevels = 8;
Rgb diff_rgb(bool grew, int level);
// "n" for level 0, else "r1".."r8" or "b1".."b8".
void append_diff_class(std::string& out, bool grew, int level);
void append_diff_palette_css(std::string& out);

}  // namespace ember::flamegraph
