# Writes the compiled BPF object as a C++ byte array: cmake -DINPUT=x.o -DOUTPUT=x.cpp -P embed.cmake
file(READ "${INPUT}" hex HEX)
string(LENGTH "${hex}" length)
math(EXPR bytes "${length} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," body "${hex}")
file(WRITE "${OUTPUT}"
  "// Generated from python_stack.bpf.c by python/bpf/embed.cmake; do not edit.\n"
  "#include <cstddef>\n"
  "namespace ember::python {\n"
  "extern const unsigned char kPythonStackBpf[] = {${body}};\n"
  "extern const std::size_t kPythonStackBpfSize = ${bytes};\n"
  "}  // namespace ember::python\n")
