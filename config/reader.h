// The YAML walk of the config file with typed getters, shared by config/ and every bridge's
// section reader (bridges/<vendor>/config.cpp). Every problem becomes a Diagnostic at the
// line and column of the offending key or value, prefixed with the dotted path of the value
// ("mqtt.tls.ca_file: ..."); nothing throws.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "config/diagnostic.h"
#include "core/duration.h"
#include "core/net.h"

namespace lc::config {

// A value being read: its dotted path for messages, the node, and where to point at it.
struct Field {
  std::string path;
  YAML::Node node;
  Mark at;
};

// Where `node` starts, else `fallback` (a value left empty is marked where the next token
// starts; its key is the better place to point at).
Mark mark_of(const YAML::Node& node, Mark fallback);

class Reader {
 public:
  using KeyHandler = std::function<void(const std::string& key, const Field& value)>;
  using ItemHandler = std::function<void(const Field& item)>;
  static constexpr size_t kMaxDocumentBytes = 1 << 20;

  // Problems go to `diagnostics` under the name `file`; relative paths resolve against
  // `base_dir`.
  Reader(std::string file, std::string base_dir, std::vector<Diagnostic>& diagnostics);

  // ---- the document ----
  // `text` as one YAML document, or nullopt with the problem reported (larger than
  // kMaxDocumentBytes, a syntax error, more than one document, nesting beyond yaml-cpp's guard).
  // An empty text is a null node. Never throws.
  std::optional<YAML::Node> parse(std::string_view text);

  // ---- diagnostics ----
  void error(Mark at, std::string message);
  void warn(Mark at, std::string message);
  void error(const Field& f, const std::string& message);  // "path: message" at the field
  void warn(const Field& f, const std::string& message);
  size_t error_count() const { return errors_; }

  // ---- structure ----
  // A mapping, or empty ("mqtt:" alone), which counts as present with defaults.
  bool is_section(const Field& f);
  // Calls `handle(key, field)` for every key of the mapping `section`, after checking that
  // the key is a plain word, appears once and is one of `allowed` (else an error naming the
  // closest allowed key, or all of them in this order).
  void for_each_key(const Field& section, std::span<const std::string_view> allowed, const KeyHandler& handle);
  void for_each_key(const Field& section, std::initializer_list<std::string_view> allowed, const KeyHandler& handle) {
    for_each_key(section, std::span<const std::string_view>(allowed.begin(), allowed.size()), handle);
  }
  // Calls `handle(item)` for every item of a list of at most `limit` items (an empty value is
  // an empty list).
  void for_each_item(const Field& list, size_t limit, const ItemHandler& handle);
  // An error at `item` for each of `required` not in `present`.
  void missing(const Field& item, const std::set<std::string>& present, std::initializer_list<const char*> required);
  // "a mapping", "a list", "nothing" or the quoted scalar: what was found instead.
  static std::string describe(const YAML::Node& node);

  // ---- scalars (each reports its own errors; `out` is left alone on one) ----
  // A string; an empty value reads as "". Numbers and words are taken as written.
  std::optional<std::string> string_value(const Field& f);
  void read_string(const Field& f, std::string& out);
  void read_bool(const Field& f, bool& out);
  // `what` names the value in range errors ("the port must be between 1 and 65535").
  std::optional<long long> integer_value(const Field& f, long long min, long long max, const char* what);
  void read_port(const Field& f, uint16_t& out);
  // A duration (core/duration.h); `positive` rejects zero (an interval or a timeout of nothing).
  void read_duration(const Field& f, Duration& out, bool positive);
  void read_endpoint(const Field& f, Endpoint& out);                     // HOST:PORT
  void read_optional_endpoint(const Field& f, std::optional<Endpoint>& out);  // "" = off
  void read_topic(const Field& f, std::string& out);
  // A relative path is taken relative to the config file's directory. "" stays "".
  std::string resolve(const std::string& path) const;
  // A file we will only open later (TLS material): resolved, and checked to be readable now.
  void read_file_path(const Field& f, std::string& out);

  // ---- devices ----
  // A device name (its MQTT key): a valid topic level, not "bridge", unique across all bridges.
  void device_name(const Field& f, std::string& out);
  // An unnamed device's MQTT key (<bridge>_<id>): no configured name may take it.
  void unnamed_device(std::string key, Mark at);
  // After every section: a name equal to the key of an unnamed device is an error.
  void check_unnamed_keys();
  // "duplicate device: <what> is already configured at line N" when `key` is in `seen`.
  void duplicate(const Field& f, std::map<std::string, Mark>& seen, const std::string& key, const std::string& what);

 private:
  void add(Mark at, std::string message, bool warning);
  bool single_document(const std::string& input);
  std::optional<std::optional<Endpoint>> endpoint_value(const Field& f, bool optional);

  std::string file_;
  std::string base_dir_;
  std::vector<Diagnostic>& diagnostics_;
  size_t errors_ = 0;
  std::map<std::string, Mark> names_;
  std::vector<std::pair<std::string, Mark>> unnamed_keys_;
};

}  // namespace lc::config
