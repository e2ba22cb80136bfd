#include "app/hub/mqtt_routing.h"

#include <boost/asio/post.hpp>

#include "app/command_value.h"
#include "app/hub/bridge_port.h"
#include "app/mqtt/topics.h"
#include "core/json_limits.h"

namespace lc {

using nlohmann::json;

namespace {

constexpr size_t kMaxRetainedRemembered = 20000;
// Requests are small objects; a retained state is a flat object of a device's properties.
constexpr JsonLimits kRequestLimits{4096, 16};
constexpr JsonLimits kRetainedStateLimits{16384, 4};

// What a bridge may read from a retained state: its top-level numbers (energy's floor), as a
// flat object, so that nothing else the broker holds is trusted or copied.
json retained_numbers(const json& state) {
  json numbers = json::object();
  for (const auto& [name, value] : state.items())
    if (value.is_number()) numbers[name] = value;
  return numbers;
}

}  // namespace

MqttRouter::MqttRouter(const config::Config& config, Metrics& metrics, Registry& registry, Publisher& publisher,
                       MqttSession& session, Commands& commands, Requests& requests)
    : config_(config),
      metrics_(metrics),
      registry_(registry),
      publisher_(publisher),
      session_(session),
      commands_(commands),
      requests_(requests),
      base_(config.mqtt.base_topic),
      log_("hub") {}

void MqttRouter::message(const std::string& topic, const std::string& payload, bool retained) {
  if (topic == config_.homeassistant.status_topic) return session_.home_assistant_status(payload, retained);
  const auto incoming = topics::classify(base_, topic);
  if (!incoming) return;
  using Kind = topics::Incoming::Kind;
  if (incoming->kind == Kind::state) {
    if (retained && !payload.empty()) retained_state(incoming->key, payload, topic);
    return;  // else our own state coming back during the sync window
  }
  if (retained) {
    log_.warn("ignored a retained message on ", topic_for_log(topic),
              " (commands are never taken from retained messages)");
    return;
  }
  if (incoming->kind == Kind::request) return request(incoming->request, payload);
  DeviceRecord* record = registry_.find_by_key(incoming->key);
  if (!record) {
    log_.warn("command for unknown device '", registry_.key_for_log(incoming->key), "' ignored");
    return;
  }
  switch (incoming->kind) {
    case Kind::get:
      if (record->port->bridge) record->port->bridge->read(record->info.id);
      break;
    case Kind::set_property:
      commands_.send(*record, incoming->property, plain_payload(payload));
      break;
    case Kind::set:
      set(*record, payload);
      break;
    default:
      break;
  }
}

void MqttRouter::retained_state(const std::string& key, const std::string& payload, const std::string& topic) {
  JsonRefusal refusal = JsonRefusal::none;
  const auto parsed = parse_json_bounded(payload, kRetainedStateLimits, &refusal);
  if (refusal != JsonRefusal::none || !parsed.is_object()) {
    drop(refusal == JsonRefusal::none ? "not_an_object" : refusal_reason(refusal), topic);
    return;
  }
  json numbers = retained_numbers(parsed);
  if (DeviceRecord* record = registry_.find_by_key(key)) {
    if (record->port->bridge) record->port->bridge->retained_state(record->info.id, numbers);
  } else if (retained_by_key_.size() < kMaxRetainedRemembered) {
    retained_by_key_[key] = std::move(numbers);
  }
}

void MqttRouter::hand_over_retained(boost::asio::io_context& io, const DeviceRecord& record) {
  auto retained = retained_by_key_.find(record.key);
  if (retained == retained_by_key_.end()) return;
  boost::asio::post(io, [this, key = record.key, state = std::move(retained->second)] {
    DeviceRecord* registered = registry_.find_by_key(key);
    if (registered && registered->port->bridge) registered->port->bridge->retained_state(registered->info.id, state);
  });
  retained_by_key_.erase(retained);
}

void MqttRouter::set(DeviceRecord& record, const std::string& payload) {
  const auto request = parse_set_payload(payload);
  if (!request.error.empty()) return commands_.refuse(record, request.error);
  const std::string key = record.key;
  for (const auto& [property, value] : request.entries) {
    DeviceRecord* current = registry_.find_by_key(key);  // a bridge may drop it on the way
    if (!current) break;
    commands_.send(*current, property, value);
  }
}

// The payload is parsed within kRequestLimits; text that is not JSON is passed on as a JSON
// string (remove takes a bare key).
void MqttRouter::request(const std::string& name, const std::string& payload) {
  const std::string response_topic = base_ + "/bridge/response/" + name;
  JsonRefusal refusal = JsonRefusal::none;
  auto parsed = parse_json_bounded(payload, kRequestLimits, &refusal);
  if (refusal == JsonRefusal::too_large || refusal == JsonRefusal::too_deep) {
    drop(refusal_reason(refusal), base_ + "/bridge/request/" + name);
    const json answer = {{"status", "error"},
                         {"error", refusal == JsonRefusal::too_large ? "request larger than 4096 bytes"
                                                                     : "request nested too deep"}};
    publisher_.publish(response_topic, answer.dump(), false);
    return;
  }
  if (parsed.is_discarded()) parsed = payload;
  publisher_.publish(response_topic, dump_json(requests_.handle(name, parsed)), false);
}

void MqttRouter::drop(const char* reason, const std::string& topic) {
  metrics_.counter("localcloud_mqtt_messages_dropped_total", "MQTT messages refused before use, by reason",
                   {{"reason", reason}})
      .inc();
  if (drop_reasons_logged_.insert(reason).second)
    log_.info("dropped a message on ", topic_for_log(topic), ": ", reason, " (further drops are logged at debug)");
  else
    log_.debug("dropped a message on ", topic_for_log(topic), ": ", reason);
}

std::string MqttRouter::topic_for_log(std::string_view topic) {
  const auto incoming = topics::classify(base_, topic);
  if (!incoming || incoming->key.empty()) return std::string(topic);
  const size_t at = base_.size() + 1;
  if (topic.substr(at, incoming->key.size()) != incoming->key) return std::string(topic);
  return base_ + "/" + registry_.key_for_log(incoming->key) + std::string(topic.substr(at + incoming->key.size()));
}

}  // namespace lc
