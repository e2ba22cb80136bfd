// The page's live stream (app/api/live.h) against a real HubService (fake MQTT link, fake
// bridge) and the real HTTP server on loopback: the snapshot, each kind of change, log lines,
// the cap on open streams and the reader that stops reading.
#include <doctest/doctest.h>

#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <filesystem>
#include <future>
#include <thread>

#include <nlohmann/json.hpp>

#include "app/api/api.h"
#include "app/api/live.h"
#include "app/api/views.h"
#include "app/hub.h"
#include "core/durable_store.h"

using namespace lc;
using nlohmann::json;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

namespace {

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

class Plugs final : public Bridge {
 public:
  std::vector<std::pair<std::string, json>> commands;
  std::string_view name() const override { return "fake"; }
  BridgePolicy policy() const override { return {std::chrono::seconds(60), true, 8}; }
  void start() override {}
  void stop() override {}
  std::vector<Listener> listeners() const override { return {{"udp", "127.0.0.1:9"}}; }
  void command(std::string_view id, std::string_view property, const Json& value, CommandDone done) override {
    commands.emplace_back(std::string(id) + "." + std::string(property), value);
    done("");
  }
  void read(std::string_view) override {}
};

DeviceInfo plug(const std::string& id, bool configured = true) {
  return DeviceInfo{.id = id,
                    .configured = configured,
                    .manufacturer = "Test",
                    .model = "plug.v1",
                    .firmware = "1.0",
                    .properties = {{.key = "power", .component = Component::switch_, .writable = true, .main = true},
                                   {.key = "load_power", .component = Component::sensor, .unit = "W"}}};
}

// The daemon's pieces on an io_context thread; the test talks to them with blocking sockets
// and runs Hub calls on the io thread through on_io().
struct Daemon {
  asio::io_context io;
  config::Config config;
  Metrics metrics;
  std::filesystem::path dir;
  std::unique_ptr<DurableStore> store;
  Link link;
  Plugs bridge;
  std::unique_ptr<HubService> hub;
  Hub* port = nullptr;
  std::shared_ptr<api::LiveFeed> live;
  std::unique_ptr<HttpServer> server;
  asio::executor_work_guard<asio::io_context::executor_type> work{io.get_executor()};
  std::thread thread;
  uint16_t port_number = 0;

  explicit Daemon(api::LiveOptions options) {
    log_settings::configure(Level::info, false, false);
    static int instances = 0;
    dir = std::filesystem::temp_directory_path() /
          ("lc-test-live-" + std::to_string(::getpid()) + "-" + std::to_string(++instances));
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    store = std::make_unique<DurableStore>(io, dir);
    hub = std::make_unique<HubService>(io, config, link, metrics, *store);
    port = &hub->port("fake");
    hub->attach(bridge);
    live = std::make_shared<api::LiveFeed>(
        io, *hub, metrics, [] { return json{{"version", "test"}}; }, options);
    ApiSources sources{.broker_connected = [] { return true; },
                       .devices = [this] { return hub->devices_json(true); },
                       .bridges = [this] { return hub->bridges_json(); },
                       .metrics = [this] { return metrics.prometheus_text(); },
                       .api_devices = {},
                       .status = {},
                       .request = {},
                       .set = [this](std::string_view key, std::string_view payload,
                                     CommandDone done) { hub->set(key, payload, std::move(done)); },
                       .events = [this](const HttpRequest& request, HttpReply reply) { live->open(request, reply); }};
    server = std::make_unique<HttpServer>(
        io, HttpServerOptions{.name = "api", .max_connections = 32, .max_body = 4096},
        [sources](const HttpRequest& request, HttpReply reply) { answer_api(request, std::move(reply), sources); },
        metrics);
    server->start({"127.0.0.1", 0});
    port_number = static_cast<uint16_t>(std::stoi(server->address().substr(server->address().rfind(':') + 1)));
    hub->start();
    live->start();
    thread = std::thread([this] { io.run(); });
    on_io([this] {
      link.handlers.connected();
      port->device_seen(plug("p1"));
      port->heard("p1");
      port->state_changed("p1", "power", "ON");
    });
  }
  ~Daemon() {
    on_io([this] {
      live->stop();
      server->stop();
      hub->shutdown(0ms);
    });
    work.reset();
    io.stop();
    thread.join();
    server.reset();
    live.reset();
    hub.reset();
    store->flush();
    store.reset();
    std::filesystem::remove_all(dir);
  }

  template <class Call> void on_io(Call call) {
    std::promise<void> done;
    asio::post(io, [&] {
      call();
      done.set_value();
    });
    done.get_future().wait();
  }
  size_t streams() {
    size_t n = 0;
    on_io([&] { n = live->streams(); });
    return n;
  }
};

// A page's stream read with a blocking socket: events parsed as they arrive.
struct Reader {
  asio::io_context io;
  tcp::socket socket{io};
  std::string buffer;
  std::string head;

