// `ember record`: sample processes or a command, then write every requested format from the
// one recording.

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <ctime>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/debuginfod_option.h"
#include "cli/record_command.h"
#include "cli/io.h"
#include "cli/python_summary.h"
#include "cli/record_output.h"
#include "cli/stop_signal.h"
#include "collector/recorder.h"
#include "common/files.h"
#include "symbolizer/build_profile.h"
#include "symbolizer/symbolizer.h"

namespace ember::cli {

namespace {

[[nodiscard]] Result<std::vector<int32_t>> parse_pids(const std::string& text) {
  std::vector<int32_t> pids;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    std::string item = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    char* end = nullptr;
    errno = 0;
    long value = std::strtol(item.c_str(), &end, 10);
    if (item.empty() || *end != '\0' || errno != 0 || value <= 0 || value > INT32_MAX) {
      return make_error(ErrorCode::kInvalidArgument, "invalid PID '" + item + "'");
    }
    pids.push_back(static_cast<int32_t>(value));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return pids;
}

std::string describe_target(const RecordArgs& args, const std::vector<int32_t>& pids) {
  if (args.all) return "all processes";
  if (!args.command.empty()) {
    std::string out;
    for (const auto& a : args.command) {
      if (!out.empty()) out += ' ';
      out += a;
    }
    return out;
  }
  std::string out = pids.size() == 1 ? "PID " : "PIDs ";
  for (size_t i = 0; i < pids.size(); ++i) out += (i ? "," : "") + std::to_string(pids[i]);
  return out;
}

std::string describe_wait_status(int status) {
  if (WIFEXITED(status)) return fmt::format("exited with status {}", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    return fmt::format("was killed by signal {} ({})", WTERMSIG(status), strsignal(WTERMSIG(status)));
  }
  return fmt::format("ended with wait status {}", status);
}

std::string utc_time(int64_t unix_ns) {
  std::time_t seconds = static_cast<std::time_t>(unix_ns / 1'000'000'000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buffer[64];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buffer;
}

class ProgressLine {
 public:
  explicit ProgressLine(bool enabled) : enabled_(enabled && ::isatty(STDERR_FILENO)) {}
  void update(double elapsed, uint64_t samples, uint64_t lost) {
    if (!enabled_) return;
    auto now = std::chrono::steady_clock::now();
    if (now - last_ < std::chrono::milliseconds(200)) return;
    last_ = now;
    fmt::print(stderr, "\rember: recording {:6.1f} s  {} samples  {} lost\033[K", elapsed,
               thousands(samples), thousands(lost));
    shown_ = true;
  }
  void clear() {
    if (shown_) fmt::print(stderr, "\r\033[K");
    shown_ = false;
  }

 private:
  bool enabled_;
  bool shown_ = false;
  std::chrono::steady_clock::time_point last_{};
};

nlohmann::json off_cpu_json(const collector::OffCpuCounters& c, uint64_t threshold_ns) {
  return {{"threshold_ns", threshold_ns},
          {"switch_outs", c.switches.switch_outs},
          {"switch_ins", c.switches.switch_ins},
          {"blocks", c.switches.intervals},
          {"unwound", c.unwound},
          {"remembered", c.remembered},
          {"not_unwound", c.not_unwound},
          {"lost_records", c.lost_records},
          {"missing_stack", c.switches.missing_stack},
          {"missing_switch_in", c.switches.missing_switch_in},
          {"exited_off_cpu", c.switches.exited_off_cpu},
          {"before_start", c.switches.before_start},
          {"duplicates", c.switches.duplicates},
          {"out_of_order", c.switches.out_of_order},
          {"pending_limit", c.pending_limit},
          {"stack_copies_dropped_on_arrival", c.compacted}};
}

void print_off_cpu_summary(const collector::OffCpuCounters& c, const profile::RawProfile& raw) {
  const auto& t = raw.totals();
  fmt::print(stderr,
             "ember: off CPU: {:.3f} s blocked, {:.3f} s runnable; {} switches: {} unwound, {} short "
             "blocks at a place seen before, {} not unwound, {} switch records lost{}\n",
             static_cast<double>(t.blocked_ns) * 1e-9, static_cast<double>(t.runnable_ns) * 1e-9,
             thousands(c.switches.switch_outs), thousands(c.unwound), thousands(c.remembered),
             thousands(c.not_unwound), thousands(c.lost_records),
             c.switches.missing_switch_in + c.switches.missing_stack
                 ? fmt::format(", {} blocks incomplete", thousands(c.switches.missing_switch_in +
                                                                   c.switches.missing_stack))
                 : "");
}

}  // namespace

int run_record(RecordArgs& args) {
  // What to record: exactly one of -p, -a, a command.
  int modes = (!args.pids.empty()) + (args.all ? 1 : 0) + (!args.command.empty());
  if (modes == 0) {
    fail("nothing to record: give -p PID[,PID...], -a, or a command after -- (see ember record --help)");
    return kExitUsage;
  }
  if (modes > 1) {
    fail("choose one of -p PID, -a, or a command to launch");
    return kExitUsage;
  }
  std::vector<int32_t> pids;
  if (!args.pids.empty()) {
    auto parsed = parse_pids(args.pids);
    if (!parsed) {
      fail(parsed.error().message());
      return kExitUsage;
    }
    pids = std::move(*parsed);
  }
  if (args.duration < 0 || !std::isfinite(args.duration)) {
    fail("-d must be a positive number of seconds");
    return kExitUsage;
  }
  collector::CallGraphMode mode;
  if (args.call_graph == "dwarf") {
    mode = collector::CallGraphMode::kDwarf;
  } else if (args.call_graph == "fp") {
    mode = collector::CallGraphMode::kFramePointer;
  } else {
    fail("--call-graph must be dwarf or fp, not '" + args.call_graph + "'");
    return kExitUsage;
  }

  // Every output is checked before sampling starts, not after.
  if (args.outputs.empty()) args.outputs.push_back("ember.svg");
  std::vector<OutputFormat> formats;
  for (const auto& path : args.outputs) {
    auto format = output_format(path, args.format);
    if (!format) {
      fail(format.error().message());
      return kExitUsage;
    }
    if (!output_writable(path)) return kExitFailure;
    formats.push_back(*format);
  }
  if (args.metadata) {
    if (!output_writable(*args.metadata)) return kExitFailure;
  }

  collector::Target target;
  target.pids = pids;
  target.system_wide = args.all;
  target.command = args.command;
  collector::RecordOptions options;
  options.frequency_hz = args.frequency;
  options.call_graph = mode;
  options.stack_size = args.stack_size;
  options.kernel_frames = !args.no_kernel;
  options.python.enabled = !args.no_python;
  options.python.reads = args.python_reads == "kernel" ? collector::PythonOptions::Reads::kKernel
                         : args.python_reads == "user" ? collector::PythonOptions::Reads::kUser
                                                       : collector::PythonOptions::Reads::kAuto;
  options.sampling = args.sampling == "per-cpu"      ? collector::Sampling::kPerCpu
                     : args.sampling == "per-thread" ? collector::Sampling::kPerThread
                                                     : collector::Sampling::kAuto;
  if (args.all && options.sampling != collector::Sampling::kAuto) {
    fail("--sampling " + args.sampling + " is for -p and commands: -a always samples per CPU");
    return kExitUsage;
  }
  options.off_cpu = args.off_cpu;
  options.off_cpu_threshold_ns = static_cast<uint64_t>(std::llround(args.off_cpu_threshold_us * 1000));
  if (args.sample_type && !args.off_cpu && *args.sample_type != "samples" && *args.sample_type != "cpu") {
    fail("--sample-type " + *args.sample_type + " needs --off-cpu (without it a recording has samples and cpu)");
    return kExitUsage;
  }

  // main() installed the stop handlers; a Ctrl-C that came before sampling starts
  // leaves nothing to write, and no command is launched.
  // (A launched command gets the same Ctrl-C and may die while the events open: the same case.)
  auto interrupted_at_start = [] {
    fail("interrupted by " + signal_name(stop_signal()) + " before recording started: nothing recorded");
    return 128 + stop_signal();
  };
  if (stop_requested()) return interrupted_at_start();
  auto recorder = collector::Recorder::start(target, options);
  if (!recorder) {
    if (stop_requested()) return interrupted_at_start();
    fail(recorder.error().message());
    return kExitFailure;
  }
  auto& rec = **recorder;
  if (!args.quiet) {
    if (!rec.event_note().empty()) fmt::print(stderr, "ember: {}\n", rec.event_note());
    fmt::print(stderr, "ember: sampling {} at {} Hz{} with {} stacks; recording {}{}\n", rec.event_name(),
               rec.frequency_hz(), rec.samples_per_cpu() ? " per CPU (other processes' samples dropped in the kernel)" : "",
               mode == collector::CallGraphMode::kDwarf ? "DWARF" : "frame-pointer", describe_target(args, pids),
               args.duration > 0 ? fmt::format(" for {} s", args.duration)
                                 : (args.command.empty() ? "; Ctrl-C to stop" : ""));
  }

  auto started = std::chrono::steady_clock::now();
  auto deadline = args.duration > 0
                      ? started + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                      std::chrono::duration<double>(args.duration))
                      : std::chrono::steady_clock::time_point::max();
  ProgressLine progress(!args.quiet);
  std::optional<Error> collect_error;
  while (!stop_requested()) {
    auto now = std::chrono::steady_clock::now();
    if (now >= deadline) break;
    auto wait = std::min<std::chrono::steady_clock::duration>(deadline - now, std::chrono::milliseconds(100));
    auto more = rec.poll(std::chrono::duration_cast<std::chrono::milliseconds>(wait));
    if (!more) {
      collect_error = more.error();
      break;
    }
    const auto& s = rec.stats();
    progress.update(std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count(),
                    s.samples, s.lost_samples);
    if (!*more) break;
  }
  progress.clear();
  rec.stop();
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  profile::RawProfile raw = rec.take_profile();
  const collector::CollectorStats stats = rec.stats();
  if (collect_error) fail("recording stopped early: " + collect_error->message());

