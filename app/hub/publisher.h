// Everything the Hub publishes: bridge/state, bridge/info, bridge/devices (at most once a
// second), bridge/event, the bridge device's discovery, and per device its discovery, state,
// attributes and availability. State and attributes are coalesced: the changes of one
// io_context turn become one message. Nothing is published before the initial sync of a
// connection (synced).
//
// No churn (docs/mqtt.md "No churn"): a config goes out once per connection and
// again only when its content changed (or after Home Assistant's birth); a device's
// description changes are coalesced for a short while before its configs go out; a device's
// state and attributes never go out before its configs did on this connection, and are held
// for a moment after a config it already had changed.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <nlohmann/json.hpp>

#include "app/hub/record.h"
#include "app/hub/registry.h"
#include "app/mqtt/discovery.h"
#include "app/mqtt/link.h"
#include "config/config.h"

namespace lc {

// JSON text for MQTT: broken UTF-8 (from device data) is replaced, never thrown on.
std::string dump_json(const nlohmann::json& value);

class Publisher {
 public:
  // How long description changes are coalesced before a device's configs go out, and how long
  // its state is held after a config it already had changed.
  static constexpr auto kDescriptionSettle = std::chrono::milliseconds(300);
  static constexpr auto kConfigSettle = std::chrono::milliseconds(1000);
  // The time a permit_join switch in Home Assistant opens joining for.
  static constexpr int kPermitJoinSwitchSeconds = 300;

  Publisher(boost::asio::io_context& io, const config::Config& config, MqttLink& mqtt, Registry& registry);

  // False when not connected or stopped (the message is dropped; the next sync re-publishes).
  bool publish(const std::string& topic, const std::string& payload, bool retained);
  // Connected and the retained states are in: device messages may go out. A new connection
  // (false) forgets which configs went out on the previous one.
  void set_synced(bool synced);
  bool synced() const { return synced_; }
  // SIGTERM: nothing more is published except the link's last words.
  void stop();

  void bridge_online();  // bridge/state and bridge/info
  void info();
  // What bridge/info carries beyond version, bridges and config (permit_join, log options).
  void set_info_extra(std::function<void(nlohmann::json& info)> extra) { info_extra_ = std::move(extra); }
  // The bridge device's configs, then discovery, state, attributes and availability of every
  // device, then bridge/devices. `force`: every config again, changed or not (Home Assistant's
  // birth).
  void everything(bool force = false);
  // The device's configs whose content changed since they went out on this connection (all of
  // them with `force`), removals of entities it no longer has; then its held state.
  void discovery(DeviceRecord& record, bool force = false);
  // The same after kDescriptionSettle, coalescing the description changes meanwhile.
  void discovery_soon(DeviceRecord& record);
  void state(DeviceRecord& record);
  void attributes(DeviceRecord& record);
  void availability(DeviceRecord& record);
  // state_dirty / attributes_dirty published at the end of this io_context turn.
  void queue(DeviceRecord& record);
  void devices_soon() { devices_dirty_ = true; }
  void devices_if_due();  // from the one-second tick
  void event(const std::string& type, const std::string& key, nlohmann::json detail);

  // The device's key changed from `old_key` (device/rename): its state, attributes and
  // availability under the old key are cleared (now, or at the next sync when not connected),
  // and everything is published under the new one.
  void renamed(DeviceRecord& record, const std::string& old_key);

  // Every retained topic a device may have: discovery configs, state, attributes, availability.
  std::vector<std::string> device_topics(const std::string& bridge, const DeviceInfo& info,
                                         const std::string& key) const;
  // The retained topics under <base>/<key>: state, attributes, availability.
  std::vector<std::string> key_topics(const std::string& key) const;
  // Empty retained messages for the device's topics (it is removed).
  void clear_device(const DeviceRecord& record);
  // Topics to clear once connected and synced (devices that left the config).
  void clear_at_sync(std::vector<std::string> topics);
  void clear_pending();
  // Offline for every device, then the bridge: what the link publishes at shutdown.
  std::vector<std::pair<std::string, std::string>> last_words() const;

 private:
  void flush();
  void devices();
  void bridge_discovery(bool force);
  // Re-queues the held devices whose hold has passed; re-arms for the others.
  void arm_hold();
  bool may_publish_values(DeviceRecord& record);

  boost::asio::io_context& io_;
  const config::Config& config_;
  MqttLink& mqtt_;
  Registry& registry_;
  discovery::Options discovery_options_;
  std::string base_;
  Logger log_;
  std::vector<std::string> dirty_;  // keys of records with unpublished state or attributes
  bool flush_scheduled_ = false;
  bool synced_ = false;
  bool devices_dirty_ = false;
  bool stopping_ = false;
  std::vector<std::string> to_clear_;
  std::function<void(nlohmann::json&)> info_extra_;
  std::map<std::string, std::string> bridge_configs_sent_;  // this connection
  // Devices whose description changed, by (bridge, id), published together by the timer.
  std::vector<std::pair<std::string, std::string>> discovery_waiting_;
  boost::asio::steady_timer discovery_timer_;
  // Devices whose state is held (kConfigSettle), by (bridge, id).
  std::vector<std::pair<std::string, std::string>> held_;
  boost::asio::steady_timer hold_timer_;
  bool hold_armed_ = false;
};

}  // namespace lc
