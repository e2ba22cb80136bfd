// Durations as the config file and the simulators' options write them: "250ms", "30s", "5m",
// "1h" or a bare number of seconds ("90", "1.5").
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace lc {

using Duration = std::chrono::milliseconds;

// Not negative, at most one year; nullopt on anything else (signs, exponents, spaces, "inf").
std::optional<Duration> parse_duration(std::string_view text);

// The largest unit that divides it: "2h", "5m", "30s", "250ms" ("0s" for zero).
std::string format_duration(Duration duration);

}  // namespace lc
