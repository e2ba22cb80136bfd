#include "bridges/miio/trace.h"

#include <cstdio>

#include "core/hex.h"
#include "core/log.h"

namespace lc::miio {
namespace {

bool is_secret_key(const std::string& key) {
  return key == "token" || key == "key" || key == "cloud_key" || key == "password" || key == "passwd" ||
         key == "bindkey" || key == "beaconkey";
}
bool is_id_key(const std::string& key) { return key == "did" || key == "mac" || key == "uid" || key == "bssid"; }

}  // namespace

std::string did_text(uint32_t did) {
  char text[9];
  std::snprintf(text, sizeof text, "%08x", did);
  return text;
}

std::string trace_hex(std::span<const uint8_t> packet, bool secret_checksum) {
  std::string text = hex(packet);
  if (log_settings::mask_ids() && packet.size() >= 12 && text.compare(16, 8, "ffffffff") != 0)
    text.replace(16, 8, "xxxxxxxx");
  if (secret_checksum && packet.size() >= 32) text.replace(32, 32, std::string(32, '*'));
  return text;
}

nlohmann::json redact(const nlohmann::json& value) {
  if (value.is_object()) {
    nlohmann::json out = nlohmann::json::object();
    for (const auto& [key, item] : value.items()) {
      if (is_secret_key(key))
        out[key] = "<redacted>";
      else if (is_id_key(key) && log_settings::mask_ids())
        out[key] = mask_id(item.is_string() ? item.get<std::string>() : item.dump());
      else
        out[key] = redact(item);
    }
    return out;
  }
  if (value.is_array()) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& item : value) out.push_back(redact(item));
    return out;
  }
  return value;
}

}  // namespace lc::miio
