#include "app/hub.h"

#include <algorithm>
#include <boost/asio/post.hpp>

#include "app/command_value.h"
#include "app/mqtt/topics.h"
#include "core/durable_store.h"
#include "core/json_limits.h"

namespace lc {

namespace asio = boost::asio;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

constexpr auto kSyncDelay = std::chrono::milliseconds(1000);   // retained states arrive first
constexpr auto kSyncWindow = std::chrono::milliseconds(3000);  // then <base>/+ is dropped
constexpr size_t kMaxRetainedRemembered = 20000;
constexpr size_t kMaxRefusedLogged = 100;
constexpr const char* kDatabaseName = "devices.json";
// Requests are small objects; a retained state is a flat object of a device's properties.
constexpr JsonLimits kRequestLimits{4096, 16};
constexpr JsonLimits kRetainedStateLimits{16384, 4};

bool valid_device_id(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
  });
}

json property_to_json(const Property& p) {
  json out = {{"key", p.key}, {"component", component_name(p.component)}, {"writable", p.writable},
              {"main", p.main}, {"diagnostic", p.diagnostic}, {"device_class", p.device_class},
              {"unit", p.unit}, {"state_class", p.state_class}, {"icon", p.icon}, {"options", p.options},
              {"min", p.min}, {"max", p.max}, {"step", p.step}, {"precision", p.precision},
              {"attributes", p.attributes}, {"hidden", p.hidden}};
  return out;
}

Property property_from_json(const json& j) {
  Property p;
  p.key = j.value("key", "");
  const std::string component = j.value("component", "sensor");
  for (Component c : {Component::sensor, Component::binary_sensor, Component::switch_, Component::select,
                      Component::number})
    if (component == component_name(c)) p.component = c;
  p.writable = j.value("writable", false);
  p.main = j.value("main", false);
  p.diagnostic = j.value("diagnostic", false);
  p.device_class = j.value("device_class", "");
  p.unit = j.value("unit", "");
  p.state_class = j.value("state_class", "");
  p.icon = j.value("icon", "");
  p.options = j.value("options", std::vector<std::string>{});
  p.min = j.value("min", 0.0);
  p.max = j.value("max", 100.0);
  p.step = j.value("step", 1.0);
  p.precision = j.value("precision", -1);
  p.attributes = j.value("attributes", false);
  p.hidden = j.value("hidden", false);
  return p;
}

// What a bridge may read from a retained state: its top-level numbers (energy's floor), as a
// flat object, so that nothing else the broker holds is trusted or copied.
json retained_numbers(const json& state) {
  json numbers = json::object();
  for (const auto& [name, value] : state.items())
    if (value.is_number()) numbers[name] = value;
  return numbers;
}

bool same_properties(const std::vector<Property>& a, const std::vector<Property>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (property_to_json(a[i]) != property_to_json(b[i])) return false;
  return true;
}

std::string iso_time(std::chrono::system_clock::time_point at) {
  const std::time_t seconds = std::chrono::system_clock::to_time_t(at);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return text;
}

}  // namespace

struct HubService::Record {
  Port* port = nullptr;
  DeviceInfo info;
  std::string key;
  json state = json::object();
  json attributes;  // null: none
  bool online = false;
  bool state_dirty = false;
  bool attributes_dirty = false;
  bool queued = false;  // in dirty_
  bool ever_heard = false;
  Clock::time_point last_heard{};
  std::vector<std::string> discovery_topics;  // config topics published for it
};

class HubService::Port final : public Hub {
 public:
  Port(HubService& hub, std::string name) : hub_(hub), name(std::move(name)), log(this->name) {}

