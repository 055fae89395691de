#pragma once
// Debian's own debuginfod server on a loopback port, serving the files of one directory, for
// tests of ember's debuginfod client (library and command line).

#include <cstdint>
#include <string>

#include "tests/support/process.h"

namespace ember::testing {

class DebuginfodServer {
 public:
  // Ready once its first scan has indexed the debug file of `ready_build_id` (hex); a test
  // failure when it does not serve it within 30 s.
  DebuginfodServer(const std::string& dir, const std::string& db, const std::string& ready_build_id);
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  uint16_t port() const { return port_; }

 private:
  uint16_t port_;
  Background server_;
};

}  // namespace ember::testing
