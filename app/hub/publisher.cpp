#include "app/hub/publisher.h"

#include <algorithm>

#include <boost/asio/post.hpp>

#include "app/hub/bridge_port.h"
#include "app/mqtt/topics.h"

namespace lc {

using nlohmann::json;

// Text from devices may be broken UTF-8: replaced, never thrown on.
std::string dump_json(const json& value) { return value.dump(-1, ' ', false, json::error_handler_t::replace); }

Publisher::Publisher(boost::asio::io_context& io, const config::Config& config, MqttLink& mqtt, Registry& registry)
    : io_(io),
      config_(config),
      mqtt_(mqtt),
      registry_(registry),
      base_(config.mqtt.base_topic),
      log_("hub"),
      discovery_timer_(io),
      hold_timer_(io) {
  discovery_options_.prefix = config.homeassistant.prefix;
  discovery_options_.base = base_;
  discovery_options_.version = LOCALCLOUD_VERSION;
  discovery_options_.client_id = config.mqtt.client_id;
  discovery_options_.configuration_url = config.api.public_url;
}

bool Publisher::publish(const std::string& topic, const std::string& payload, bool retained) {
  if (stopping_) return false;
  return mqtt_.publish(topic, payload, retained);
}

void Publisher::set_synced(bool synced) {
  synced_ = synced;
  if (synced) return;
  bridge_configs_sent_.clear();
  registry_.for_each([](DeviceRecord& record) {
    record.configs_sent.clear();
    record.configs_out = false;
    record.discovery_pending = false;
    record.hold_until = {};
  });
  discovery_waiting_.clear();
  discovery_timer_.cancel();
}

void Publisher::stop() {
  stopping_ = true;
  discovery_timer_.cancel();
  hold_timer_.cancel();
}

void Publisher::bridge_online() {
  publish(topics::bridge_state(base_), "online", true);
  bridge_discovery(false);  // before bridge/info, which holds the states of its entities
  info();
}

void Publisher::info() {
  json info = {{"version", LOCALCLOUD_VERSION},
               {"bridges", registry_.bridges_json()},
               {"config", config::redacted_json(config_)},
               {"log_level", std::string(level_name(log_settings::level()))}};
  const json permit_join = registry_.permit_join_json();
  for (const auto& [name, value] : permit_join.items()) info[name] = value;
  if (info_extra_) info_extra_(info);
  publish(topics::bridge_info(base_), dump_json(info), true);
}

void Publisher::everything(bool force) {
  bridge_discovery(force);
  registry_.for_each([this, force](DeviceRecord& record) {
    discovery(record, force);
    if (!record.state.empty()) state(record);
    if (!record.attributes.is_null()) attributes(record);
    availability(record);
  });
  devices();
}

void Publisher::bridge_discovery(bool force) {
  if (!config_.homeassistant.discovery || !mqtt_.connected()) return;
  for (const auto& message : discovery::build_bridge(discovery_options_, kPermitJoinSwitchSeconds)) {
    auto& sent = bridge_configs_sent_[message.topic];
    if (!force && sent == message.payload) continue;
    if (publish(message.topic, message.payload, true)) sent = message.payload;
  }
}

void Publisher::discovery(DeviceRecord& record, bool force) {
  record.discovery_pending = false;
  if (!synced_) return;
  if (!config_.homeassistant.discovery) {
    record.configs_out = true;
    if (record.state_dirty || record.attributes_dirty) queue(record);
    return;
  }
  auto messages = discovery::build(discovery_options_, record.port->name, record.info, record.key);
  std::vector<std::string> topics;
  bool changed_in_place = false;
  for (const auto& message : messages) {
    topics.push_back(message.topic);
    const auto sent = record.configs_sent.find(message.topic);
    const bool same = sent != record.configs_sent.end() && sent->second == message.payload;
    if (same && !force) continue;
    if (sent != record.configs_sent.end() && !same) changed_in_place = true;
    if (publish(message.topic, message.payload, true)) record.configs_sent[message.topic] = message.payload;
  }
  // Entities the device no longer has (e.g. a model learned later) are removed.
  for (const auto& old : record.discovery_topics) {
    if (std::find(topics.begin(), topics.end(), old) != topics.end()) continue;
    publish(old, "", true);
    record.configs_sent.erase(old);
  }
  record.discovery_topics = std::move(topics);
  record.configs_out = true;
  if (changed_in_place) {
    // Home Assistant applies the update in a task of its own: the state waits, then goes out
    // again to be judged against the new config.
    record.hold_until = std::chrono::steady_clock::now() + kConfigSettle;
    if (!record.state.empty()) record.state_dirty = true;
  }
  if (record.state_dirty || record.attributes_dirty) queue(record);
}

void Publisher::discovery_soon(DeviceRecord& record) {
  if (!synced_ || record.discovery_pending) return;  // the sync publishes everything anyway
  record.discovery_pending = true;
  discovery_waiting_.emplace_back(record.port->name, record.info.id);
  if (discovery_waiting_.size() > 1) return;
  discovery_timer_.expires_after(kDescriptionSettle);
  discovery_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    auto waiting = std::move(discovery_waiting_);
    discovery_waiting_.clear();
    for (const auto& [bridge, id] : waiting) {
      BridgePort* port = registry_.find_port(bridge);
      DeviceRecord* record = port ? port->find(id) : nullptr;
      if (record && record->discovery_pending) discovery(*record);
    }
  });
}