  bool device_seen(const DeviceInfo& info) override {
    if (!valid_device_id(info.id)) {
      hub_.unknown_refused_.inc();
      log.debug("device id refused (not [a-z0-9._-]{1,64})");
      return false;
    }
    if (auto it = devices.find(info.id); it != devices.end()) {
      update(*it->second, info);
      return true;
    }
    if (!info.configured && !admit_unknown(info.id)) return false;
    const std::string key = topics::device_key(name, info.id, info.name);
    if (!topics::valid_level(key) || hub_.by_key_.count(key)) {
      log.warn("device ", log_name(info.id), " not registered: MQTT key '", info.name.empty() ? "" : key,
               "' is taken or invalid");
      return false;
    }
    Record& record = hub_.add_record(*this, info, key);
    if (!info.configured) ++unknown_count;
    log.info("device ", log_name(info.id), " registered", info.configured ? "" : " (not in the config)");
    hub_.publish_event("device_joined", record.key,
                       {{"bridge", name}, {"id", info.id}, {"configured", info.configured}});
    return true;
  }

  bool known(std::string_view id) const override { return devices.find(id) != devices.end(); }

  void heard(std::string_view id) override {
    auto it = devices.find(id);
    if (it == devices.end()) return;
    Record& record = *it->second;
    record.last_heard = Clock::now();
    record.ever_heard = true;
    if (!record.online) {
      record.online = true;
      hub_.publish_availability(record);
      hub_.publish_devices_soon();
    }
  }

  void state_changed(std::string_view id, std::string_view property, Json value) override {
    auto it = devices.find(id);
    if (it == devices.end()) return;
    Record& record = *it->second;
    const std::string key(property);
    if (auto it = record.state.find(key); it != record.state.end() && *it == value) return;
    record.state[key] = std::move(value);
    record.state_dirty = true;
    hub_.queue(record);
  }

  void attributes_changed(std::string_view id, Json attributes) override {
    auto it = devices.find(id);
    if (it == devices.end() || it->second->attributes == attributes) return;
    it->second->attributes = std::move(attributes);
    it->second->attributes_dirty = true;
    hub_.queue(*it->second);
  }

  void device_lost(std::string_view id) override {
    auto it = devices.find(id);
    if (it == devices.end() || !it->second->online) return;
    it->second->online = false;
    hub_.publish_availability(*it->second);
    hub_.publish_devices_soon();
  }

  void event(std::string_view type, std::string_view id, Json detail) override {
    auto it = devices.find(id);
    const std::string key = it != devices.end() ? it->second->key : topics::device_key(name, id, "");
    if (!detail.is_object()) detail = json{{"detail", std::move(detail)}};
    detail["bridge"] = name;
    hub_.publish_event(std::string(type), key, std::move(detail));
  }

  std::string log_name(std::string_view id) const override {
    auto it = devices.find(id);
    if (it != devices.end() && !it->second->info.name.empty()) return it->second->info.name;
    return mask_id(id);
  }

  size_t online_count() const {
    return static_cast<size_t>(std::count_if(devices.begin(), devices.end(), [](const auto& e) { return e.second->online; }));
  }

  HubService& hub_;
  std::string name;
  Logger log;
  Bridge* bridge = nullptr;
  BridgePolicy policy;
  std::unordered_map<std::string, std::unique_ptr<Record>, StringHash, std::equal_to<>> devices;
  int unknown_count = 0;
  Clock::time_point last_unknown_admitted{};
  std::set<std::string, std::less<>> refused_logged;

 private:
  bool admit_unknown(std::string_view id) {
    const char* reason = nullptr;
    if (!policy.accept_unknown) reason = "accept_unknown is false";
    else if (unknown_count >= policy.max_unknown) reason = "max_unknown reached";
    if (reason) {
      hub_.unknown_refused_.inc();
      if (refused_logged.size() < kMaxRefusedLogged && refused_logged.emplace(id).second)
        log.info("device ", mask_id(id), " not registered: ", reason, " (it still gets its keepalive replies)");
      else if (refused_logged.size() == kMaxRefusedLogged && refused_logged.emplace("").second)
        log.info("further unregistered devices are not logged; see localcloud_unknown_devices_refused_total");
      return false;
    }
    // At most one new unknown device a second (PRODUCT.md): a flood of random ids cannot
    // fill the registry in a burst; the refused device is admitted on a later keepalive.
    const auto now = Clock::now();
    if (last_unknown_admitted != Clock::time_point{} && now - last_unknown_admitted < std::chrono::seconds(1)) {
      log.debug("device ", mask_id(id), " admission deferred (one new device a second)");
      return false;
    }
    last_unknown_admitted = now;
    return true;
  }

