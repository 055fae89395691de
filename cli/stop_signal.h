#pragma once
// SIGINT/SIGTERM end a recording and the output is still written. A second signal of the
// same kind is not caught, so it ends ember at once.

#include <string>

namespace ember::cli {

void install_stop_handlers();
bool stop_requested();
// The signal that asked to stop (0 when none).
int stop_signal();
// "SIGINT" for SIGINT, the number for a signal without a name.
std::string signal_name(int sig);

}  // namespace ember::cli
