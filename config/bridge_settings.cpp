#include "config/bridge_settings.h"

#include <algorithm>

#include "config/reader.h"

namespace lc::config {
namespace {

constexpr int kMaxUnknownLimit = 10000;

bool has_key(std::span<const std::string_view> keys, std::string_view key) {
  return std::find(keys.begin(), keys.end(), key) != keys.end();
}

}  // namespace

bool read_bridge_section(Reader& reader, const Field& section, std::span<const std::string_view> keys,
                         BridgeSettings& settings, const std::function<void(const std::string&, const Field&)>& read_own,
                         const std::function<void(const Field&)>& read_device) {
  if (!section.node.IsDefined() || !reader.is_section(section)) return false;
  settings.enabled = true;
  reader.for_each_key(section, keys, [&](const std::string& key, const Field& f) {
    if (key == "enabled") {
      reader.read_bool(f, settings.enabled);
    } else if (key == "listen") {
      reader.read_endpoint(f, settings.listen);
    } else if (key == "offline_after") {
      reader.read_duration(f, settings.offline_after, true);
    } else if (key == "accept_unknown") {
      reader.read_bool(f, settings.accept_unknown);
    } else if (key == "max_unknown") {
      if (auto v = reader.integer_value(f, 0, kMaxUnknownLimit, "max_unknown")) settings.max_unknown = static_cast<int>(*v);
    } else if (key == "devices") {
      reader.for_each_item(f, kMaxDevicesPerBridge, read_device);
    } else {
      read_own(key, f);
    }
  });
  return true;
}

nlohmann::json shared_json(const BridgeSettings& settings, std::span<const std::string_view> keys) {
  nlohmann::json json = nlohmann::json::object();
  if (has_key(keys, "enabled")) json["enabled"] = settings.enabled;
  if (has_key(keys, "listen")) json["listen"] = settings.listen.text();
  if (has_key(keys, "offline_after")) json["offline_after"] = format_duration(settings.offline_after);
  if (has_key(keys, "accept_unknown")) json["accept_unknown"] = settings.accept_unknown;
  if (has_key(keys, "max_unknown")) json["max_unknown"] = settings.max_unknown;
  return json;
}

nlohmann::json secret_json(bool set) { return set ? "<redacted>" : ""; }

nlohmann::json endpoint_json(const std::optional<Endpoint>& endpoint) {
  return endpoint ? endpoint->text() : std::string();
}

}  // namespace lc::config
