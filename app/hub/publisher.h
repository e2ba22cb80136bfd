// Everything the Hub publishes: bridge/state, bridge/info, bridge/devices (at most once a
// second), bridge/event, and per device its discovery, state, attributes and availability.
// State and attributes are coalesced: the changes of one io_context turn become one message.
// Nothing is published before the initial sync of a connection (synced).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <nlohmann/json.hpp>

#include "app/hub/record.h"
#include "app/hub/registry.h"
#include "app/mqtt/discovery.h"
#include "app/mqtt/link.h"
#include "config/config.h"

namespace lc {

class Publisher {
 public:
  Publisher(boost::asio::io_context& io, const config::Config& config, MqttLink& mqtt, Registry& registry);

  // False when not connected or stopped (the message is dropped; the next sync re-publishes).
  bool publish(const std::string& topic, const std::string& payload, bool retained);
  // Connected and the retained states are in: device messages may go out.
  void set_synced(bool synced) { synced_ = synced; }
  bool synced() const { return synced_; }
  // SIGTERM: nothing more is published except the link's last words.
  void stop() { stopping_ = true; }

  void bridge_online();  // bridge/state and bridge/info
  void info();
  // Discovery, state, attributes and availability of every device, then bridge/devices.
  void everything();
  void discovery(DeviceRecord& record);
  void state(DeviceRecord& record);
  void attributes(DeviceRecord& record);
  void availability(DeviceRecord& record);
  // state_dirty / attributes_dirty published at the end of this io_context turn.
  void queue(DeviceRecord& record);
  void devices_soon() { devices_dirty_ = true; }
  void devices_if_due();  // from the one-second tick
  void event(const std::string& type, const std::string& key, nlohmann::json detail);

  // Every retained topic a device may have: discovery configs, state, attributes, availability.
  std::vector<std::string> device_topics(const std::string& bridge, const DeviceInfo& info,
                                         const std::string& key) const;
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
};

}  // namespace lc
