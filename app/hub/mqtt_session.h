// The Hub's side of each broker connection: bridge/state and bridge/info, the subscriptions,
// the retained-state window (our devices' retained states arrive first, so an energy counter
// never goes backwards), then the full snapshot; and the snapshot again when Home Assistant
// comes online.
#pragma once

#include <random>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "app/hub/publisher.h"
#include "app/mqtt/link.h"
#include "config/config.h"
#include "core/log.h"

namespace lc {

class MqttSession {
 public:
  MqttSession(boost::asio::io_context& io, const config::Config& config, MqttLink& mqtt, Publisher& publisher);

  void connected();
  void disconnected();
  // homeassistant.status_topic: "online" (not retained) is Home Assistant's birth.
  void home_assistant_status(const std::string& payload, bool retained);
  void stop();

 private:
  void initial_sync();

  const config::Config& config_;
  MqttLink& mqtt_;
  Publisher& publisher_;
  std::string base_;
  Logger log_;
  boost::asio::steady_timer sync_timer_;
  boost::asio::steady_timer sync_end_timer_;
  boost::asio::steady_timer rediscovery_timer_;
  std::mt19937 random_;
};

}  // namespace lc
