// Two threads ping-ponging a byte over a pair of pipes: every message blocks one thread and wakes
// the other, so the process switches tens of thousands of times a second. --work-us adds a little
// computation per message to set the rate (about 50,000 switches/s on the 2-CPU test machine with
// the default). Prints its wall time, its CPU time and the context switches it made.
//   pingpong --rounds 200000 [--work-us 5]

#include <pthread.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {

int to_pong[2];
int to_ping[2];
long rounds = 200000;
double work_us = 5;
volatile uint64_t sink;

double now() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

[[gnu::noinline]] void work() {
  const double end = now() + work_us * 1e-6;
  uint64_t x = sink;
  while (now() < end) {
    for (int i = 0; i < 64; ++i) x = x * 6364136223846793005ull + 1442695040888963407ull;
  }
  sink = x;
}

[[gnu::noinline]] void pong_loop() {
  char c;
  while (read(to_pong[0], &c, 1) == 1) {
    work();
    if (write(to_ping[1], &c, 1) != 1) break;
  }
}

void* pong(void*) {
  pong_loop();
  return nullptr;
}

[[gnu::noinline]] void ping_loop() {
  char c = 'x';
  for (long i = 0; i < rounds; ++i) {
    if (write(to_pong[1], &c, 1) != 1 || read(to_ping[0], &c, 1) != 1) std::abort();
    work();
  }
}

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--rounds") == 0) rounds = std::atol(argv[i + 1]);
    else if (std::strcmp(argv[i], "--work-us") == 0) work_us = std::atof(argv[i + 1]);
    else {
      std::fprintf(stderr, "usage: pingpong [--rounds N] [--work-us US]\n");
      return 2;
    }
  }
  if (pipe(to_pong) != 0 || pipe(to_ping) != 0) return 1;
  pthread_t t;
  pthread_create(&t, nullptr, pong, nullptr);
  const double start = now();
  ping_loop();
  const double wall = now() - start;
  close(to_pong[1]);
  pthread_join(t, nullptr);
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  const long switches = ru.ru_nvcsw + ru.ru_nivcsw;
  const double cpu = static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                     static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6;
  std::printf("rounds %ld wall_s %.4f cpu_s %.4f switches %ld switches_per_s %.0f\n", rounds, wall, cpu,
              switches, static_cast<double>(switches) / wall);
  return 0;
}
