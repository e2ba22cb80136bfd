#include "config/text.h"

#include <algorithm>
#include <cstdint>

namespace lc::config {

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

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

std::string topic_level_problem(std::string_view text) {
  if (text.empty()) return "must not be empty";
  if (text.size() > kMaxNameBytes) return "is longer than " + std::to_string(kMaxNameBytes) + " bytes";
  if (text.find_first_of("/+#") != std::string_view::npos)
    return "must not contain '/', '+' or '#' (it becomes one MQTT topic level)";
  if (has_control(text) || !valid_utf8(text)) return "must be printable UTF-8 text";
  return "";
}

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

}  // namespace lc::config
