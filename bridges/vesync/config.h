// The vesync section of the config file (docs/config.md "vesync"): its settings, read, checked
// and shown with the service token redacted.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bridges/vesync/codec.h"
#include "config/bridge_settings.h"

namespace lc::vesync {

struct ConfiguredDevice {
  std::string id;  // e.g. 443c878f-f675-4c90-98e8-2f4566914d39 (compared case-insensitively)
  std::string name;
  config::Mark mark;
};

// Shared keys: enabled, listen (0.0.0.0:17273), offline_after (10m), accept_unknown,
// max_unknown, devices.
struct Settings : config::BridgeSettings {
  Settings() : BridgeSettings(Endpoint{"0.0.0.0", 17273}, std::chrono::minutes(10)) {}

  std::optional<Endpoint> upstream;        // empty: terminate locally only
  bool allow_upgrade = false;
  std::optional<Endpoint> service_listen;  // empty: the service API is off
  std::string service_token;               // secret
  Duration poll_interval = std::chrono::seconds(60);
  PowerDecoding power_decoding = PowerDecoding::app;
  std::vector<ConfiguredDevice> devices;

  size_t device_count() const override { return devices.size(); }
  nlohmann::json redacted_json() const override;
};

// True when the service API listens beyond loopback without a service_token: anyone on the
// network can switch the outlets (a warning at check-config and at start).
bool service_api_open(const Settings& settings);

// The section's reader (config::ParseSettings), registered through bridges/vendors.def.
std::shared_ptr<config::BridgeSettings> parse_settings(config::Reader& reader, const config::Field& section);

}  // namespace lc::vesync
