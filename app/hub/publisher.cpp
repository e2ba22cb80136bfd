#include "app/hub/publisher.h"

#include <algorithm>

#include <boost/asio/post.hpp>

#include "app/mqtt/topics.h"

namespace lc {

using nlohmann::json;

Publisher::Publisher(boost::asio::io_context& io, const config::Config& config, MqttLink& mqtt, Registry& registry)
    : io_(io), config_(config), mqtt_(mqtt), registry_(registry), base_(config.mqtt.base_topic), log_("hub") {
  discovery_options_.prefix = config.homeassistant.prefix;
  discovery_options_.base = base_;
  discovery_options_.version = LOCALCLOUD_VERSION;
}

bool Publisher::publish(const std::string& topic, const std::string& payload, bool retained) {
  if (stopping_) return false;
  return mqtt_.publish(topic, payload, retained);
}

void Publisher::bridge_online() {
  publish(topics::bridge_state(base_), "online", true);
  info();
}

void Publisher::info() {
  json info = {{"version", LOCALCLOUD_VERSION},
               {"bridges", registry_.bridges_json()},
               {"config", config::redacted_json(config_)},
               {"log_level", std::string(level_name(log_settings::level()))}};
  publish(topics::bridge_info(base_), info.dump(), true);
}

void Publisher::everything() {
  registry_.for_each([this](DeviceRecord& record) {
    discovery(record);
    if (!record.state.empty()) state(record);
    if (!record.attributes.is_null()) attributes(record);
    availability(record);
  });
  devices();
}

void Publisher::discovery(DeviceRecord& record) {
  if (!synced_ || !config_.homeassistant.discovery) return;
  auto messages = discovery::build(discovery_options_, record.port->name, record.info, record.key);
  std::vector<std::string> topics;
  for (const auto& message : messages) {
    publish(message.topic, message.payload, true);
    topics.push_back(message.topic);
  }
  // Entities the device no longer has (e.g. a model learned later) are removed.
  for (const auto& old : record.discovery_topics)
    if (std::find(topics.begin(), topics.end(), old) == topics.end()) publish(old, "", true);
  record.discovery_topics = std::move(topics);
}

void Publisher::state(DeviceRecord& record) {
  record.state_dirty = false;
  if (!synced_) return;
  json payload = record.state;
  for (const auto& property : record.info.properties)
    if (!payload.contains(property.key)) payload[property.key] = nullptr;
  publish(topics::state(base_, record.key), payload.dump(), true);
}

void Publisher::attributes(DeviceRecord& record) {
  record.attributes_dirty = false;
  if (!synced_) return;
  publish(topics::attributes(base_, record.key), record.attributes.is_null() ? "{}" : record.attributes.dump(), true);
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

// bridge/devices at most once a second; checked by the one-second tick.
void Publisher::devices_if_due() {
  if (devices_dirty_ && synced_) devices();
}

void Publisher::devices() {
  devices_dirty_ = false;
  if (!synced_) return;
  publish(topics::bridge_devices(base_), registry_.devices_json(false).dump(), true);
}

void Publisher::event(const std::string& type, const std::string& key, json detail) {
  json event = {{"type", type}, {"device", key}};
  if (detail.is_object())
    for (auto& [name, value] : detail.items()) event[name] = value;
  publish(topics::bridge_event(base_), event.dump(), false);
}

std::vector<std::string> Publisher::device_topics(const std::string& bridge, const DeviceInfo& info,
                                                  const std::string& key) const {
  std::vector<std::string> topics;
  for (const auto& message : discovery::build(discovery_options_, bridge, info, key)) topics.push_back(message.topic);
  for (auto topic : {topics::state(base_, key), topics::attributes(base_, key), topics::availability(base_, key)})
    topics.push_back(std::move(topic));
  return topics;
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
