#include "app/hub/mqtt_session.h"

#include "app/mqtt/topics.h"

namespace lc {

namespace {

constexpr auto kSyncDelay = std::chrono::milliseconds(1000);   // retained states arrive first
constexpr auto kSyncWindow = std::chrono::milliseconds(3000);  // then <base>/+ is dropped

}  // namespace

MqttSession::MqttSession(boost::asio::io_context& io, const config::Config& config, MqttLink& mqtt,
                         Publisher& publisher)
    : config_(config),
      mqtt_(mqtt),
      publisher_(publisher),
      base_(config.mqtt.base_topic),
      log_("hub"),
      sync_timer_(io),
      sync_end_timer_(io),
      rediscovery_timer_(io),
      random_(std::random_device{}()) {}

void MqttSession::connected() {
  publisher_.set_synced(false);
  publisher_.bridge_online();
  std::vector<std::string> filters = {base_ + "/+/set", base_ + "/+/set/+", base_ + "/+/get",
                                      base_ + "/bridge/request/+", base_ + "/bridge/request/+/+", base_ + "/+"};
  if (config_.homeassistant.discovery && !config_.homeassistant.status_topic.empty())
    filters.push_back(config_.homeassistant.status_topic);
  mqtt_.subscribe(filters);
  // Retained states of our devices (<base>/+) arrive right after the subscription; the full
  // snapshot is published once they are in.
  sync_timer_.expires_after(kSyncDelay);
  sync_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) initial_sync();
  });
}

void MqttSession::disconnected() {
  publisher_.set_synced(false);
  sync_timer_.cancel();
  sync_end_timer_.cancel();
}

void MqttSession::initial_sync() {
  publisher_.set_synced(true);
  publisher_.clear_pending();
  publisher_.everything();
  sync_end_timer_.expires_after(kSyncWindow);
  sync_end_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) mqtt_.unsubscribe({base_ + "/+"});
  });
}

// Discovery and state again after a random delay of at most 2 s (docs/protocols/homeassistant-mqtt.md §1.9).
// A retained "online" at subscription time is the old one.
void MqttSession::home_assistant_status(const std::string& payload, bool retained) {
  if (payload != "online" || retained || !config_.homeassistant.discovery) return;
  const auto delay = std::chrono::milliseconds(std::uniform_int_distribution<int>(0, 2000)(random_));
  rediscovery_timer_.expires_after(delay);
  rediscovery_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec && publisher_.synced()) {
      log_.info("Home Assistant is online: publishing discovery and state again");
      publisher_.everything(true);
    }
  });
}

void MqttSession::stop() {
  sync_timer_.cancel();
  sync_end_timer_.cancel();
  rediscovery_timer_.cancel();
}

}  // namespace lc
