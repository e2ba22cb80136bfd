// Loading and validating config/localcloud.yaml (docs/config.md).
//
// The loader walks the YAML tree along the schema only: it never recurses into a node the
// schema does not describe, so alias cycles (`&a [*a]`, which yaml-cpp builds as a real cycle)
// and deep nesting cannot make it loop. Every problem becomes a Diagnostic; nothing throws out.
#include <algorithm>
#include <filesystem>
#include <sstream>
#include <tuple>

#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include "config/config.h"
#include "config/daemon_sections.h"
#include "config/files.h"
#include "config/reader.h"
#include "config/text.h"

namespace lc::config {
namespace {

namespace fs = std::filesystem;

constexpr size_t kMaxFileBytes = 1 << 20;  // configs beyond 1 MiB are refused
constexpr size_t kMaxDiagnostics = 1000;   // then one "N more" line

constexpr std::string_view kDaemonSections[] = {"mqtt", "homeassistant", "log", "api", "data_dir"};

class Loader {
 public:
  Loader(Config& config, const std::vector<BridgeSection>& bridges, std::vector<Diagnostic>& diagnostics)
      : config_(config), bridges_(bridges), reader_(config.path, config.base_dir, diagnostics) {
    for (const auto& bridge : bridges_) config_.bridges.push_back(BridgeConfig{bridge.name, nullptr});
  }

  void load(std::string_view text) {
    read_file(text);
    fill_absent();
  }

  // An absent section (or one never reached) holds its bridge's defaults, enabled false.
  void fill_absent() {
    for (size_t i = 0; i < bridges_.size(); ++i) {
      if (config_.bridges[i].settings) continue;
      const Field absent{bridges_[i].name, YAML::Node(YAML::NodeType::Undefined), Mark{}};
      config_.bridges[i].settings = bridges_[i].parse(reader_, absent);
    }
  }

 private:
  void read_file(std::string_view text) {
    if (text.size() > kMaxFileBytes) {
      reader_.error(Mark{1, 1}, "the file is larger than 1 MiB; refusing to read it");
      return;
    }
    const std::string input(text);
    YAML::Node root;
    try {
      if (!single_document(input)) return;
      root = YAML::Load(input);
    } catch (const YAML::DeepRecursion& e) {
      // yaml-cpp stops at 500 levels with the message "bad file"; say what it means.
      Mark at{1, 1};
      if (!e.mark.is_null() && e.mark.line >= 0 && e.mark.column >= 0) at = {e.mark.line + 1, e.mark.column + 1};
      reader_.error(at, "YAML nesting is too deep");
      return;
    } catch (const YAML::Exception& e) {
      Mark at{1, 1};
      if (!e.mark.is_null() && e.mark.line >= 0 && e.mark.column >= 0) at = {e.mark.line + 1, e.mark.column + 1};
      reader_.error(at, "YAML syntax error: " + e.msg);
      return;
    } catch (const std::exception& e) {
      reader_.error(Mark{1, 1}, std::string("YAML syntax error: ") + e.what());
      return;
    }
    try {
      top_level(Field{"", root, Mark{1, 1}});
      const bool any_enabled = std::any_of(config_.bridges.begin(), config_.bridges.end(),
                                           [](const BridgeConfig& b) { return b.settings && b.settings->enabled; });
      if (!any_enabled) reader_.warn(Mark{1, 1}, "no bridge is enabled" + add_a_section_hint());
    } catch (const std::exception& e) {
      // yaml-cpp node access may throw on inputs we did not foresee; report, never crash.
      reader_.error(Mark{1, 1}, std::string("cannot read the configuration: ") + e.what());
    }
  }

  // yaml-cpp 0.7 hands out a document that consumes no token again and again (a stray ',' at
  // the top level makes YAML::LoadAll loop forever: yaml-cpp#1040, fixed upstream in #1319).
  // So the documents are counted first with a parser driven here, which stops at the first one
  // that makes no progress. False (with the error reported) unless there is at most one.
  bool single_document(const std::string& input) {
    struct DocumentStarts : YAML::EventHandler {
      std::vector<YAML::Mark> starts;
      void OnDocumentStart(const YAML::Mark& mark) override { starts.push_back(mark); }
      void OnDocumentEnd() override {}
      void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
      void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
      void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t, const std::string&) override {}
      void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {}
      void OnSequenceEnd() override {}
      void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {}
      void OnMapEnd() override {}
    } documents;
    std::istringstream stream(input);
    YAML::Parser parser(stream);
    while (documents.starts.size() < 3 && parser.HandleNextDocument(documents)) {
      const auto& starts = documents.starts;
      if (starts.size() >= 2 && starts[starts.size() - 1].pos == starts[starts.size() - 2].pos) {
        const YAML::Mark& stuck = starts.back();
        std::string what = stuck.pos >= 0 && static_cast<size_t>(stuck.pos) < input.size()
                               ? " " + quote_value(input.substr(static_cast<size_t>(stuck.pos), 1))
                               : "";
        reader_.error(Mark{stuck.line + 1, stuck.column + 1}, "YAML syntax error: unexpected" + what);
        return false;
      }
    }
    if (documents.starts.size() > 1) {
      const YAML::Mark& second = documents.starts[1];
      reader_.error(Mark{second.line + 1, second.column + 1}, "only one YAML document is allowed (remove the '---')");
      return false;
    }
    return true;
  }

