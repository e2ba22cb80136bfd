// Commands for a device's writable properties, whoever sends them (MQTT <key>/set and
// <key>/set/<property>, later the JSON API): the same checks, the same command_failed events
// and log lines, the same read-back. TOGGLE is resolved here, from the state the Hub holds,
// so a bridge only ever gets ON or OFF for a switch.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "app/hub/publisher.h"
#include "app/hub/record.h"
#include "app/hub/registry.h"
#include "bridges/bridge.h"
#include "core/metrics.h"

namespace lc {

class Commands {
 public:
  Commands(Publisher& publisher, Metrics& metrics);

  // Checks the property and the value, then asks the bridge. `done` (may be empty) gets the
  // outcome once known: empty on success, else the error also logged and sent as a
  // command_failed event. After a success the device's state is published again.
  void send(DeviceRecord& record, const std::string& property, const nlohmann::json& value, CommandDone done = {});
  // A <key>/set payload that holds no command (not a JSON object, too large, empty).
  void refuse(DeviceRecord& record, const std::string& error);

 private:
  Publisher& publisher_;
  Counter& ok_;
  Counter& failed_;
  Logger log_;
};

}  // namespace lc