bool Publisher::may_publish_values(DeviceRecord& record) {
  // Its configs come first; and when a description change waits to be published, the state
  // that may need the new config waits with it (discovery() queues it afterwards).
  if (config_.homeassistant.discovery && (!record.configs_out || record.discovery_pending)) return false;
  if (std::chrono::steady_clock::now() >= record.hold_until) return true;
  const std::pair<std::string, std::string> id{record.port->name, record.info.id};
  if (std::find(held_.begin(), held_.end(), id) == held_.end()) held_.push_back(id);
  arm_hold();
  return false;
}

void Publisher::arm_hold() {
  if (hold_armed_ || held_.empty()) return;
  auto earliest = std::chrono::steady_clock::time_point::max();
  for (const auto& [bridge, id] : held_) {
    BridgePort* port = registry_.find_port(bridge);
    if (DeviceRecord* record = port ? port->find(id) : nullptr) earliest = std::min(earliest, record->hold_until);
  }
  if (earliest == std::chrono::steady_clock::time_point::max()) {
    held_.clear();
    return;
  }
  hold_armed_ = true;
  hold_timer_.expires_at(earliest);
  hold_timer_.async_wait([this](const boost::system::error_code& ec) {
    hold_armed_ = false;
    if (ec) return;
    const auto now = std::chrono::steady_clock::now();
    std::vector<std::pair<std::string, std::string>> still_held;
    for (const auto& entry : held_) {
      BridgePort* port = registry_.find_port(entry.first);
      DeviceRecord* record = port ? port->find(entry.second) : nullptr;
      if (!record) continue;
      if (now < record->hold_until) still_held.push_back(entry);
      else if (record->state_dirty || record->attributes_dirty) queue(*record);
    }
    held_ = std::move(still_held);
    arm_hold();
  });
}

void Publisher::state(DeviceRecord& record) {
  if (!synced_) {
    record.state_dirty = false;  // the sync publishes it
    return;
  }
  if (!may_publish_values(record)) {
    record.state_dirty = true;
    return;
  }
  record.state_dirty = false;
  json payload = record.state;
  for (const auto& property : record.info.properties)
    if (!payload.contains(property.key)) payload[property.key] = nullptr;
  publish(topics::state(base_, record.key), dump_json(payload), true);
}

void Publisher::attributes(DeviceRecord& record) {
  if (!synced_) {
    record.attributes_dirty = false;
    return;
  }
  if (!may_publish_values(record)) {
    record.attributes_dirty = true;
    return;
  }
  record.attributes_dirty = false;
  publish(topics::attributes(base_, record.key),
          record.attributes.is_null() ? "{}" : dump_json(record.attributes),
          true);
}

