#include "cli/stop_signal.h"

#include <signal.h>
#include <string.h>

namespace ember::cli {

namespace {
volatile sig_atomic_t g_stop_signal = 0;

void on_stop(int sig) {
  g_stop_signal = sig;
  // SA_RESETHAND restored the default: a second Ctrl-C ends ember immediately.
}
}  // namespace

void install_stop_handlers() {
  struct sigaction sa{};
  sa.sa_handler = on_stop;
  sigemptyset(&sa.sa_mask);
  // No SA_RESTART: a blocking poll() returns EINTR so the loop sees the request at once.
  sa.sa_flags = SA_RESETHAND;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGHUP, &sa, nullptr);
}

bool stop_requested() { return g_stop_signal != 0; }
int stop_signal() { return g_stop_signal; }

std::string signal_name(int sig) {
  const char* abbrev = sigabbrev_np(sig);
  return abbrev ? std::string("SIG") + abbrev : std::to_string(sig);
}

}  // namespace ember::cli