  explicit Reader(uint16_t port, int receive_buffer = 0) {
    socket.open(tcp::v4());
    if (receive_buffer) socket.set_option(asio::socket_base::receive_buffer_size(receive_buffer));
    socket.connect({asio::ip::make_address("127.0.0.1"), port});
    asio::write(socket, asio::buffer(std::string("GET /api/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")));
    fill_until("\r\n\r\n", 5s);
    const auto end = buffer.find("\r\n\r\n");
    head = buffer.substr(0, end);
    buffer.erase(0, end == std::string::npos ? buffer.size() : end + 4);
  }
  bool fill_until(const std::string& needle, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    std::array<char, 65536> chunk{};
    while (buffer.find(needle) == std::string::npos) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      socket.non_blocking(true);
      boost::system::error_code ec;
      const size_t n = socket.read_some(asio::buffer(chunk), ec);
      if (ec == asio::error::would_block) {
        std::this_thread::sleep_for(5ms);
        continue;
      }
      if (ec) return false;
      buffer.append(chunk.data(), n);
    }
    return true;
  }
  // Reads whatever has arrived, keeping nothing.
  void drain() {
    std::array<char, 65536> chunk{};
    socket.non_blocking(true);
    for (;;) {
      boost::system::error_code ec;
      socket.read_some(asio::buffer(chunk), ec);
      if (ec) break;
    }
    buffer.clear();
  }
  // The next event of `type` (skipping others), within `timeout`.
  std::optional<json> next(const std::string& type, std::chrono::milliseconds timeout = 5s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0 || !fill_until("\n\n", left)) return std::nullopt;
      const auto end = buffer.find("\n\n");
      const std::string message = buffer.substr(0, end);
      buffer.erase(0, end + 2);
      std::string event, data;
      size_t at = 0;
      while (at < message.size()) {
        const auto newline = message.find('\n', at);
        const std::string line = message.substr(at, newline == std::string::npos ? std::string::npos : newline - at);
        if (line.rfind("event: ", 0) == 0) event = line.substr(7);
        if (line.rfind("data: ", 0) == 0) data = line.substr(6);
        if (newline == std::string::npos) break;
        at = newline + 1;
      }
      if (event == type) return json::parse(data);
    }
  }
};

}  // namespace

TEST_CASE("a page's stream: the snapshot, then state, availability, devices, events and log lines") {
  Daemon daemon({.tick = 100ms});
  Reader page(daemon.port_number);
  CHECK(page.head.find("HTTP/1.1 200") == 0);
  CHECK(page.head.find("Content-Type: text/event-stream") != std::string::npos);
  const auto snapshot = page.next("snapshot");
  REQUIRE(snapshot);
  CHECK((*snapshot)["status"]["version"] == "test");
  REQUIRE((*snapshot)["devices"].size() == 1);
  const json& device = (*snapshot)["devices"][0];
  CHECK(device["key"] == "fake_p1");
  CHECK(device["online"] == true);
  CHECK(device["state"]["power"] == "ON");
  CHECK(device["properties"][1]["unit"] == "W");
  CHECK(device["last_seen"].is_string());
  CHECK(device["cloud"]["received"].is_null());

  // A state change, coalesced: two properties in one turn are one message.
  daemon.on_io([&] {
    daemon.port->state_changed("p1", "power", "OFF");
    daemon.port->state_changed("p1", "load_power", 3.5);
  });
  auto state = page.next("state");
  REQUIRE(state);
  CHECK((*state)["key"] == "fake_p1");
  CHECK((*state)["state"] == json{{"power", "OFF"}, {"load_power", 3.5}});

  // The cloud conversation and last seen, on the next tick.
  daemon.on_io([&] { daemon.port->cloud_exchange("p1", "ping", "pong"); });
  auto seen = page.next("seen");
  REQUIRE(seen);
  CHECK((*seen)["devices"]["fake_p1"]["cloud"]["received"] == "ping");
  CHECK((*seen)["devices"]["fake_p1"]["cloud"]["answered"] == "pong");
  CHECK((*seen)["devices"]["fake_p1"]["cloud"]["exchanges"] == 1);

  // A device_error: the event at once, and the device's cloud error until it reports a value.
  daemon.on_io([&] { daemon.port->event("device_error", "p1", {{"error", "token_probably_wrong"}}); });
  auto event = page.next("event");
  REQUIRE(event);
  CHECK((*event)["type"] == "device_error");
  CHECK((*event)["device"] == "fake_p1");
  seen = page.next("seen");
  REQUIRE(seen);
  CHECK((*seen)["devices"]["fake_p1"]["cloud"]["error"]["error"] == "token_probably_wrong");

  // Offline, a new device, a removed one.
  daemon.on_io([&] { daemon.port->device_lost("p1"); });
  auto availability = page.next("availability");
  REQUIRE(availability);
  CHECK((*availability)["online"] == false);
  daemon.on_io([&] { daemon.port->device_seen(plug("p2", false)); });
  auto added = page.next("device");
  REQUIRE(added);
  CHECK((*added)["key"] == "fake_p2");
  CHECK((*added)["configured"] == false);
  daemon.on_io([&] { daemon.hub->request("device/remove", {{"device", "fake_p2"}}); });
  auto removed = page.next("device_removed");
  REQUIRE(removed);
  CHECK((*removed)["key"] == "fake_p2");

  // A line logged now reaches the page; one below log.level does not.
  Logger("fake").debug("below the level");
  Logger("fake").warn("a warning for the page");
  auto log = page.next("log");
  REQUIRE(log);
  bool found = false;
  for (const auto& line : (*log)["lines"]) {
    CHECK(line["text"] != "below the level");
    if (line["text"] == "a warning for the page") {
      found = true;
      CHECK(line["level"] == "warn");
      CHECK(line["component"] == "fake");
    }
  }
  CHECK(found);

  // A second page's snapshot carries that line too.
  Reader later(daemon.port_number);
  const auto second = later.next("snapshot");
  REQUIRE(second);
  CHECK(second->dump().find("a warning for the page") != std::string::npos);
  CHECK(daemon.streams() == 2);
}

