// The readers of /proc text that another process controls or that changes under the reader:
// /proc/PID/stat (a comm may hold spaces and parentheses), status and io (emberd's process
// resources), maps lines (the process table and the Python reader), cgroup paths (service
// names), and CPU lists. Input: a selector byte, then the file's text.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "collector/procfs.h"
#include "common/proc_maps.h"
#include "daemon/process_resources.h"

namespace {

void check(bool ok) {
  if (!ok) __builtin_trap();
}

bool within(std::string_view part, std::string_view text) { return text.find(part) != std::string_view::npos; }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  switch (data[0] % 6) {
    case 0:
      if (auto stat = ember::daemon::parse_proc_stat(text)) check(within(stat->comm, text));
      break;
    case 1:
      if (auto status = ember::daemon::parse_proc_status(text)) check(status->rss_bytes >= 0 && status->threads >= 0);
      break;
    case 2:
      if (auto io = ember::daemon::parse_proc_io(text)) check(io->read_bytes >= 0 && io->write_bytes >= 0);
      break;
    case 3:
      for (const ember::common::MapsEntry& m : ember::common::parse_maps(text)) {
        check(m.start <= m.end);
        check(within(m.path, text));
      }
      break;
    case 4:
      check(within(ember::collector::systemd_service(text), text));
      break;
    case 5:
      if (auto cpus = ember::collector::parse_cpu_list(text)) check(!cpus->empty() && cpus->size() <= 65536);
      break;
  }
  return 0;
}
