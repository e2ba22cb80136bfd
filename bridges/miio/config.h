// The miio section of the config file (docs/config.md "miio"): its settings, read, checked
// and shown with the tokens and cloud keys redacted; `models` are definitions in the schema of
// docs/miio.md "Writing a definition", checked by the model loader.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bridges/miio/crypto.h"
#include "bridges/miio/model_def.h"
#include "config/bridge_settings.h"

namespace lc::miio {

struct ConfiguredDevice {
  std::string name;       // optional; the MQTT key when set
  std::string host;
  uint16_t port = 54321;
  Token token{};          // secret
  std::string model;      // empty: asked with miIO.info
  std::optional<uint32_t> did;  // empty: learned from the handshake
  std::string cloud_key;  // secret; empty or 16 ASCII characters
  config::Mark mark;
};

// Shared keys: enabled, listen (0.0.0.0:8053), offline_after (90s), devices. The Hub admits no
// unknown miio device (its token is needed), so accept_unknown and max_unknown are not keys here.
struct Settings : config::BridgeSettings {
  Settings() : BridgeSettings(Endpoint{"0.0.0.0", 8053}, std::chrono::seconds(90)) {}

  Duration poll_interval = std::chrono::seconds(30);
  std::vector<ConfiguredDevice> devices;
  // miio.models: more definitions; one named like a shipped model replaces it (catalog.h).
  std::vector<ModelDef> models;

  size_t device_count() const override { return devices.size(); }
  nlohmann::json redacted_json() const override;
  std::string models_listing() const override;
};

// The section's reader (config::ParseSettings), registered through bridges/vendors.def.
std::shared_ptr<config::BridgeSettings> parse_settings(config::Reader& reader, const config::Field& section);

}  // namespace lc::miio