void Publisher::availability(DeviceRecord& record) {
  if (!synced_) return;
  publish(topics::availability(base_, record.key), record.online ? "online" : "offline", true);
}

void Publisher::queue(DeviceRecord& record) {
  if (!record.queued) {
    record.queued = true;
    dirty_.push_back(record.key);
  }
  if (!flush_scheduled_) {
    flush_scheduled_ = true;
    boost::asio::post(io_, [this] { flush(); });
  }
}

void Publisher::flush() {
  flush_scheduled_ = false;
  auto keys = std::move(dirty_);
  dirty_.clear();
  for (const auto& key : keys) {
    DeviceRecord* record = registry_.find_by_key(key);
    if (!record) continue;
    record->queued = false;
    if (record->state_dirty) state(*record);
    if (record->attributes_dirty) attributes(*record);
  }
}

void Publisher::renamed(DeviceRecord& record, const std::string& old_key) {
  auto old_topics = key_topics(old_key);
  if (synced_) {
    for (const auto& topic : old_topics) publish(topic, "", true);
  } else {
    clear_at_sync(std::move(old_topics));
  }
  std::replace(dirty_.begin(), dirty_.end(), old_key, record.key);
  // The configs keep their topics (they are named by bridge and id) and unique_id: Home
  // Assistant updates the entities in place, with the new topics and device name.
  discovery(record);
  availability(record);
  if (!record.state.empty()) state(record);
  if (!record.attributes.is_null()) attributes(record);
  devices_soon();
}

// bridge/devices at most once a second; checked by the one-second tick.
void Publisher::devices_if_due() {
  if (devices_dirty_ && synced_) devices();
}

void Publisher::devices() {
  devices_dirty_ = false;
  if (!synced_) return;
  publish(topics::bridge_devices(base_), dump_json(registry_.devices_json(false)), true);
}

void Publisher::event(const std::string& type, const std::string& key, json detail) {
  json event = {{"type", type}, {"device", key}};
  if (detail.is_object())
    for (auto& [name, value] : detail.items()) event[name] = value;
  publish(topics::bridge_event(base_), dump_json(event), false);
}

std::vector<std::string> Publisher::device_topics(const std::string& bridge, const DeviceInfo& info,
                                                  const std::string& key) const {
  std::vector<std::string> topics;
  for (const auto& message : discovery::build(discovery_options_, bridge, info, key)) topics.push_back(message.topic);
  for (auto& topic : key_topics(key)) topics.push_back(std::move(topic));
  return topics;
}

std::vector<std::string> Publisher::key_topics(const std::string& key) const {
  return {topics::state(base_, key), topics::attributes(base_, key), topics::availability(base_, key)};
}

void Publisher::clear_device(const DeviceRecord& record) {
  for (const auto& topic : record.discovery_topics) publish(topic, "", true);
  publish(topics::state(base_, record.key), "", true);
  publish(topics::attributes(base_, record.key), "", true);
  publish(topics::availability(base_, record.key), "", true);
  dirty_.erase(std::remove(dirty_.begin(), dirty_.end(), record.key), dirty_.end());
}

void Publisher::clear_at_sync(std::vector<std::string> topics) {
  to_clear_.insert(to_clear_.end(), std::make_move_iterator(topics.begin()), std::make_move_iterator(topics.end()));
}

void Publisher::clear_pending() {
  for (const auto& topic : to_clear_) publish(topic, "", true);
  if (!to_clear_.empty()) log_.info("cleared ", to_clear_.size(), " topics of devices that left the config");
  to_clear_.clear();
}

std::vector<std::pair<std::string, std::string>> Publisher::last_words() const {
  std::vector<std::pair<std::string, std::string>> words;
  registry_.for_each([&](const DeviceRecord& record) { words.emplace_back(topics::availability(base_, record.key), "offline"); });
  words.emplace_back(topics::bridge_state(base_), "offline");
  return words;
}

}  // namespace lc