  void update(Record& record, const DeviceInfo& info) {
    const bool discovery_changed = record.info.model != info.model || record.info.firmware != info.firmware ||
                                   record.info.manufacturer != info.manufacturer ||
                                   !same_properties(record.info.properties, info.properties);
    const bool was_configured = record.info.configured;
    const std::string name_keep = record.info.name;
    record.info = info;
    if (record.info.name.empty()) record.info.name = name_keep;  // the key stays what it was
    if (!was_configured && info.configured) --unknown_count;
    if (discovery_changed) {
      hub_.publish_discovery(record);
      hub_.publish_devices_soon();
      hub_.save_database_soon();
    }
  }
};

HubService::HubService(asio::io_context& io, const config::Config& config, MqttLink& mqtt, Metrics& metrics,
                       DurableStore& store)
    : io_(io),
      config_(config),
      mqtt_(mqtt),
      metrics_(metrics),
      store_(store),
      base_(config.mqtt.base_topic),
      log_("hub"),
      availability_timer_(io),
      sync_timer_(io),
      sync_end_timer_(io),
      database_timer_(io),
      rediscovery_timer_(io),
      random_(std::random_device{}()),
      commands_ok_(metrics.counter("localcloud_commands_total", "Commands from MQTT by result", {{"result", "ok"}})),
      commands_failed_(metrics.counter("localcloud_commands_total", "Commands from MQTT by result", {{"result", "failed"}})),
      unknown_refused_(metrics.counter("localcloud_unknown_devices_refused_total",
                                       "Devices not registered (accept_unknown, max_unknown, rate, invalid id)")) {
  discovery_options_.prefix = config.homeassistant.prefix;
  discovery_options_.base = base_;
  discovery_options_.version = LOCALCLOUD_VERSION;
  metrics.gauge("localcloud_mqtt_connected", "1 while connected to the broker", {},
                [this] { return mqtt_.connected() ? 1.0 : 0.0; });
}

HubService::~HubService() = default;

Hub& HubService::port(const std::string& bridge_name) {
  auto& slot = ports_[bridge_name];
  if (!slot) {
    slot = std::make_unique<Port>(*this, bridge_name);
    Port* port = slot.get();
    metrics_.gauge("localcloud_devices", "Registered devices by bridge", {{"bridge", bridge_name}},
                   [port] { return static_cast<double>(port->devices.size()); });
    metrics_.gauge("localcloud_devices_online", "Online devices by bridge", {{"bridge", bridge_name}},
                   [port] { return static_cast<double>(port->online_count()); });
  }
  return *slot;
}

void HubService::attach(Bridge& bridge) {
  auto& port = static_cast<Port&>(this->port(std::string(bridge.name())));
  port.bridge = &bridge;
  port.policy = bridge.policy();
}

HubService::Record& HubService::add_record(Port& port, const DeviceInfo& info, const std::string& key) {
  auto record = std::make_unique<Record>();
  record->port = &port;
  record->info = info;
  record->key = key;
  Record& ref = *record;
  by_key_[key] = &ref;
  port.devices.emplace(info.id, std::move(record));
  if (auto retained = retained_by_key_.find(key); retained != retained_by_key_.end()) {
    // Handed over after the bridge's device_seen call returns, never re-entrantly.
    asio::post(io_, [this, key, state = retained->second] {
      Record* record = find_by_key(key);
      if (record && record->port->bridge) record->port->bridge->retained_state(record->info.id, state);
    });
    retained_by_key_.erase(retained);
  }
  publish_discovery(ref);
  publish_availability(ref);
  publish_devices_soon();
  save_database_soon();
  return ref;
}

