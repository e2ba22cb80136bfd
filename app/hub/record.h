// One registered device as the Hub holds it, and what the rest of the Hub is told when the
// registry changes (the registry itself knows nothing of MQTT or the device database).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bridges/device.h"

namespace lc {

class BridgePort;

// The device's cloud conversation at a glance (Hub::cloud_exchange): what it last sent the
// cloud stand-in and what it was answered, and the last device_error the bridge reported
// (a wrong token: it reached us, but ...). For the web page; not published to MQTT.
struct CloudConversation {
  std::string received;  // "hello", "ping", "login", "keepalive", ...
  std::string answered;  // "time sync", "pong", ...; empty: not answered
  std::chrono::system_clock::time_point at{};
  uint64_t exchanges = 0;
  nlohmann::json error;  // the last device_error's detail; null: none since the last change of state
  std::chrono::system_clock::time_point error_at{};
};

struct DeviceRecord {
  BridgePort* port = nullptr;  // the bridge it belongs to
  DeviceInfo info;
  std::string key;                                 // its MQTT key
  bool renamed = false;  // info.name (the key) comes from device/rename, not from the config
  nlohmann::json state = nlohmann::json::object();  // property -> the value last reported
  nlohmann::json attributes;                       // null: none
  bool online = false;
  bool ever_heard = false;
  std::chrono::steady_clock::time_point last_heard{};
  CloudConversation cloud;
  // The publisher's bookkeeping.
  bool state_dirty = false;
  bool attributes_dirty = false;
  bool queued = false;                        // waiting in the publisher's coalescing queue
  std::vector<std::string> discovery_topics;  // config topics published for it
  // This broker connection: each config topic with the payload last published on it (a config
  // goes out again only when its content changed, or after Home Assistant's birth), whether
  // its configs went out (its state is not published before them), and until when its state is
  // held because a config it already had changed (Home Assistant applies a config update in a
  // task of its own and would judge a state that arrives meanwhile against the old config).
  std::map<std::string, std::string> configs_sent;
  bool configs_out = false;
  bool discovery_pending = false;  // a description change waits to be published (coalesced)
  std::chrono::steady_clock::time_point hold_until{};
};

class RegistryListener {
 public:
  virtual ~RegistryListener() = default;
  // Registered, or restored from the device database.
  virtual void device_added(DeviceRecord& record) = 0;
  // Model, firmware, manufacturer or properties changed.
  virtual void description_changed(DeviceRecord& record) = 0;
  virtual void availability_changed(DeviceRecord& record) = 0;
  // state_dirty or attributes_dirty was set.
  virtual void values_changed(DeviceRecord& record) = 0;
  // A bridge/event message (device_joined, device_error, ...).
  virtual void event(const std::string& type, const std::string& key, nlohmann::json detail) = 0;
  // A bridge's permit_join window opened or closed.
  virtual void permit_join_changed() {}
};

}  // namespace lc
