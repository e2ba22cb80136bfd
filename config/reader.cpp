#include "config/reader.h"

#include <algorithm>
#include <charconv>
#include <climits>
#include <cstdint>
#include <filesystem>
#include <sstream>

#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/eventhandler.h>

#include "config/files.h"
#include "config/text.h"

namespace lc::config {
namespace {

namespace fs = std::filesystem;

std::string prefix(const Field& f) { return f.path.empty() ? "" : f.path + ": "; }

// Edits (insert, delete, replace, swap two neighbours) from a to b: "did you mean" suggestions.
size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> before(b.size() + 1), previous(b.size() + 1), current(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) previous[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    current[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      current[j] = std::min({previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
        current[j] = std::min(current[j], before[j - 2] + 1);
    }
    std::swap(before, previous);
    std::swap(previous, current);
  }
  return previous[b.size()];
}

std::string unknown_key_message(const std::string& key, const std::string& section,
                                std::span<const std::string_view> allowed) {
  std::string message = "unknown key " + quote_value(key) + (section.empty() ? "" : " in " + section);
  std::string_view best;
  size_t best_distance = SIZE_MAX;
  if (key.size() <= 64) {
    std::string key_lower = lower(key);
    for (auto candidate : allowed) {
      size_t d = edit_distance(key_lower, candidate);
      if (d < best_distance) best_distance = d, best = candidate;
    }
  }
  if (!best.empty() && best_distance <= std::max<size_t>(1, best.size() / 3)) {
    message += " (did you mean '" + std::string(best) + "'?)";
  } else {
    message += " (allowed: ";
    bool first = true;
    for (auto candidate : allowed) {
      if (!first) message += ", ";
      message += candidate;
      first = false;
    }
    message += ")";
  }
  return message;
}

}  // namespace

std::string Diagnostic::text() const {
  return file + ":" + std::to_string(line) + ":" + std::to_string(column) + ": " + (warning ? "warning: " : "") +
         message;
}

Mark mark_of(const YAML::Node& node, Mark fallback) {
  YAML::Mark m = node.Mark();
  if (m.is_null() || node.IsNull() || m.line < 0 || m.column < 0) return fallback;
  return Mark{m.line + 1, m.column + 1};
}

Reader::Reader(std::string file, std::string base_dir, std::vector<Diagnostic>& diagnostics)
    : file_(std::move(file)), base_dir_(std::move(base_dir)), diagnostics_(diagnostics) {}

// ---- the document ----

namespace {

Mark mark_of(const YAML::Mark& m) {
  if (m.is_null() || m.line < 0 || m.column < 0) return Mark{1, 1};
  return Mark{m.line + 1, m.column + 1};
}

}  // namespace

std::optional<YAML::Node> Reader::parse(std::string_view text) {
  if (text.size() > kMaxDocumentBytes) {
    error(Mark{1, 1}, "the file is larger than 1 MiB; refusing to read it");
    return std::nullopt;
  }
  const std::string input(text);
  try {
    if (!single_document(input)) return std::nullopt;
    return YAML::Load(input);
  } catch (const YAML::DeepRecursion& e) {
    // yaml-cpp stops at 500 levels with the message "bad file"; say what it means.
    error(mark_of(e.mark), "YAML nesting is too deep");
  } catch (const YAML::Exception& e) {
    error(mark_of(e.mark), "YAML syntax error: " + e.msg);
  } catch (const std::exception& e) {
    error(Mark{1, 1}, std::string("YAML syntax error: ") + e.what());
  }
  return std::nullopt;
}

// yaml-cpp 0.7 hands out a document that consumes no token again and again (a stray ',' at
// the top level makes YAML::LoadAll loop forever: yaml-cpp#1040, fixed upstream in #1319).
// So the documents are counted first with a parser driven here, which stops at the first one
// that makes no progress. False (with the error reported) unless there is at most one.
bool Reader::single_document(const std::string& input) {
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
      error(Mark{stuck.line + 1, stuck.column + 1}, "YAML syntax error: unexpected" + what);
      return false;
    }
  }
  if (documents.starts.size() > 1) {
    const YAML::Mark& second = documents.starts[1];
    error(Mark{second.line + 1, second.column + 1}, "only one YAML document is allowed (remove the '---')");
    return false;
  }
  return true;
}

// ---- diagnostics ----

void Reader::add(Mark at, std::string message, bool warning) {
  Diagnostic d;
  d.file = file_;
  d.line = at.line > 0 ? at.line : 1;
  d.column = at.column > 0 ? at.column : 1;
  d.message = std::move(message);
  d.warning = warning;
  if (!warning) ++errors_;
  diagnostics_.push_back(std::move(d));
}

