// MqttLink over Paho MQTT C++ 1.2 (docs/protocols/homeassistant-mqtt.md §3 lists the pitfalls this
// file works around): callbacks only post onto the io_context; no persistence; the will is
// built from a std::string so its whole payload is sent (paho.mqtt.cpp#378); reconnection is
// ours (1 s doubling to 5 s) because the initial connect is not retried by Paho (paho.mqtt.c#1288);
// subscriptions are renewed by the Hub on every connection (clean session).
#include <mqtt/async_client.h>

#include <atomic>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include "app/mqtt/link.h"
#include "config/config.h"
#include "core/log.h"
#include "core/metrics.h"

namespace lc {
namespace {

namespace asio = boost::asio;

class PahoLink final : public MqttLink, private mqtt::iaction_listener {
 public:
  static constexpr int kMaxQueuedPublishes = 1 << 20;

  PahoLink(asio::io_context& io, const config::Mqtt& settings, const std::string& will_topic, Metrics& metrics)
      : io_(io),
        url_(settings.url),
        retry_timer_(io),
        published_(metrics.counter("localcloud_mqtt_messages_published_total", "MQTT messages published")),
        received_(metrics.counter("localcloud_mqtt_messages_received_total", "MQTT messages received")),
        reconnects_(metrics.counter("localcloud_mqtt_reconnects_total", "Connections to the broker after the first")),
        log_("mqtt") {
    std::string uri = settings.url;
    // Paho C spells the schemes tcp:// and ssl://; mqtt:// and mqtts:// are accepted by 1.3.12 too,
    // but the explicit forms work with every version.
    if (uri.rfind("mqtt://", 0) == 0) uri = "tcp://" + uri.substr(7);
    else if (uri.rfind("mqtts://", 0) == 0) uri = "ssl://" + uri.substr(8);
    // Paho queues at most 100 publishes that its thread has not written yet (create options'
    // maxBufferedMessages) and refuses more with -12: the snapshot after a (re)connection
    // (discovery, state, availability of every device) is far larger with hundreds of devices.
    // Nothing is buffered while disconnected (publish() refuses then), so this only bounds a
    // burst while connected.
    mqtt::create_options create(MQTTVERSION_DEFAULT);
    create.set_max_buffered_messages(kMaxQueuedPublishes);
    client_ = std::make_unique<mqtt::async_client>(uri, settings.client_id, create, nullptr);

    options_.set_clean_session(true);
    options_.set_keep_alive_interval(std::chrono::seconds(30));
    options_.set_connect_timeout(std::chrono::seconds(5));
    options_.set_automatic_reconnect(false);
    options_.set_will(mqtt::will_options(will_topic, std::string("offline"), 1, true));
    if (!settings.username.empty()) options_.set_user_name(settings.username);
    if (!settings.password.empty()) options_.set_password(settings.password);
    if (uri.rfind("ssl://", 0) == 0) {
      mqtt::ssl_options ssl;
      if (!settings.tls.ca_file.empty()) ssl.set_trust_store(settings.tls.ca_file);
      if (!settings.tls.cert_file.empty()) ssl.set_key_store(settings.tls.cert_file);
      if (!settings.tls.key_file.empty()) ssl.set_private_key(settings.tls.key_file);
      ssl.set_enable_server_cert_auth(!settings.tls.insecure);
      ssl.set_verify(!settings.tls.insecure);
      options_.set_ssl(std::move(ssl));
    }
  }

  ~PahoLink() override {
    *alive_ = false;
    retry_timer_.cancel();
  }

  void start(Handlers handlers) override {
    handlers_ = std::move(handlers);
    std::weak_ptr<bool> alive = alive_;
    // Paho threads: copy what arrived and post it; never block, never throw (docs/protocols/homeassistant-mqtt.md §3.1-3.2).
    client_->set_connected_handler([this, alive](const std::string&) {
      asio::post(io_, [this, alive] {
        if (alive.lock() && *alive.lock()) on_connected();
      });
    });
    client_->set_connection_lost_handler([this, alive](const std::string& cause) {
      asio::post(io_, [this, alive, cause] {
        if (alive.lock() && *alive.lock()) on_lost(cause);
      });
    });
    client_->set_message_callback([this, alive](mqtt::const_message_ptr message) {
      try {
        asio::post(io_, [this, alive, topic = message->get_topic(), payload = message->to_string(),
                         retained = message->is_retained()]() mutable {
          if (!(alive.lock() && *alive.lock())) return;
          received_.inc();
          if (handlers_.message) handlers_.message(std::move(topic), std::move(payload), retained);
        });
      } catch (...) {
      }
    });
    connect();
  }