void HubService::start() {
  load_database();
  tick();
  mqtt_.start({[this] { on_connected(); }, [this] { on_disconnected(); },
               [this](std::string topic, std::string payload, bool retained) {
                 try {
                   on_message(topic, payload, retained);
                 } catch (const std::exception& error) {
                   log_.warn("message on ", topic_for_log(topic), " not handled: ", error.what());
                 }
               }});
}

// Once a second: availability (a device is offline once its bridge's offline_after passes in
// silence) and bridge/devices (at most once a second).
void HubService::tick() {
  availability_timer_.expires_after(std::chrono::seconds(1));
  availability_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || stopping_) return;
    check_availability();
    flush_devices_if_due();
    tick();
  });
}

void HubService::check_availability() {
  const auto now = Clock::now();
  for (auto& [name, port] : ports_) {
    for (auto& [id, record] : port->devices) {
      if (record->online && now - record->last_heard > port->policy.offline_after) {
        record->online = false;
        port->log.info("device ", port->log_name(id), " offline (silent for ",
                       std::chrono::duration_cast<std::chrono::seconds>(port->policy.offline_after).count(), " s)");
        publish_availability(*record);
        publish_devices_soon();
      }
    }
  }
}

// ---- MQTT ------------------------------------------------------------------------------

bool HubService::publish(const std::string& topic, const std::string& payload, bool retained) {
  if (stopping_) return false;
  return mqtt_.publish(topic, payload, retained);
}

void HubService::on_connected() {
  synced_ = false;
  publish(topics::bridge_state(base_), "online", true);
  publish_info();
  std::vector<std::string> filters = {base_ + "/+/set", base_ + "/+/set/+", base_ + "/+/get",
                                      base_ + "/bridge/request/+", base_ + "/+"};
  if (config_.homeassistant.discovery && !config_.homeassistant.status_topic.empty())
    filters.push_back(config_.homeassistant.status_topic);
  mqtt_.subscribe(filters);
  // Retained states of our devices (<base>/+) arrive right after the subscription; the full
  // snapshot is published once they are in, so an energy counter never goes backwards.
  sync_timer_.expires_after(kSyncDelay);
  sync_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) initial_sync();
  });
}

void HubService::on_disconnected() {
  synced_ = false;
  sync_timer_.cancel();
  sync_end_timer_.cancel();
}

void HubService::initial_sync() {
  synced_ = true;
  for (const auto& topic : stale_discovery_) publish(topic, "", true);
  if (!stale_discovery_.empty()) log_.info("cleared ", stale_discovery_.size(), " topics of devices that left the config");
  stale_discovery_.clear();
  publish_everything();
  sync_end_timer_.expires_after(kSyncWindow);
  sync_end_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) mqtt_.unsubscribe({base_ + "/+"});
  });
}

void HubService::publish_everything() {
  for (auto& [name, port] : ports_) {
    for (auto& [id, record] : port->devices) {
      publish_discovery(*record);
      if (!record->state.empty()) publish_state(*record);
      if (!record->attributes.is_null()) publish_attributes(*record);
      publish_availability(*record);
    }
  }
  publish_devices();
}

