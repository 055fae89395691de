#pragma once
// Logging is spdlog; this sets up its two styles. Modules log with spdlog::warn(...) etc.

#include <string_view>

namespace ember::common {

enum class LogStyle {
  kCli,     // "ember: message" on stderr, for people at a terminal
  kDaemon,  // logfmt lines on stderr (journald adds the timestamp), for machines
};

void init_logging(LogStyle style, std::string_view level = "info");

}  // namespace ember::common
