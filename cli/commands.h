#pragma once
// Each subcommand registers its options and a callback that sets the process exit code.

namespace CLI {
class App;
}

namespace ember::cli {

// Exit codes shared by every command.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;  // the command could not do its job (or compare: a regression)
inline constexpr int kExitUsage = 2;    // bad arguments or bad input

void add_record_command(CLI::App& app, int& exit_code);
void add_flamegraph_command(CLI::App& app, int& exit_code);
void add_convert_command(CLI::App& app, int& exit_code);
void add_diff_command(CLI::App& app, int& exit_code);
void add_report_command(CLI::App& app, int& exit_code);
void add_compare_command(CLI::App& app, int& exit_code);
void add_symbolize_command(CLI::App& app, int& exit_code);

}  // namespace ember::cli
