// The Hub against a fake MQTT link and a fake bridge, for the Hub's unit tests: what is
// published when, and what the bridge is asked.
#pragma once

#include <doctest/doctest.h>

#include <boost/asio/io_context.hpp>
#include <filesystem>
#include <functional>
#include <unistd.h>

#include "app/hub.h"
#include "core/durable_store.h"

namespace lc::test {

using nlohmann::json;

struct Published {
  std::string topic, payload;
  bool retained;
};

class FakeLink : public MqttLink {
 public:
  Handlers handlers;
  bool up = false;
  std::vector<Published> published;
  std::vector<std::string> subscribed;
  std::vector<std::pair<std::string, std::string>> last_words;
  std::function<void(const std::string& topic)> on_publish;  // e.g. a link that logs

  void start(Handlers h) override { handlers = std::move(h); }
  bool connected() const override { return up; }
  bool publish(const std::string& topic, const std::string& payload, bool retained) override {
    if (on_publish) on_publish(topic);
    if (!up) return false;
    published.push_back({topic, payload, retained});
    return true;
  }
  void subscribe(const std::vector<std::string>& filters) override {
    subscribed.insert(subscribed.end(), filters.begin(), filters.end());
  }
  void unsubscribe(const std::vector<std::string>&) override {}
  void shutdown(const std::vector<std::pair<std::string, std::string>>& words, std::chrono::milliseconds) override {
    last_words = words;
  }

  const Published* last(const std::string& topic) const {
    for (auto it = published.rbegin(); it != published.rend(); ++it)
      if (it->topic == topic) return &*it;
    return nullptr;
  }
  size_t count(const std::string& topic) const {
    size_t n = 0;
    for (const auto& p : published) n += p.topic == topic;
    return n;
  }
  // The index of the first message on `topic` at or after `from` (published.size() if none).
  size_t index_of(const std::string& topic, size_t from = 0) const {
    for (size_t i = from; i < published.size(); ++i)
      if (published[i].topic == topic) return i;
    return published.size();
  }
};

class FakeBridge : public Bridge {
 public:
  struct Command {
    std::string id, property;
    json value;
    CommandDone done;
  };
  std::vector<Command> commands;
  std::vector<std::string> reads;
  std::vector<std::pair<std::string, json>> retained;
  std::vector<std::pair<std::string, std::chrono::steady_clock::time_point>> admissions;  // admitted()
  BridgePolicy rules{std::chrono::seconds(60), true, 2};

  std::string_view name() const override { return "fake"; }
  BridgePolicy policy() const override { return rules; }
  void start() override {}
  void stop() override {}
  std::vector<Listener> listeners() const override { return {{"udp", "127.0.0.1:1"}}; }
  void command(std::string_view id, std::string_view property, const Json& value, CommandDone done) override {
    commands.push_back({std::string(id), std::string(property), value, std::move(done)});
  }
  void read(std::string_view id) override { reads.emplace_back(id); }
  void retained_state(std::string_view id, const Json& state) override { retained.emplace_back(id, state); }
  void admitted(std::string_view id) override { admissions.emplace_back(id, std::chrono::steady_clock::now()); }
  std::vector<std::string> admitted_ids() const {
    std::vector<std::string> ids;
    for (const auto& [id, at] : admissions) ids.push_back(id);
    return ids;
  }
};

inline DeviceInfo plug(const std::string& id, const std::string& name = "", bool configured = true) {
  DeviceInfo info{.id = id, .name = name, .configured = configured, .manufacturer = "Test", .model = "plug",
                  .firmware = "1.0"};
  info.properties = {
      {.key = "power", .component = Component::switch_, .writable = true, .main = true},
      {.key = "energy", .component = Component::sensor, .device_class = "energy", .unit = "kWh", .state_class = "total_increasing"},
  };
  return info;
}

struct Fixture {
  boost::asio::io_context io;
  config::Config config;
  Metrics metrics;
  std::filesystem::path dir = std::filesystem::temp_directory_path() / ("lc-hub-" + std::to_string(::getpid()));
  std::unique_ptr<DurableStore> store;
  FakeLink link;
  FakeBridge bridge;
  std::unique_ptr<HubService> hub;
  Hub* port = nullptr;

  // `setup` changes the config before the Hub is made.
  explicit Fixture(const std::function<void(config::Config&)>& setup = {}) {
    std::filesystem::create_directories(dir);
    config.mqtt.base_topic = "lc";
    if (setup) setup(config);
    store = std::make_unique<DurableStore>(io, dir);
    hub = std::make_unique<HubService>(io, config, link, metrics, *store);
    port = &hub->port("fake");
    hub->attach(bridge);
  }
  ~Fixture() {
    hub.reset();
    store.reset();
    std::filesystem::remove_all(dir);
  }
  void settle(std::chrono::milliseconds time = std::chrono::milliseconds(50)) {
    io.restart();
    io.run_for(time);
  }
  void connect() {
    link.up = true;
    link.handlers.connected();
    settle(std::chrono::milliseconds(1200));  // the retained-state window before the snapshot
  }
  // A restart on the same data_dir: the Hub shut down (its device database written), a new
  // one made with a fresh broker link; the test registers its configured devices and starts it.
  void restart() {
    hub->shutdown(std::chrono::milliseconds(10));
    store->flush();
    hub.reset();
    link.up = false;
    link.published.clear();
    link.subscribed.clear();
    hub = std::make_unique<HubService>(io, config, link, metrics, *store);
    port = &hub->port("fake");
    hub->attach(bridge);
  }
  // The JSON published last on `topic` (which must have been published).
  json last_json(const std::string& topic) const {
    const Published* message = link.last(topic);
    REQUIRE_MESSAGE(message != nullptr, topic);
    return json::parse(message->payload);
  }
  // Every message published since index `from`, in order.
  std::vector<Published> since(size_t from) const {
    return std::vector<Published>(link.published.begin() + static_cast<long>(std::min(from, link.published.size())),
                                  link.published.end());
  }
};

}  // namespace lc::test
