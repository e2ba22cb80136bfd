// Management requests (docs/mqtt.md "Management requests", the zigbee2mqtt shape), whoever asks:
// MQTT bridge/request/<name> and the JSON API's POST /api/request/<name>. A request is a name
// and a JSON payload; the answer is {"status":"ok","data":{...}} or
// {"status":"error","error":"..."}, with the payload's "transaction" echoed; every request is
// answered, a malformed one too. Adding a request is one handler and one line in the table of
// requests.cpp.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "app/hub/device_db.h"
#include "app/hub/mqtt_logging.h"
#include "app/hub/publisher.h"
#include "app/hub/registry.h"
#include "config/config.h"

namespace lc {

class Requests {
 public:
  // The longest permit_join window a request may open.
  static constexpr int kMaxPermitJoinSeconds = 3600;

  Requests(const config::Config& config, Registry& registry, Publisher& publisher, DeviceDatabase& database,
           MqttLogging& logging);

  nlohmann::json handle(std::string_view name, const nlohmann::json& payload);

  // The run-time log options as the options request writes them (bridge/info shows them).
  nlohmann::json log_options() const;

 private:
  // remove, device/remove: {"device":"<key>"} (or the key as a JSON string).
  nlohmann::json remove_device(const nlohmann::json& payload);
  // device/rename: {"from":"<key>","to":"<name>"}.
  nlohmann::json rename_device(const nlohmann::json& payload);
  // permit_join: {"time":<seconds>,"bridge":"<name>"} (bridge optional; time 0 closes).
  nlohmann::json permit_join(const nlohmann::json& payload);
  // options: {"options":{"log":{"level":..,"trace":..,"mqtt":..}}}, applied at once.
  nlohmann::json options(const nlohmann::json& payload);
  // health_check: {"healthy":true} while the daemon serves devices.
  nlohmann::json health_check(const nlohmann::json& payload);

  const config::Config& config_;
  Registry& registry_;
  Publisher& publisher_;
  DeviceDatabase& database_;
  MqttLogging& logging_;
  Logger log_;
};

}  // namespace lc
