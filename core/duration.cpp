#include "core/duration.h"

#include <algorithm>
#include <charconv>
#include <cmath>

namespace lc {
namespace {

constexpr Duration kMaxDuration = std::chrono::hours(24 * 365);

}  // namespace

std::optional<Duration> parse_duration(std::string_view text) {
  if (text.empty() || text.size() > 32) return std::nullopt;
  double unit_ms = 1000;
  std::string_view number = text;
  auto ends_with = [&](std::string_view suffix) {
    return number.size() > suffix.size() && number.substr(number.size() - suffix.size()) == suffix;
  };
  if (ends_with("ms")) unit_ms = 1, number.remove_suffix(2);
  else if (ends_with("s")) unit_ms = 1000, number.remove_suffix(1);
  else if (ends_with("m")) unit_ms = 60000, number.remove_suffix(1);
  else if (ends_with("h")) unit_ms = 3600000, number.remove_suffix(1);
  // Digits with at most one '.', nothing else: no sign, exponent, spaces, "inf" or "nan".
  if (number.empty() || number == "." ||
      !std::all_of(number.begin(), number.end(), [](char c) { return (c >= '0' && c <= '9') || c == '.'; }) ||
      std::count(number.begin(), number.end(), '.') > 1)
    return std::nullopt;
  double value = 0;
  auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), value, std::chars_format::fixed);
  if (ec != std::errc() || end != number.data() + number.size() || !std::isfinite(value)) return std::nullopt;
  double ms = value * unit_ms;
  if (!std::isfinite(ms) || ms < 0 || ms > static_cast<double>(kMaxDuration.count())) return std::nullopt;
  return Duration(static_cast<Duration::rep>(std::llround(ms)));
}

std::string format_duration(Duration duration) {
  auto ms = duration.count();
  if (ms != 0 && ms % 3600000 == 0) return std::to_string(ms / 3600000) + "h";
  if (ms != 0 && ms % 60000 == 0) return std::to_string(ms / 60000) + "m";
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

}  // namespace lc
