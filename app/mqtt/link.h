// The broker connection behind an interface (ebusd's MqttClient idea), so the Hub can be
// tested without a broker and the Paho specifics stay in one file.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>

namespace lc {

namespace config {
struct Mqtt;
}
class Metrics;

class MqttLink {
 public:
  // All handlers run on the io_context thread.
  struct Handlers {
    std::function<void()> connected;  // every (re)connection
    std::function<void()> disconnected;
    std::function<void(std::string topic, std::string payload, bool retained)> message;
  };

  virtual ~MqttLink() = default;

  // Starts connecting (and reconnecting: 1 s doubling, capped at 5 s) in the background.
  virtual void start(Handlers handlers) = 0;
  virtual bool connected() const = 0;
  // QoS 1. Returns false (and drops the message) when not connected: the Hub re-publishes a
  // full snapshot on the next connection instead of replaying stale messages.
  virtual bool publish(const std::string& topic, const std::string& payload, bool retained) = 0;
  virtual void subscribe(const std::vector<std::string>& filters) = 0;
  virtual void unsubscribe(const std::vector<std::string>& filters) = 0;
  // Shutdown: publish the given retained messages, wait for the broker to take them (within
  // `budget`), then disconnect cleanly. Blocks; called once, at exit.
  virtual void shutdown(const std::vector<std::pair<std::string, std::string>>& last_words,
                        std::chrono::milliseconds budget) = 0;
};

// The Paho MQTT C++ implementation; `will_topic` gets a retained "offline" will.
std::unique_ptr<MqttLink> make_paho_link(boost::asio::io_context& io, const config::Mqtt& settings,
                                         const std::string& will_topic, Metrics& metrics);

}  // namespace lc
