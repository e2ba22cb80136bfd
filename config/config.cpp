// The loaded config: its bridges' sections, data_dir, and how it is shown (bridge/info,
// check-config). The loading is in load.cpp.
#include "config/config.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "config/files.h"

namespace lc::config {
namespace {

namespace fs = std::filesystem;

std::string plural(size_t count, const char* word) {
  return std::to_string(count) + " " + word + (count == 1 ? "" : "s");
}

}  // namespace

const BridgeSettings* Config::bridge(std::string_view name) const {
  for (const auto& bridge : bridges)
    if (bridge.name == name) return bridge.settings.get();
  return nullptr;
}

std::string_view mqtt_log_level_name(Level level) {
  return static_cast<int>(level) >= static_cast<int>(kLogOff) ? "off" : level_name(level);
}

bool parse_mqtt_log_level(std::string_view text, Level& out) {
  if (text == "off") {
    out = kLogOff;
    return true;
  }
  return parse_level(text, out);
}

bool LoadResult::ok() const {
  return std::none_of(diagnostics.begin(), diagnostics.end(), [](const Diagnostic& d) { return !d.warning; });
}

std::string default_path() {
  const char* env = std::getenv("LOCALCLOUD_CONFIG");
  if (env && *env) return env;
  return "config/localcloud.yaml";
}

std::string prepare_data_dir(const Config& config) {
  const std::string& dir = config.data_dir;
  if (dir.empty()) return "data_dir is empty";
  try {
    std::error_code ec;
    fs::path path(dir);
    if (!fs::exists(path, ec)) {
      // Create each missing level with mode 0700 (mkdir -p -m 0700).
      fs::path partial;
      for (const auto& part : path) {
        partial /= part;
        if (partial.empty() || fs::exists(partial, ec)) continue;
        if (::mkdir(partial.c_str(), 0700) != 0 && errno != EEXIST)
          return "cannot create data_dir " + dir + ": " + errno_text(errno);
        ::chmod(partial.c_str(), 0700);  // whatever the umask
      }
    }
    struct stat st {};
    if (::stat(dir.c_str(), &st) != 0) return "cannot create data_dir " + dir + ": " + errno_text(errno);
    if (!S_ISDIR(st.st_mode)) return "data_dir " + dir + " exists and is not a directory";
    if (::access(dir.c_str(), W_OK | X_OK) != 0) return "data_dir " + dir + " is not writable: " + errno_text(errno);
    return "";
  } catch (const std::exception& e) {
    return "cannot create data_dir " + dir + ": " + e.what();
  }
}

nlohmann::json redacted_json(const Config& c) {
  using nlohmann::json;
  json out{
      {"config_file", c.path},
      {"mqtt",
       {{"url", c.mqtt.url},
        {"username", c.mqtt.username},
        {"password", secret_json(!c.mqtt.password.empty())},
        {"password_file", c.mqtt.password_file},
        {"client_id", c.mqtt.client_id},
        {"base_topic", c.mqtt.base_topic},
        {"tls",
         {{"ca_file", c.mqtt.tls.ca_file},
          {"cert_file", c.mqtt.tls.cert_file},
          {"key_file", c.mqtt.tls.key_file},
          {"insecure", c.mqtt.tls.insecure}}}}},
      {"homeassistant",
       {{"discovery", c.homeassistant.discovery},
        {"prefix", c.homeassistant.prefix},
        {"status_topic", c.homeassistant.status_topic}}},
      {"log",
       {{"level", std::string(level_name(c.log.level))},
        {"trace", c.log.trace},
        {"mask_ids", c.log.mask_ids},
        {"mqtt", std::string(mqtt_log_level_name(c.log.mqtt))}}},
      {"api",
       {{"listen", endpoint_json(c.api.listen)},
        {"token", secret_json(!c.api.token.empty())},
        {"public_url", c.api.public_url}}},
      {"data_dir", c.data_dir},
  };
  for (const auto& bridge : c.bridges) out[bridge.name] = bridge.settings->redacted_json();
  return out;
}

std::string summary(const Config& c) {
  std::string bridges;
  for (const auto& bridge : c.bridges) {
    if (!bridges.empty()) bridges += ", ";
    bridges += bridge.name + ": " +
               (bridge.settings->enabled ? plural(bridge.settings->device_count(), "device") : std::string("off"));
  }
  return c.path + ": ok (" + bridges + "; broker " + c.mqtt.url + ")";
}

}  // namespace lc::config