void HubService::publish_discovery(Record& record) {
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

void HubService::publish_state(Record& record) {
  record.state_dirty = false;
  if (!synced_) return;
  json payload = record.state;
  for (const auto& property : record.info.properties)
    if (!payload.contains(property.key)) payload[property.key] = nullptr;
  publish(topics::state(base_, record.key), payload.dump(), true);
}

void HubService::publish_attributes(Record& record) {
  record.attributes_dirty = false;
  if (!synced_) return;
  publish(topics::attributes(base_, record.key), record.attributes.is_null() ? "{}" : record.attributes.dump(), true);
}

void HubService::publish_availability(Record& record) {
  if (!synced_) return;
  publish(topics::availability(base_, record.key), record.online ? "online" : "offline", true);
}

void HubService::publish_devices_soon() { devices_dirty_ = true; }

void HubService::flush_devices_if_due() {
  // bridge/devices at most once a second; checked by the one-second tick.
  if (devices_dirty_ && synced_) publish_devices();
}

void HubService::publish_devices() {
  devices_dirty_ = false;
  if (!synced_) return;
  publish(topics::bridge_devices(base_), devices_json(false).dump(), true);
}

void HubService::publish_info() {
  json info = {{"version", LOCALCLOUD_VERSION},
               {"bridges", bridges_json()},
               {"config", config::redacted_json(config_)},
               {"log_level", std::string(level_name(log_settings::level()))}};
  publish(topics::bridge_info(base_), info.dump(), true);
}

void HubService::publish_event(const std::string& type, const std::string& key, json detail) {
  json event = {{"type", type}, {"device", key}};
  if (detail.is_object())
    for (auto& [name, value] : detail.items()) event[name] = value;
  publish(topics::bridge_event(base_), event.dump(), false);
}

void HubService::queue(Record& record) {
  if (!record.queued) {
    record.queued = true;
    dirty_.push_back(record.key);
  }
  if (!flush_scheduled_) {
    flush_scheduled_ = true;
    asio::post(io_, [this] { flush(); });
  }
}

void HubService::flush() {
  flush_scheduled_ = false;
  auto keys = std::move(dirty_);
  dirty_.clear();
  for (const auto& key : keys) {
    Record* record = find_by_key(key);
    if (!record) continue;
    record->queued = false;
    if (record->state_dirty) publish_state(*record);
    if (record->attributes_dirty) publish_attributes(*record);
  }
}

// A device key for a log line: with mask_ids a key that names a device by its id
// ("<bridge>_<id>", also of a device no longer registered) shows the masked id instead.
std::string HubService::key_for_log(std::string_view key) {
  if (!log_settings::mask_ids()) return std::string(key);
  // A named device's key is its name; an unnamed one's is <bridge>_<id>, known or not.
  if (Record* record = find_by_key(key); record && !record->info.name.empty()) return std::string(key);
  for (const auto& [name, port] : ports_) {
    if (key.size() > name.size() + 1 && key.substr(0, name.size()) == name && key[name.size()] == '_')
      return name + "_" + mask_id(key.substr(name.size() + 1));
  }
  return std::string(key);
}

// An incoming topic for a log line: its device key as key_for_log() shows it.
std::string HubService::topic_for_log(std::string_view topic) {
  const auto incoming = topics::classify(base_, topic);
  if (!incoming || incoming->key.empty()) return std::string(topic);
  const size_t at = base_.size() + 1;
  if (topic.substr(at, incoming->key.size()) != incoming->key) return std::string(topic);
  return base_ + "/" + key_for_log(incoming->key) + std::string(topic.substr(at + incoming->key.size()));
}

HubService::Record* HubService::find_by_key(std::string_view key) {
  auto it = by_key_.find(key);
  return it == by_key_.end() ? nullptr : it->second;
}

void HubService::on_message(const std::string& topic, const std::string& payload, bool retained) {
  if (topic == config_.homeassistant.status_topic) {
    // Home Assistant's birth: discovery and state again after a random delay of at most 2 s
    // (homeassistant-mqtt.md §1.9). A retained "online" at subscription time is the old one.
    if (payload == "online" && !retained && config_.homeassistant.discovery) {
      const auto delay = std::chrono::milliseconds(std::uniform_int_distribution<int>(0, 2000)(random_));
      rediscovery_timer_.expires_after(delay);
      rediscovery_timer_.async_wait([this](const boost::system::error_code& ec) {
        if (!ec && synced_) {
          log_.info("Home Assistant is online: publishing discovery and state again");
          publish_everything();
        }
      });
    }
    return;
  }
  const auto incoming = topics::classify(base_, topic);
  if (!incoming) return;
  using Kind = topics::Incoming::Kind;
  if (incoming->kind == Kind::state) {
    if (!retained || payload.empty()) return;  // our own state coming back during the sync window
    JsonRefusal refusal = JsonRefusal::none;
    const auto parsed = parse_json_bounded(payload, kRetainedStateLimits, &refusal);
    if (refusal != JsonRefusal::none || !parsed.is_object()) {
      drop_message(refusal == JsonRefusal::none ? "not_an_object" : refusal_reason(refusal), topic);
      return;
    }
    json numbers = retained_numbers(parsed);
    if (Record* record = find_by_key(incoming->key)) {
      if (record->port->bridge) record->port->bridge->retained_state(record->info.id, numbers);
    } else if (retained_by_key_.size() < kMaxRetainedRemembered) {
      retained_by_key_[incoming->key] = std::move(numbers);
    }
    return;
  }
  if (retained) {
    log_.warn("ignored a retained message on ", topic_for_log(topic),
              " (commands are never taken from retained messages)");
    return;
  }
  if (incoming->kind == Kind::request) {
    handle_request(incoming->request, payload);
    return;
  }
  Record* record = find_by_key(incoming->key);
  if (!record) {
    log_.warn("command for unknown device '", key_for_log(incoming->key), "' ignored");
    return;
  }
  switch (incoming->kind) {
    case Kind::get:
      if (record->port->bridge) record->port->bridge->read(record->info.id);
      break;
    case Kind::set_property:
      handle_set(*record, incoming->property, plain_payload(payload));
      break;
    case Kind::set: {
      const auto request = parse_set_payload(payload);
      if (!request.error.empty()) {
        log_.warn("command for ", record->port->log_name(record->info.id), " refused: ", request.error);
        publish_event("command_failed", record->key, {{"error", request.error}});
        commands_failed_.inc();
        break;
      }
      const std::string key = record->key;
      for (const auto& [property, value] : request.entries) {
        Record* current = find_by_key(key);
        if (!current) break;
        handle_set(*current, property, value);
      }
      break;
    }
    default:
      break;
  }
}

// A message from the broker refused before use: counted by reason, logged at info the first
// time per reason and at debug after that.
void HubService::drop_message(const char* reason, const std::string& topic) {
  metrics_.counter("localcloud_mqtt_messages_dropped_total", "MQTT messages refused before use, by reason",
                   {{"reason", reason}})
      .inc();
  if (drop_reasons_logged_.insert(reason).second)
    log_.info("dropped a message on ", topic_for_log(topic), ": ", reason, " (further drops are logged at debug)");
  else
    log_.debug("dropped a message on ", topic_for_log(topic), ": ", reason);
}

void HubService::handle_set(Record& record, const std::string& property, const json& value) {
  const std::string key = record.key;
  Port& port = *record.port;
  auto fail = [this, key, &port, id = record.info.id, property, value](const std::string& error) {
    commands_failed_.inc();
    port.log.warn("command ", property, "=", value.dump(), " for ", port.log_name(id), " failed: ", error);
    publish_event("command_failed", key, {{"property", property}, {"value", value}, {"error", error}});
  };
  const auto it = std::find_if(record.info.properties.begin(), record.info.properties.end(),
                               [&](const Property& p) { return p.key == property; });
  if (it == record.info.properties.end()) return fail("unknown property '" + property + "'");
  const auto normalised = normalise_command(*it, value);
  if (!normalised.error.empty()) return fail(normalised.error);
  if (!record.online) return fail("device offline");
  if (!port.bridge) return fail("bridge not running");
  port.log.debug("command ", property, "=", normalised.value.dump(), " for ", port.log_name(record.info.id));
  port.bridge->command(record.info.id, property, normalised.value, [this, fail, key](std::string error) {
    if (!error.empty()) return fail(error);
    commands_ok_.inc();
    // The state is published after every completed command, changed or not, as the answer
    // Home Assistant (and a script waiting for it) gets; polls publish only changes.
    if (Record* done = find_by_key(key); done && !done->state.empty()) {
      done->state_dirty = true;
      queue(*done);
    }
  });
}

void HubService::handle_request(const std::string& name, const std::string& payload) {
  JsonRefusal refusal = JsonRefusal::none;
  auto parsed = parse_json_bounded(payload, kRequestLimits, &refusal);
  json transaction = parsed.is_object() && parsed.contains("transaction") ? parsed["transaction"] : json();
  auto respond = [&](json response) {
    if (!transaction.is_null()) response["transaction"] = transaction;
    publish(base_ + "/bridge/response/" + name, response.dump(), false);
  };
  if (refusal == JsonRefusal::too_large || refusal == JsonRefusal::too_deep) {
    drop_message(refusal_reason(refusal), base_ + "/bridge/request/" + name);
    respond({{"status", "error"},
             {"error", refusal == JsonRefusal::too_large ? "request larger than 4096 bytes" : "request nested too deep"}});
    return;
  }
  if (name == "remove") {
    std::string key;
    if (parsed.is_object() && parsed.contains("device") && parsed["device"].is_string())
      key = parsed["device"].get<std::string>();
    else if (parsed.is_discarded() || parsed.is_string())
      key = parsed.is_string() ? parsed.get<std::string>() : payload;
    if (!find_by_key(key)) {
      respond({{"status", "error"}, {"error", "no device '" + key.substr(0, 128) + "'"}});
      return;
    }
    remove_device(key);
    respond({{"status", "ok"}, {"data", {{"device", key}}}});
  } else if (name == "health_check") {
    respond({{"status", "ok"}, {"data", {{"healthy", true}}}});
  } else {
    respond({{"status", "error"}, {"error", "unknown request '" + name + "'"}});
  }
}

void HubService::remove_device(const std::string& key) {
  Record* record = find_by_key(key);
  if (!record) return;
  Port& port = *record->port;
  const std::string id = record->info.id;
  for (const auto& topic : record->discovery_topics) publish(topic, "", true);
  publish(topics::state(base_, key), "", true);
  publish(topics::attributes(base_, key), "", true);
  publish(topics::availability(base_, key), "", true);
  if (!record->info.configured) --port.unknown_count;
  port.refused_logged.erase(id);
  port.log.info("device ", port.log_name(id), " removed on request");
  by_key_.erase(key);
  dirty_.erase(std::remove(dirty_.begin(), dirty_.end(), key), dirty_.end());
  port.devices.erase(id);
  if (port.bridge) port.bridge->forget(id);
  publish_event("device_left", key, {{"bridge", port.name}, {"id", id}});
  publish_devices_soon();
  save_database_soon();
}

// ---- the device database (devices.json in data_dir) -------------------------------------
// Devices seen before keep their discovery across restarts; configured devices that left the
// config have their entities removed (an empty retained config).

void HubService::save_database_soon() {
  if (database_dirty_) return;
  database_dirty_ = true;
  database_timer_.expires_after(std::chrono::seconds(2));
  database_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) save_database();
  });
}

