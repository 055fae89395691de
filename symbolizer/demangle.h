#pragma once
// Demangling through libiberty, the demangler binutils uses: C++ (Itanium ABI) and Rust (legacy
// and v0). libiberty's header stays in demangle.cpp.

#include <string>
#include <string_view>

namespace ember::symbolizer {

// The readable form of a symbol name; the name itself when it is not mangled (C, or a scheme
// libiberty does not know). Without `full_names`, C++ names lose their parameter lists
// ("ns::f" instead of "ns::f(int)"); Rust names never carry their hash.
// A symbol version ("memcpy@@GLIBC_2.14") is dropped from the readable form.
std::string demangle(std::string_view mangled, bool full_names);

}  // namespace ember::symbolizer
