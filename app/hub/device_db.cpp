#include "app/hub/device_db.h"

#include "app/hub/property_json.h"
#include "app/mqtt/topics.h"

namespace lc {

using nlohmann::json;

namespace {

constexpr const char* kDatabaseName = "devices.json";
constexpr auto kSaveDelay = std::chrono::seconds(2);

json to_json(const std::string& bridge, const DeviceRecord& record) {
  json properties = json::array();
  for (const auto& p : record.info.properties) properties.push_back(property_to_json(p));
  return {{"bridge", bridge}, {"id", record.info.id}, {"key", record.key}, {"name", record.info.name},
          {"renamed", record.renamed}, {"configured", record.info.configured},
          {"manufacturer", record.info.manufacturer}, {"model", record.info.model},
          {"firmware", record.info.firmware}, {"properties", properties}};
}

// Throws (nlohmann::json's exceptions) when "bridge" or "id" is missing or not a string.
DeviceDatabase::Stale from_json(const json& entry) {
  DeviceDatabase::Stale device;
  device.bridge = entry.at("bridge").get<std::string>();
  DeviceInfo& info = device.info;
  info.id = entry.at("id").get<std::string>();
  info.name = entry.value("name", "");
  info.configured = entry.value("configured", false);
  info.manufacturer = entry.value("manufacturer", "");
  info.model = entry.value("model", "");
  info.firmware = entry.value("firmware", "");
  for (const auto& p : entry.value("properties", json::array())) info.properties.push_back(property_from_json(p));
  device.key = entry.value("key", topics::device_key(device.bridge, info.id, info.name));
  device.renamed = entry.value("renamed", false) && !info.name.empty();
  return device;
}

}  // namespace

DeviceDatabase::DeviceDatabase(boost::asio::io_context& io, DurableStore& store, Registry& registry)
    : store_(store), registry_(registry), timer_(io), log_("hub") {}

void DeviceDatabase::save_soon() {
  if (dirty_) return;
  dirty_ = true;
  timer_.expires_after(kSaveDelay);
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) save();
  });
}

void DeviceDatabase::save_now() {
  timer_.cancel();
  save();
}

void DeviceDatabase::save_if_pending() {
  timer_.cancel();
  if (dirty_) save();
}

void DeviceDatabase::save() {
  dirty_ = false;
  json devices = json::array();
  registry_.for_each([&](const DeviceRecord& record) { devices.push_back(to_json(record.port->name, record)); });
  store_.store(kDatabaseName, json{{"version", 1}, {"devices", devices}}.dump(1));
}

std::vector<DeviceDatabase::Stale> DeviceDatabase::restore() {
  std::vector<Stale> to_clear;
  const auto text = store_.load(kDatabaseName);
  if (!text) return to_clear;
  const auto parsed = json::parse(*text, nullptr, false);
  if (parsed.is_discarded() || !parsed.is_object() || !parsed.contains("devices") || !parsed["devices"].is_array()) {
    log_.warn("ignored ", kDatabaseName, " in data_dir: not a device database");
    return to_clear;
  }
  size_t restored = 0, stale = 0, renamed = 0;
  std::vector<Stale> old_keys;  // of devices registered under another key now
  for (const auto& entry : parsed["devices"]) {
    Stale device;
    try {
      device = from_json(entry);
    } catch (const std::exception&) {
      continue;
    }
    const DeviceInfo& info = device.info;
    BridgePort* port = registry_.find_port(device.bridge);
    if (DeviceRecord* current = port ? port->find(info.id) : nullptr) {
      // Known from the config: fill in what the bridge cannot know yet.
      if (current->info.model.empty()) current->info.model = info.model;
      if (current->info.firmware.empty()) current->info.firmware = info.firmware;
      if (current->info.properties.empty()) current->info.properties = info.properties;
      // Renamed on request, and still unnamed in the config: the name stays.
      if (device.renamed && current->info.name.empty() && current->key != device.key &&
          topics::valid_level(device.key) && !registry_.key_taken(device.key)) {
        registry_.rekey(*current, device.key);
        current->info.name = info.name;
        current->renamed = true;
        ++renamed;
      }
      if (current->key != device.key && topics::valid_level(device.key)) old_keys.push_back(std::move(device));
      continue;
    }
    const bool keep = port && !info.configured && valid_device_id(info.id) && topics::valid_level(device.key) &&
                      !registry_.key_taken(device.key) && !port->at_max_unknown();
    if (keep) {
      port->restore(info, device.key);
      if (DeviceRecord* restored_record = port->find(info.id)) restored_record->renamed = device.renamed;
      ++restored;
      continue;
    }
    ++stale;
    if (!device.bridge.empty() && topics::valid_level(device.key)) to_clear.push_back(std::move(device));
  }
  // The old key's state, attributes and availability, unless another device has that key now
  // (the discovery configs are named by bridge and id: they stay).
  for (auto& old : old_keys) {
    if (registry_.key_taken(old.key)) continue;
    old.info.properties.clear();
    to_clear.push_back(std::move(old));
  }
  if (renamed) log_.info("device database: ", renamed, " renamed devices keep their names");
  if (!old_keys.empty()) save_soon();
  if (restored || stale) log_.info("device database: ", restored, " devices restored, ", stale, " no longer configured");
  if (stale) save_soon();
  return to_clear;
}

}  // namespace lc
