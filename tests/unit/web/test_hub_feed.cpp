// What the Hub gives the web page: the change feed (HubObserver), the cloud conversation
// (Hub::cloud_exchange and device_error), read access, and HubService::set, the <key>/set
// path of MQTT for the JSON API.
#include <doctest/doctest.h>

#include <boost/asio/io_context.hpp>
#include <filesystem>

#include "app/hub.h"
#include "core/durable_store.h"

using namespace lc;
using nlohmann::json;

namespace {

class Link final : public MqttLink {
 public:
  Handlers handlers;
  std::vector<std::pair<std::string, std::string>> published;
  void start(Handlers h) override { handlers = std::move(h); }
  bool connected() const override { return true; }
  bool publish(const std::string& topic, const std::string& payload, bool) override {
    published.emplace_back(topic, payload);
    return true;
  }
  void subscribe(const std::vector<std::string>&) override {}
  void unsubscribe(const std::vector<std::string>&) override {}
  void shutdown(const std::vector<std::pair<std::string, std::string>>&, std::chrono::milliseconds) override {}
  std::vector<json> events() const {
    std::vector<json> out;
    for (const auto& [topic, payload] : published)
      if (topic == "lc/bridge/event") out.push_back(json::parse(payload));
    return out;
  }
};

class Plugs final : public Bridge {
 public:
  std::vector<std::pair<std::string, json>> commands;
  std::vector<CommandDone> pending;
  std::string_view name() const override { return "fake"; }
  BridgePolicy policy() const override { return {std::chrono::seconds(60), true, 8}; }
  void start() override {}
  void stop() override {}
  std::vector<Listener> listeners() const override { return {}; }
  void command(std::string_view, std::string_view property, const Json& value, CommandDone done) override {
    commands.emplace_back(std::string(property), value);
    pending.push_back(std::move(done));
  }
  void read(std::string_view) override {}
};

struct Feed : HubObserver {
  std::vector<std::string> seen;
  void device_changed(const DeviceRecord& r) override { seen.push_back("device " + r.key); }
  void availability_changed(const DeviceRecord& r) override {
    seen.push_back("availability " + r.key + (r.online ? " online" : " offline"));
  }
  void values_changed(const DeviceRecord& r) override { seen.push_back("values " + r.key); }
  void event(const std::string& type, const std::string& key, const json&) override {
    seen.push_back("event " + type + " " + key);
  }
};

struct World {
  boost::asio::io_context io;
  config::Config config;
  Metrics metrics;
  std::filesystem::path dir = std::filesystem::temp_directory_path() / ("lc-test-feed-" + std::to_string(::getpid()));
  std::unique_ptr<DurableStore> store;
  Link link;
  Plugs bridge;
  std::unique_ptr<HubService> hub;
  Hub* port = nullptr;

  World() {
    std::filesystem::create_directories(dir);
    config.mqtt.base_topic = "lc";
    store = std::make_unique<DurableStore>(io, dir);
    hub = std::make_unique<HubService>(io, config, link, metrics, *store);
    port = &hub->port("fake");
    hub->attach(bridge);
    hub->start();
    link.handlers.connected();
    io.run_for(std::chrono::milliseconds(1100));
    io.restart();
  }
  ~World() {
    hub.reset();
    store->flush();
    store.reset();
    std::filesystem::remove_all(dir);
  }
  void turn() {
    io.poll();
    io.restart();
  }
};

DeviceInfo plug(const std::string& id) {
  return DeviceInfo{.id = id,
                    .configured = true,
                    .model = "p",
                    .properties = {{.key = "power", .component = Component::switch_, .writable = true},
                                   {.key = "mode", .component = Component::select, .writable = true,
                                    .options = {"a", "b"}}}};
}

}  // namespace

