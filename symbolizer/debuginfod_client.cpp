#include "symbolizer/debuginfod_client.h"

#include <dlfcn.h>
#include <elfutils/debuginfod.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <sstream>

namespace ember::symbolizer {

namespace fs = std::filesystem;

namespace {

// libdebuginfod is loaded when a client is first made, not linked: it pulls in libcurl, GnuTLS,
// Kerberos and LDAP (25 of ember's 46 libraries), which every ember command paid for at start-up.
struct DebuginfodLibrary {
  decltype(&debuginfod_begin) begin = nullptr;
  decltype(&debuginfod_end) end = nullptr;
  decltype(&debuginfod_find_debuginfo) find_debuginfo = nullptr;
  decltype(&debuginfod_get_url) get_url = nullptr;
  std::string error;  // why it could not be loaded; empty when loaded

  static const DebuginfodLibrary& get() {
    static const DebuginfodLibrary library = load();  // loaded once, kept for the process's life
    return library;
  }

 private:
  static DebuginfodLibrary load() {
    DebuginfodLibrary l;
    void* handle = ::dlopen("libdebuginfod.so.1", RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) {
      const char* why = ::dlerror();
      l.error = why != nullptr ? why : "libdebuginfod.so.1 not found";
      return l;
    }
    l.begin = reinterpret_cast<decltype(l.begin)>(::dlsym(handle, "debuginfod_begin"));
    l.end = reinterpret_cast<decltype(l.end)>(::dlsym(handle, "debuginfod_end"));
    l.find_debuginfo = reinterpret_cast<decltype(l.find_debuginfo)>(::dlsym(handle, "debuginfod_find_debuginfo"));
    l.get_url = reinterpret_cast<decltype(l.get_url)>(::dlsym(handle, "debuginfod_get_url"));
    if (!l.begin || !l.end || !l.find_debuginfo || !l.get_url) l.error = "libdebuginfod.so.1 lacks a function ember uses";
    return l;
  }
};

constexpr size_t kMaxNegative = 4096;  // build-ids remembered as missing

std::string join_urls(const std::vector<std::string>& urls) {
  std::string out;
  for (const auto& u : urls) out += (out.empty() ? "" : " ") + u;
  return out;
}

}  // namespace

std::vector<std::string> DebuginfodClient::urls_from_environment() {
  std::vector<std::string> urls;
  const char* env = std::getenv(DEBUGINFOD_URLS_ENV_VAR);
  if (env == nullptr) return urls;
  std::istringstream in(env);
  for (std::string url; in >> url;) urls.push_back(url);
  return urls;
}

std::string DebuginfodClient::default_cache_dir() {
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg != nullptr && *xdg == '/') {
    return std::string(xdg) + "/ember/debuginfod";
  }
  if (const char* home = std::getenv("HOME"); home != nullptr && *home == '/') {
    return std::string(home) + "/.cache/ember/debuginfod";
  }
  return "/var/cache/ember/debuginfod";
}

Result<std::unique_ptr<DebuginfodClient>> DebuginfodClient::create(DebuginfodSettings settings) {
  if (settings.urls.empty()) return make_error(ErrorCode::kInvalidArgument, "debuginfod: no server URLs");
  for (const auto& url : settings.urls) {
    if (!url.starts_with("http://") && !url.starts_with("https://")) {
      return make_error(ErrorCode::kInvalidArgument,
                        fmt::format("debuginfod: '{}' is not an http:// or https:// URL", url));
    }
  }
  if (settings.cache_dir.empty()) settings.cache_dir = default_cache_dir();
  std::error_code ec;
  fs::create_directories(settings.cache_dir, ec);
  if (ec) {
    return make_error(ErrorCode::kIo,
                      fmt::format("debuginfod: cannot create the cache directory {}: {}", settings.cache_dir, ec.message()));
  }
  // libdebuginfod reads these at every query.
  ::setenv(DEBUGINFOD_URLS_ENV_VAR, join_urls(settings.urls).c_str(), 1);
  ::setenv(DEBUGINFOD_CACHE_PATH_ENV_VAR, settings.cache_dir.c_str(), 1);
  ::setenv(DEBUGINFOD_TIMEOUT_ENV_VAR, std::to_string(settings.timeout.count()).c_str(), 1);
  const DebuginfodLibrary& library = DebuginfodLibrary::get();
  if (!library.error.empty()) {
    return make_error(ErrorCode::kUnsupported, "debuginfod: cannot load the client library: " + library.error);
  }
  debuginfod_client* client = library.begin();
  if (client == nullptr) return make_error(ErrorCode::kInternal, "debuginfod: cannot start the client");
  return std::unique_ptr<DebuginfodClient>(new DebuginfodClient(std::move(settings), client));
}

DebuginfodClient::DebuginfodClient(DebuginfodSettings settings, debuginfod_client* client)
    : settings_(std::move(settings)), client_(client) {}

DebuginfodClient::~DebuginfodClient() { DebuginfodLibrary::get().end(client_); }

std::optional<std::string> DebuginfodClient::find_debuginfo(const common::BuildId& id) {
  if (id.raw().size() < 2) return std::nullopt;
  const std::string hex = id.hex();
  std::lock_guard lock(mutex_);
  const auto now = std::chrono::steady_clock::now();
  if (auto it = negative_.find(hex); it != negative_.end()) {
    if (now - it->second < settings_.retry_missing_after) {
      ++stats_.skipped;
      return std::nullopt;
    }
    negative_.erase(it);
  }
  char* path = nullptr;
  const int fd = DebuginfodLibrary::get().find_debuginfo(client_, reinterpret_cast<const unsigned char*>(id.raw().data()),
                                           static_cast<int>(id.raw().size()), &path);
  if (fd >= 0) {
    ::close(fd);
    std::string found(path);
    std::free(path);
    ++stats_.fetched;
    trim_cache(found);
    return found;
  }
  if (fd == -ENOENT) {
    ++stats_.missing;
  } else {
    ++stats_.failed;
    const char* url = DebuginfodLibrary::get().get_url(client_);
    stats_.last_error = fmt::format("{}: {}", url != nullptr ? url : join_urls(settings_.urls), std::strerror(-fd));
  }
  if (negative_.size() >= kMaxNegative) {
    negative_.erase(std::min_element(negative_.begin(), negative_.end(),
                                     [](const auto& a, const auto& b) { return a.second < b.second; }));
  }
  negative_[hex] = now;
  return std::nullopt;
}

DebuginfodStats DebuginfodClient::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

// Oldest-modified files go first until the cache fits (libdebuginfod's own cleaning is by age
// only); `keep`, the file just handed out, stays whatever its time (the server's Last-Modified).
void DebuginfodClient::trim_cache(const std::string& keep) {
  struct Entry {
    fs::file_time_type time;
    uint64_t size;
    fs::path path;
  };
  std::vector<Entry> entries;
  uint64_t total = 0;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(settings_.cache_dir, ec); !ec && it != fs::end(it); it.increment(ec)) {
    if (!it->is_regular_file(ec)) continue;
    const uint64_t size = it->file_size(ec);
    if (ec) continue;
    total += size;
    if (it->path() != keep) entries.push_back({it->last_write_time(ec), size, it->path()});
  }
  if (total <= settings_.max_cache_bytes) return;
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) { return a.time < b.time; });
  for (const Entry& e : entries) {
    if (total <= settings_.max_cache_bytes) break;
    if (fs::remove(e.path, ec)) {
      total -= e.size;
      ++stats_.evicted;
    }
  }
}

}  // namespace ember::symbolizer
