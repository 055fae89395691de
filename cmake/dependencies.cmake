# Every dependency is a Debian package installed by scripts/deps.
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)
find_package(fmt REQUIRED)
find_package(spdlog REQUIRED)

# libelf / libdw (elfutils) and libunwind ship pkg-config files only.
pkg_check_modules(LIBELF REQUIRED IMPORTED_TARGET libelf)
pkg_check_modules(LIBDW REQUIRED IMPORTED_TARGET libdw)
pkg_check_modules(LIBDEBUGINFOD REQUIRED IMPORTED_TARGET libdebuginfod)
pkg_check_modules(LIBUNWIND_GENERIC REQUIRED IMPORTED_TARGET libunwind-generic)
# RE2: user-supplied regular expressions, matched in linear time (common/regex.h).
pkg_check_modules(RE2 REQUIRED IMPORTED_TARGET re2)
pkg_check_modules(LIBBPF REQUIRED IMPORTED_TARGET libbpf)
# The kernel-side Python stack reader (python/bpf/) is compiled by clang for the BPF target.
find_program(EMBER_BPF_CLANG NAMES clang-14 clang REQUIRED)

# libiberty: C++ and Rust (legacy and v0) demangling, the demangler binutils uses.
find_library(LIBIBERTY_LIBRARY NAMES libiberty.a iberty REQUIRED)
find_path(LIBIBERTY_INCLUDE_DIR libiberty/demangle.h REQUIRED)
add_library(ember_libiberty INTERFACE)
target_link_libraries(ember_libiberty INTERFACE ${LIBIBERTY_LIBRARY})
target_include_directories(ember_libiberty SYSTEM INTERFACE ${LIBIBERTY_INCLUDE_DIR})

find_package(CLI11 REQUIRED)
find_package(nlohmann_json 3 REQUIRED)
find_package(ZLIB REQUIRED)
