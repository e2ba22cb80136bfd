#include "app/hub/hub_service.h"

#include <algorithm>
#include <memory>

#include <boost/asio/post.hpp>

#include "app/command_value.h"
#include "app/mqtt/topics.h"

namespace lc {

using nlohmann::json;

HubService::HubService(boost::asio::io_context& io, const config::Config& config, MqttLink& mqtt, Metrics& metrics,
                       DurableStore& store)
    : io_(io),
      mqtt_(mqtt),
      log_("hub"),
      registry_(io, metrics, *this),
      publisher_(io, config, mqtt, registry_),
      database_(io, store, registry_),
      logging_(io, publisher_, config.mqtt.base_topic + "/bridge/logging", config.log.mqtt),
      commands_(publisher_, metrics),
      requests_(config, registry_, publisher_, database_, logging_),
      session_(io, config, mqtt, publisher_),
      router_(config, metrics, registry_, publisher_, session_, commands_, requests_),
      tick_timer_(io) {
  metrics.gauge("localcloud_mqtt_connected", "1 while connected to the broker", {},
                [this] { return mqtt_.connected() ? 1.0 : 0.0; });
  publisher_.set_info_extra([this](json& info) { info["options"] = {{"log", requests_.log_options()}}; });
}

HubService::~HubService() = default;

Hub& HubService::port(const std::string& bridge_name) { return registry_.port(bridge_name); }

void HubService::attach(Bridge& bridge) { registry_.port(std::string(bridge.name())).attach(bridge); }

void HubService::start() {
  std::vector<std::string> stale_topics;
  for (const auto& stale : database_.restore())
    for (auto& topic : publisher_.device_topics(stale.bridge, stale.info, stale.key)) stale_topics.push_back(topic);
  publisher_.clear_at_sync(std::move(stale_topics));
  tick();
  mqtt_.start({[this] { session_.connected(); }, [this] { session_.disconnected(); },
               [this](std::string topic, std::string payload, bool retained) {
                 try {
                   router_.message(topic, payload, retained);
                 } catch (const std::exception& error) {
                   log_.warn("message on ", router_.topic_for_log(topic), " not handled: ", error.what());
                 }
               }});
}

// Once a second: availability (a device is offline once its bridge's offline_after passes in
// silence) and bridge/devices (at most once a second).
void HubService::tick() {
  tick_timer_.expires_after(std::chrono::seconds(1));
  tick_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || stopping_) return;
    registry_.check_availability();
    publisher_.devices_if_due();
    tick();
  });
}

void HubService::shutdown(std::chrono::milliseconds budget) {
  const auto last_words = publisher_.last_words();
  stopping_ = true;
  publisher_.stop();
  tick_timer_.cancel();
  session_.stop();
  registry_.stop();
  database_.save_if_pending();
  mqtt_.shutdown(last_words, budget);
}

bool HubService::broker_connected() const { return mqtt_.connected(); }
json HubService::devices_json(bool with_last_seen) const { return registry_.devices_json(with_last_seen); }
json HubService::bridges_json() const { return registry_.bridges_json(); }

void HubService::for_each_device(const std::function<void(const DeviceRecord&)>& visit) const {
  std::vector<const DeviceRecord*> records;
  registry_.for_each([&](const DeviceRecord& record) { records.push_back(&record); });
  std::sort(records.begin(), records.end(), [](const DeviceRecord* a, const DeviceRecord* b) { return a->key < b->key; });
  for (const DeviceRecord* record : records) visit(*record);
}

const DeviceRecord* HubService::find_device(std::string_view key) { return registry_.find_by_key(key); }

json HubService::request(std::string_view name, const json& payload) { return requests_.handle(name, payload); }

void HubService::command(std::string_view key, std::string_view property, const json& value, CommandDone done) {
  DeviceRecord* record = registry_.find_by_key(key);
  if (!record) {
    if (done) done("no device '" + std::string(key.substr(0, 128)) + "'");
    return;
  }
  commands_.send(*record, std::string(property), value, std::move(done));
}

void HubService::set(std::string_view key, std::string_view payload, CommandDone done) {
  DeviceRecord* record = registry_.find_by_key(key);
  if (!record) {
    if (done) done("no device '" + std::string(key.substr(0, 128)) + "'");
    return;
  }
  const auto request = parse_set_payload(payload);
  if (!request.error.empty()) {
    commands_.refuse(*record, request.error);
    if (done) done(request.error);
    return;
  }
  // One answer for every entry: the first error, else success once the last one completes.
  struct Outcome {
    size_t pending;
    std::string error;
    CommandDone done;
  };
  auto outcome = std::make_shared<Outcome>(Outcome{request.entries.size(), {}, std::move(done)});
  auto finish_one = [outcome](std::string error) {
    if (outcome->error.empty() && !error.empty()) outcome->error = std::move(error);
    if (--outcome->pending == 0 && outcome->done) outcome->done(outcome->error);
  };
  const std::string device_key(key);
  for (const auto& [property, value] : request.entries) {
    DeviceRecord* current = registry_.find_by_key(device_key);  // a bridge may drop it on the way
    if (!current) {
      finish_one("no device '" + device_key.substr(0, 128) + "'");
      continue;
    }
    commands_.send(*current, property, value, finish_one);
  }
}

// ---- what follows from a change in the registry ------------------------------------------

void HubService::device_added(DeviceRecord& record) {
  router_.hand_over_retained(io_, record);
  publisher_.discovery_soon(record);
  publisher_.availability(record);
  publisher_.devices_soon();
  database_.save_soon();
  observers_.notify([&](HubObserver& observer) { observer.device_changed(record); });
}

void HubService::description_changed(DeviceRecord& record) {
  publisher_.discovery_soon(record);
  publisher_.devices_soon();
  database_.save_soon();
  observers_.notify([&](HubObserver& observer) { observer.device_changed(record); });
}

void HubService::availability_changed(DeviceRecord& record) {
  publisher_.availability(record);
  publisher_.devices_soon();
  observers_.notify([&](HubObserver& observer) { observer.availability_changed(record); });
}

void HubService::values_changed(DeviceRecord& record) {
  publisher_.queue(record);
  observers_.notify([&](HubObserver& observer) { observer.values_changed(record); });
}

void HubService::event(const std::string& type, const std::string& key, json detail) {
  observers_.notify([&](HubObserver& observer) { observer.event(type, key, detail); });
  publisher_.event(type, key, std::move(detail));
}

// Opening or closing permit_join on several bridges at once publishes bridge/info once.
void HubService::permit_join_changed() {
  if (info_posted_ || stopping_) return;
  info_posted_ = true;
  boost::asio::post(io_, [this] {
    info_posted_ = false;
    if (!stopping_) publisher_.info();
  });
}

}  // namespace lc