void HubService::save_database() {
  database_dirty_ = false;
  json devices = json::array();
  for (auto& [name, port] : ports_) {
    for (auto& [id, record] : port->devices) {
      json properties = json::array();
      for (const auto& p : record->info.properties) properties.push_back(property_to_json(p));
      devices.push_back({{"bridge", name}, {"id", id}, {"key", record->key}, {"name", record->info.name},
                         {"configured", record->info.configured}, {"manufacturer", record->info.manufacturer},
                         {"model", record->info.model}, {"firmware", record->info.firmware},
                         {"properties", properties}});
    }
  }
  store_.store(kDatabaseName, json{{"version", 1}, {"devices", devices}}.dump(1));
}

void HubService::load_database() {
  const auto text = store_.load(kDatabaseName);
  if (!text) return;
  const auto parsed = json::parse(*text, nullptr, false);
  if (parsed.is_discarded() || !parsed.is_object() || !parsed.contains("devices") || !parsed["devices"].is_array()) {
    log_.warn("ignored ", kDatabaseName, " in data_dir: not a device database");
    return;
  }
  size_t restored = 0, stale = 0;
  for (const auto& entry : parsed["devices"]) {
    try {
      DeviceInfo info;
      const std::string bridge = entry.at("bridge").get<std::string>();
      info.id = entry.at("id").get<std::string>();
      info.name = entry.value("name", "");
      info.configured = entry.value("configured", false);
      info.manufacturer = entry.value("manufacturer", "");
      info.model = entry.value("model", "");
      info.firmware = entry.value("firmware", "");
      for (const auto& p : entry.value("properties", json::array())) info.properties.push_back(property_from_json(p));
      const std::string key = entry.value("key", topics::device_key(bridge, info.id, info.name));
      auto port_it = ports_.find(bridge);
      Port* port = port_it == ports_.end() ? nullptr : port_it->second.get();
      if (port) {
        if (auto existing = port->devices.find(info.id); existing != port->devices.end()) {
          DeviceInfo& current = existing->second->info;  // known from the config: fill what the
          if (current.model.empty()) current.model = info.model;  // bridge cannot know yet
          if (current.firmware.empty()) current.firmware = info.firmware;
          if (current.properties.empty()) current.properties = info.properties;
          continue;
        }
      }
      const bool keep = port && !info.configured && valid_device_id(info.id) && topics::valid_level(key) &&
                        !by_key_.count(key) && port->unknown_count < port->policy.max_unknown;
      if (keep) {
        add_record(*port, info, key);
        ++port->unknown_count;
        ++restored;
        continue;
      }
      ++stale;
      if (bridge.empty() || !topics::valid_level(key)) continue;
      for (const auto& message : discovery::build(discovery_options_, bridge, info, key))
        stale_discovery_.push_back(message.topic);
      for (const auto& topic : {topics::state(base_, key), topics::attributes(base_, key), topics::availability(base_, key)})
        stale_discovery_.push_back(topic);
    } catch (const std::exception&) {
      continue;
    }
  }
  if (restored || stale) log_.info("device database: ", restored, " devices restored, ", stale, " no longer configured");
  if (stale) save_database_soon();
}

