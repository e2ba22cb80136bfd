#include "app/hub/requests.h"

#include <utility>

#include "app/hub/bridge_port.h"

namespace lc {

using nlohmann::json;

namespace {

json ok(json data) { return {{"status", "ok"}, {"data", std::move(data)}}; }
json error(std::string why) { return {{"status", "error"}, {"error", std::move(why)}}; }

using Handler = json (Requests::*)(const json& payload);

}  // namespace

Requests::Requests(Registry& registry, Publisher& publisher, DeviceDatabase& database)
    : registry_(registry), publisher_(publisher), database_(database) {}

json Requests::handle(std::string_view name, const json& payload) {
  static const std::pair<std::string_view, Handler> kRequests[] = {
      {"remove", &Requests::remove_device},
      {"device/remove", &Requests::remove_device},
      {"health_check", &Requests::health_check},
  };
  json response = error("unknown request '" + std::string(name) + "'");
  for (const auto& [request, handler] : kRequests)
    if (request == name) response = (this->*handler)(payload);
  if (payload.is_object() && payload.contains("transaction")) response["transaction"] = payload["transaction"];
  return response;
}

json Requests::remove_device(const json& payload) {
  std::string key;
  if (payload.is_object() && payload.contains("device") && payload["device"].is_string())
    key = payload["device"].get<std::string>();
  else if (payload.is_string())
    key = payload.get<std::string>();
  DeviceRecord* record = registry_.find_by_key(key);
  if (!record) return error("no device '" + key.substr(0, 128) + "'");
  BridgePort& port = *record->port;
  const std::string id = record->info.id;
  publisher_.clear_device(*record);
  port.log.info("device ", port.log_name(id), " removed on request");
  registry_.remove(*record);
  publisher_.event("device_left", key, {{"bridge", port.name}, {"id", id}});
  publisher_.devices_soon();
  database_.save_soon();
  return ok({{"device", key}});
}

json Requests::health_check(const json&) { return ok({{"healthy", true}}); }

}  // namespace lc