  bool connected() const override { return connected_; }

  bool publish(const std::string& topic, const std::string& payload, bool retained) override {
    if (!connected_) return false;
    try {
      client_->publish(topic, payload.data(), payload.size(), 1, retained);
      published_.inc();
      return true;
    } catch (const mqtt::exception& error) {
      // The topic names a device by its id unless it has a name: not with mask_ids.
      log_.debug("publish to ", log_settings::mask_ids() ? std::string("a topic") : topic, " failed: ", error.what());
      return false;
    }
  }

  void subscribe(const std::vector<std::string>& filters) override {
    for (const auto& filter : filters) {
      try {
        client_->subscribe(filter, 1);
      } catch (const mqtt::exception& error) {
        log_.warn("subscribe to ", filter, " failed: ", error.what());
      }
    }
  }

  void unsubscribe(const std::vector<std::string>& filters) override {
    for (const auto& filter : filters) {
      try {
        client_->unsubscribe(filter);
      } catch (const mqtt::exception&) {
      }
    }
  }

  void shutdown(const std::vector<std::pair<std::string, std::string>>& last_words,
                std::chrono::milliseconds budget) override {
    stopping_ = true;
    retry_timer_.cancel();
    const auto deadline = std::chrono::steady_clock::now() + budget;
    auto remaining = [&] {
      return std::max(std::chrono::milliseconds(1), std::chrono::duration_cast<std::chrono::milliseconds>(
                                                        deadline - std::chrono::steady_clock::now()));
    };
    try {
      if (client_->is_connected()) {
        std::vector<mqtt::delivery_token_ptr> tokens;
        for (const auto& [topic, payload] : last_words)
          tokens.push_back(client_->publish(topic, payload.data(), payload.size(), 1, true));
        for (auto& token : tokens) token->wait_for(remaining());
        client_->disconnect(static_cast<int>(remaining().count()))->wait_for(remaining());
      }
    } catch (const mqtt::exception& error) {
      log_.debug("shutdown: ", error.what());
    }
    connected_ = false;
  }

 private:
  void connect() {
    if (stopping_) return;
    try {
      client_->connect(options_, nullptr, *this);
    } catch (const mqtt::exception& error) {
      log_.warn("cannot connect to ", url_, ": ", error.what());
      schedule_retry();
    }
  }

  // iaction_listener for connect(): runs on a Paho thread.
  void on_failure(const mqtt::token& token) override {
    const int code = token.get_return_code();
    std::weak_ptr<bool> alive = alive_;
    asio::post(io_, [this, alive, code] {
      if (!(alive.lock() && *alive.lock())) return;
      if (!was_down_logged_) log_.warn("broker ", url_, " unreachable (code ", code, "); retrying");
      was_down_logged_ = true;
      schedule_retry();
    });
  }
  void on_success(const mqtt::token&) override {}

  void schedule_retry() {
    if (stopping_) return;
    retry_timer_.expires_after(backoff_);
    backoff_ = std::min(backoff_ * 2, std::chrono::milliseconds(5000));
    retry_timer_.async_wait([this](const boost::system::error_code& ec) {
      if (!ec) connect();
    });
  }

  void on_connected() {
    if (stopping_) return;
    if (ever_connected_) reconnects_.inc();
    ever_connected_ = true;
    connected_ = true;
    was_down_logged_ = false;
    backoff_ = std::chrono::milliseconds(1000);
    log_.info("connected to ", url_);
    if (handlers_.connected) handlers_.connected();
  }

  void on_lost(const std::string& cause) {
    if (stopping_) return;
    connected_ = false;
    log_.warn("connection to ", url_, " lost", cause.empty() ? "" : ": ", cause, "; reconnecting");
    if (handlers_.disconnected) handlers_.disconnected();
    backoff_ = std::chrono::milliseconds(1000);
    schedule_retry();
  }

  asio::io_context& io_;
  std::string url_;
  std::unique_ptr<mqtt::async_client> client_;
  mqtt::connect_options options_;
  Handlers handlers_;
  asio::steady_timer retry_timer_;
  std::chrono::milliseconds backoff_{1000};
  std::atomic<bool> connected_{false};
  bool ever_connected_ = false;
  bool was_down_logged_ = false;
  bool stopping_ = false;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  Counter& published_;
  Counter& received_;
  Counter& reconnects_;
  Logger log_;
};

}  // namespace

std::unique_ptr<MqttLink> make_paho_link(asio::io_context& io, const config::Mqtt& settings,
                                         const std::string& will_topic, Metrics& metrics) {
  return std::make_unique<PahoLink>(io, settings, will_topic, metrics);
}

}  // namespace lc
