#include "cli/run_history.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <ctime>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "common/files.h"

namespace ember::cli {

namespace {

namespace fs = std::filesystem;

constexpr const char* kProfileSuffixes[] = {".pb.gz", ".pb", ".pprof", ".folded", ".collapsed"};

bool is_profile_name(const std::string& name) {
  return std::any_of(std::begin(kProfileSuffixes), std::end(kProfileSuffixes),
                     [&](const char* suffix) { return name.ends_with(suffix); });
}

std::string stem(const std::string& name) {
  for (const char* suffix : kProfileSuffixes) {
    if (name.ends_with(suffix)) return name.substr(0, name.size() - std::string_view(suffix).size());
  }
  return fs::path(name).stem().string();
}

std::string utc_label(int64_t ns) {
  std::time_t seconds = static_cast<std::time_t>(ns / 1'000'000'000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%d %H:%M:%S", &tm);
  return buffer;
}

// The metadata files of a directory, by the base names of the outputs they list (what `ember
// record -o run.pb.gz --metadata run.json` writes), and by their own stem.
struct MetadataIndex {
  std::map<std::string, std::string> by_output;
  std::map<std::string, std::string> by_stem;
  std::map<std::string, nlohmann::json> parsed;
};

MetadataIndex index_directory(const fs::path& dir) {
  MetadataIndex index;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (!entry.is_regular_file(ec) || entry.path().extension() != ".json") continue;
    std::string path = entry.path().string();
    auto text = common::read_file(path, kMaxMetadataBytes);
    if (!text) continue;  // not ours to judge: any JSON may sit next to the profiles
    auto json = nlohmann::json::parse(*text, nullptr, false);
    if (json.is_discarded() || !json.is_object()) continue;
    index.by_stem[entry.path().stem().string()] = path;
    if (json.contains("outputs") && json["outputs"].is_array()) {
      for (const auto& out : json["outputs"]) {
        if (out.is_string()) index.by_output[fs::path(out.get<std::string>()).filename().string()] = path;
      }
    }
    index.parsed[path] = std::move(json);
  }
  return index;
}

}  // namespace

bool natural_less(const std::string& a, const std::string& b) {
  size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    if (std::isdigit(static_cast<unsigned char>(a[i])) && std::isdigit(static_cast<unsigned char>(b[j]))) {
      size_t ie = i, je = j;
      while (ie < a.size() && std::isdigit(static_cast<unsigned char>(a[ie]))) ++ie;
      while (je < b.size() && std::isdigit(static_cast<unsigned char>(b[je]))) ++je;
      std::string_view da(a.data() + i, ie - i), db(b.data() + j, je - j);
      while (da.size() > 1 && da[0] == '0') da.remove_prefix(1);
      while (db.size() > 1 && db[0] == '0') db.remove_prefix(1);
      if (da.size() != db.size()) return da.size() < db.size();
      if (da != db) return da < db;
      i = ie;
      j = je;
    } else {
      if (a[i] != b[j]) return a[i] < b[j];
      ++i;
      ++j;
    }
  }
  return a.size() - i < b.size() - j;
}

std::optional<int64_t> parse_utc_time(const std::string& text) {
  std::tm tm{};
  char z = 0;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%c", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                  &tm.tm_min, &tm.tm_sec, &z) != 7 ||
      z != 'Z') {
    return std::nullopt;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<int64_t>(timegm(&tm));
}

Result<History> load_history(const std::vector<std::string>& inputs, const Limits& limits) {
  History history;
  std::vector<std::string> files;
  for (const auto& input : inputs) {
    std::error_code ec;
    if (fs::is_directory(input, ec)) {
      std::vector<std::string> found;
      for (const auto& entry : fs::directory_iterator(input, ec)) {
        if (entry.is_regular_file(ec) && is_profile_name(entry.path().filename().string())) {
          found.push_back(entry.path().string());
        }
      }
      if (ec) return make_error(ErrorCode::kIo, fmt::format("{}: {}", input, ec.message()));
      if (found.empty()) {
        return make_error(ErrorCode::kInvalidArgument,
                          fmt::format("{}: no profiles in it (.pb.gz, .pb, .pprof, .folded, .collapsed)", input));
      }
      std::sort(found.begin(), found.end(), natural_less);
      files.insert(files.end(), found.begin(), found.end());
    } else {
      files.push_back(input);
    }
  }

  std::map<std::string, MetadataIndex> indexes;  // per directory
  for (const auto& file : files) {
    auto profile = load_profile(file, limits);
    if (!profile) return std::unexpected(profile.error());
    bool empty = std::all_of(profile->samples.begin(), profile->samples.end(), [](const profile::Sample& s) {
      return std::all_of(s.values.begin(), s.values.end(), [](int64_t v) { return v == 0; });
    });
    if (empty) {
      history.notes.push_back(fmt::format("{}: no samples; left out of the trend", file));
      continue;
    }
    HistoryRun run;
    run.path = file;
    run.profile = std::move(*profile);
    fs::path path(file);
    std::string dir = path.parent_path().empty() ? "." : path.parent_path().string();
    auto [it, inserted] = indexes.try_emplace(dir);
    if (inserted) it->second = index_directory(dir);
    const MetadataIndex& index = it->second;
    std::string name = path.filename().string();
    if (auto m = index.by_output.find(name); m != index.by_output.end()) {
      run.metadata_path = m->second;
    } else if (auto s = index.by_stem.find(stem(name)); s != index.by_stem.end()) {
      run.metadata_path = s->second;
    }
    if (run.profile.time_nanos > 0) {
      run.time_ns = run.profile.time_nanos;
    } else if (run.metadata_path) {
      const auto& meta = index.parsed.at(*run.metadata_path);
      if (meta.contains("start_time") && meta["start_time"].is_string()) {
        if (auto t = parse_utc_time(meta["start_time"].get<std::string>())) run.time_ns = *t * 1'000'000'000;
      }
    }
    run.label = run.time_ns ? utc_label(*run.time_ns) : name;
    history.runs.push_back(std::move(run));
  }

  history.ordered_by_time = std::all_of(history.runs.begin(), history.runs.end(),
                                        [](const HistoryRun& r) { return r.time_ns.has_value(); });
  if (history.ordered_by_time) {
    std::stable_sort(history.runs.begin(), history.runs.end(), [](const HistoryRun& a, const HistoryRun& b) {
      if (*a.time_ns != *b.time_ns) return *a.time_ns < *b.time_ns;
      return natural_less(a.path, b.path);
    });
  } else {
    size_t untimed = 0;
    for (const auto& r : history.runs) untimed += !r.time_ns;
    if (untimed != history.runs.size()) {
      history.notes.push_back(fmt::format(
          "{} of {} runs have no recording time (neither in the profile nor in --metadata JSON beside it): "
          "all are ordered by file name",
          untimed, history.runs.size()));
    }
    std::stable_sort(history.runs.begin(), history.runs.end(),
                     [](const HistoryRun& a, const HistoryRun& b) {
                       return natural_less(fs::path(a.path).filename().string(),
                                           fs::path(b.path).filename().string());
                     });
    for (auto& r : history.runs) r.label = fs::path(r.path).filename().string();
  }
  return history;
}

}  // namespace ember::cli
