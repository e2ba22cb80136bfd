// How the Timeguard endpoint stands in for the cloud (endpoint.h): local, fallback or relay.
#pragma once

#include <optional>
#include <string_view>

namespace lc::timeguard {

enum class Mode { local, fallback, relay };

// Its name in the config file (timeguard.mode) and in log lines.
inline const char* mode_name(Mode mode) {
  switch (mode) {
    case Mode::local: return "local";
    case Mode::fallback: return "fallback";
    case Mode::relay: return "relay";
  }
  return "local";
}

inline std::optional<Mode> parse_mode(std::string_view name) {
  for (auto mode : {Mode::local, Mode::fallback, Mode::relay})
    if (name == mode_name(mode)) return mode;
  return std::nullopt;
}

}  // namespace lc::timeguard
