// The timeguard section of the config file (docs/config.md "timeguard"): its settings, read,
// checked (the time zone with timezone.h, as the bridge loads it) and shown for bridge/info.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bridges/timeguard/mode.h"
#include "config/bridge_settings.h"

namespace lc::timeguard {

struct ConfiguredDevice {
  uint32_t id = 0;  // written as 8 hex digits
  std::string name;
  config::Mark mark;
};

// Shared keys: enabled, listen (0.0.0.0:9997), offline_after (150s), accept_unknown,
// max_unknown, devices.
struct Settings : config::BridgeSettings {
  Settings() : BridgeSettings(Endpoint{"0.0.0.0", 9997}, std::chrono::seconds(150)) {}

  Mode mode = Mode::local;
  std::optional<Endpoint> upstream = Endpoint{"31.193.128.139", 9997};
  std::string timezone = "Europe/London";
  bool allow_raw_commands = false;
  std::vector<ConfiguredDevice> devices;

  size_t device_count() const override { return devices.size(); }
  nlohmann::json redacted_json() const override;
};

// The section's reader (config::ParseSettings), registered through bridges/vendors.def.
std::shared_ptr<config::BridgeSettings> parse_settings(config::Reader& reader, const config::Field& section);

}  // namespace lc::timeguard
