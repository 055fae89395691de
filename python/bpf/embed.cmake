# Writes the compiled BPF object as a C++ byte array named NAME (and NAME##Size):
#   cmake -DINPUT=x.o -DOUTPUT=x.cpp -DNAME=kPythonStackBpf -P embed.cmake
file(READ "${INPUT}" hex HEX)
string(LENGTH "${hex}" length)
math(EXPR bytes "${length} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," body "${hex}")
file(WRITE "${OUTPUT}"
  "// Generated from python_stack.bpf.c by python/bpf/embed.cmake; do not edit.\n"
  "#include <cstddef>\n"
  "namespace ember::python {\n"
  "extern const unsigned char ${NAME}[] = {${body}};\n"
  "extern const std::size_t ${NAME}Size = ${bytes};\n"
  "}  // namespace ember::python\n")
