// libFuzzer target: every MQTT message the Hub can receive, end to end through HubService
// (topic classification, retained handling, <key>/set JSON and /set/<property> plain values,
// <key>/get, bridge/request/remove, device/rename, permit_join, options and other requests,
// Home Assistant's status topic), with
// a fake MQTT link and a fake bridge holding three devices (a switch, a select, a number and a
// hidden raw property). Input: one flags byte (bit 0 retained, bit 1 the bridge fails the
// command, bit 2 the payload is expanded, bit 3 a device "late" registers after the message,
// so that a retained state remembered for its key is handed over), the topic, a NUL byte, the
// payload. An expanded payload is <count: 2 bytes, big-endian> <head> NUL <open> NUL <middle> NUL
// <close> NUL <tail>, and stands for <head>, `count` copies of <open>, <middle>, `count` copies
// of <close>, <tail>: libFuzzer's inputs stay small (-max_len),
// yet it reaches payloads of 100 KB and more, such as a JSON nested 50,000 deep (the request
// that crashed the daemon before the Hub bounded what it parses). Removed devices come back
// for the next input.
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include <boost/asio/io_context.hpp>

#include "app/hub.h"
#include "core/durable_store.h"

namespace {

using namespace lc;

class Link final : public MqttLink {
 public:
  Handlers handlers;
  size_t published = 0;
  bool input_holds_secret = false;  // an answer may echo what the sender itself sent
  void start(Handlers h) override { handlers = std::move(h); }
  bool connected() const override { return true; }
  bool publish(const std::string& topic, const std::string& payload, bool) override {
    // Nothing the Hub publishes may carry the secrets of the config (a bridge/response may
    // echo the requester's own text: that is no leak).
    if ((!input_holds_secret && payload.find("s3cr3t-pw") != std::string::npos) || topic.empty()) std::abort();
    ++published;
    return true;
  }
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
    if (property.empty() || value.is_null()) std::abort();  // the Hub checked and normalised it
    if (property == "power" && value == "TOGGLE") std::abort();  // and resolved TOGGLE
    done(fail ? "refused by the device" : "");
  }
  void read(std::string_view) override {}
  void retained_state(std::string_view, const Json&) override {}
};

DeviceInfo device(const std::string& id, const std::string& name, bool configured) {
  DeviceInfo info{.id = id, .name = name, .configured = configured, .manufacturer = "Test", .model = "plug"};
  info.properties = {
      {.key = "power", .component = Component::switch_, .writable = true, .main = true},
      {.key = "mode", .component = Component::select, .writable = true, .options = {"green", "normal"}},
      {.key = "price", .component = Component::number, .writable = true, .min = 0, .max = 999, .step = 0.5},
      {.key = "energy", .component = Component::sensor, .device_class = "energy", .unit = "kWh",
       .state_class = "total_increasing"},
      {.key = "raw", .component = Component::sensor, .writable = true, .hidden = true},
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

  World() {
    log_settings::configure(Level::error, false, true);
    const auto dir = std::filesystem::temp_directory_path() / ("lc-fuzz-hub-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    config.mqtt.base_topic = "lc";
    config.mqtt.password = "s3cr3t-pw";
    store = std::make_unique<DurableStore>(io, dir);
    hub = std::make_unique<HubService>(io, config, link, metrics, *store);
    port = &hub->port("fake");
    hub->attach(bridge);
    hub->start();
    link.handlers.connected();
    io.run_for(std::chrono::milliseconds(1200));  // past the retained-state window
    io.restart();
  }

  void ensure_devices() {
    if (!port->known("plug")) port->device_seen(device("plug", "desk", true));
    if (!port->known("strip")) port->device_seen(device("strip", "", true));
    if (!port->known("u1")) port->device_seen(device("u1", "", false));
    for (const char* id : {"plug", "strip", "u1"}) port->heard(id);
  }
};

std::string expand(std::string_view packed) {
  if (packed.size() < 2) return std::string(packed);
  const size_t count = static_cast<size_t>(static_cast<uint8_t>(packed[0])) << 8 | static_cast<uint8_t>(packed[1]);
  packed.remove_prefix(2);
  auto next_part = [&packed] {
    const auto split = packed.find('\0');
    const std::string_view part = packed.substr(0, split);
    packed = split == std::string_view::npos ? std::string_view() : packed.substr(split + 1);
    return part;
  };
  const std::string_view head = next_part(), open = next_part(), middle = next_part(), close = next_part();
  std::string out(head);
  for (size_t i = 0; i < count && out.size() < (1 << 20); ++i) out.append(open);
  out.append(middle);
  for (size_t i = 0; i < count && out.size() < (2 << 20); ++i) out.append(close);
  out.append(packed);
  return out;
}

World& world() {
  static World* instance = new World();  // never destroyed: the fuzzer exits without cleanup
  return *instance;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  World& w = world();
  w.ensure_devices();
  const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  const auto split = input.find('\0');
  const std::string topic(input.substr(0, split));
  std::string payload(split == std::string_view::npos ? std::string_view() : input.substr(split + 1));
  if ((data[0] & 4) != 0) payload = expand(payload);
  w.bridge.fail = (data[0] & 2) != 0;
  w.link.input_holds_secret = input.find("s3cr3t-pw") != std::string_view::npos;
  w.link.handlers.message(topic, payload, (data[0] & 1) != 0);
  w.io.poll();
  w.io.restart();
  // An options request may have turned debug logging or the trace on: back to quiet, so that
  // the next inputs run at speed.
  if (topic.find("options") != std::string::npos || log_settings::level() != Level::error || log_settings::trace()) {
    w.hub->request("options", {{"options", {{"log", {{"level", "error"}, {"trace", false}, {"mqtt", "warn"}}}}}});
    w.io.poll();
    w.io.restart();
  }
  if ((data[0] & 8) != 0) {
    w.port->device_seen(device("late", "", true));
    w.io.poll();
    w.io.restart();
    w.link.handlers.message("lc/bridge/request/remove", R"({"device":"fake_late"})", false);
    w.io.poll();
    w.io.restart();
  }
  return 0;
}
