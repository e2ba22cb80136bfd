#include "app/hub/bridge_port.h"

#include <algorithm>

#include "app/hub/property_json.h"
#include "app/hub/registry.h"
#include "app/mqtt/topics.h"

namespace lc {

using nlohmann::json;

BridgePort::BridgePort(boost::asio::io_context& io, Registry& registry, RegistryListener& listener,
                       Counter& unknown_refused, std::string name)
    : name(std::move(name)),
      log(this->name),
      registry_(registry),
      listener_(listener),
      unknown_refused_(unknown_refused),
      admission_(io, log, unknown_refused, [this](const DeviceInfo& info) { admit_deferred(info); }),
      permit_join_timer_(io) {}

void BridgePort::attach(Bridge& attached) {
  bridge = &attached;
  policy = attached.policy();
}

bool BridgePort::device_seen(const DeviceInfo& info) {
  if (!valid_device_id(info.id)) {
    unknown_refused_.inc();
    log.debug("device id refused (not [a-z0-9._-]{1,64})");
    return false;
  }
  if (DeviceRecord* record = find(info.id)) {
    update(*record, info);
    return true;
  }
  if (info.configured) {
    admission_.withdraw(info.id);
  } else {
    BridgePolicy effective = policy;
    effective.accept_unknown = policy.accept_unknown || permit_join_open_;
    if (admission_.consider(info, effective, unknown_count_) != UnknownAdmission::Verdict::admit) return false;
  }
  return register_device(info);
}

void BridgePort::stop() {
  admission_.stop();
  permit_join_timer_.cancel();
}

void BridgePort::permit_join(std::chrono::seconds time) {
  permit_join_timer_.cancel();
  const unsigned generation = ++permit_join_generation_;
  if (time.count() <= 0) {
    if (!permit_join_open_) return;
    permit_join_open_ = false;
    log.info("permit_join closed");
    listener_.permit_join_changed();
    return;
  }
  permit_join_open_ = true;
  permit_join_end_ = std::chrono::system_clock::now() + time;
  log.info("permit_join open for ", time.count(), " s",
           policy.accept_unknown ? " (accept_unknown is true: unknown devices are admitted anyway)"
                                 : ": unknown devices are admitted (max_unknown " + std::to_string(policy.max_unknown) + ")");
  permit_join_timer_.expires_after(time);
  permit_join_timer_.async_wait([this, generation](const boost::system::error_code& ec) {
    if (ec || !permit_join_open_ || generation != permit_join_generation_) return;
    permit_join_open_ = false;
    log.info("permit_join closed (time is up)");
    listener_.permit_join_changed();
  });
  listener_.permit_join_changed();
}

json BridgePort::permit_join_end_json() const {
  if (!permit_join_open_) return nullptr;
  return std::chrono::duration_cast<std::chrono::milliseconds>(permit_join_end_.time_since_epoch()).count();
}

bool BridgePort::register_device(const DeviceInfo& info) {
  const std::string key = topics::device_key(name, info.id, info.name);
  if (!topics::valid_level(key) || registry_.key_taken(key)) {
    log.warn("device ", log_name(info.id), " not registered: MQTT key '", info.name.empty() ? "" : key,
             "' is taken or invalid");
    return false;
  }
  DeviceRecord& record = registry_.add(*this, info, key);
  if (!info.configured) ++unknown_count_;
  log.info("device ", log_name(info.id), " registered", info.configured ? "" : " (not in the config)");
  listener_.event("device_joined", record.key, {{"bridge", name}, {"id", info.id}, {"configured", info.configured}});
  return true;
}

// The admission timer's turn for a device that was over the rate: registered now, and the
// bridge is told, since its device_seen call answered false.
void BridgePort::admit_deferred(const DeviceInfo& info) {
  if (known(info.id)) return;
  if (register_device(info) && bridge) bridge->admitted(info.id);
}

void BridgePort::restore(const DeviceInfo& info, const std::string& key) {
  registry_.add(*this, info, key);
  if (!info.configured) ++unknown_count_;
}

void BridgePort::remove(const std::string& id) {
  auto it = devices.find(id);
  if (it == devices.end()) return;
  if (!it->second->info.configured) --unknown_count_;
  admission_.forget_refusal(id);
  devices.erase(it);
  if (bridge) bridge->forget(id);
}

void BridgePort::update(DeviceRecord& record, const DeviceInfo& info) {
  const bool description_changed = record.info.model != info.model || record.info.firmware != info.firmware ||
                                   record.info.manufacturer != info.manufacturer ||
                                   !same_properties(record.info.properties, info.properties);
  const bool was_configured = record.info.configured;
  const std::string name_kept = record.info.name;
  record.info = info;
  if (record.info.name.empty()) record.info.name = name_kept;  // the key stays what it was
  if (!was_configured && info.configured) --unknown_count_;
  if (description_changed) listener_.description_changed(record);
}

bool BridgePort::known(std::string_view id) const { return devices.find(id) != devices.end(); }

DeviceRecord* BridgePort::find(std::string_view id) {
  auto it = devices.find(id);
  return it == devices.end() ? nullptr : it->second.get();
}

void BridgePort::heard(std::string_view id) {
  DeviceRecord* record = find(id);
  if (!record) return;
  record->last_heard = std::chrono::steady_clock::now();
  record->ever_heard = true;
  if (!record->online) {
    record->online = true;
    listener_.availability_changed(*record);
  }
}

void BridgePort::state_changed(std::string_view id, std::string_view property, Json value) {
  DeviceRecord* record = find(id);
  if (!record) return;
  const std::string key(property);
  if (auto it = record->state.find(key); it != record->state.end() && *it == value) return;
  record->state[key] = std::move(value);
  if (!record->cloud.error.is_null()) record->cloud.error = nullptr;  // it talks to us properly now
  record->state_dirty = true;
  listener_.values_changed(*record);
}

void BridgePort::attributes_changed(std::string_view id, Json attributes) {
  DeviceRecord* record = find(id);
  if (!record || record->attributes == attributes) return;
  record->attributes = std::move(attributes);
  record->attributes_dirty = true;
  listener_.values_changed(*record);
}

void BridgePort::device_lost(std::string_view id) {
  DeviceRecord* record = find(id);
  if (!record || !record->online) return;
  record->online = false;
  listener_.availability_changed(*record);
}

void BridgePort::event(std::string_view type, std::string_view id, Json detail) {
  DeviceRecord* record = find(id);
  const std::string key = record ? record->key : topics::device_key(name, id, "");
  if (!detail.is_object()) detail = json{{"detail", std::move(detail)}};
  detail["bridge"] = name;
  if (record && type == "device_error") {
    record->cloud.error = detail;
    record->cloud.error_at = std::chrono::system_clock::now();
  }
  listener_.event(std::string(type), key, std::move(detail));
}

void BridgePort::cloud_exchange(std::string_view id, std::string_view received, std::string_view answered) {
  DeviceRecord* record = find(id);
  if (!record) return;
  CloudConversation& cloud = record->cloud;
  if (cloud.received != received) cloud.received.assign(received);
  if (cloud.answered != answered) cloud.answered.assign(answered);
  cloud.at = std::chrono::system_clock::now();
  ++cloud.exchanges;
}

std::string BridgePort::log_name(std::string_view id) const {
  auto it = devices.find(id);
  if (it != devices.end() && !it->second->info.name.empty()) return it->second->info.name;
  return mask_id(id);
}

size_t BridgePort::online_count() const {
  return static_cast<size_t>(std::count_if(devices.begin(), devices.end(), [](const auto& e) { return e.second->online; }));
}

}  // namespace lc
