#include "bridges/miio/yaml_walk.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <map>
#include <set>
#include <sstream>

#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/eventhandler.h>

namespace lc::miio::yaml {
namespace {

Mark mark_of(const YAML::Node& node, Mark fallback) {
  const YAML::Mark m = node.Mark();
  // An empty value ("key:" at the end of a line) is marked where the next token starts: point
  // at its key instead.
  if (m.is_null() || node.IsNull() || m.line < 0 || m.column < 0) return fallback;
  return Mark{m.line + 1, m.column + 1};
}

Mark mark_of(const YAML::Mark& m) {
  if (m.is_null() || m.line < 0 || m.column < 0) return Mark{};
  return Mark{m.line + 1, m.column + 1};
}

bool valid_utf8(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    size_t extra = 0;
    uint32_t cp = 0;
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
      const auto cc = static_cast<unsigned char>(text[i + k]);
      if ((cc & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    if ((extra == 1 && cp < 0x80) || (extra == 2 && cp < 0x800) || (extra == 3 && cp < 0x10000) || cp > 0x10ffff ||
        (cp >= 0xd800 && cp <= 0xdfff))
      return false;
    i += extra + 1;
  }
  return true;
}

// Edits (insert, delete, replace) from a to b, for "did you mean".
size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> previous(b.size() + 1), current(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) previous[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    current[0] = i;
    for (size_t j = 1; j <= b.size(); ++j)
      current[j] = std::min({previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
    std::swap(previous, current);
  }
  return previous[b.size()];
}

std::string unknown_key_message(const std::string& key, const std::string& where,
                                std::initializer_list<std::string_view> allowed) {
  std::string message = "unknown key " + quote(key) + (where.empty() ? "" : " in " + where);
  std::string_view best;
  size_t best_distance = SIZE_MAX;
  if (key.size() <= 64) {
    for (auto candidate : allowed) {
      const size_t d = edit_distance(key, candidate);
      if (d < best_distance) best_distance = d, best = candidate;
    }
  }
  if (!best.empty() && best_distance <= std::max<size_t>(1, best.size() / 3)) {
    message += " (did you mean '" + std::string(best) + "'?)";
  } else {
    message += " (allowed: ";
    bool first = true;
    for (auto candidate : allowed) {
      message += (first ? "" : ", ") + std::string(candidate);
      first = false;
    }
    message += ")";
  }
  return message;
}

}  // namespace

std::string quote(std::string_view text) {
  static const char* digits = "0123456789abcdef";
  std::string out = "\"";
  size_t shown = std::min<size_t>(text.size(), 60);
  while (shown > 0 && shown < text.size() && (static_cast<unsigned char>(text[shown]) & 0xc0) == 0x80) --shown;
  const bool escape_high = !valid_utf8(text.substr(0, shown));
  for (size_t i = 0; i < shown; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
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
  return out + "\"";
}

std::optional<Field> Walker::parse(std::string_view text) {
  if (text.size() > kMaxTextBytes) {
    error(Mark{}, "the text is larger than 1 MiB; refusing to read it");
    return std::nullopt;
  }
  const std::string input(text);
  try {
    if (!single_document(input)) return std::nullopt;
    return Field{"", YAML::Load(input), Mark{}};
  } catch (const YAML::DeepRecursion& e) {
    // yaml-cpp stops at 500 levels with the message "bad file"; say what it means.
    error(mark_of(e.mark), "YAML nesting is too deep");
  } catch (const YAML::Exception& e) {
    error(mark_of(e.mark), "YAML syntax error: " + e.msg);
  } catch (const std::exception& e) {
    error(Mark{}, std::string("YAML syntax error: ") + e.what());
  }
  return std::nullopt;
}

// yaml-cpp 0.7 hands out a document that consumes no token again and again (a stray ',' at the
// top level loops YAML::LoadAll forever: yaml-cpp#1040, fixed upstream in #1319), so documents
// are counted with a parser driven here that stops at the first one making no progress.
bool Walker::single_document(const std::string& input) {
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
      error(mark_of(starts.back()), "YAML syntax error: unexpected text");
      return false;
    }
  }
  if (documents.starts.size() > 1) {
    error(mark_of(documents.starts[1]), "only one YAML document is allowed (remove the '---')");
    return false;
  }
  return true;
}

void Walker::error(Mark at, std::string message) {
  ++errors_;
  if (out_.size() > kMaxDiagnostics) return;
  config::Diagnostic d;
  d.file = file_;
  d.line = std::max(at.line, 1);
  d.column = std::max(at.column, 1);
  d.message = out_.size() == kMaxDiagnostics ? "too many errors; the rest are not shown" : std::move(message);
  out_.push_back(std::move(d));
}

void Walker::error(const Field& f, const std::string& message) {
  error(f.at, f.path.empty() ? message : f.path + ": " + message);
}

std::string Walker::describe(const YAML::Node& node) {
  if (node.IsMap()) return "a mapping";
  if (node.IsSequence()) return "a list";
  if (node.IsNull()) return "nothing";
  if (node.IsScalar()) return quote(node.Scalar());
  return "something else";
}

bool Walker::visit(const Field& where) {
  if (++visits_ <= kMaxVisits) return true;
  if (visits_ == kMaxVisits + 1) {
    // Said even past the cap on diagnostics: it explains why the rest was not read.
    ++errors_;
    out_.push_back(config::Diagnostic{file_, std::max(where.at.line, 1), std::max(where.at.column, 1),
                                      "more than " + std::to_string(kMaxVisits) +
                                          " values in all (aliases count each time they are used); the rest is not read",
                                      false});
  }
  return false;
}

bool Walker::expect_mapping(const Field& f) {
  if (f.node.IsMap()) return true;
  error(f, "expected a mapping (key: value lines), got " + describe(f.node));
  return false;
}

void Walker::for_each_key(const Field& mapping, std::initializer_list<std::string_view> allowed,
                          const std::function<void(const std::string&, const Field&)>& handle) {
  if (!expect_mapping(mapping)) return;
  std::map<std::string, int> seen;  // key -> line
  for (auto it = mapping.node.begin(); it != mapping.node.end(); ++it) {
    if (!visit(mapping)) return;
    const YAML::Node key_node = it->first;
    const Mark key_at = mark_of(key_node, mapping.at);
    if (!key_node.IsScalar()) {
      error(key_at, (mapping.path.empty() ? "" : mapping.path + ": ") + "expected a plain key, got " +
                        describe(key_node));
      continue;
    }
    const std::string& key = key_node.Scalar();
    const auto [previous, inserted] = seen.emplace(key, key_at.line);
    if (!inserted) {
      error(key_at, "duplicate key " + quote(key) + (mapping.path.empty() ? "" : " in " + mapping.path) +
                        " (first at line " + std::to_string(previous->second) + ")");
      continue;
    }
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      error(key_at, unknown_key_message(key, mapping.path, allowed));
      continue;
    }
    const YAML::Node value = it->second;
    handle(key, Field{mapping.path.empty() ? key : mapping.path + "." + key, value, mark_of(value, key_at)});
  }
}

void Walker::for_each_pair(const Field& mapping, size_t limit,
                           const std::function<void(const Field&, const Field&)>& handle) {
  if (!expect_mapping(mapping)) return;
  if (mapping.node.size() > limit) {
    error(mapping, "more than " + std::to_string(limit) + " entries");
    return;
  }
  std::map<std::string, int> seen;
  for (auto it = mapping.node.begin(); it != mapping.node.end(); ++it) {
    if (!visit(mapping)) return;
    const YAML::Node key_node = it->first;
    const Mark key_at = mark_of(key_node, mapping.at);
    if (!key_node.IsScalar()) {
      error(key_at, mapping.path + ": expected a plain value as the key, got " + describe(key_node));
      continue;
    }
    const auto [previous, inserted] = seen.emplace(key_node.Scalar(), key_at.line);
    if (!inserted) {
      error(key_at, mapping.path + ": duplicate key " + quote(key_node.Scalar()) + " (first at line " +
                        std::to_string(previous->second) + ")");
      continue;
    }
    const std::string path = mapping.path + "[" + quote(key_node.Scalar()) + "]";
    const YAML::Node value = it->second;
    handle(Field{path, key_node, key_at}, Field{path, value, mark_of(value, key_at)});
  }
}

void Walker::for_each_item(const Field& list, size_t limit, const std::function<void(const Field&)>& handle) {
  if (!list.node.IsSequence()) {
    error(list, "expected a list (lines starting with '- '), got " + describe(list.node));
    return;
  }
  if (list.node.size() > limit) {
    error(list, "more than " + std::to_string(limit) + " entries");
    return;
  }
  size_t index = 0;
  for (auto it = list.node.begin(); it != list.node.end(); ++it, ++index) {
    if (!visit(list)) return;
    const YAML::Node item = *it;
    handle(Field{list.path + "[" + std::to_string(index) + "]", item, mark_of(item, list.at)});
  }
}

std::optional<std::string> Walker::text(const Field& f, size_t max_bytes) {
  if (!f.node.IsScalar()) {
    error(f, "expected text, got " + describe(f.node));
    return std::nullopt;
  }
  const std::string& value = f.node.Scalar();
  const bool control = std::any_of(value.begin(), value.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7f;
  });
  if (control || !valid_utf8(value)) {
    error(f, "expected printable UTF-8 text, got " + quote(value));
    return std::nullopt;
  }
  if (value.size() > max_bytes) {
    error(f, "longer than " + std::to_string(max_bytes) + " bytes");
    return std::nullopt;
  }
  return value;
}

