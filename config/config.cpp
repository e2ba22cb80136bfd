// Loading and validating config/localcloud.yaml (schema: PRODUCT.md "Configuration (YAML)").
//
// The loader walks the YAML tree along the schema only: it never recurses into a node the
// schema does not describe, so alias cycles (`&a [*a]`, which yaml-cpp builds as a real cycle)
// and deep nesting cannot make it loop. Every problem becomes a Diagnostic; nothing throws out.
#include "config/config.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <initializer_list>
#include <map>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>
#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

namespace lc::config {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr size_t kMaxFileBytes = 1 << 20;       // configs beyond 1 MiB are refused
constexpr size_t kMaxDevicesPerBridge = 10000;
constexpr int kMaxUnknownLimit = 10000;
constexpr size_t kMaxDiagnostics = 1000;        // then one "N more" line
constexpr size_t kMaxNameBytes = 128;
constexpr size_t kMaxTopicBytes = 256;
constexpr size_t kMaxPasswordFileBytes = 4096;
constexpr const char* kRedacted = "<redacted>";

// ---- small text helpers ----

bool is_hex_digit(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

uint8_t hex_value(char c) {
  if (c >= '0' && c <= '9') return static_cast<uint8_t>(c - '0');
  if (c >= 'a' && c <= 'f') return static_cast<uint8_t>(c - 'a' + 10);
  return static_cast<uint8_t>(c - 'A' + 10);
}

bool all_hex(std::string_view text) {
  return std::all_of(text.begin(), text.end(), is_hex_digit);
}

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

bool valid_utf8(std::string_view text);

// A user-written value inside a message: quoted, control bytes (and bytes of broken UTF-8)
// escaped, cut at 60 bytes. Never used for secrets.
std::string quote_value(std::string_view text) {
  static const char* digits = "0123456789abcdef";
  std::string out = "\"";
  size_t shown = std::min<size_t>(text.size(), 60);
  while (shown > 0 && shown < text.size() && (static_cast<unsigned char>(text[shown]) & 0xc0) == 0x80) --shown;
  const bool escape_high = !valid_utf8(text.substr(0, shown));
  for (size_t i = 0; i < shown; ++i) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c == 0x7f || (c >= 0x80 && escape_high)) {
      out += "\\x";
      out += digits[c >> 4];
      out += digits[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  if (shown < text.size()) out += "...";
  out += '"';
  return out;
}

bool valid_utf8(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    auto c = static_cast<unsigned char>(text[i]);
    size_t extra;
    uint32_t cp;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xe0) == 0xc0) {
      extra = 1, cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      extra = 2, cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      extra = 3, cp = c & 0x07;
    } else {
      return false;
    }
    if (i + extra >= text.size()) return false;
    for (size_t k = 1; k <= extra; ++k) {
      auto cc = static_cast<unsigned char>(text[i + k]);
      if ((cc & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    if ((extra == 1 && cp < 0x80) || (extra == 2 && cp < 0x800) || (extra == 3 && cp < 0x10000) ||
        cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
      return false;
    i += extra + 1;
  }
  return true;
}

bool has_control(std::string_view text) {
  return std::any_of(text.begin(), text.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7f;
  });
}

// Why `text` cannot be one level of an MQTT topic (a device name becomes <base>/<name>), or "".
std::string topic_level_problem(std::string_view text) {
  if (text.empty()) return "must not be empty";
  if (text.size() > kMaxNameBytes) return "is longer than " + std::to_string(kMaxNameBytes) + " bytes";
  if (text.find_first_of("/+#") != std::string_view::npos)
    return "must not contain '/', '+' or '#' (it becomes one MQTT topic level)";
  if (has_control(text) || !valid_utf8(text)) return "must be printable UTF-8 text";
  return "";
}

// Why `text` cannot be an MQTT topic (or topic prefix) we publish under, or "".
std::string topic_problem(std::string_view text) {
  if (text.empty()) return "must not be empty";
  if (text.size() > kMaxTopicBytes) return "is longer than " + std::to_string(kMaxTopicBytes) + " bytes";
  if (text.find_first_of("+#") != std::string_view::npos) return "must not contain the wildcards '+' or '#'";
  if (text.front() == '$') return "must not start with '$' (reserved for the broker)";
  if (text.front() == '/' || text.back() == '/' || text.find("//") != std::string_view::npos)
    return "must not start or end with '/' or contain an empty level";
  if (has_control(text) || !valid_utf8(text)) return "must be printable UTF-8 text";
  return "";
}

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

bool is_loopback_host(const std::string& host) {
  if (host == "localhost") return true;
  boost::system::error_code ec;
  auto address = boost::asio::ip::make_address(host, ec);
  return !ec && address.is_loopback();
}

std::string hex8(uint32_t value) {
  char text[9];
  std::snprintf(text, sizeof text, "%08x", value);
  return text;
}

std::string errno_text(int err) { return std::strerror(err); }

// Why the file cannot be opened for reading, or "".
std::string unreadable(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return errno_text(errno);
  if (!S_ISREG(st.st_mode)) return "not a regular file";
  if (::access(path.c_str(), R_OK) != 0) return errno_text(errno);
  return "";
}

// Reads at most `limit` bytes. Returns an error text, or "".
std::string read_bounded(const std::string& path, size_t limit, std::string& out, bool& truncated) {
  out.clear();
  truncated = false;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno_text(errno);
  struct stat st {};
  if (::fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
    ::close(fd);
    return "is a directory";
  }
  char buffer[16384];
  while (out.size() <= limit) {
    ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      return errno_text(err);
    }
    if (n == 0) break;
    out.append(buffer, static_cast<size_t>(n));
  }
  ::close(fd);
  if (out.size() > limit) {
    out.resize(limit);
    truncated = true;
  }
  return "";
}

// ---- the loader ----

// A value being read: its dotted path for messages, the node, and where to point at it.
struct Field {
  std::string path;
  YAML::Node node;
  Mark at;
};

Mark mark_of(const YAML::Node& node, Mark fallback) {
  YAML::Mark m = node.Mark();
  // A value left empty ("key:" at the end of a line) is marked where the next token starts;
  // point at its key instead.
  if (m.is_null() || node.IsNull() || m.line < 0 || m.column < 0) return fallback;
  return Mark{m.line + 1, m.column + 1};
}

class Loader {
 public:
  Loader(Config& config, std::vector<Diagnostic>& diagnostics)
      : config_(config), diagnostics_(diagnostics) {}

  void load(std::string_view text) {
    if (text.size() > kMaxFileBytes) {
      error(Mark{1, 1}, "the file is larger than 1 MiB; refusing to read it");
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
      error(at, "YAML nesting is too deep");
      return;
    } catch (const YAML::Exception& e) {
      Mark at{1, 1};
      if (!e.mark.is_null() && e.mark.line >= 0 && e.mark.column >= 0) at = {e.mark.line + 1, e.mark.column + 1};
      error(at, "YAML syntax error: " + e.msg);
      return;
    } catch (const std::exception& e) {
      error(Mark{1, 1}, std::string("YAML syntax error: ") + e.what());
      return;
    }
    try {
      top_level(Field{"", root, Mark{1, 1}});
      if (!config_.miio.enabled && !config_.vesync.enabled && !config_.timeguard.enabled)
        warn(Mark{1, 1}, "no bridge is enabled (add a miio, vesync or timeguard section)");
    } catch (const std::exception& e) {
      // yaml-cpp node access may throw on inputs we did not foresee; report, never crash.
      error(Mark{1, 1}, std::string("cannot read the configuration: ") + e.what());
    }
  }

 private:
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

  void add(Mark at, std::string message, bool warning) {
    Diagnostic d;
    d.file = config_.path;
    d.line = at.line > 0 ? at.line : 1;
    d.column = at.column > 0 ? at.column : 1;
    d.message = std::move(message);
    d.warning = warning;
    if (!warning) ++errors_;
    diagnostics_.push_back(std::move(d));
  }
  void error(Mark at, std::string message) { add(at, std::move(message), false); }
  void warn(Mark at, std::string message) { add(at, std::move(message), true); }
  void error(const Field& f, const std::string& message) { error(f.at, prefix(f) + message); }
  void warn(const Field& f, const std::string& message) { warn(f.at, prefix(f) + message); }
  static std::string prefix(const Field& f) { return f.path.empty() ? "" : f.path + ": "; }

  static std::string describe(const YAML::Node& node) {
    if (node.IsMap()) return "a mapping";
    if (node.IsSequence()) return "a list";
    if (node.IsNull()) return "nothing";
    if (node.IsScalar()) return quote_value(node.Scalar());
    return "something else";
  }

  // ---- structure ----

  // A section: a mapping, or empty ("miio:" alone), which counts as present with defaults.
  bool is_section(const Field& f) {
    if (f.node.IsMap() || f.node.IsNull()) return true;
    error(f, "expected a mapping (indented key: value lines), got " + describe(f.node));
    return false;
  }

  // Calls `handle(key, field)` for every key of the mapping `section`, after checking that the
  // key is a plain word, appears once and is one of `allowed`.
  void for_each_key(const Field& section, std::initializer_list<std::string_view> allowed,
                    const std::function<void(const std::string&, const Field&)>& handle) {
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

  static std::string unknown_key_message(const std::string& key, const std::string& section,
                                         std::initializer_list<std::string_view> allowed) {
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

  // Calls `handle(field)` for every item of a list (an empty value is an empty list).
  void for_each_item(const Field& list, size_t limit, const std::function<void(const Field&)>& handle) {
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

  // ---- scalars ----

  // A string; an empty value reads as "". Numbers and words are taken as written.
  std::optional<std::string> string_value(const Field& f) {
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

  void read_string(const Field& f, std::string& out) {
    if (auto value = string_value(f)) out = std::move(*value);
  }

  void read_bool(const Field& f, bool& out) {
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

  std::optional<long long> integer_value(const Field& f, long long min, long long max, const char* what) {
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

  void read_port(const Field& f, uint16_t& out) {
    if (auto v = integer_value(f, 1, 65535, "the port")) out = static_cast<uint16_t>(*v);
  }

  void read_max_unknown(const Field& f, int& out) {
    if (auto v = integer_value(f, 0, kMaxUnknownLimit, "max_unknown")) out = static_cast<int>(*v);
  }

  // A duration; `positive` rejects zero (an interval or a timeout of nothing).
  void read_duration(const Field& f, Duration& out, bool positive) {
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
  std::optional<std::optional<Endpoint>> endpoint_value(const Field& f, bool optional) {
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

  void read_endpoint(const Field& f, Endpoint& out) {
    if (auto v = endpoint_value(f, false)) out = **v;
  }
  void read_optional_endpoint(const Field& f, std::optional<Endpoint>& out) {
    if (auto v = endpoint_value(f, true)) out = *v;
  }

  void read_topic(const Field& f, std::string& out) {
    auto text = string_value(f);
    if (!text) return;
    if (auto problem = topic_problem(*text); !problem.empty()) {
      error(f, "bad MQTT topic " + quote_value(*text) + ": " + problem);
      return;
    }
    out = std::move(*text);
  }

  // A relative path is taken relative to the config file's directory. "" stays "".
  std::string resolve(const std::string& path) const {
    if (path.empty()) return path;
    fs::path p(path);
    if (p.is_absolute()) return p.lexically_normal().string();
    return (fs::path(config_.base_dir) / p).lexically_normal().string();
  }

  // A file we will only open later (TLS material): resolved, and checked to be readable now.
  void read_file_path(const Field& f, std::string& out) {
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

  // ---- sections ----

  void top_level(const Field& root) {
    if (root.node.IsNull()) return;  // an empty file: every default, no bridge
    if (!root.node.IsMap()) {
      error(root, "expected a mapping of sections (mqtt:, miio:, ...) at the top level, got " + describe(root.node));
      return;
    }
    for_each_key(root, {"mqtt", "homeassistant", "log", "api", "data_dir", "miio", "vesync", "timeguard"},
                 [&](const std::string& key, const Field& f) {
                   if (key == "mqtt") mqtt(f);
                   else if (key == "homeassistant") homeassistant(f);
                   else if (key == "log") log(f);
                   else if (key == "api") api(f);
                   else if (key == "data_dir") data_dir(f);
                   else if (key == "miio") miio(f);
                   else if (key == "vesync") vesync(f);
                   else if (key == "timeguard") timeguard(f);
                 });
    // A name equal to the generated key (<bridge>_<id>) of an unnamed device would share its topics.
    for (const auto& [key, device_at] : generated_keys_) {
      auto named = names_.find(key);
      if (named != names_.end())
        error(named->second, "the device name " + quote_value(key) + " is the MQTT key of the unnamed device at line " +
                                 std::to_string(device_at.line) + "; choose another name");
    }
  }

  void mqtt(const Field& section) {
    if (!is_section(section)) return;
    Mqtt& m = config_.mqtt;
    Field password_at, password_file_at;
    for_each_key(section, {"url", "username", "password", "password_file", "client_id", "base_topic", "tls"},
                 [&](const std::string& key, const Field& f) {
                   if (key == "url") mqtt_url(f);
                   else if (key == "username") read_string(f, m.username);
                   else if (key == "password") read_string(f, m.password), password_at = f;
                   else if (key == "password_file") password_file_at = f;
                   else if (key == "client_id") client_id(f);
                   else if (key == "base_topic") read_topic(f, m.base_topic);
                   else if (key == "tls") tls(f);
                 });
    if (!password_file_at.path.empty()) password_file(password_file_at, password_at);
  }

  void mqtt_url(const Field& f) {
    auto text = string_value(f);
    if (!text) return;
    const std::string expected = " (expected mqtt://HOST:PORT or mqtts://HOST:PORT)";
    std::string_view rest = *text;
    std::string scheme;
    for (const char* s : {"mqtt://", "mqtts://"}) {
      if (rest.substr(0, std::strlen(s)) == s) {
        scheme = s;
        rest.remove_prefix(std::strlen(s));
        break;
      }
    }
    if (scheme.empty()) {
      error(f, "bad broker URL " + quote_value(*text) + expected);
      return;
    }
    if (rest.find('@') != std::string_view::npos) {
      // Do not echo it: the part before '@' is probably a password.
      error(f, "the broker URL must not contain credentials; use mqtt.username and mqtt.password");
      return;
    }
    auto endpoint = parse_endpoint(rest);
    if (!endpoint && !rest.empty() && rest.find('/') == std::string_view::npos &&
        rest.find(':') == std::string_view::npos && !has_control(rest)) {
      // No port: the scheme's standard one.
      endpoint = Endpoint{std::string(rest), static_cast<uint16_t>(scheme == "mqtts://" ? 8883 : 1883)};
    }
    if (!endpoint || endpoint->host.empty() || endpoint->port == 0) {
      error(f, "bad broker URL " + quote_value(*text) + expected);
      return;
    }
    config_.mqtt.url = scheme + endpoint->text();
  }

  void client_id(const Field& f) {
    auto text = string_value(f);
    if (!text) return;
    if (text->empty() || text->size() > kMaxTopicBytes || has_control(*text) || !valid_utf8(*text)) {
      error(f, "client_id must be 1 to " + std::to_string(kMaxTopicBytes) + " bytes of printable UTF-8, got " +
                   quote_value(*text));
      return;
    }
    config_.mqtt.client_id = std::move(*text);
  }

  void password_file(const Field& f, const Field& password_at) {
    auto text = string_value(f);
    if (!text || text->empty()) return;
    if (!config_.mqtt.password.empty()) {
      error(password_at.at, "mqtt: set either password or password_file, not both");
      return;
    }
    std::string path = resolve(*text);
    config_.mqtt.password_file = path;
    if (auto problem = unreadable(path); !problem.empty()) {
      error(f, "cannot read password_file " + quote_value(path) + ": " + problem);
      return;
    }
    std::string content;
    bool truncated = false;
    if (auto problem = read_bounded(path, kMaxPasswordFileBytes, content, truncated); !problem.empty()) {
      error(f, "cannot read password_file " + quote_value(path) + ": " + problem);
      return;
    }
    auto newline = content.find('\n');
    if (newline == std::string::npos && truncated) {
      error(f, "password_file " + quote_value(path) + ": the first line is longer than 4096 bytes");
      return;
    }
    content.resize(std::min(newline, content.size()));
    if (!content.empty() && content.back() == '\r') content.pop_back();
    if (content.empty()) {
      error(f, "password_file " + quote_value(path) + " is empty (the password is its first line)");
      return;
    }
    config_.mqtt.password = std::move(content);
  }

  void tls(const Field& section) {
    if (!is_section(section)) return;
    Tls& t = config_.mqtt.tls;
    for_each_key(section, {"ca_file", "cert_file", "key_file", "insecure"}, [&](const std::string& key, const Field& f) {
      if (key == "ca_file") read_file_path(f, t.ca_file);
      else if (key == "cert_file") read_file_path(f, t.cert_file);
      else if (key == "key_file") read_file_path(f, t.key_file);
      else if (key == "insecure") read_bool(f, t.insecure);
    });
  }

  void homeassistant(const Field& section) {
    if (!is_section(section)) return;
    HomeAssistant& h = config_.homeassistant;
    for_each_key(section, {"discovery", "prefix", "status_topic"}, [&](const std::string& key, const Field& f) {
      if (key == "discovery") read_bool(f, h.discovery);
      else if (key == "prefix") read_topic(f, h.prefix);
      else if (key == "status_topic") read_topic(f, h.status_topic);
    });
  }

  void log(const Field& section) {
    if (!is_section(section)) return;
    Log& l = config_.log;
    for_each_key(section, {"level", "trace", "mask_ids"}, [&](const std::string& key, const Field& f) {
      if (key == "level") {
        auto text = string_value(f);
        if (!text) return;
        Level level;
        if (!parse_level(*text, level)) {
          error(f, "bad log level " + quote_value(*text) + " (expected debug, info, warn or error)");
          return;
        }
        l.level = level;
      } else if (key == "trace") {
        read_bool(f, l.trace);
      } else if (key == "mask_ids") {
        read_bool(f, l.mask_ids);
      }
    });
  }

  void api(const Field& section) {
    if (!is_section(section)) return;
    for_each_key(section, {"listen"}, [&](const std::string&, const Field& f) {
      read_optional_endpoint(f, config_.api.listen);
    });
  }

  void data_dir(const Field& f) {
    auto text = string_value(f);
    if (!text) return;
    if (text->empty() || text->find('\0') != std::string::npos) {
      error(f, "data_dir must name a directory");
      return;
    }
    config_.data_dir = std::move(*text);
  }

  // A device name (the MQTT key): a valid topic level, unique across all bridges.
  void device_name(const Field& f, std::string& out) {
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

  void duplicate(const Field& f, std::map<std::string, Mark>& seen, const std::string& key, const std::string& what) {
    auto [previous, inserted] = seen.emplace(key, f.at);
    if (!inserted)
      error(f, "duplicate device: " + what + " is already configured at line " + std::to_string(previous->second.line));
  }

  void missing(const Field& item, const std::set<std::string>& present, std::initializer_list<const char*> required) {
    for (const char* key : required)
      if (!present.count(key)) error(item, std::string("missing '") + key + "'");
  }

  // ---- miio ----

  void miio(const Field& section) {
    if (!is_section(section)) return;
    Miio& m = config_.miio;
    m.enabled = true;
    for_each_key(section, {"enabled", "listen", "poll_interval", "offline_after", "devices"},
                 [&](const std::string& key, const Field& f) {
                   if (key == "enabled") read_bool(f, m.enabled);
                   else if (key == "listen") read_endpoint(f, m.listen);
                   else if (key == "poll_interval") read_duration(f, m.poll_interval, true);
                   else if (key == "offline_after") read_duration(f, m.offline_after, true);
                   else if (key == "devices") for_each_item(f, kMaxDevicesPerBridge, [&](const Field& item) { miio_device(item); });
                 });
  }

  void miio_device(const Field& item) {
    if (!item.node.IsMap()) {
      error(item, "expected a device (host:, token:, ...), got " + describe(item.node));
      return;
    }
    MiioDevice d;
    d.mark = item.at;
    std::set<std::string> present;
    bool valid = true;
    Field host_at, token_at;
    for_each_key(item, {"name", "host", "port", "token", "model", "did", "cloud_key"},
                 [&](const std::string& key, const Field& f) {
                   present.insert(key);
                   size_t errors_before = error_count();
                   if (key == "name") device_name(f, d.name);
                   else if (key == "host") miio_host(f, d.host), host_at = f;
                   else if (key == "port") read_port(f, d.port);
                   else if (key == "token") miio_token(f, d.token), token_at = f;
                   else if (key == "model") miio_model(f, d.model);
                   else if (key == "did") miio_did(f, d.did);
                   else if (key == "cloud_key") miio_cloud_key(f, d.cloud_key);
                   if (error_count() != errors_before) valid = false;
                 });
    missing(item, present, {"host", "token"});
    if (!present.count("host") || !present.count("token")) valid = false;
    if (d.model.empty()) {
      warn(item, std::string(d.name.empty() ? "" : "device " + quote_value(d.name) + ": ") +
                     "no model given; model will be guessed: asked with miIO.info once the device's cloud session is up");
    }
    if (valid && d.name.empty() && d.did) generated_keys_.emplace_back("miio_" + hex8(*d.did), item.at);
    if (valid) {
      duplicate(host_at, miio_hosts_, lower(d.host) + "#" + std::to_string(d.port),
                "host " + Endpoint{d.host, d.port}.text());
      std::string token_key(reinterpret_cast<const char*>(d.token.data()), d.token.size());
      duplicate(token_at, miio_tokens_, token_key, "the same token");
      if (d.did) duplicate(item, miio_dids_, std::to_string(*d.did), "did " + std::to_string(*d.did));
    }
    config_.miio.devices.push_back(std::move(d));
  }

  void miio_host(const Field& f, std::string& out) {
    auto text = string_value(f);
    if (!text) return;
    boost::system::error_code ec;
    boost::asio::ip::make_address(*text, ec);
    bool name_ok = !text->empty() && text->size() <= 253 &&
                   std::all_of(text->begin(), text->end(), [](char c) {
                     return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                            c == '-' || c == '_';
                   });
    if (ec && !name_ok) {
      std::string hint = text->find(':') != std::string::npos ? " (write the port as port:, not in host)" : "";
      error(f, "bad host " + quote_value(*text) + ": expected an IP address or a host name" + hint);
      return;
    }
    out = std::move(*text);
  }

  void miio_token(const Field& f, std::array<uint8_t, 16>& out) {
    auto text = string_value(f);
    if (!text) return;
    // Never echo a token, even a malformed one.
    if (text->size() != 32 || !all_hex(*text)) {
      error(f, "a miio token is 32 hex digits (got " + std::to_string(text->size()) + " characters" +
                   (all_hex(*text) ? "" : ", not all hex digits") + ")");
      return;
    }
    for (size_t i = 0; i < 16; ++i)
      out[i] = static_cast<uint8_t>(hex_value((*text)[2 * i]) << 4 | hex_value((*text)[2 * i + 1]));
  }

  void miio_model(const Field& f, std::string& out) {
    auto text = string_value(f);
    if (!text) return;
    if (text->size() > 64 || std::any_of(text->begin(), text->end(), [](char c) { return c <= ' ' || c > '~'; })) {
      error(f, "bad model " + quote_value(*text) + " (expected e.g. qmi.powerstrip.v1)");
      return;
    }
    out = std::move(*text);
  }

  void miio_did(const Field& f, std::optional<uint32_t>& out) {
    if (!f.node.IsScalar()) {
      error(f, "expected a device id (decimal or 0x hex), got " + describe(f.node));
      return;
    }
    const std::string& text = f.node.Scalar();
    std::string_view digits = text;
    int base = 10;
    if (digits.size() > 2 && digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X')) {
      digits.remove_prefix(2);
      base = 16;
    }
    uint64_t value = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value, base);
    if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size() || value == 0 ||
        value > 0xffffffffULL) {
      error(f, "bad did " + quote_value(text) + " (expected a device id 1..4294967295, decimal or 0x hex)");
      return;
    }
    out = static_cast<uint32_t>(value);
  }

  void miio_cloud_key(const Field& f, std::string& out) {
    auto text = string_value(f);
    if (!text) return;
    if (text->empty()) {
      out.clear();
      return;
    }
    // Never echo a key, even a malformed one.
    bool printable = std::all_of(text->begin(), text->end(), [](char c) { return c > ' ' && c <= '~'; });
    if (text->size() != 16 || !printable) {
      error(f, "a cloud_key is 16 printable ASCII characters (got " + std::to_string(text->size()) + " bytes" +
                   (printable ? "" : ", not all printable ASCII") + ")");
      return;
    }
    out = std::move(*text);
  }

  // ---- vesync ----

  void vesync(const Field& section) {
    if (!is_section(section)) return;
    Vesync& v = config_.vesync;
    v.enabled = true;
    Field service_listen_at;
    for_each_key(section,
                 {"enabled", "listen", "upstream", "allow_upgrade", "service_listen", "service_token", "poll_interval",
                  "offline_after", "power_decoding", "accept_unknown", "max_unknown", "devices"},
                 [&](const std::string& key, const Field& f) {
                   if (key == "enabled") read_bool(f, v.enabled);
                   else if (key == "listen") read_endpoint(f, v.listen);
                   else if (key == "upstream") read_optional_endpoint(f, v.upstream);
                   else if (key == "allow_upgrade") read_bool(f, v.allow_upgrade);
                   else if (key == "service_listen") read_optional_endpoint(f, v.service_listen), service_listen_at = f;
                   else if (key == "service_token") read_string(f, v.service_token);
                   else if (key == "poll_interval") read_duration(f, v.poll_interval, true);
                   else if (key == "offline_after") read_duration(f, v.offline_after, true);
                   else if (key == "power_decoding") power_decoding(f);
                   else if (key == "accept_unknown") read_bool(f, v.accept_unknown);
                   else if (key == "max_unknown") read_max_unknown(f, v.max_unknown);
                   else if (key == "devices")
                     for_each_item(f, kMaxDevicesPerBridge, [&](const Field& item) { vesync_device(item); });
                 });
    if (v.service_listen && v.service_token.empty() && !is_loopback_host(v.service_listen->host)) {
      warn(service_listen_at, v.service_listen->text() +
                                  " is reachable beyond loopback and no service_token is set: anyone on the network "
                                  "can use the service API");
    }
  }

  void power_decoding(const Field& f) {
    auto text = string_value(f);
    if (!text) return;
    if (*text == "app") config_.vesync.power_decoding = PowerDecoding::app;
    else if (*text == "q12") config_.vesync.power_decoding = PowerDecoding::q12;
    else if (*text == "mean") config_.vesync.power_decoding = PowerDecoding::mean;
    else error(f, "bad power_decoding " + quote_value(*text) + " (expected app, q12 or mean)");
  }

  void vesync_device(const Field& item) {
    if (!item.node.IsMap()) {
      error(item, "expected a device (id:, name:), got " + describe(item.node));
      return;
    }
    VesyncDevice d;
    d.mark = item.at;
    std::set<std::string> present;
    for_each_key(item, {"id", "name"}, [&](const std::string& key, const Field& f) {
      present.insert(key);
      if (key == "name") {
        device_name(f, d.name);
      } else if (key == "id") {
        auto text = string_value(f);
        if (!text) return;
        bool ok = !text->empty() && text->size() <= 64 &&
                  std::all_of(text->begin(), text->end(), [](char c) { return c > ' ' && c <= '~' && c != '/' && c != '+' && c != '#'; });
        if (!ok) {
          error(f, "bad VeSync device id " + quote_value(*text) + " (expected e.g. 443c878f-f675-4c90-98e8-2f4566914d39)");
          return;
        }
        duplicate(f, vesync_ids_, lower(*text), "id " + *text);
        d.id = std::move(*text);
      }
    });
    missing(item, present, {"id"});
    if (d.name.empty() && !d.id.empty()) generated_keys_.emplace_back("vesync_" + lower(d.id), item.at);
    config_.vesync.devices.push_back(std::move(d));
  }

  // ---- timeguard ----

  void timeguard(const Field& section) {
    if (!is_section(section)) return;
    Timeguard& t = config_.timeguard;
    t.enabled = true;
    Field upstream_at;
    for_each_key(section,
                 {"enabled", "listen", "mode", "upstream", "timezone", "offline_after", "allow_raw_commands",
                  "accept_unknown", "max_unknown", "devices"},
                 [&](const std::string& key, const Field& f) {
                   if (key == "enabled") read_bool(f, t.enabled);
                   else if (key == "listen") read_endpoint(f, t.listen);
                   else if (key == "mode") timeguard_mode(f);
                   else if (key == "upstream") read_optional_endpoint(f, t.upstream), upstream_at = f;
                   else if (key == "timezone") timezone(f);
                   else if (key == "offline_after") read_duration(f, t.offline_after, true);
                   else if (key == "allow_raw_commands") read_bool(f, t.allow_raw_commands);
                   else if (key == "accept_unknown") read_bool(f, t.accept_unknown);
                   else if (key == "max_unknown") read_max_unknown(f, t.max_unknown);
                   else if (key == "devices")
                     for_each_item(f, kMaxDevicesPerBridge, [&](const Field& item) { timeguard_device(item); });
                 });
    if (t.mode != TimeguardMode::local && !t.upstream && !upstream_at.path.empty()) {
      error(upstream_at, std::string("mode ") + (t.mode == TimeguardMode::relay ? "relay" : "fallback") +
                             " needs an upstream (HOST:PORT of the Timeguard cloud)");
    }
  }

  void timeguard_mode(const Field& f) {
    auto text = string_value(f);
    if (!text) return;
    if (*text == "local") config_.timeguard.mode = TimeguardMode::local;
    else if (*text == "fallback") config_.timeguard.mode = TimeguardMode::fallback;
    else if (*text == "relay") config_.timeguard.mode = TimeguardMode::relay;
    else error(f, "bad mode " + quote_value(*text) + " (expected local, fallback or relay)");
  }

  // What the Timeguard bridge can load (bridges/timeguard/timezone.h): an IANA name with its
  // file under $TZDIR or /usr/share/zoneinfo, the built-in Europe/London and UTC, or a POSIX
  // TZ string. The bridge parses the rule itself at start; this catches typos for check-config.
  void timezone(const Field& f) {
    auto text = string_value(f);
    if (!text) return;
    std::string_view name = *text;
    if (!name.empty() && name.front() == ':') name.remove_prefix(1);
    auto is_alpha = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); };
    auto is_digit = [](char c) { return c >= '0' && c <= '9'; };
    bool name_shape = !name.empty() && name.size() <= 64 && name.front() != '/' &&
                      name.find("..") == std::string_view::npos &&
                      std::all_of(name.begin(), name.end(), [&](char c) {
                        return is_alpha(c) || is_digit(c) || c == '/' || c == '_' || c == '-' || c == '+';
                      });
    if (name_shape) {
      const char* dir = std::getenv("TZDIR");
      std::string path = std::string(dir && *dir ? dir : "/usr/share/zoneinfo") + "/" + std::string(name);
      static const std::set<std::string, std::less<>> built_in = {"Europe/London", "GB", "UTC", "Etc/UTC", "GMT", "Etc/GMT"};
      std::error_code ec;
      if (fs::is_regular_file(path, ec) || built_in.count(name)) {
        config_.timeguard.timezone = std::move(*text);
        return;
      }
    }
    // POSIX: a zone abbreviation (3+ letters or <...>) followed by an offset, e.g. GMT0BST,M3.5.0/1,M10.5.0.
    size_t abbreviation = 0;
    if (!name.empty() && name.front() == '<') {
      abbreviation = name.find('>');
      abbreviation = abbreviation == std::string_view::npos ? 0 : abbreviation + 1;
    } else {
      while (abbreviation < name.size() && is_alpha(name[abbreviation])) ++abbreviation;
      if (abbreviation < 3) abbreviation = 0;
    }
    bool posix_shape = abbreviation > 0 && abbreviation < name.size() && name.size() <= 64 &&
                       (is_digit(name[abbreviation]) || name[abbreviation] == '+' || name[abbreviation] == '-') &&
                       std::all_of(name.begin(), name.end(), [&](char c) {
                         return is_alpha(c) || is_digit(c) || std::strchr("<>+-,.:/", c) != nullptr;
                       });
    if (posix_shape) {
      config_.timeguard.timezone = std::move(*text);
      return;
    }
    error(f, "unknown timezone " + quote_value(*text) +
                 " (expected an IANA name found in /usr/share/zoneinfo, e.g. Europe/London, or a POSIX TZ rule "
                 "such as GMT0BST,M3.5.0/1,M10.5.0)");
  }

  void timeguard_device(const Field& item) {
    if (!item.node.IsMap()) {
      error(item, "expected a device (id:, name:), got " + describe(item.node));
      return;
    }
    TimeguardDevice d;
    d.mark = item.at;
    bool id_valid = false;
    std::set<std::string> present;
    for_each_key(item, {"id", "name"}, [&](const std::string& key, const Field& f) {
      present.insert(key);
      if (key == "name") {
        device_name(f, d.name);
      } else if (key == "id") {
        // Written as 8 hex digits; unquoted, YAML may take 12345678 for a number, so the text
        // is read as written either way.
        if (!f.node.IsScalar() || f.node.Scalar().size() != 8 || !all_hex(f.node.Scalar())) {
          error(f, "bad Timeguard device id " + describe(f.node) + " (expected 8 hex digits, e.g. \"12345678\")");
          return;
        }
        const std::string& text = f.node.Scalar();
        uint32_t id = 0;
        for (char c : text) id = id << 4 | hex_value(c);
        duplicate(f, timeguard_ids_, lower(text), "id " + lower(text));
        d.id = id;
        id_valid = true;
      }
    });
    missing(item, present, {"id"});
    if (d.name.empty() && id_valid) generated_keys_.emplace_back("timeguard_" + hex8(d.id), item.at);
    config_.timeguard.devices.push_back(std::move(d));
  }

  size_t error_count() const { return errors_; }

  Config& config_;
  std::vector<Diagnostic>& diagnostics_;
  size_t errors_ = 0;
  std::map<std::string, Mark> names_;
  std::vector<std::pair<std::string, Mark>> generated_keys_;
  std::map<std::string, Mark> miio_hosts_, miio_tokens_, miio_dids_, vesync_ids_, timeguard_ids_;
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

LoadResult load_text(std::string_view yaml, const std::string& path) {
  LoadResult result;
  try {
    set_paths(result.config, path);
    Loader loader(result.config, result.diagnostics);
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

nlohmann::json secret(bool set) { return set ? kRedacted : ""; }

nlohmann::json endpoint_json(const std::optional<Endpoint>& endpoint) {
  return endpoint ? endpoint->text() : std::string();
}

std::string plural(size_t count, const char* word) {
  return std::to_string(count) + " " + word + (count == 1 ? "" : "s");
}

}  // namespace

std::string Diagnostic::text() const {
  return file + ":" + std::to_string(line) + ":" + std::to_string(column) + ": " + (warning ? "warning: " : "") +
         message;
}

bool LoadResult::ok() const {
  return std::none_of(diagnostics.begin(), diagnostics.end(), [](const Diagnostic& d) { return !d.warning; });
}

std::string default_path() {
  const char* env = std::getenv("LOCALCLOUD_CONFIG");
  if (env && *env) return env;
  return "config/localcloud.yaml";
}

LoadResult load_file(const std::string& path) {
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
    result.diagnostics.push_back(Diagnostic{
        path, 1, 1, problem.empty() ? "the file is larger than 1 MiB; refusing to read it" : "cannot read the config file: " + problem,
        false});
    return result;
  }
  return load_text(text, path);
}

LoadResult load_string(std::string_view yaml, const std::string& path) { return load_text(yaml, path); }

std::string prepare_data_dir(const Config& config) {
  const std::string& dir = config.data_dir;
  if (dir.empty()) return "data_dir is empty";
  try {
    std::error_code ec;
    fs::path path(dir);
    if (!fs::exists(path, ec)) {
      // Create each missing level with mode 0700 (mkdir -p -m 0700).
      fs::path partial;
      for (const auto& part : path) {
        partial /= part;
        if (partial.empty() || fs::exists(partial, ec)) continue;
        if (::mkdir(partial.c_str(), 0700) != 0 && errno != EEXIST)
          return "cannot create data_dir " + dir + ": " + errno_text(errno);
        ::chmod(partial.c_str(), 0700);  // whatever the umask
      }
    }
    struct stat st {};
    if (::stat(dir.c_str(), &st) != 0) return "cannot create data_dir " + dir + ": " + errno_text(errno);
    if (!S_ISDIR(st.st_mode)) return "data_dir " + dir + " exists and is not a directory";
    if (::access(dir.c_str(), W_OK | X_OK) != 0) return "data_dir " + dir + " is not writable: " + errno_text(errno);
    return "";
  } catch (const std::exception& e) {
    return "cannot create data_dir " + dir + ": " + e.what();
  }
}

nlohmann::json redacted_json(const Config& c) {
  using nlohmann::json;
  json miio_devices = json::array();
  for (const auto& d : c.miio.devices) {
    bool token_set = std::any_of(d.token.begin(), d.token.end(), [](uint8_t b) { return b != 0; });
    miio_devices.push_back({{"name", d.name},
                            {"host", d.host},
                            {"port", d.port},
                            {"token", secret(token_set)},
                            {"model", d.model},
                            {"did", d.did ? json(*d.did) : json(nullptr)},
                            {"cloud_key", secret(!d.cloud_key.empty())}});
  }
  json vesync_devices = json::array();
  for (const auto& d : c.vesync.devices) vesync_devices.push_back({{"id", d.id}, {"name", d.name}});
  json timeguard_devices = json::array();
  for (const auto& d : c.timeguard.devices) {
    timeguard_devices.push_back({{"id", hex8(d.id)}, {"name", d.name}});
  }
  auto power_decoding = [](PowerDecoding p) {
    switch (p) {
      case PowerDecoding::q12: return "q12";
      case PowerDecoding::mean: return "mean";
      default: return "app";
    }
  };
  auto mode = [](TimeguardMode m) {
    switch (m) {
      case TimeguardMode::fallback: return "fallback";
      case TimeguardMode::relay: return "relay";
      default: return "local";
    }
  };
  return json{
      {"config_file", c.path},
      {"mqtt",
       {{"url", c.mqtt.url},
        {"username", c.mqtt.username},
        {"password", secret(!c.mqtt.password.empty())},
        {"password_file", c.mqtt.password_file},
        {"client_id", c.mqtt.client_id},
        {"base_topic", c.mqtt.base_topic},
        {"tls",
         {{"ca_file", c.mqtt.tls.ca_file},
          {"cert_file", c.mqtt.tls.cert_file},
          {"key_file", c.mqtt.tls.key_file},
          {"insecure", c.mqtt.tls.insecure}}}}},
      {"homeassistant",
       {{"discovery", c.homeassistant.discovery},
        {"prefix", c.homeassistant.prefix},
        {"status_topic", c.homeassistant.status_topic}}},
      {"log", {{"level", std::string(level_name(c.log.level))}, {"trace", c.log.trace}, {"mask_ids", c.log.mask_ids}}},
      {"api", {{"listen", endpoint_json(c.api.listen)}}},
      {"data_dir", c.data_dir},
      {"miio",
       {{"enabled", c.miio.enabled},
        {"listen", c.miio.listen.text()},
        {"poll_interval", format_duration(c.miio.poll_interval)},
        {"offline_after", format_duration(c.miio.offline_after)},
        {"devices", miio_devices}}},
      {"vesync",
       {{"enabled", c.vesync.enabled},
        {"listen", c.vesync.listen.text()},
        {"upstream", endpoint_json(c.vesync.upstream)},
        {"allow_upgrade", c.vesync.allow_upgrade},
        {"service_listen", endpoint_json(c.vesync.service_listen)},
        {"service_token", secret(!c.vesync.service_token.empty())},
        {"poll_interval", format_duration(c.vesync.poll_interval)},
        {"offline_after", format_duration(c.vesync.offline_after)},
        {"power_decoding", power_decoding(c.vesync.power_decoding)},
        {"accept_unknown", c.vesync.accept_unknown},
        {"max_unknown", c.vesync.max_unknown},
        {"devices", vesync_devices}}},
      {"timeguard",
       {{"enabled", c.timeguard.enabled},
        {"listen", c.timeguard.listen.text()},
        {"mode", mode(c.timeguard.mode)},
        {"upstream", endpoint_json(c.timeguard.upstream)},
        {"timezone", c.timeguard.timezone},
        {"offline_after", format_duration(c.timeguard.offline_after)},
        {"allow_raw_commands", c.timeguard.allow_raw_commands},
        {"accept_unknown", c.timeguard.accept_unknown},
        {"max_unknown", c.timeguard.max_unknown},
        {"devices", timeguard_devices}}},
  };
}

std::string summary(const Config& c) {
  auto bridge = [](bool enabled, size_t devices) {
    return enabled ? plural(devices, "device") : std::string("off");
  };
  return c.path + ": ok (miio: " + bridge(c.miio.enabled, c.miio.devices.size()) +
         ", vesync: " + bridge(c.vesync.enabled, c.vesync.devices.size()) +
         ", timeguard: " + bridge(c.timeguard.enabled, c.timeguard.devices.size()) + "; broker " + c.mqtt.url + ")";
}

}  // namespace lc::config
