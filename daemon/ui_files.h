#pragma once
// The files of emberd's page, daemon/ui/ (index.html, dashboard.js, dashboard.css), embedded at
// build time by embed_ui.cmake: edit them there, as HTML, JavaScript and CSS.

#include <span>
#include <string_view>

namespace ember::daemon {

struct UiFile {
  std::string_view name;  // "dashboard.js"
  std::string_view body;
};

std::span<const UiFile> ui_files();

}  // namespace ember::daemon
