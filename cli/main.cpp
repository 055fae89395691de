// ember: the command line. Each subcommand lives in its own file; this only wires them up.

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <new>
#include <string>
#include <string_view>
#include <vector>

#include "cli/commands.h"
#include "cli/stop_signal.h"
#include "common/command_line.h"
#include "common/log.h"

int main(int argc, char** argv) {
  ember::common::init_logging(ember::common::LogStyle::kCli, "warn");
  CLI::App app{"ember: a sampling CPU profiler for Linux. Complete stacks without frame pointers,\n"
               "flamegraphs, pprof, and a regression gate for CI.",
               "ember"};
  app.set_version_flag("--version", "ember " EMBER_VERSION);
  app.require_subcommand(1);
  app.fallthrough(false);
  // Everything after the first "--" that follows `record` or `scale` is the command to launch.
  std::vector<std::string> command;
  int parsed_argc = argc;
  for (int i = 1; i < argc; ++i) {
    if (std::string_view(argv[i]) == "record" || std::string_view(argv[i]) == "scale") {
      // First thing: a Ctrl-C while ember starts up must not kill it silently, leaving nothing.
      ember::cli::install_stop_handlers();
      for (int j = i + 1; j < argc; ++j) {
        if (std::string_view(argv[j]) == "--") {
          command.assign(argv + j + 1, argv + argc);
          parsed_argc = j;
          break;
        }
      }
      break;
    }
  }
  const bool command_after_dashes = parsed_argc != argc;
  int exit_code = ember::cli::kExitOk;
  ember::cli::add_record_command(app, exit_code, command);
  ember::cli::add_scale_command(app, exit_code, std::move(command));
  ember::cli::add_flamegraph_command(app, exit_code);
  ember::cli::add_convert_command(app, exit_code);
  ember::cli::add_report_command(app, exit_code);
  ember::cli::add_annotate_command(app, exit_code);
  ember::cli::add_diff_command(app, exit_code);
  ember::cli::add_compare_command(app, exit_code);
  ember::cli::add_trend_command(app, exit_code);
  ember::cli::add_symbolize_command(app, exit_code);
  // Every subcommand, including options added later, refuses what it does not know.
  ember::common::make_strict(app, std::vector<std::string>(argv + 1, argv + parsed_argc),
                             command_after_dashes);
  app.footer("\nRun 'ember COMMAND --help' for the options of a command.");
  try {
    app.parse(parsed_argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const std::bad_alloc&) {
    // The --max-* limits bound what one input may cost; the machine may still have less.
    fmt::print(stderr, "ember: out of memory (lower the --max-* limits, or give ember more memory)\n");
    return ember::cli::kExitFailure;
  } catch (const CLI::ParseError& e) {
    fmt::print(stderr, "ember: {}\n", ember::common::explain_parse_error(app, e));
    fmt::print(stderr, "Run 'ember --help' or 'ember COMMAND --help' for usage.\n");
    return ember::cli::kExitUsage;
  }
  return exit_code;
}
