# ember_python_read_bench (bench/python/read_bench.cpp): CPU per ProcessReader::read_stack at a
# depth of 30, per installed CPython, next to raw process_vm_readv. Prints figures only.
add_executable(ember_python_read_bench ${CMAKE_CURRENT_LIST_DIR}/read_bench.cpp)
target_link_libraries(ember_python_read_bench PRIVATE ember::python ember::common fmt::fmt)
target_compile_definitions(ember_python_read_bench PRIVATE
  EMBER_PYTHON_BENCH_DIR="${CMAKE_CURRENT_LIST_DIR}")
