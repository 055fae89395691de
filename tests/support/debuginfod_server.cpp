#include "tests/support/debuginfod_server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <thread>

namespace ember::testing {

namespace {
uint16_t free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}
}  // namespace

DebuginfodServer::DebuginfodServer(const std::string& dir, const std::string& db, const std::string& ready_build_id)
    : port_(free_port()),
      server_({"/usr/bin/debuginfod", "-F", "-p", std::to_string(port_), "-d", db, "-t", "0", "-g", "0", dir}) {
  const std::string url = this->url() + "/buildid/" + ready_build_id + "/debuginfo";
  for (int i = 0; i < 300; ++i) {
    if (run({"/usr/bin/curl", "-sf", "-o", "/dev/null", url}).exit_code == 0) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ADD_FAILURE() << "debuginfod did not serve " << url;
}

}  // namespace ember::testing
