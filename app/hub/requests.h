// Management requests (PRODUCT.md "Management requests", the zigbee2mqtt shape), whoever asks:
// MQTT bridge/request/<name> and, later, the JSON API's POST /api/request/<name>. A request
// is a name and a JSON payload; the answer is {"status":"ok","data":{...}} or
// {"status":"error","error":"..."}, with the payload's "transaction" echoed. Adding a request
// is one handler and one line in the table of requests.cpp.
#pragma once

#include <string_view>

#include <nlohmann/json.hpp>

#include "app/hub/device_db.h"
#include "app/hub/publisher.h"
#include "app/hub/registry.h"

namespace lc {

class Requests {
 public:
  Requests(Registry& registry, Publisher& publisher, DeviceDatabase& database);

  nlohmann::json handle(std::string_view name, const nlohmann::json& payload);

 private:
  // remove, device/remove: {"device":"<key>"} (or the key as a JSON string).
  nlohmann::json remove_device(const nlohmann::json& payload);
  // health_check: {"healthy":true} while the daemon serves devices.
  nlohmann::json health_check(const nlohmann::json& payload);

  Registry& registry_;
  Publisher& publisher_;
  DeviceDatabase& database_;
};

}  // namespace lc