TEST_CASE("at most max_streams pages; one beyond gets 503; a closed page frees its place") {
  Daemon daemon({.max_streams = 2, .tick = 100ms});
  auto first = std::make_unique<Reader>(daemon.port_number);
  Reader second(daemon.port_number);
  REQUIRE(first->next("snapshot"));
  REQUIRE(second.next("snapshot"));
  Reader third(daemon.port_number);
  CHECK(third.head.find("HTTP/1.1 503") == 0);
  CHECK(third.head.find("Retry-After: 10") != std::string::npos);
  third.fill_until("}", 2s);
  CHECK(third.buffer.find("too many open pages") != std::string::npos);
  first.reset();
  for (int i = 0; i < 200 && daemon.streams() != 1; ++i) std::this_thread::sleep_for(10ms);
  CHECK(daemon.streams() == 1);
  Reader fourth(daemon.port_number);
  CHECK(fourth.head.find("HTTP/1.1 200") == 0);
}

TEST_CASE("a page that stops reading is dropped; the others go on") {
  Daemon daemon({.max_queued_bytes = 64 * 1024, .tick = 50ms});
  Reader stalled(daemon.port_number, 4096);
  Reader reading(daemon.port_number);
  REQUIRE(reading.next("snapshot"));
  // State messages of 40 KB each: enough to fill the socket buffers and the stream's queue.
  const std::string big(2000, 'x');
  for (int round = 0; round < 1000 && daemon.streams() == 2; ++round) {
    daemon.on_io([&] {
      for (int i = 0; i < 20; ++i) daemon.port->state_changed("p1", "big" + std::to_string(i), big + std::to_string(round));
    });
    daemon.on_io([] {});  // the coalesced flush runs
    reading.drain();
  }
  CHECK(daemon.streams() == 1);
  std::string text;
  daemon.on_io([&] { text = daemon.metrics.prometheus_text(); });
  CHECK(text.find("localcloud_api_event_streams_total{result=\"dropped\"} 1") != std::string::npos);
  // The reader that kept up still gets what changes.
  daemon.on_io([&] { daemon.port->state_changed("p1", "power", "OFF"); });
  REQUIRE(reading.next("state"));
}

TEST_CASE("a command through the API goes the Hub's way: checks, events, the bridge") {
  Daemon daemon({});
  auto post = [&](const std::string& path, const std::string& body) {
    asio::io_context io;
    tcp::socket socket(io);
    socket.connect({asio::ip::make_address("127.0.0.1"), daemon.port_number});
    asio::write(socket, asio::buffer("POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n" +
                                     "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body));
    std::string answer;
    std::array<char, 4096> chunk{};
    boost::system::error_code ec;
    for (;;) {
      const size_t n = socket.read_some(asio::buffer(chunk), ec);
      if (ec) break;
      answer.append(chunk.data(), n);
    }
    return answer;
  };
  auto ok = post("/api/devices/fake_p1/set", R"({"power":"OFF"})");
  CHECK(ok.find("HTTP/1.1 200") == 0);
  CHECK(ok.find(R"({"status":"ok"})") != std::string::npos);
  daemon.on_io([&] {
    REQUIRE(daemon.bridge.commands.size() == 1);
    CHECK(daemon.bridge.commands[0].first == "p1.power");
    CHECK(daemon.bridge.commands[0].second == "OFF");
  });
  auto bad = post("/api/devices/fake_p1/set", R"({"load_power":3})");
  CHECK(bad.find("HTTP/1.1 400") == 0);
  CHECK(bad.find("read-only") != std::string::npos);
  auto not_json = post("/api/devices/fake_p1/set", "ON");
  CHECK(not_json.find("HTTP/1.1 400") == 0);
  daemon.on_io([&] { daemon.port->device_lost("p1"); });
  auto offline = post("/api/devices/fake_p1/set", R"({"power":"ON"})");
  CHECK(offline.find("HTTP/1.1 409") == 0);
  CHECK(offline.find("device offline") != std::string::npos);
  CHECK(post("/api/devices/nobody/set", R"({"power":"ON"})").find("HTTP/1.1 404") == 0);
  daemon.on_io([&] { CHECK(daemon.bridge.commands.size() == 1); });
}
