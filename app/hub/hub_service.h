// The Hub side of the seam: bridges report to it through one BridgePort each
// (bridges/bridge.h); it keeps the device registry, publishes to MQTT, keeps the device
// database, and runs commands and management requests for MQTT and the API alike. This class
// wires the parts of app/hub/ together and is what app/service.cpp, the API and the tests use.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <string_view>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <nlohmann/json.hpp>

#include "app/hub/commands.h"
#include "app/hub/device_db.h"
#include "app/hub/hub_observer.h"
#include "app/hub/mqtt_logging.h"
#include "app/hub/mqtt_routing.h"
#include "app/hub/mqtt_session.h"
#include "app/hub/publisher.h"
#include "app/hub/record.h"
#include "app/hub/registry.h"
#include "app/hub/requests.h"
#include "app/mqtt/link.h"
#include "bridges/bridge.h"
#include "config/config.h"
#include "core/durable_store.h"
#include "core/log.h"
#include "core/metrics.h"

namespace lc {

class HubService final : private RegistryListener {
 public:
  HubService(boost::asio::io_context& io, const config::Config& config, MqttLink& mqtt, Metrics& metrics,
             DurableStore& store);
  ~HubService() override;

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
  // Read access for the API: every registered device, sorted by key; one by key.
  void for_each_device(const std::function<void(const DeviceRecord&)>& visit) const;
  const DeviceRecord* find_device(std::string_view key);
  // The change feed (app/hub/hub_observer.h); an observer must be removed before it goes.
  void add_observer(HubObserver& observer) { observers_.add(observer); }
  void remove_observer(HubObserver& observer) { observers_.remove(observer); }

  // A management request by name ("device/rename", "permit_join", "options", ...) with its
  // JSON payload: the answer bridge/response/<name> carries ({"status":"ok","data":...} or
  // {"status":"error","error":...}, the transaction echoed). The JSON API calls this; MQTT
  // requests take the same path.
  nlohmann::json request(std::string_view name, const nlohmann::json& payload);
  // A command for the device with MQTT key `key`, as <key>/set/<property> sends it: the same
  // checks, events, log lines and read-back. `done` gets "" on success, else the error
  // ("no device '<key>'" when no device has that key: no event then, as for MQTT).
  void command(std::string_view key, std::string_view property, const nlohmann::json& value, CommandDone done);
  // A whole <key>/set payload (a JSON object of property -> value) as MQTT's <key>/set takes
  // it: a payload that holds no command is refused with a command_failed event, each entry is
  // a command(). `done` gets "" once every entry succeeded, else the first error.
  void set(std::string_view key, std::string_view payload, CommandDone done);

 private:
  // RegistryListener
  void device_added(DeviceRecord& record) override;
  void description_changed(DeviceRecord& record) override;
  void availability_changed(DeviceRecord& record) override;
  void values_changed(DeviceRecord& record) override;
  void event(const std::string& type, const std::string& key, nlohmann::json detail) override;
  void permit_join_changed() override;

  void tick();

  boost::asio::io_context& io_;
  MqttLink& mqtt_;
  Logger log_;
  Registry registry_;
  Publisher publisher_;
  DeviceDatabase database_;
  MqttLogging logging_;
  Commands commands_;
  Requests requests_;
  MqttSession session_;
  MqttRouter router_;
  boost::asio::steady_timer tick_timer_;
  HubObservers observers_;
  bool stopping_ = false;
  bool info_posted_ = false;
};

}  // namespace lc