std::optional<bool> Walker::boolean(const Field& f) {
  // The same words the config file accepts (config/config.cpp read_bool).
  static const std::set<std::string, std::less<>> yes = {"true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON"};
  static const std::set<std::string, std::less<>> no = {"false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF"};
  if (f.node.IsScalar()) {
    if (yes.count(f.node.Scalar())) return true;
    if (no.count(f.node.Scalar())) return false;
  }
  error(f, "expected true or false, got " + describe(f.node));
  return std::nullopt;
}

std::optional<long long> Walker::integer(const Field& f, long long min, long long max) {
  if (f.node.IsScalar()) {
    const std::string& text = f.node.Scalar();
    long long value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (!text.empty() && end == text.data() + text.size() && ec != std::errc::invalid_argument) {
      if (ec == std::errc() && value >= min && value <= max) return value;
      error(f, "must be between " + std::to_string(min) + " and " + std::to_string(max) + ", got " + quote(text));
      return std::nullopt;
    }
  }
  error(f, "expected a whole number, got " + describe(f.node));
  return std::nullopt;
}

std::optional<double> Walker::number(const Field& f) {
  if (f.node.IsScalar()) {
    const std::string& text = f.node.Scalar();
    double value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    // from_chars also reads "inf" and "nan"; neither is a number here.
    if (!text.empty() && end == text.data() + text.size() && ec == std::errc() && std::isfinite(value)) return value;
  }
  error(f, "expected a number, got " + describe(f.node));
  return std::nullopt;
}

}  // namespace lc::miio::yaml