  // Names come last, once per unique address.
  symbolizer::Options symbol_options;
  symbol_options.full_names = args.full_names;
  symbol_options.inline_frames = !args.no_inline;
  symbol_options.debuginfod = debuginfod_from_environment(args.no_debuginfod);
  auto symbols = symbolizer::make_symbolizer(symbol_options);
  profile::Profile profile = symbolizer::build_profile(raw, *symbols);
  warn_about_debuginfod(symbol_options.debuginfod.get());

  RenderOptions render_options;
  render_options.fold.per_pid = args.per_pid;
  render_options.fold.per_thread = args.per_thread;
  render_options.fold.inline_frames = !args.no_inline;
  render_options.sample_type = args.sample_type;
  if (args.sample_type) {
    if (auto index = profile.value_index(*args.sample_type); !index) {
      fail(index.error().message());
      return kExitUsage;
    }
  }
  render_options.svg.title = args.title.value_or("ember: " + describe_target(args, pids));
  render_options.svg.subtitle =
      fmt::format("{} at {} Hz, {} stacks · {} samples in {:.1f} s{}", rec.event_name(),
                  rec.frequency_hz(), mode == collector::CallGraphMode::kDwarf ? "DWARF" : "frame-pointer",
                  thousands(raw.total_samples()), elapsed,
                  stats.lost_samples ? fmt::format(" · {} lost", thousands(stats.lost_samples)) : "");
  const auto off_cpu = rec.off_cpu_counters();
  if (off_cpu) {
    render_options.svg.subtitle += fmt::format(" · wall time: on-CPU and off-CPU ({} switches)",
                                               thousands(off_cpu->switches.switch_outs));
  }
  render_options.svg.min_width = args.min_width;
  render_options.svg.width = args.width;