// ---- shutdown and the API ---------------------------------------------------------------

void HubService::shutdown(std::chrono::milliseconds budget) {
  std::vector<std::pair<std::string, std::string>> last_words;
  for (auto& [name, port] : ports_)
    for (auto& [id, record] : port->devices) last_words.emplace_back(topics::availability(base_, record->key), "offline");
  last_words.emplace_back(topics::bridge_state(base_), "offline");
  stopping_ = true;
  availability_timer_.cancel();
  sync_timer_.cancel();
  sync_end_timer_.cancel();
  rediscovery_timer_.cancel();
  database_timer_.cancel();
  if (database_dirty_) save_database();
  mqtt_.shutdown(last_words, budget);
}

bool HubService::broker_connected() const { return mqtt_.connected(); }

json HubService::devices_json(bool with_last_seen) const {
  json list = json::array();
  const auto steady_now = Clock::now();
  const auto wall_now = std::chrono::system_clock::now();
  std::vector<const Record*> records;
  for (const auto& [name, port] : ports_)
    for (const auto& [id, record] : port->devices) records.push_back(record.get());
  std::sort(records.begin(), records.end(), [](const Record* a, const Record* b) { return a->key < b->key; });
  for (const Record* record : records) {
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
      device["last_seen"] = record->ever_heard ? json(iso_time(wall_now - std::chrono::duration_cast<std::chrono::system_clock::duration>(
                                                                             steady_now - record->last_heard)))
                                               : json(nullptr);
    }
    list.push_back(std::move(device));
  }
  return list;
}

json HubService::bridges_json() const {
  json bridges = json::object();
  for (const auto& [name, port] : ports_) {
    json listeners = json::array();
    if (port->bridge)
      for (const auto& listener : port->bridge->listeners())
        listeners.push_back({{"protocol", listener.protocol}, {"address", listener.address}});
    bridges[name] = {{"listeners", listeners}, {"devices", port->devices.size()}, {"online", port->online_count()}};
  }
  return bridges;
}

}  // namespace lc
