#include "symbolizer/demangle.h"

#include <libiberty/demangle.h>

#include <cstdlib>
#include <memory>

namespace ember::symbolizer {

namespace {

struct FreeDeleter {
  void operator()(char* p) const { std::free(p); }
};

// Names the libiberty demanglers can take: Itanium C++ ("_Z", "._Z" for local clones) and Rust v0
// ("_R"); Rust legacy names are Itanium-shaped. Checking first avoids a libiberty call (and its
// allocations) for the C names that make up most of a system's symbols.
bool looks_mangled(std::string_view name) {
  return name.starts_with("_Z") || name.starts_with("_R") || name.starts_with("__Z");
}

}  // namespace

std::string demangle(std::string_view mangled, bool full_names) {
  // Versioned names from .symtab ("memcpy@@GLIBC_2.14", "foo@VERS"): the version is not part of
  // the function's name, and the demangler rejects it.
  std::string_view base = mangled;
  if (auto at = base.find('@'); at != std::string_view::npos && at > 0) base = base.substr(0, at);
  if (!looks_mangled(base)) return std::string(base);

  std::string owned(base);  // libiberty wants a NUL-terminated string
  int flags = DMGL_ANSI | DMGL_AUTO;
  if (full_names) flags |= DMGL_PARAMS;
  std::unique_ptr<char, FreeDeleter> out(cplus_demangle(owned.c_str(), flags));
  if (!out) return owned;
  return std::string(out.get());
}

}  // namespace ember::symbolizer