  render_options.max_output_bytes = args.limits.max_output_bytes;

  int exit_code = collect_error ? kExitFailure : kExitOk;
  RecordingWritten outputs =
      write_recording(profile, args.outputs, formats, render_options, raw.total_samples());
  if (outputs.failed) exit_code = kExitFailure;
  const std::vector<std::string>& written = outputs.written;

  if (args.metadata) {
    nlohmann::json meta;
    meta["ember_version"] = EMBER_VERSION;
    if (args.all) {
      meta["target"] = {{"system_wide", true}};
    } else if (!args.command.empty()) {
      meta["target"] = {{"command", args.command}};
    } else {
      meta["target"] = {{"pids", pids}};
    }
    meta["event"] = rec.event_name();
    // How the CPU was sampled: an event per CPU (-a, or --sampling per-cpu) or per thread.
    meta["sampling"] = args.all || rec.samples_per_cpu() ? "per-cpu" : "per-thread";
    meta["frequency_hz"] = rec.frequency_hz();
    meta["call_graph"] = args.call_graph;
    meta["start_time"] = utc_time(raw.start_time_ns);
    meta["duration_seconds"] = std::round(elapsed * 1000) / 1000;
    meta["samples"] = raw.total_samples();
    meta["lost_samples"] = stats.lost_samples;
    meta["unique_stacks"] = raw.unique_stacks();
    char host[256] = {};
    ::gethostname(host, sizeof host - 1);
    meta["host"] = host;
    struct utsname uts{};
    ::uname(&uts);
    meta["kernel"] = std::string(uts.release);
    meta["outputs"] = args.outputs;
    if (mode == collector::CallGraphMode::kDwarf) {
      meta["unwind"] = {{"stacks", stats.dwarf_unwinds},
                        {"complete", stats.dwarf_to_root},
                        {"stack_copy_exhausted", stats.dwarf_stack_end},
                        {"no_cfi", stats.dwarf_no_cfi},
                        {"bad_memory", stats.dwarf_bad_memory},
                        {"depth_limit", stats.dwarf_max_depth},
                        {"bad_frame", stats.dwarf_bad_frame},
                        {"frame_pointer_steps", stats.dwarf_frame_pointer_steps},
                        {"compiled_frames", stats.dwarf_compiled_frames},
                        {"libunwind_frames", stats.dwarf_libunwind_frames},
                        {"stack_size", args.stack_size}};
    }
    // Every collector counter and gauge, named as in collector_stat_fields().
    for (const collector::StatField& f : collector::collector_stat_fields()) {
      meta["collector"][std::string(f.name)] = stats.*f.member;
    }
    if (off_cpu) meta["off_cpu"] = off_cpu_json(*off_cpu, options.off_cpu_threshold_ns);
    if (auto status = rec.command_wait_status()) {
      meta["command_status"] = describe_wait_status(*status);
      if (WIFEXITED(*status)) meta["command_exit_code"] = WEXITSTATUS(*status);
    }
    if (auto ok = common::write_output(*args.metadata, meta.dump(2) + "\n"); !ok) {
      fail("cannot write " + ok.error().message());
      exit_code = kExitFailure;
    }
  }

