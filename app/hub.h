// The Hub side of the seam: the device registry, the state cache, availability, and
// everything published to MQTT (state, attributes, availability, discovery, bridge/*).
// Bridges see it through one Hub port each (bridges/bridge.h); MQTT through MqttLink.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "app/mqtt/discovery.h"
#include "app/mqtt/link.h"
#include "bridges/bridge.h"
#include "config/config.h"
#include "core/log.h"
#include "core/metrics.h"

namespace lc {

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view text) const { return std::hash<std::string_view>{}(text); }
};

class HubService {
 public:
  HubService(boost::asio::io_context& io, const config::Config& config, MqttLink& mqtt, Metrics& metrics,
             DurableStore& store);
  ~HubService();

  // The Hub a bridge reports to; `attach` gives the Hub the bridge itself once constructed.
  Hub& port(const std::string& bridge_name);
  void attach(Bridge& bridge);

  // After every bridge has started: loads the device database (devices seen before, so their
  // discovery stays and configured devices that left the config are cleared), starts the
  // availability timer and the MQTT link.
  void start();
  // SIGTERM: offline for every device and the bridge, then disconnect within `budget`.
  void shutdown(std::chrono::milliseconds budget);

  // For the API.
  bool broker_connected() const;
  nlohmann::json devices_json(bool with_last_seen) const;
  nlohmann::json bridges_json() const;

 private:
  class Port;
  struct Record;
  friend class Port;

  // MQTT side
  void on_connected();
  void on_disconnected();
  void on_message(const std::string& topic, const std::string& payload, bool retained);
  void initial_sync();
  void publish_everything();
  void publish_discovery(Record& record);
  void publish_state(Record& record);
  void publish_attributes(Record& record);
  void publish_availability(Record& record);
  void publish_devices_soon();
  void publish_devices();
  void publish_info();
  void publish_event(const std::string& type, const std::string& key, nlohmann::json detail);
  bool publish(const std::string& topic, const std::string& payload, bool retained);
  void queue(Record& record);
  void flush();
  void flush_devices_if_due();

  // Commands and requests
  void handle_set(Record& record, const std::string& property, const nlohmann::json& value);
  void handle_request(const std::string& name, const std::string& payload);
  void drop_message(const char* reason, const std::string& topic);
  void remove_device(const std::string& key);

  // Registry
  Record& add_record(Port& port, const DeviceInfo& info, const std::string& key);
  Record* find_by_key(std::string_view key);
  std::string key_for_log(std::string_view key);
  std::string topic_for_log(std::string_view topic);
  void tick();
  void check_availability();
  void save_database_soon();
  void save_database();
  void load_database();

  boost::asio::io_context& io_;
  const config::Config& config_;
  MqttLink& mqtt_;
  Metrics& metrics_;
  DurableStore& store_;
  discovery::Options discovery_options_;
  std::string base_;
  Logger log_;

  std::map<std::string, std::unique_ptr<Port>, std::less<>> ports_;
  std::unordered_map<std::string, Record*, StringHash, std::equal_to<>> by_key_;
  std::vector<std::string> dirty_;  // keys of records with unpublished state or attributes
  bool flush_scheduled_ = false;
  bool synced_ = false;  // initial sync after a connection done: state may be published
  bool devices_dirty_ = false;
  bool database_dirty_ = false;
  std::vector<std::string> stale_discovery_;  // of configured devices that left the config
  std::map<std::string, nlohmann::json, std::less<>> retained_by_key_;  // from the sync window
  boost::asio::steady_timer availability_timer_;
  boost::asio::steady_timer sync_timer_;
  boost::asio::steady_timer sync_end_timer_;
  boost::asio::steady_timer database_timer_;
  boost::asio::steady_timer rediscovery_timer_;
  std::mt19937 random_;
  Counter& commands_ok_;
  Counter& commands_failed_;
  Counter& unknown_refused_;
  std::set<std::string, std::less<>> drop_reasons_logged_;
  bool stopping_ = false;
};

}  // namespace lc
