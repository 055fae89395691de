#pragma once
// --no-debuginfod for the commands that symbolize (record, symbolize): debug files by build-id
// from the servers in DEBUGINFOD_URLS when a binary has none on this host.

#include <CLI/CLI.hpp>

#include <memory>

#include "symbolizer/debuginfod_client.h"

namespace ember::cli {

void add_debuginfod_flag(CLI::App* cmd, bool& off);

// The client for DEBUGINFOD_URLS, or null when it is unset or empty, or `off`. A client that
// cannot start is one warning, not a failure: names then come from local files only.
std::shared_ptr<symbolizer::DebuginfodClient> debuginfod_from_environment(bool off);

// After symbolizing: one warning when servers failed (down, timeout), naming the server.
void warn_about_debuginfod(const symbolizer::DebuginfodClient* client);

}  // namespace ember::cli