  // How complete the stacks are, when ember unwound them itself: the figure to trust a flamegraph by.
  std::string unwind_note;
  if (mode == collector::CallGraphMode::kDwarf && stats.dwarf_unwinds > 0) {
    double complete = 100.0 * static_cast<double>(stats.dwarf_to_root) / static_cast<double>(stats.dwarf_unwinds);
    unwind_note = fmt::format(", {:.1f}% of stacks complete", complete);
    if (stats.dwarf_libunwind_frames > 0) {
      // Frames whose CFI the compiled tables do not hold: each cost a libunwind step.
      const double all = static_cast<double>(stats.dwarf_compiled_frames + stats.dwarf_libunwind_frames);
      unwind_note += fmt::format(" ({:.2f}% of frames by libunwind)",
                                 100.0 * static_cast<double>(stats.dwarf_libunwind_frames) / all);
    }
    if (stats.dwarf_stack_end * 100 > stats.dwarf_unwinds) {
      unwind_note += fmt::format(" ({} deeper than the {}-byte stack copy: try --stack-size 65528)",
                                 thousands(stats.dwarf_stack_end), args.stack_size);
    }
  }
  if (!args.quiet) {
    std::string wrote;
    for (const auto& w : written) wrote += (wrote.empty() ? "" : ", ") + w;
    fmt::print(stderr, "ember: {} samples in {:.1f} s, {} lost{}{}{}\n", thousands(raw.total_samples()),
               elapsed, thousands(stats.lost_samples), unwind_note,
               raw.dropped_samples()
                   ? fmt::format(", {} dropped at the stack limit", thousands(raw.dropped_samples()))
                   : "",
               wrote.empty() ? "" : "; wrote " + wrote);
  }
  if (raw.timeline_dropped() > 0) {
    fmt::print(stderr, "ember: the timeline keeps at most {} samples; {} later ones are in the stacks "
                       "but not in the time order (speedscope)\n",
               thousands(profile::kMaxTimelineSamples), thousands(raw.timeline_dropped()));
  }
  if (!args.quiet && stats.python_attached > 0) {
    fmt::print(stderr, "ember: {}\n", python_summary(stats));
  }
  if (off_cpu && !args.quiet) print_off_cpu_summary(*off_cpu, raw);
  if (raw.total_samples() == 0 && !(off_cpu && raw.totals().blocked_ns + raw.totals().runnable_ns > 0)) {
    fail("warning: no samples were recorded (the target may have been idle or exited at once)");
  }
  if (auto status = rec.command_wait_status()) {
    bool clean_exit = WIFEXITED(*status) && WEXITSTATUS(*status) == 0;
    // The Ctrl-C that stopped ember reached the command too (one process group): say so
    // plainly rather than as a failure of the command.
    const bool stopped_with_us = stop_requested() && WIFSIGNALED(*status) && WTERMSIG(*status) == stop_signal();
    if (stopped_with_us) {
      if (!args.quiet) fmt::print(stderr, "ember: the command was stopped by the same {} as the recording\n",
                                  signal_name(stop_signal()));
    } else if (!args.quiet || (!clean_exit && !args.quiet_command_status)) {
      fmt::print(stderr, "ember: command {}\n", describe_wait_status(*status));
    }
    // Like perf record: a failing workload fails the recording step, so CI notices.
    if (exit_code == kExitOk) {
      if (WIFEXITED(*status)) exit_code = WEXITSTATUS(*status);
      else if (WIFSIGNALED(*status) && !stop_requested()) exit_code = 128 + WTERMSIG(*status);
    }
  }
  return exit_code;
}

void add_sampling_options(CLI::App* cmd, RecordArgs& args) {
  cmd->add_option("-F,--frequency", args.frequency,
                  fmt::format("Samples per second per CPU [default: {}]", collector::kDefaultFrequencyHz))
      ->check(CLI::Range(1u, 100000u));
  cmd->add_option("--call-graph", args.call_graph,
                  "How user stacks are unwound: dwarf (complete stacks without frame pointers) or fp [default: dwarf]");
  cmd->add_option("--stack-size", args.stack_size,
                  "Bytes of user stack copied per sample for DWARF unwinding [default: 32768]")
      ->check(CLI::Range(1024u, 65528u));
  cmd->add_flag("--no-kernel", args.no_kernel, "Leave out kernel frames");
  cmd->add_flag("--no-python", args.no_python,
                "Do not read Python stacks: CPython processes show the interpreter's native frames only");
  cmd->add_option("--python-reads", args.python_reads,
                  "Where Python stacks are read: kernel (eBPF, at each sample: exact, no wake-up per "
                  "sample), user (process_vm_readv after each sample), auto (kernel when it runs "
                  "ember's BPF program, else user) [default: auto]")
      ->check(CLI::IsMember({"auto", "kernel", "user"}));
  cmd->add_option("--sampling", args.sampling,
                  "How -p and commands are sampled: per-thread (an event per thread, its timer "
                  "started and stopped at each context switch), per-cpu (a timer per CPU, other "
                  "processes' samples dropped in the kernel by ember's BPF program: needs "
                  "CAP_PERFMON and CAP_BPF), auto (per-cpu with --off-cpu when permitted, else "
                  "per-thread) [default: auto]")
      ->check(CLI::IsMember({"auto", "per-cpu", "per-thread"}));
  cmd->add_flag("--full-names", args.full_names, "Keep C++ parameter lists in function names");
  cmd->add_flag("--no-inline", args.no_inline, "Do not show inlined functions as frames of their own");
  cmd->add_flag("--off-cpu", args.off_cpu,
                "Also record where threads wait off CPU (blocked, or runnable waiting for a CPU): "
                "folded and SVG outputs show wall time, pprof has every sample type");
  cmd->add_option("--off-cpu-threshold", args.off_cpu_threshold_us,
                  fmt::format("A switch-out from a place not seen before is unwound when its block "
                              "lasts this many microseconds, shorter ones within a budget; 0 unwinds "
                              "every switch, reusing nothing [default: {}]",
                              collector::kDefaultOffCpuThresholdNs / 1000))
      ->check(CLI::Range(0.0, 1e9));
}

void add_record_command(CLI::App& app, int& exit_code, std::vector<std::string> command) {
  auto args = std::make_shared<RecordArgs>();
  args->command = std::move(command);
  CLI::App* cmd = app.add_subcommand("record", "Sample running processes or a command and write a profile");
  add_sampling_options(cmd, *args);
  cmd->add_option("-p,--pid", args->pids,
                  "Attach to these processes (comma-separated): all their threads, and threads they create later");
  cmd->add_flag("-a,--all-cpus", args->all, "Record every process on the host (one event per CPU)");
  cmd->add_option("-o,--output", args->outputs,
                  "Output file; repeat for several formats from one recording. Format by extension: "
                  ".svg (flamegraph), .folded, .pb.gz (pprof), .pb, .speedscope.json (timeline per thread); '-' is stdout [default: ember.svg]")
      ->allow_extra_args(false);
  cmd->add_option("--format", args->format, "Output format, overriding the extension: svg, folded, pprof, pb, speedscope");
  cmd->add_option("-d,--duration", args->duration,
                  "Stop after this many seconds [default: until Ctrl-C, or until the command or targets exit]");
  cmd->add_flag("--per-pid", args->per_pid, "Root frame is name-PID instead of the process name");
  cmd->add_flag("--per-thread", args->per_thread, "Add a frame for the thread name under the process");
  cmd->add_option("--title", args->title, "Flamegraph title");
  cmd->add_option("--minwidth", args->min_width,
                  "Flamegraph: leave out frames narrower than this many pixels [default: 0.1]")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--width", args->width, "Flamegraph width in pixels [default: 1200]")
      ->check(CLI::Range(100, 100000));
  cmd->add_option("--metadata", args->metadata,
                  "Also write what was recorded (target, event, frequency, duration, samples, lost, host, kernel, start time) as JSON");
  cmd->add_flag("-q,--quiet", args->quiet, "No progress line or summary on stderr");
  cmd->add_option("--sample-type", args->sample_type,
                  "What folded and SVG outputs show: samples, cpu; with --off-cpu also wall (the "
                  "default), off_cpu, blocked, runnable");
  add_limit_options(cmd, args->limits, false);
  add_debuginfod_flag(cmd, args->no_debuginfod);
  // perf's form without "--" works too: the first argument that is not an option starts the command.
  cmd->prefix_command();
  cmd->footer(
      "\nUsage: ember record [OPTIONS] -p PID[,PID...] | -a | -- COMMAND [ARGS...]\n"
      "\nExamples:\n"
      "  ember record -p 1234 -d 10 -o app.svg              attach to a running process for 10 s\n"
      "  ember record -p 1234,5678 -o both.folded           several processes; Ctrl-C ends it and still writes\n"
      "  ember record -F 499 -o run.svg -- ./bench --quick  launch a command, profile it until it exits\n"
      "  ember record -a -d 5 -o host.svg -o host.pb.gz     every process on the host, two formats\n"
      "\nThe event is the hardware cycles counter when the machine has one, else cpu-clock (VMs).\n"
      "Exit status: that of the launched command when it fails, else 0; 1 when ember could not record,\n"
      "2 on bad arguments.");
  cmd->callback([args, cmd, &exit_code] {
    if (args->command.empty()) args->command = cmd->remaining();
    exit_code = run_record(*args);
  });
}

}  // namespace ember::cli
