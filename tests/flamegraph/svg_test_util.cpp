#include "svg_test_util.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <unistd.h>

#include "common/regex.h"

namespace ember::flamegraph::testing {

const DrawnFrame& Graph::frame(std::string_view name) const {
  auto found = frames_named(name);
  EXPECT_EQ(found.size(), 1u) << "frames named " << name;
  if (found.empty()) {
    static const DrawnFrame kNone;
    return kNone;
  }
  return *found.front();
}

std::vector<const DrawnFrame*> Graph::frames_named(std::string_view name) const {
  std::vector<const DrawnFrame*> out;
  for (const auto& f : frames) {
    if (f.name == name) out.push_back(&f);
  }
  return out;
}

std::string Graph::fill_of(std::string_view name) const {
  auto it = fills.find(frame(name).css_class);
  return it == fills.end() ? std::string() : it->second;
}

profile::FoldedStacks folded(std::string_view text) {
  auto parsed = profile::parse_folded(text, "test");
  EXPECT_TRUE(parsed) << parsed.error().message();
  return parsed ? std::move(*parsed) : profile::FoldedStacks{};
}

Graph graph(const std::string& svg) {
  auto g = read_graph(svg);
  EXPECT_TRUE(g) << g.error();
  return g ? std::move(*g) : Graph{};
}

std::expected<Graph, std::string> read_graph(const std::string& svg) {
  auto root = parse_xml(svg);
  if (!root) return std::unexpected("not well-formed XML: " + root.error());
  Graph g;
  g.root = std::move(*root);
  const XmlNode* data = g.root.by_id("fg-data");
  if (data == nullptr) return std::unexpected("no #fg-data");
  g.data = nlohmann::json::parse(data->text_content(), nullptr, false);
  if (g.data.is_discarded()) return std::unexpected("#fg-data is not JSON");

  const XmlNode* frames = g.root.by_id("fg-frames");
  if (frames == nullptr) return std::unexpected("no #fg-frames");
  auto levels = frames->elements();
  if (levels.size() != g.data["levels"].size()) {
    return std::unexpected("levels in markup and data differ");
  }
  for (size_t l = 0; l < levels.size(); ++l) {
    const std::string* transform = levels[l]->attribute("transform");
    double y = 0;
    if (transform == nullptr || std::sscanf(transform->c_str(), "translate(0,%lf)", &y) != 1) {
      return std::unexpected("level without translate(0,y)");
    }
    auto rects = levels[l]->elements();
    const auto& packed = g.data["levels"][l];
    if (packed.size() != rects.size() * 3) return std::unexpected("frames in markup and data differ");
    for (size_t i = 0; i < rects.size(); ++i) {
      const XmlNode& r = *rects[i];
      if (r.name != "rect") return std::unexpected("a level holds a <" + r.name + ">");
      DrawnFrame f;
      f.level = l;
      f.y = y;
      f.x = std::stod(*r.attribute("x"));
      f.width = std::stod(*r.attribute("width"));
      f.height = std::stod(*r.attribute("height"));
      f.css_class = *r.attribute("class");
      f.title = r.text_content();
      f.name = g.data["names"][packed[3 * i].get<size_t>()].get<std::string>();
      g.frames.push_back(std::move(f));
    }
  }
  if (const XmlNode* labels = g.root.by_id("fg-labels")) {
    for (const XmlNode* t : labels->elements()) g.labels.push_back(t->text_content());
  }
  std::string css = g.root.all("style").front()->text_content();
  auto rule = common::Regex::compile(R"(\.([a-z][0-9]*)\{fill:(#[0-9a-f]{6})\})");
  for (const std::vector<std::string>& m : rule->find_all(css)) g.fills[m[1]] = m[2];
  return g;
}

std::optional<std::string> xmllint_errors(const std::string& svg) {
  if (std::system("command -v xmllint >/dev/null 2>&1") != 0) return std::nullopt;
  char path[] = "/tmp/ember-fg-XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0) return "cannot create a temporary file";
  close(fd);
  std::ofstream(path, std::ios::binary) << svg;
  std::string errors_path = std::string(path) + ".err";
  std::string command = "xmllint --noout '" + std::string(path) + "' 2>'" + errors_path + "'";
  int status = std::system(command.c_str());
  std::stringstream errors;
  errors << std::ifstream(errors_path).rdbuf();
  std::remove(path);
  std::remove(errors_path.c_str());
  if (status != 0 && errors.str().empty()) return "xmllint failed without a message";
  return errors.str();
}

}  // namespace ember::flamegraph::testing