void Reader::error(Mark at, std::string message) { add(at, std::move(message), false); }
void Reader::warn(Mark at, std::string message) { add(at, std::move(message), true); }
void Reader::error(const Field& f, const std::string& message) { error(f.at, prefix(f) + message); }
void Reader::warn(const Field& f, const std::string& message) { warn(f.at, prefix(f) + message); }

// ---- structure ----

std::string Reader::describe(const YAML::Node& node) {
  if (node.IsMap()) return "a mapping";
  if (node.IsSequence()) return "a list";
  if (node.IsNull()) return "nothing";
  if (node.IsScalar()) return quote_value(node.Scalar());
  return "something else";
}

bool Reader::is_section(const Field& f) {
  if (f.node.IsMap() || f.node.IsNull()) return true;
  error(f, "expected a mapping (indented key: value lines), got " + describe(f.node));
  return false;
}

void Reader::for_each_key(const Field& section, std::span<const std::string_view> allowed, const KeyHandler& handle) {
  if (!section.node.IsMap()) return;
  std::map<std::string, Mark> seen;
  for (auto it = section.node.begin(); it != section.node.end(); ++it) {
    const YAML::Node key_node = it->first;
    const YAML::Node value = it->second;
    Mark key_at = mark_of(key_node, section.at);
    if (!key_node.IsScalar()) {
      error(key_at, prefix(section) + "expected a plain key, got " + describe(key_node));
      continue;
    }
    const std::string key = key_node.Scalar();
    auto [previous, inserted] = seen.emplace(key, key_at);
    if (!inserted) {
      error(key_at, "duplicate key " + quote_value(key) + (section.path.empty() ? "" : " in " + section.path) +
                        " (first at line " + std::to_string(previous->second.line) + ")");
      continue;
    }
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      error(key_at, unknown_key_message(key, section.path, allowed));
      continue;
    }
    std::string path = section.path.empty() ? key : section.path + "." + key;
    handle(key, Field{std::move(path), value, mark_of(value, key_at)});
  }
}

void Reader::for_each_item(const Field& list, size_t limit, const ItemHandler& handle) {
  if (list.node.IsNull()) return;
  if (!list.node.IsSequence()) {
    error(list, "expected a list (lines starting with '- '), got " + describe(list.node));
    return;
  }
  if (list.node.size() > limit) {
    error(list, "more than " + std::to_string(limit) + " entries; refusing the list");
    return;
  }
  size_t index = 0;
  for (auto it = list.node.begin(); it != list.node.end(); ++it, ++index) {
    const YAML::Node item = *it;
    handle(Field{list.path + "[" + std::to_string(index) + "]", item, mark_of(item, list.at)});
  }
}

void Reader::missing(const Field& item, const std::set<std::string>& present,
                     std::initializer_list<const char*> required) {
  for (const char* key : required)
    if (!present.count(key)) error(item, std::string("missing '") + key + "'");
}

// ---- scalars ----

std::optional<std::string> Reader::string_value(const Field& f) {
  if (f.node.IsNull()) return std::string();
  if (f.node.IsScalar()) {
    // Strings end up in JSON (bridge/info) and C APIs: valid UTF-8 without NUL only.
    const std::string& text = f.node.Scalar();
    if (!valid_utf8(text) || text.find('\0') != std::string::npos) {
      error(f, "expected text (valid UTF-8 without NUL characters), got " + quote_value(text));
      return std::nullopt;
    }
    return text;
  }
  error(f, "expected a string, got " + describe(f.node));
  return std::nullopt;
}

void Reader::read_string(const Field& f, std::string& out) {
  if (auto value = string_value(f)) out = std::move(*value);
}

void Reader::read_bool(const Field& f, bool& out) {
  if (f.node.IsScalar()) {
    static const std::set<std::string, std::less<>> yes = {"true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON"};
    static const std::set<std::string, std::less<>> no = {"false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF"};
    const std::string& text = f.node.Scalar();
    if (yes.count(text)) {
      out = true;
      return;
    }
    if (no.count(text)) {
      out = false;
      return;
    }
  }
  error(f, "expected a boolean (true or false), got " + describe(f.node));
}

std::optional<long long> Reader::integer_value(const Field& f, long long min, long long max, const char* what) {
  if (f.node.IsScalar()) {
    const std::string& text = f.node.Scalar();
    long long value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec == std::errc() && end == text.data() + text.size() && !text.empty()) {
      if (value < min || value > max) {
        if (value < 0 && min >= 0) {
          error(f, std::string(what) + " must not be negative, got " + text);
        } else {
          error(f, std::string(what) + " must be between " + std::to_string(min) + " and " + std::to_string(max) +
                       ", got " + text);
        }
        return std::nullopt;
      }
      return value;
    }
    if (ec == std::errc::result_out_of_range) {
      error(f, std::string(what) + " must be between " + std::to_string(min) + " and " + std::to_string(max) +
                   ", got " + quote_value(text));
      return std::nullopt;
    }
  }
  error(f, "expected an integer, got " + describe(f.node));
  return std::nullopt;
}

