# Sourced by scripts/sanitize and scripts/fuzz: the one instrumented build they share (ASan,
# UBSan and coverage for libFuzzer, EMBER_FUZZ=ON) in build-asan/ (or $EMBER_ASAN_DIR), so the
# instrumented code is compiled once for the tests under the sanitizers and for the fuzzers.
# -O1 -g1: fast enough to fuzz, reasonable to compile on two cores; line tables for the reports.
instrumented_dir=${EMBER_ASAN_DIR:-build-asan}
# What runs under the sanitizers (scripts/sanitize): the unit-test binaries, one per module, the
# Python reader's (it reads real interpreters' memory), and the CLI's hostile-input tests (they
# run the instrumented ember and emberd). The other integration binaries sample real processes
# and belong to the main build.
sanitized_tests=(common_test elf_test profile_test collector_test symbolizer_test flamegraph_test
                 proto_test analysis_test daemon_test ember_python_test cli_hardening_test golden_test)
# Every libFuzzer target (scripts/fuzz): one seed corpus folder each.
fuzz_targets=($(ls "$(dirname "${BASH_SOURCE[0]}")/../fuzz/corpus"))
configure_instrumented() {
  cmake -S . -B "$instrumented_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -g1" -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" \
    -DEMBER_FUZZ=ON -DEMBER_SANITIZE=OFF -DEMBER_BUILD_TESTS=ON -DEMBER_BUILD_BENCH=OFF >/dev/null
}

# Builds what scripts/sanitize and scripts/fuzz run (scripts/test starts this at low priority
# while the main tests run, which leave most of the CPU idle: they wait on recordings).
build_instrumented() {
  configure_instrumented
  cmake --build "$instrumented_dir" --target "${sanitized_tests[@]}" $(printf 'fuzz_%s ' "${fuzz_targets[@]}") \
    -- -j"$(nproc)"
}
