// libFuzzer target: the JSON API end to end. Raw HTTP requests (any method, path, header and
// body) go through the bounded parser and the API's routing (app/api/api.cpp) into a real
// HubService with a fake MQTT link and a fake bridge of three devices: /api/devices,
// /api/devices/<key>/set (the <key>/set path of the Hub), /api/request/<request> (management
// requests, remove included), /api/bridge, the page's assets. Input: one flags byte (bit 0
// the bridge fails commands, bit 1 api.token is set, bit 2 the listener is beyond loopback),
// then the request's bytes. Aborts when:
//   * a handler throws (500) or an /api/ answer is not JSON;
//   * an answer carries a secret of the config (api.token, the MQTT password) that the
//     request itself did not hold;
//   * a POST succeeds (200) that security should have refused: with a token set and no
//     "Bearer <token>" in the request, or beyond loopback without a token.
// Removed devices come back for the next input.
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include <boost/asio/io_context.hpp>
#include <nlohmann/json.hpp>

#include "app/api/api.h"
#include "app/api/views.h"
#include "app/hub.h"
#include "core/durable_store.h"

namespace {

using namespace lc;

constexpr std::string_view kToken = "t0ken-s3cr3t-api";
constexpr std::string_view kPassword = "s3cr3t-pw";

class Link final : public MqttLink {
 public:
  Handlers handlers;
  void start(Handlers h) override { handlers = std::move(h); }
  bool connected() const override { return true; }
  bool publish(const std::string&, const std::string&, bool) override { return true; }
  void subscribe(const std::vector<std::string>&) override {}
  void unsubscribe(const std::vector<std::string>&) override {}
  void shutdown(const std::vector<std::pair<std::string, std::string>>&, std::chrono::milliseconds) override {}
};

class FakeBridge final : public Bridge {
 public:
  bool fail = false;
  std::string_view name() const override { return "fake"; }
  BridgePolicy policy() const override { return {std::chrono::seconds(60), true, 2}; }
  void start() override {}
  void stop() override {}
  std::vector<Listener> listeners() const override { return {{"udp", "127.0.0.1:1"}}; }
  void command(std::string_view, std::string_view property, const Json& value, CommandDone done) override {
    if (property.empty() || value.is_null() || value == "TOGGLE") std::abort();  // the Hub checked it
    done(fail ? "refused by the device" : "");
  }
  void read(std::string_view) override {}
};

DeviceInfo device(const std::string& id, const std::string& name, bool configured) {
  DeviceInfo info{.id = id, .name = name, .configured = configured, .manufacturer = "Test", .model = "plug"};
  info.properties = {
      {.key = "power", .component = Component::switch_, .writable = true, .main = true},
      {.key = "mode", .component = Component::select, .writable = true, .options = {"green", "normal"}},
      {.key = "price", .component = Component::number, .writable = true, .min = 0, .max = 999, .step = 0.5},
      {.key = "energy", .component = Component::sensor, .device_class = "energy", .unit = "kWh"},
  };
  return info;
}

struct World {
  boost::asio::io_context io;
  config::Config config;
  Metrics metrics;
  std::unique_ptr<DurableStore> store;
  Link link;
  FakeBridge bridge;
  std::unique_ptr<HubService> hub;
  Hub* port = nullptr;
  ApiSources sources;

  World() {
    log_settings::configure(Level::error, false, true);
    const auto dir = std::filesystem::temp_directory_path() / ("lc-fuzz-api-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    config.mqtt.base_topic = "lc";
    config.mqtt.password = std::string(kPassword);
    config.api.token = std::string(kToken);
    store = std::make_unique<DurableStore>(io, dir);
    hub = std::make_unique<HubService>(io, config, link, metrics, *store);
    port = &hub->port("fake");
    hub->attach(bridge);
    hub->start();
    link.handlers.connected();
    io.run_for(std::chrono::milliseconds(1200));  // past the retained-state window
    io.restart();
    const auto started = std::chrono::steady_clock::now();
    sources = ApiSources{
        .broker_connected = [] { return true; },
        .devices = [this] { return hub->devices_json(true); },
        .bridges = [this] { return hub->bridges_json(); },
        .metrics = [this] { return metrics.prometheus_text(); },
        .api_devices =
            [this] {
              nlohmann::json devices = nlohmann::json::array();
              hub->for_each_device([&](const DeviceRecord& record) { devices.push_back(api::device_json(record)); });
              return devices;
            },
        .status =
            [this, started] {
              const std::string text = metrics.prometheus_text();
              return api::status_json({true, hub->bridges_json(), text, started, "token", "lc"});
            },
        .request = [this](std::string_view name, const nlohmann::json& payload) { return hub->request(name, payload); },
        .set = [this](std::string_view key, std::string_view payload,
                      CommandDone done) { hub->set(key, payload, std::move(done)); },
        .events = {},
    };
  }

  void ensure_devices() {
    if (!port->known("plug")) port->device_seen(device("plug", "desk", true));
    if (!port->known("strip")) port->device_seen(device("strip", "", true));
    if (!port->known("u1")) port->device_seen(device("u1", "", false));
    for (const char* id : {"plug", "strip", "u1"}) port->heard(id);
    port->state_changed("plug", "power", "ON");
  }
};

World& world() {
  static World* instance = new World();  // never destroyed: the fuzzer exits without cleanup
  return *instance;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  World& w = world();
  w.ensure_devices();
  w.bridge.fail = (data[0] & 1) != 0;
  api::Security security;
  if ((data[0] & 2) != 0) security.token = std::string(kToken);
  security.loopback = (data[0] & 4) == 0;
  const std::string_view bytes(reinterpret_cast<const char*>(data) + 1, size - 1);

  std::string method;
  const AsyncHttpHandler handler = [&](const HttpRequest& request, HttpReply reply) {
    method = request.method;
    answer_api(request, std::move(reply), w.sources, security);
  };
  const HttpResponse answer = answer_raw_request(bytes, handler, 4096);
  w.io.poll();
  w.io.restart();

  if (answer.status == 500) std::abort();
  if (answer.content_type == "application/json" && !answer.body.empty() &&
      nlohmann::json::parse(answer.body, nullptr, false).is_discarded())
    std::abort();
  for (const std::string_view secret : {kToken, kPassword})
    if (answer.body.find(secret) != std::string::npos && bytes.find(secret) == std::string_view::npos) std::abort();
  if (method == "POST" && answer.status == 200) {
    if (!security.token.empty() && bytes.find(kToken) == std::string_view::npos) std::abort();
    if (security.token.empty() && !security.loopback) std::abort();
  }
  return 0;
}
