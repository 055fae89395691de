#pragma once
// Tells systemd about start-up, reloads and stopping (Type=notify), without libsystemd: one
// datagram to $NOTIFY_SOCKET. Does nothing when not started by systemd.

#include <string_view>

namespace ember::daemon {

void sd_notify(std::string_view state);

}  // namespace ember::daemon
