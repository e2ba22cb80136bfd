#include "app/hub/hub_service.h"

#include <boost/asio/post.hpp>

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

json HubService::request(std::string_view name, const json& payload) { return requests_.handle(name, payload); }

void HubService::command(std::string_view key, std::string_view property, const json& value, CommandDone done) {
  DeviceRecord* record = registry_.find_by_key(key);
  if (!record) {
    if (done) done("no device '" + std::string(key.substr(0, 128)) + "'");
    return;
  }
  commands_.send(*record, std::string(property), value, std::move(done));
}

// ---- what follows from a change in the registry ------------------------------------------

void HubService::device_added(DeviceRecord& record) {
  router_.hand_over_retained(io_, record);
  publisher_.discovery_soon(record);
  publisher_.availability(record);
  publisher_.devices_soon();
  database_.save_soon();
}

void HubService::description_changed(DeviceRecord& record) {
  publisher_.discovery_soon(record);
  publisher_.devices_soon();
  database_.save_soon();
}

void HubService::availability_changed(DeviceRecord& record) {
  publisher_.availability(record);
  publisher_.devices_soon();
}

void HubService::values_changed(DeviceRecord& record) { publisher_.queue(record); }

void HubService::event(const std::string& type, const std::string& key, json detail) {
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
