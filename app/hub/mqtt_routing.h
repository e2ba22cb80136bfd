// Every message the broker delivers to the Hub, routed: Home Assistant's status, our devices'
// retained states (their numbers go to the bridge, now or when the device registers),
// bridge/request/<name>, <key>/set, <key>/set/<property> and <key>/get. Commands never come
// from retained messages. JSON from the broker is size- and depth-checked before parsing.
#pragma once

#include <map>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "app/hub/commands.h"
#include "app/hub/mqtt_session.h"
#include "app/hub/publisher.h"
#include "app/hub/registry.h"
#include "app/hub/requests.h"
#include "config/config.h"
#include "core/log.h"
#include "core/metrics.h"

namespace lc {

class MqttRouter {
 public:
  MqttRouter(const config::Config& config, Metrics& metrics, Registry& registry, Publisher& publisher,
             MqttSession& session, Commands& commands, Requests& requests);

  void message(const std::string& topic, const std::string& payload, bool retained);
  // A device registered: the retained state remembered for its key, if any, goes to its bridge
  // (after the bridge's device_seen call returns, never re-entrantly).
  void hand_over_retained(boost::asio::io_context& io, const DeviceRecord& record);
  // A topic for a log line: its device key as Registry::key_for_log() shows it.
  std::string topic_for_log(std::string_view topic);

 private:
  void retained_state(const std::string& key, const std::string& payload, const std::string& topic);
  void request(const std::string& name, const std::string& payload);
  void set(DeviceRecord& record, const std::string& payload);
  // A message refused before use: counted by reason, logged at info the first time per reason.
  void drop(const char* reason, const std::string& topic);

  const config::Config& config_;
  Metrics& metrics_;
  Registry& registry_;
  Publisher& publisher_;
  MqttSession& session_;
  Commands& commands_;
  Requests& requests_;
  std::string base_;
  Logger log_;
  std::map<std::string, nlohmann::json, std::less<>> retained_by_key_;  // of keys not registered yet
  std::set<std::string, std::less<>> drop_reasons_logged_;
};

}  // namespace lc
