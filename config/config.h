// The configuration file (docs/config.md) as typed structs, and its loader.
// config/ holds the daemon's own sections (mqtt, homeassistant, log, api, data_dir); each
// bridge reads its own section (config/bridge_settings.h), and the loader is handed the
// sections of the registered bridges.
// Every error is reported as "FILE:LINE:COL: message" (1-based), all of them, not just the first.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "config/bridge_settings.h"
#include "config/diagnostic.h"
#include "core/log.h"
#include "core/net.h"

namespace lc::config {

struct Tls {
  std::string ca_file;    // resolved against the config file's directory
  std::string cert_file;
  std::string key_file;
  bool insecure = false;
};

struct Mqtt {
  std::string url = "mqtt://127.0.0.1:1883";  // mqtt:// or mqtts://
  std::string username;
  std::string password;       // secret; from password_file when that is given
  std::string password_file;  // resolved path
  std::string client_id = "localcloud";
  std::string base_topic = "localcloud";
  Tls tls;
};

struct HomeAssistant {
  bool discovery = true;
  std::string prefix = "homeassistant";
  std::string status_topic = "homeassistant/status";
};

struct Log {
  Level level = Level::info;
  bool trace = false;
  bool mask_ids = true;
  // Lines at or above this go to <base>/bridge/logging; kLogOff (core/log.h) for "off".
  Level mqtt = Level::warn;
};

struct Api {
  std::optional<Endpoint> listen = Endpoint{"127.0.0.1", 8080};  // "" turns the API off
  // Secret: when set, every mutating API request carries "Authorization: Bearer <token>".
  std::string token;
  // "" or an http(s) URL: Home Assistant's "visit device" link (configuration_url).
  std::string public_url;
};

// log.mqtt as written: "off", "error", "warn", "info" or "debug".
std::string_view mqtt_log_level_name(Level level);
// "off" or a log level (parse_level's words); false for anything else.
bool parse_mqtt_log_level(std::string_view text, Level& out);

// One registered bridge's section as loaded.
struct BridgeConfig {
  std::string name;
  std::shared_ptr<const BridgeSettings> settings;
};

struct Config {
  std::string path;      // the file it was loaded from
  std::string base_dir;  // its directory; relative paths are resolved against it
  Mqtt mqtt;
  HomeAssistant homeassistant;
  Log log;
  Api api;
  std::string data_dir = "./data";  // resolved against base_dir after loading
  // Every section handed to the loader, in that order; an absent one holds its defaults.
  std::vector<BridgeConfig> bridges;

  // The section of the bridge `name`, or null when the loader was not handed one.
  const BridgeSettings* bridge(std::string_view name) const;
};

struct LoadResult {
  Config config;
  std::vector<Diagnostic> diagnostics;  // errors and warnings, in file order
  bool ok() const;                      // no errors (warnings allowed)
};

// The file named by --config, else $LOCALCLOUD_CONFIG, else config/localcloud.yaml.
std::string default_path();

// Loads and validates a file; `bridges` are the sections the registered bridges read
// (bridges/bridge.h: config_sections). Never throws; every problem is a diagnostic.
LoadResult load_file(const std::string& path, const std::vector<BridgeSection>& bridges);
// The same from text; `path` is used in messages and to resolve relative paths.
LoadResult load_string(std::string_view yaml, const std::string& path, const std::vector<BridgeSection>& bridges);

// Creates data_dir (mode 0700) when missing. Returns an error message, or "" on success.
std::string prepare_data_dir(const Config& config);

// The config as JSON with every secret (password, tokens, cloud keys, service token)
// replaced by "<redacted>" (or "" when unset). The only function that prints config.
nlohmann::json redacted_json(const Config& config);

// One line for `check-config` success, e.g.
// "config/localcloud.yaml: ok (<bridge>: 2 devices, <bridge>: 1 device, <bridge>: off; broker mqtt://...)".
std::string summary(const Config& config);

}  // namespace lc::config