void Reader::read_port(const Field& f, uint16_t& out) {
  if (auto v = integer_value(f, 1, 65535, "the port")) out = static_cast<uint16_t>(*v);
}

void Reader::read_duration(const Field& f, Duration& out, bool positive) {
  if (!f.node.IsScalar()) {
    error(f, "expected a duration (e.g. 250ms, 30s, 5m, 1h or a number of seconds), got " + describe(f.node));
    return;
  }
  const std::string& text = f.node.Scalar();
  auto d = parse_duration(text);
  if (!d) {
    if (!text.empty() && text.front() == '-') {
      error(f, "a duration must not be negative, got " + quote_value(text));
    } else {
      error(f, "bad duration " + quote_value(text) + " (expected e.g. 250ms, 30s, 5m, 1h or a number of seconds, at most 1 year)");
    }
    return;
  }
  if (positive && d->count() <= 0) {
    error(f, "must be more than zero, got " + quote_value(text));
    return;
  }
  out = *d;
}

// HOST:PORT. With `optional`, an empty value means off (nullopt).
std::optional<std::optional<Endpoint>> Reader::endpoint_value(const Field& f, bool optional) {
  auto text = string_value(f);
  if (!text) return std::nullopt;
  if (text->empty()) {
    if (optional) return std::optional<Endpoint>();
    error(f, "expected an address HOST:PORT, got nothing");
    return std::nullopt;
  }
  auto endpoint = parse_endpoint(*text);
  if (!endpoint || endpoint->host.empty() || endpoint->port == 0) {
    error(f, "bad address " + quote_value(*text) + " (expected HOST:PORT with a port 1..65535" +
                 (optional ? std::string(", or \"\" for off)") : std::string(")")));
    return std::nullopt;
  }
  return std::optional<Endpoint>(*endpoint);
}

void Reader::read_endpoint(const Field& f, Endpoint& out) {
  if (auto v = endpoint_value(f, false)) out = **v;
}

void Reader::read_optional_endpoint(const Field& f, std::optional<Endpoint>& out) {
  if (auto v = endpoint_value(f, true)) out = *v;
}

void Reader::read_topic(const Field& f, std::string& out) {
  auto text = string_value(f);
  if (!text) return;
  if (auto problem = topic_problem(*text); !problem.empty()) {
    error(f, "bad MQTT topic " + quote_value(*text) + ": " + problem);
    return;
  }
  out = std::move(*text);
}

std::string Reader::resolve(const std::string& path) const {
  if (path.empty()) return path;
  fs::path p(path);
  if (p.is_absolute()) return p.lexically_normal().string();
  return (fs::path(base_dir_) / p).lexically_normal().string();
}

void Reader::read_file_path(const Field& f, std::string& out) {
  auto text = string_value(f);
  if (!text) return;
  if (text->empty()) {
    out.clear();
    return;
  }
  if (text->find('\0') != std::string::npos) {
    error(f, "bad file name " + quote_value(*text));
    return;
  }
  std::string path = resolve(*text);
  if (auto problem = unreadable(path); !problem.empty()) {
    error(f, "cannot read " + quote_value(path) + ": " + problem);
    return;
  }
  out = std::move(path);
}

// ---- devices ----

void Reader::device_name(const Field& f, std::string& out) {
  auto text = string_value(f);
  if (!text) return;
  if (auto problem = topic_level_problem(*text); !problem.empty()) {
    error(f, "bad device name " + quote_value(*text) + ": " + problem);
    return;
  }
  if (*text == "bridge") {
    error(f, "the device name \"bridge\" is reserved (<base_topic>/bridge/... are the daemon's own topics)");
    return;
  }
  auto [previous, inserted] = names_.emplace(*text, f.at);
  if (!inserted) {
    error(f, "duplicate device name " + quote_value(*text) + " (first at line " + std::to_string(previous->second.line) +
                 "); names are MQTT keys and must be unique across all bridges");
    return;
  }
  out = std::move(*text);
}

void Reader::unnamed_device(std::string key, Mark at) { unnamed_keys_.emplace_back(std::move(key), at); }

void Reader::check_unnamed_keys() {
  for (const auto& [key, device_at] : unnamed_keys_) {
    auto named = names_.find(key);
    if (named != names_.end())
      error(named->second, "the device name " + quote_value(key) + " is the MQTT key of the unnamed device at line " +
                               std::to_string(device_at.line) + "; choose another name");
  }
}

void Reader::duplicate(const Field& f, std::map<std::string, Mark>& seen, const std::string& key,
                       const std::string& what) {
  auto [previous, inserted] = seen.emplace(key, f.at);
  if (!inserted)
    error(f, "duplicate device: " + what + " is already configured at line " + std::to_string(previous->second.line));
}

}  // namespace lc::config
