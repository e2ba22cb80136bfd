// The device registry: one BridgePort per bridge, every registered device by bridge and by
// MQTT key, availability (offline once the bridge's offline_after passes in silence), and the
// device and bridge lists the API and bridge/devices show.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include <boost/asio/io_context.hpp>
#include <nlohmann/json.hpp>

#include "app/hub/bridge_port.h"
#include "app/hub/record.h"
#include "core/metrics.h"

namespace lc {

// A device id the Hub accepts: [a-z0-9._-]{1,64}.
bool valid_device_id(std::string_view id);

class Registry {
 public:
  Registry(boost::asio::io_context& io, Metrics& metrics, RegistryListener& listener);

  // The bridge's port, created (with its gauges) on first use.
  BridgePort& port(const std::string& bridge_name);
  BridgePort* find_port(std::string_view bridge_name);
  const std::map<std::string, std::unique_ptr<BridgePort>, std::less<>>& ports() const { return ports_; }

  DeviceRecord* find_by_key(std::string_view key);
  bool key_taken(std::string_view key) const { return by_key_.count(key) != 0; }
  // Every record, bridge by bridge.
  template <class Visit> void for_each(Visit visit) const {
    for (const auto& [name, port] : ports_)
      for (const auto& [id, record] : port->devices) visit(*record);
  }

  DeviceRecord& add(BridgePort& port, const DeviceInfo& info, const std::string& key);
  void remove(DeviceRecord& record);
  // The record's MQTT key becomes `key` (not taken): device/rename and a rename restored from
  // the device database. Nothing is published here.
  void rekey(DeviceRecord& record, const std::string& key);

  // Devices silent for longer than their bridge's offline_after go offline.
  void check_availability();
  // Shutdown: no more deferred admissions.
  void stop();

  nlohmann::json devices_json(bool with_last_seen) const;
  nlohmann::json bridges_json() const;
  // bridge/info's "permit_join" (open on any bridge) and "permit_join_end" (the latest end, in
  // milliseconds since the epoch, or null), the zigbee2mqtt fields.
  nlohmann::json permit_join_json() const;
  // A device key for a log line: with mask_ids a key that names a device by its id
  // ("<bridge>_<id>", also of a device no longer registered) shows the masked id instead.
  std::string key_for_log(std::string_view key);

  Counter& unknown_refused;

 private:
  boost::asio::io_context& io_;
  Metrics& metrics_;
  RegistryListener& listener_;
  std::map<std::string, std::unique_ptr<BridgePort>, std::less<>> ports_;
  std::unordered_map<std::string, DeviceRecord*, StringHash, std::equal_to<>> by_key_;
};

}  // namespace lc
