#pragma once
// Each subcommand registers its options and a callback that sets the process exit code.

#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace ember::cli {

// Exit codes shared by every command.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;  // the command could not do its job (or compare: a regression)
inline constexpr int kExitUsage = 2;    // bad arguments or bad input

// `command` is what followed "--" on the command line (split off before parsing, because the
// launched command's own options must not be read as ember's).
void add_record_command(CLI::App& app, int& exit_code, std::vector<std::string> command);
void add_flamegraph_command(CLI::App& app, int& exit_code);
void add_convert_command(CLI::App& app, int& exit_code);
void add_diff_command(CLI::App& app, int& exit_code);
void add_report_command(CLI::App& app, int& exit_code);
void add_compare_command(CLI::App& app, int& exit_code);
void add_trend_command(CLI::App& app, int& exit_code);
// `ember scale`: `command` as for record; {} in it is replaced by each size.
void add_scale_command(CLI::App& app, int& exit_code, std::vector<std::string> command);
void add_symbolize_command(CLI::App& app, int& exit_code);
void add_annotate_command(CLI::App& app, int& exit_code);

}  // namespace ember::cli
