#include "app/hub/registry.h"

#include <algorithm>
#include <ctime>
#include <vector>

#include "app/mqtt/topics.h"

namespace lc {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

std::string iso_time(std::chrono::system_clock::time_point at) {
  const std::time_t seconds = std::chrono::system_clock::to_time_t(at);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return text;
}

}  // namespace

bool valid_device_id(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
  });
}

Registry::Registry(boost::asio::io_context& io, Metrics& metrics, RegistryListener& listener)
    : unknown_refused(metrics.counter("localcloud_unknown_devices_refused_total",
                                      "Devices not registered (accept_unknown, max_unknown, rate, invalid id)")),
      io_(io),
      metrics_(metrics),
      listener_(listener) {}

BridgePort& Registry::port(const std::string& bridge_name) {
  auto& slot = ports_[bridge_name];
  if (!slot) {
    slot = std::make_unique<BridgePort>(io_, *this, listener_, unknown_refused, bridge_name);
    BridgePort* port = slot.get();
    metrics_.gauge("localcloud_devices", "Registered devices by bridge", {{"bridge", bridge_name}},
                   [port] { return static_cast<double>(port->devices.size()); });
    metrics_.gauge("localcloud_devices_online", "Online devices by bridge", {{"bridge", bridge_name}},
                   [port] { return static_cast<double>(port->online_count()); });
  }
  return *slot;
}

BridgePort* Registry::find_port(std::string_view bridge_name) {
  auto it = ports_.find(bridge_name);
  return it == ports_.end() ? nullptr : it->second.get();
}

DeviceRecord* Registry::find_by_key(std::string_view key) {
  auto it = by_key_.find(key);
  return it == by_key_.end() ? nullptr : it->second;
}

DeviceRecord& Registry::add(BridgePort& port, const DeviceInfo& info, const std::string& key) {
  auto record = std::make_unique<DeviceRecord>();
  record->port = &port;
  record->info = info;
  record->key = key;
  DeviceRecord& added = *record;
  by_key_[key] = &added;
  port.devices.emplace(info.id, std::move(record));
  listener_.device_added(added);
  return added;
}

void Registry::remove(DeviceRecord& record) {
  const std::string id = record.info.id;
  BridgePort& port = *record.port;
  by_key_.erase(record.key);
  port.remove(id);  // destroys the record
}

void Registry::rekey(DeviceRecord& record, const std::string& key) {
  by_key_.erase(record.key);
  record.key = key;
  by_key_[key] = &record;
}

void Registry::check_availability() {
  const auto now = Clock::now();
  for (auto& [name, port] : ports_) {
    for (auto& [id, record] : port->devices) {
      if (record->online && now - record->last_heard > port->policy.offline_after) {
        record->online = false;
        port->log.info("device ", port->log_name(id), " offline (silent for ",
                       std::chrono::duration_cast<std::chrono::seconds>(port->policy.offline_after).count(), " s)");
        listener_.availability_changed(*record);
      }
    }
  }
}

void Registry::stop() {
  for (auto& [name, port] : ports_) port->stop();
}

json Registry::devices_json(bool with_last_seen) const {
  json list = json::array();
  const auto steady_now = Clock::now();
  const auto wall_now = std::chrono::system_clock::now();
  std::vector<const DeviceRecord*> records;
  for_each([&](const DeviceRecord& record) { records.push_back(&record); });
  std::sort(records.begin(), records.end(), [](const DeviceRecord* a, const DeviceRecord* b) { return a->key < b->key; });
  for (const DeviceRecord* record : records) {
    json device = {{"key", record->key},
                   {"bridge", record->port->name},
                   {"id", record->info.id},
                   {"name", record->info.name.empty() ? json(nullptr) : json(record->info.name)},
                   {"manufacturer", record->info.manufacturer},
                   {"model", record->info.model.empty() ? json(nullptr) : json(record->info.model)},
                   {"firmware", record->info.firmware.empty() ? json(nullptr) : json(record->info.firmware)},
                   {"configured", record->info.configured},
                   {"online", record->online}};
    if (with_last_seen) {
      const auto silent = std::chrono::duration_cast<std::chrono::system_clock::duration>(steady_now - record->last_heard);
      device["last_seen"] = record->ever_heard ? json(iso_time(wall_now - silent)) : json(nullptr);
    }
    list.push_back(std::move(device));
  }
  return list;
}

json Registry::bridges_json() const {
  json bridges = json::object();
  for (const auto& [name, port] : ports_) {
    json listeners = json::array();
    if (port->bridge)
      for (const auto& listener : port->bridge->listeners())
        listeners.push_back({{"protocol", listener.protocol}, {"address", listener.address}});
    bridges[name] = {{"listeners", listeners},
                     {"devices", port->devices.size()},
                     {"online", port->online_count()},
                     {"accept_unknown", port->policy.accept_unknown},
                     {"max_unknown", port->policy.max_unknown},
                     {"permit_join", port->permit_join_open()},
                     {"permit_join_end", port->permit_join_end_json()}};
  }
  return bridges;
}

json Registry::permit_join_json() const {
  bool open = false;
  json end = nullptr;
  for (const auto& [name, port] : ports_) {
    if (!port->permit_join_open()) continue;
    open = true;
    const json port_end = port->permit_join_end_json();
    if (end.is_null() || port_end.get<int64_t>() > end.get<int64_t>()) end = port_end;
  }
  return {{"permit_join", open}, {"permit_join_end", end}};
}

std::string Registry::key_for_log(std::string_view key) {
  if (!log_settings::mask_ids()) return std::string(key);
  // A named device's key is its name; an unnamed one's is <bridge>_<id>, known or not.
  if (DeviceRecord* record = find_by_key(key); record && !record->info.name.empty()) return std::string(key);
  for (const auto& [name, port] : ports_) {
    if (key.size() > name.size() + 1 && key.substr(0, name.size()) == name && key[name.size()] == '_')
      return name + "_" + mask_id(key.substr(name.size() + 1));
  }
  return std::string(key);
}

}  // namespace lc
