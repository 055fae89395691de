#include "cli/debuginfod_option.h"

#include <fmt/format.h>

#include "cli/io.h"

namespace ember::cli {

void add_debuginfod_flag(CLI::App* cmd, bool& off) {
  cmd->add_flag("--no-debuginfod", off,
                "Do not fetch debug files by build-id from the servers in DEBUGINFOD_URLS (cached in "
                "$XDG_CACHE_HOME/ember/debuginfod, at most 1 GiB)");
}

std::shared_ptr<symbolizer::DebuginfodClient> debuginfod_from_environment(bool off) {
  if (off) return nullptr;
  symbolizer::DebuginfodSettings settings;
  settings.urls = symbolizer::DebuginfodClient::urls_from_environment();
  if (settings.urls.empty()) return nullptr;
  auto client = symbolizer::DebuginfodClient::create(std::move(settings));
  if (!client) {
    fail("warning: " + client.error().message() + " (names come from the files on this host only)");
    return nullptr;
  }
  return std::move(*client);
}

void warn_about_debuginfod(const symbolizer::DebuginfodClient* client) {
  if (client == nullptr) return;
  const auto s = client->stats();
  if (s.failed == 0) return;
  fail(fmt::format("warning: debuginfod: {} ({} debug {} not fetched; names come from the files on this host only)",
                   s.last_error, s.failed, s.failed == 1 ? "file" : "files"));
}

}  // namespace ember::cli
