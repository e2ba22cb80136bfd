// The configuration file of PRODUCT.md as typed structs, and its loader.
// Every error is reported as "FILE:LINE:COL: message" (1-based), all of them, not just the first.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/duration.h"
#include "core/log.h"
#include "core/net.h"

namespace lc::config {

// Where a value came from, for messages about it after loading (e.g. "duplicate device").
struct Mark {
  int line = 0;    // 1-based; 0 = not from the file (a default)
  int column = 0;  // 1-based
};

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
};

struct Api {
  std::optional<Endpoint> listen = Endpoint{"127.0.0.1", 8080};  // "" turns the API off
};

struct MiioDevice {
  std::string name;                 // optional; the MQTT key when set
  std::string host;
  uint16_t port = 54321;
  std::array<uint8_t, 16> token{};  // secret
  std::string model;                // empty: asked with miIO.info
  std::optional<uint32_t> did;      // empty: learned from the handshake
  std::string cloud_key;            // secret; empty or 16 ASCII characters
  Mark mark;
};

struct Miio {
  bool enabled = false;  // false when the section is absent
  Endpoint listen{"0.0.0.0", 8053};
  Duration poll_interval = std::chrono::seconds(30);
  Duration offline_after = std::chrono::seconds(90);
  std::vector<MiioDevice> devices;
};

enum class PowerDecoding { app, q12, mean };

struct VesyncDevice {
  std::string id;    // e.g. 443c878f-f675-4c90-98e8-2f4566914d39 (compared case-insensitively)
  std::string name;
  Mark mark;
};

struct Vesync {
  bool enabled = false;
  Endpoint listen{"0.0.0.0", 17273};
  std::optional<Endpoint> upstream;        // empty: terminate locally only
  bool allow_upgrade = false;
  std::optional<Endpoint> service_listen;  // empty: the service API is off
  std::string service_token;               // secret
  Duration poll_interval = std::chrono::seconds(60);
  Duration offline_after = std::chrono::minutes(10);
  PowerDecoding power_decoding = PowerDecoding::app;
  bool accept_unknown = true;
  int max_unknown = 32;
  std::vector<VesyncDevice> devices;
};

enum class TimeguardMode { local, fallback, relay };

struct TimeguardDevice {
  uint32_t id = 0;  // written as 8 hex digits
  std::string name;
  Mark mark;
};

struct Timeguard {
  bool enabled = false;
  Endpoint listen{"0.0.0.0", 9997};
  TimeguardMode mode = TimeguardMode::local;
  std::optional<Endpoint> upstream = Endpoint{"31.193.128.139", 9997};
  std::string timezone = "Europe/London";
  Duration offline_after = std::chrono::seconds(150);
  bool allow_raw_commands = false;
  bool accept_unknown = true;
  int max_unknown = 32;
  std::vector<TimeguardDevice> devices;
};

struct Config {
  std::string path;      // the file it was loaded from
  std::string base_dir;  // its directory; relative paths are resolved against it
  Mqtt mqtt;
  HomeAssistant homeassistant;
  Log log;
  Api api;
  std::string data_dir = "./data";  // resolved against base_dir after loading
  Miio miio;
  Vesync vesync;
  Timeguard timeguard;
};

struct Diagnostic {
  std::string file;
  int line = 0;  // 1-based
  int column = 0;
  std::string message;
  bool warning = false;
  // "FILE:LINE:COL: message" or "FILE:LINE:COL: warning: message"
  std::string text() const;
};

struct LoadResult {
  Config config;
  std::vector<Diagnostic> diagnostics;  // errors and warnings, in file order
  bool ok() const;                      // no errors (warnings allowed)
};

// The file named by --config, else $LOCALCLOUD_CONFIG, else config/localcloud.yaml.
std::string default_path();

// Loads and validates a file. Never throws; every problem is a diagnostic.
LoadResult load_file(const std::string& path);
// The same from text; `path` is used in messages and to resolve relative paths.
LoadResult load_string(std::string_view yaml, const std::string& path);

// Creates data_dir (mode 0700) when missing. Returns an error message, or "" on success.
std::string prepare_data_dir(const Config& config);

// The config as JSON with every secret (password, tokens, cloud keys, service token)
// replaced by "<redacted>" (or "" when unset). The only function that prints config.
nlohmann::json redacted_json(const Config& config);

// One line for `check-config` success, e.g.
// "config/localcloud.yaml: ok (miio: 2 devices, vesync: 1, timeguard: off)".
std::string summary(const Config& config);

}  // namespace lc::config
