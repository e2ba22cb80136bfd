#include "bridges/miio/model_yaml.h"

#include <charconv>
#include <cmath>
#include <map>

#include "config/text.h"

namespace lc::miio {

using config::Field;
using config::Reader;

bool ModelYaml::visit(const Field& where, size_t entries) {
  const bool was_over = over_budget();
  visits_ += entries;
  if (!over_budget()) return true;
  if (!was_over) error(where, "more than " + std::to_string(kMaxVisits) + " " + std::string(kBudgetMessage) + "; the rest is not read");
  return false;
}

bool ModelYaml::for_each_key(const Field& f, std::initializer_list<std::string_view> allowed,
                             const Reader::KeyHandler& handle) {
  if (!f.node.IsMap()) {
    error(f, "expected a mapping (key: value lines), got " + Reader::describe(f.node));
    return false;
  }
  if (!visit(f, f.node.size())) return false;
  reader_.for_each_key(f, allowed, handle);
  return true;
}

void ModelYaml::for_each_item(const Field& f, size_t limit, const Reader::ItemHandler& handle) {
  if (!f.node.IsSequence()) {
    error(f, "expected a list (lines starting with '- '), got " + Reader::describe(f.node));
    return;
  }
  if (f.node.size() > limit) {
    error(f, "more than " + std::to_string(limit) + " entries");
    return;
  }
  if (!visit(f, f.node.size())) return;
  reader_.for_each_item(f, limit, handle);
}

void ModelYaml::for_each_pair(const Field& f, size_t limit,
                              const std::function<void(const Field& key, const Field& value)>& handle) {
  if (!f.node.IsMap()) {
    error(f, "expected a mapping (key: value lines), got " + Reader::describe(f.node));
    return;
  }
  if (f.node.size() > limit) {
    error(f, "more than " + std::to_string(limit) + " entries");
    return;
  }
  if (!visit(f, f.node.size())) return;
  std::map<std::string, int> seen;  // key -> line
  for (auto it = f.node.begin(); it != f.node.end(); ++it) {
    const YAML::Node key_node = it->first;
    const config::Mark key_at = config::mark_of(key_node, f.at);
    if (!key_node.IsScalar()) {
      error(key_at, f.path + ": expected a plain value as the key, got " + Reader::describe(key_node));
      continue;
    }
    const auto [previous, inserted] = seen.emplace(key_node.Scalar(), key_at.line);
    if (!inserted) {
      error(key_at, f.path + ": duplicate key " + config::quote_value(key_node.Scalar()) + " (first at line " +
                        std::to_string(previous->second) + ")");
      continue;
    }
    const std::string path = f.path + "[" + config::quote_value(key_node.Scalar()) + "]";
    const YAML::Node value = it->second;
    handle(Field{path, key_node, key_at}, Field{path, value, config::mark_of(value, key_at)});
  }
}

std::optional<std::string> ModelYaml::text(const Field& f, size_t max_bytes) {
  if (!f.node.IsScalar()) {
    error(f, "expected text, got " + Reader::describe(f.node));
    return std::nullopt;
  }
  const std::string& value = f.node.Scalar();
  if (config::has_control(value) || !config::valid_utf8(value)) {
    error(f, "expected printable UTF-8 text, got " + config::quote_value(value));
    return std::nullopt;
  }
  if (value.size() > max_bytes) {
    error(f, "longer than " + std::to_string(max_bytes) + " bytes");
    return std::nullopt;
  }
  return value;
}

std::optional<bool> ModelYaml::boolean(const Field& f) {
  const size_t errors_before = errors();
  bool value = false;
  reader_.read_bool(f, value);
  if (errors() != errors_before) return std::nullopt;
  return value;
}

std::optional<long long> ModelYaml::integer(const Field& f, long long min, long long max) {
  if (f.node.IsScalar()) {
    const std::string& text = f.node.Scalar();
    long long value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (!text.empty() && end == text.data() + text.size() && ec != std::errc::invalid_argument) {
      if (ec == std::errc() && value >= min && value <= max) return value;
      error(f, "must be between " + std::to_string(min) + " and " + std::to_string(max) + ", got " +
                   config::quote_value(text));
      return std::nullopt;
    }
  }
  error(f, "expected a whole number, got " + Reader::describe(f.node));
  return std::nullopt;
}

std::optional<double> ModelYaml::number(const Field& f) {
  if (f.node.IsScalar()) {
    const std::string& text = f.node.Scalar();
    double value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    // from_chars also reads "inf" and "nan"; neither is a number here.
    if (!text.empty() && end == text.data() + text.size() && ec == std::errc() && std::isfinite(value)) return value;
  }
  error(f, "expected a number, got " + Reader::describe(f.node));
  return std::nullopt;
}

}  // namespace lc::miio
