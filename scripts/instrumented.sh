# Sourced by scripts/sanitize and scripts/fuzz: the one instrumented build they share (ASan,
# UBSan and coverage for libFuzzer, EMBER_FUZZ=ON) in build-asan/ (or $EMBER_ASAN_DIR), so the
# instrumented code is compiled once for the tests under the sanitizers and for the fuzzers.
# -O1 -g1: fast enough to fuzz, reasonable to compile on two cores; line tables for the reports.
instrumented_dir=${EMBER_ASAN_DIR:-build-asan}
configure_instrumented() {
  cmake -S . -B "$instrumented_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -g1" -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" \
    -DEMBER_FUZZ=ON -DEMBER_SANITIZE=OFF -DEMBER_BUILD_TESTS=ON -DEMBER_BUILD_BENCH=OFF >/dev/null
}