TEST_CASE("observers hear what the Hub publishes; read access is sorted by key") {
  World w;
  Feed feed;
  w.hub->add_observer(feed);
  w.port->device_seen(plug("b"));
  w.port->device_seen(plug("a"));
  w.port->heard("a");
  w.port->state_changed("a", "power", "ON");
  w.port->state_changed("a", "power", "ON");  // no change: nothing
  w.port->event("device_error", "a", {{"error", "x"}});
  w.port->device_lost("a");
  CHECK(feed.seen == std::vector<std::string>{"device fake_b", "event device_joined fake_b", "device fake_a",
                                              "event device_joined fake_a", "availability fake_a online",
                                              "values fake_a", "event device_error fake_a",
                                              "availability fake_a offline"});
  std::vector<std::string> keys;
  w.hub->for_each_device([&](const DeviceRecord& r) { keys.push_back(r.key); });
  CHECK(keys == std::vector<std::string>{"fake_a", "fake_b"});
  REQUIRE(w.hub->find_device("fake_a"));
  CHECK(w.hub->find_device("fake_a")->state["power"] == "ON");
  CHECK_FALSE(w.hub->find_device("nobody"));
  w.hub->remove_observer(feed);
  w.port->state_changed("a", "power", "OFF");
  CHECK(feed.seen.size() == 8);
}

TEST_CASE("the cloud conversation: the last exchange, a device_error until the device reports again") {
  World w;
  w.port->device_seen(plug("a"));
  const DeviceRecord& record = *w.hub->find_device("fake_a");
  CHECK(record.cloud.exchanges == 0);
  w.port->cloud_exchange("a", "hello", "time sync");
  w.port->cloud_exchange("a", "ping", "pong");
  w.port->cloud_exchange("a", "ping", "pong");
  CHECK(record.cloud.received == "ping");
  CHECK(record.cloud.answered == "pong");
  CHECK(record.cloud.exchanges == 3);
  CHECK(record.cloud.at.time_since_epoch().count() > 0);
  w.port->cloud_exchange("unregistered", "ping", "pong");  // ignored
  Hub& hub = *w.port;
  hub.cloud_exchange("a", "login", "");  // not answered
  CHECK(record.cloud.answered.empty());

  w.port->event("device_error", "a", {{"error", "token_probably_wrong"}});
  CHECK(record.cloud.error["error"] == "token_probably_wrong");
  CHECK(record.cloud.error["bridge"] == "fake");
  w.port->event("command_failed", "a", {{"error", "no"}});  // not a cloud error
  CHECK(record.cloud.error["error"] == "token_probably_wrong");
  w.port->state_changed("a", "power", "ON");
  CHECK(record.cloud.error.is_null());
}

TEST_CASE("HubService::set: MQTT's <key>/set for the API, one answer for every entry") {
  World w;
  w.port->device_seen(plug("a"));
  w.port->heard("a");
  w.port->state_changed("a", "power", "ON");
  std::vector<std::string> answers;
  auto record = [&](std::string error) { answers.push_back(error.empty() ? "ok" : error); };

  w.hub->set("fake_a", R"({"power":"TOGGLE","mode":"b"})", record);
  REQUIRE(w.bridge.commands.size() == 2);
  // In key order, as MQTT's <key>/set; TOGGLE resolved by the Hub.
  CHECK(w.bridge.commands[0] == std::pair<std::string, json>{"mode", "b"});
  CHECK(w.bridge.commands[1] == std::pair<std::string, json>{"power", "OFF"});
  w.bridge.pending[0]("");
  CHECK(answers.empty());  // one entry still pending
  w.bridge.pending[1]("no acknowledgement");
  CHECK(answers == std::vector<std::string>{"no acknowledgement"});

  w.hub->set("fake_a", "ON", record);  // not a JSON object: refused as MQTT refuses it
  CHECK(answers.back().find("not a JSON object") != std::string::npos);
  w.hub->set("fake_a", R"({"nope":1})", record);
  CHECK(answers.back() == "unknown property 'nope'");
  w.hub->set("nobody", R"({"power":"ON"})", record);
  CHECK(answers.back() == "no device 'nobody'");
  w.port->device_lost("a");
  w.hub->set("fake_a", R"({"power":"ON"})", record);
  CHECK(answers.back() == "device offline");
  CHECK(w.bridge.commands.size() == 2);

  w.turn();
  int failed = 0;
  for (const auto& event : w.link.events())
    if (event["type"] == "command_failed" && event["device"] == "fake_a") ++failed;
  CHECK(failed == 4);  // no acknowledgement, not an object, unknown property, offline: as over MQTT
}
