// Every C++ allocation of the benchmark is counted, so that the sample path's can be shown. In
// a file of its own: the compiler must not see operator delete's free() next to inlined news.

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <new>

#include "bench/unwind/unwind_bench.h"

namespace unwind_bench {
namespace {
std::atomic<uint64_t> g_allocations{0};
}  // namespace
uint64_t allocations() { return g_allocations.load(std::memory_order_relaxed); }
}  // namespace unwind_bench

void* operator new(std::size_t n) {
  unwind_bench::g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