  void top_level(const Field& root) {
    if (root.node.IsNull()) return;  // an empty file: every default, no bridge
    if (!root.node.IsMap()) {
      const std::string example = bridges_.empty() ? "" : " " + bridges_.front().name + ":,";
      reader_.error(root, "expected a mapping of sections (mqtt:," + example + " ...) at the top level, got " +
                              Reader::describe(root.node));
      return;
    }
    std::vector<std::string_view> keys(std::begin(kDaemonSections), std::end(kDaemonSections));
    for (const auto& bridge : bridges_) keys.push_back(bridge.name);
    reader_.for_each_key(root, keys, [&](const std::string& key, const Field& f) {
      if (key == "mqtt") read_mqtt(reader_, f, config_.mqtt);
      else if (key == "homeassistant") read_homeassistant(reader_, f, config_.homeassistant);
      else if (key == "log") read_log(reader_, f, config_.log);
      else if (key == "api") read_api(reader_, f, config_.api);
      else if (key == "data_dir") read_data_dir(reader_, f, config_.data_dir);
      else read_bridge(key, f);
    });
    reader_.check_unnamed_keys();
  }

  void read_bridge(const std::string& name, const Field& section) {
    for (size_t i = 0; i < bridges_.size(); ++i) {
      if (bridges_[i].name == name) config_.bridges[i].settings = bridges_[i].parse(reader_, section);
    }
  }

  // " (add a <first>, <second> or <last> section)"
  std::string add_a_section_hint() const {
    if (bridges_.empty()) return "";
    std::string names;
    for (size_t i = 0; i < bridges_.size(); ++i) {
      if (i > 0) names += i + 1 == bridges_.size() ? " or " : ", ";
      names += bridges_[i].name;
    }
    return " (add a " + names + " section)";
  }

  Config& config_;
  const std::vector<BridgeSection>& bridges_;
  Reader reader_;
};

void finish(LoadResult& result) {
  auto& diagnostics = result.diagnostics;
  std::stable_sort(diagnostics.begin(), diagnostics.end(), [](const Diagnostic& a, const Diagnostic& b) {
    return std::tie(a.line, a.column) < std::tie(b.line, b.column);
  });
  if (diagnostics.size() > kMaxDiagnostics) {
    size_t more = diagnostics.size() - kMaxDiagnostics;
    // The summary line is an error when an error is among those not shown, so ok() stays right.
    bool error_hidden = std::any_of(diagnostics.begin() + kMaxDiagnostics, diagnostics.end(),
                                    [](const Diagnostic& d) { return !d.warning; });
    diagnostics.resize(kMaxDiagnostics);
    Diagnostic last = diagnostics.back();
    last.message = "too many problems; " + std::to_string(more) + " more not shown";
    last.warning = !error_hidden;
    diagnostics.push_back(std::move(last));
  }
}

void set_paths(Config& config, const std::string& path) {
  config.path = path;
  std::error_code ec;
  fs::path dir = fs::path(path).parent_path();
  if (dir.empty()) dir = ".";
  fs::path absolute = fs::absolute(dir, ec);
  config.base_dir = (ec ? dir : absolute).lexically_normal().string();
  if (config.base_dir.size() > 1 && config.base_dir.back() == '/') config.base_dir.pop_back();
}

LoadResult load_text(std::string_view yaml, const std::string& path, const std::vector<BridgeSection>& bridges) {
  LoadResult result;
  try {
    set_paths(result.config, path);
    Loader loader(result.config, bridges, result.diagnostics);
    loader.load(yaml);
    const std::string& dir = result.config.data_dir;
    if (!dir.empty() && !fs::path(dir).is_absolute())
      result.config.data_dir = (fs::path(result.config.base_dir) / dir).lexically_normal().string();
    if (result.config.data_dir.size() > 1 && result.config.data_dir.back() == '/') result.config.data_dir.pop_back();
  } catch (const std::exception& e) {
    result.diagnostics.push_back(Diagnostic{path, 1, 1, std::string("cannot load the configuration: ") + e.what(), false});
  }
  finish(result);
  return result;
}

}  // namespace

LoadResult load_file(const std::string& path, const std::vector<BridgeSection>& bridges) {
  std::string text;
  bool truncated = false;
  std::string problem;
  try {
    problem = read_bounded(path, kMaxFileBytes, text, truncated);
  } catch (const std::exception& e) {
    problem = e.what();
  }
  if (!problem.empty() || truncated) {
    LoadResult result;
    set_paths(result.config, path);
    Loader(result.config, bridges, result.diagnostics).fill_absent();
    result.diagnostics.push_back(Diagnostic{
        path, 1, 1, problem.empty() ? "the file is larger than 1 MiB; refusing to read it" : "cannot read the config file: " + problem,
        false});
    return result;
  }
  return load_text(text, path, bridges);
}

LoadResult load_string(std::string_view yaml, const std::string& path, const std::vector<BridgeSection>& bridges) {
  return load_text(yaml, path, bridges);
}

}  // namespace lc::config
