/* The seed binary of the ELF and DWARF fuzz targets: a few functions, one inlined, no libc,
 * built by fuzz/seeds/make_elf_seeds.sh into small files. */
static inline __attribute__((always_inline)) long square(long x) { return x * x; }

__attribute__((noinline)) long leaf(long x) { return square(x) + 1; }

__attribute__((noinline)) long middle(long x) {
  long sum = 0;
  for (long i = 0; i < x; ++i) sum += leaf(i);
  return sum;
}

long exported_entry(long x) { return middle(x) ^ leaf(x); }

void _start(void) {
  long r = exported_entry(10);
  __asm__ volatile("mov $60, %%eax\n syscall" : : "D"(r & 0x7f) : "rax");
  __builtin_unreachable();
}
