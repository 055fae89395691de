#include "common/log.h"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <memory>
#include <string>

namespace ember::common {

void init_logging(LogStyle style, std::string_view level) {
  // Built directly rather than through spdlog's registry, so that a second call replaces it.
  auto logger = std::make_shared<spdlog::logger>(
      style == LogStyle::kCli ? "ember" : "emberd", std::make_shared<spdlog::sinks::stderr_sink_mt>());
  if (style == LogStyle::kCli) {
    // Warnings and errors are prefixed so that they stand out from progress lines.
    logger->set_pattern("ember: %l: %v");
  } else {
    logger->set_pattern("level=%l %v");
  }
  logger->set_level(spdlog::level::from_str(std::string(level)));
  spdlog::set_default_logger(std::move(logger));
}

}  // namespace ember::common
