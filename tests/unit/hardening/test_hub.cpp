// Regression test from the hardening work on the Hub: with log.mask_ids, device ids stayed out
// of log lines except through device keys ("<bridge>_<id>") in the warnings about commands for
// unknown devices and retained commands.
#include <doctest/doctest.h>

#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <filesystem>

#include "app/hub.h"
#include "core/durable_store.h"

using namespace lc;

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

class TestBridge final : public lc::Bridge {
 public:
  std::string_view name() const override { return "fake"; }
  BridgePolicy policy() const override { return {}; }
  void start() override {}
  void stop() override {}
  std::vector<Listener> listeners() const override { return {}; }
  void command(std::string_view, std::string_view, const Json&, CommandDone done) override { done(""); }
  void read(std::string_view) override {}
};

// Everything written to stderr (the log) while `body` runs.
template <class Body> std::string captured_log(Body body) {
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  const int saved = ::dup(STDERR_FILENO);
  ::dup2(fds[1], STDERR_FILENO);
  body();
  ::dup2(saved, STDERR_FILENO);
  ::close(saved);
  ::close(fds[1]);
  std::string text;
  char buffer[4096];
  for (ssize_t n; (n = ::read(fds[0], buffer, sizeof buffer)) > 0;) text.append(buffer, size_t(n));
  ::close(fds[0]);
  return text;
}

}  // namespace

TEST_CASE("with mask_ids, commands for unknown or unnamed devices name no device id in the log") {
  log_settings::configure(Level::debug, false, true);
  const auto dir = std::filesystem::temp_directory_path() / ("lc-hardening-hub-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  {
    boost::asio::io_context io;
    config::Config config;
    config.mqtt.base_topic = "lc";
    Metrics metrics;
    DurableStore store(io, dir);
    Link link;
    TestBridge bridge;
    HubService hub(io, config, link, metrics, store);
    Hub& port = hub.port("fake");
    hub.attach(bridge);
    DeviceInfo info{.id = "a1b2c3d4", .configured = true, .manufacturer = "Test", .model = "plug"};
    info.properties = {{.key = "power", .component = Component::switch_, .writable = true, .main = true}};
    REQUIRE(port.device_seen(info));
    hub.start();

    const std::string log = captured_log([&] {
      link.handlers.message("lc/fake_a1b2c3d4/set/power", "ON", true);   // retained: ignored
      link.handlers.message("lc/fake_a1b2c3d4", "{}", false);           // our own state echo
      link.handlers.message("lc/fake_e5f6a7b8/set/power", "ON", false);  // a device never seen
      link.handlers.message("lc/fake_e5f6a7b8/set", "{\"power\":1}", false);
      link.handlers.message("lc/fake_e5f6a7b8/get", "", false);
      io.poll();
    });
    CHECK(log.find("ignored a retained message on lc/fake_id#") != std::string::npos);
    CHECK(log.find("command for unknown device 'fake_id#") != std::string::npos);
    CHECK(log.find("a1b2c3d4") == std::string::npos);
    CHECK(log.find("e5f6a7b8") == std::string::npos);

    // Without mask_ids the keys are logged as they are.
    log_settings::configure(Level::debug, false, false);
    const std::string plain = captured_log([&] {
      link.handlers.message("lc/fake_e5f6a7b8/get", "", false);
      io.poll();
    });
    CHECK(plain.find("command for unknown device 'fake_e5f6a7b8'") != std::string::npos);
    log_settings::configure(Level::info, false, true);
    hub.shutdown(std::chrono::milliseconds(10));
    store.flush();
  }
  std::filesystem::remove_all(dir);
}

// Issue 15, part 0: JSON from the broker nested 50,000 deep crashed the daemon (a request's
// transaction copied and dumped recursively; a retained state copied into a closure when its
// device registered). Both are refused before they are parsed now, and answered or dropped.
namespace {

class RecordingLink final : public MqttLink {
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
};

class RetainedBridge final : public lc::Bridge {
 public:
  std::vector<Json> retained;
  std::string_view name() const override { return "fake"; }
  BridgePolicy policy() const override { return {}; }
  void start() override {}
  void stop() override {}
  std::vector<Listener> listeners() const override { return {}; }
  void command(std::string_view, std::string_view, const Json&, CommandDone done) override { done(""); }
  void read(std::string_view) override {}
  void retained_state(std::string_view, const Json& state) override { retained.push_back(state); }
};

std::string nested(const std::string& head, size_t depth, const std::string& tail) {
  return head + std::string(depth, '[') + std::string(depth, ']') + tail;
}

}  // namespace

TEST_CASE("requests and retained states nested 50,000 deep are refused, not crashed on") {
  log_settings::configure(Level::error, false, true);
  const auto dir = std::filesystem::temp_directory_path() / ("lc-hardening-deep-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  {
    boost::asio::io_context io;
    config::Config config;
    config.mqtt.base_topic = "lc";
    Metrics metrics;
    DurableStore store(io, dir);
    RecordingLink link;
    RetainedBridge bridge;
    HubService hub(io, config, link, metrics, store);
    Hub& port = hub.port("fake");
    hub.attach(bridge);
    hub.start();
    link.handlers.connected();

    SUBCASE("a request: answered with an error, counted") {
      link.handlers.message("lc/bridge/request/health_check", nested("{\"transaction\":", 50000, "}"), false);
      link.handlers.message("lc/bridge/request/remove", nested("{\"transaction\":", 20, ",\"device\":\"x\"}"), false);
      io.poll();
      std::vector<std::string> answers;
      for (const auto& [topic, payload] : link.published)
        if (topic.rfind("lc/bridge/response/", 0) == 0) answers.push_back(topic + " " + payload);
      REQUIRE(answers.size() == 2);
      CHECK(answers[0] == R"(lc/bridge/response/health_check {"error":"request larger than 4096 bytes","status":"error"})");
      // 20 levels: beyond the 16 a request may have, refused and answered too.
      CHECK(answers[1] == R"(lc/bridge/response/remove {"error":"request nested too deep","status":"error"})");
      const std::string text = metrics.prometheus_text();
      CHECK(text.find("localcloud_mqtt_messages_dropped_total{reason=\"too_large\"} 1") != std::string::npos);
      CHECK(text.find("localcloud_mqtt_messages_dropped_total{reason=\"too_deep\"} 1") != std::string::npos);
    }

    SUBCASE("a retained state, then the device registers: only its numbers are handed over") {
      link.handlers.message("lc/fake_late", nested("{\"energy\":1,\"x\":", 200000, "}"), true);
      link.handlers.message("lc/fake_later", R"({"energy":2.5,"power":"ON","nested":{"energy":9}})", true);
      io.poll();
      DeviceInfo late{.id = "late", .configured = true, .manufacturer = "Test", .model = "plug"};
      DeviceInfo later{.id = "later", .configured = true, .manufacturer = "Test", .model = "plug"};
      REQUIRE(port.device_seen(late));
      REQUIRE(port.device_seen(later));
      io.poll();
      REQUIRE(bridge.retained.size() == 1);
      CHECK(bridge.retained[0] == Json{{"energy", 2.5}});
      CHECK(metrics.prometheus_text().find("localcloud_mqtt_messages_dropped_total{reason=\"too_large\"} 1") !=
            std::string::npos);
    }
    hub.shutdown(std::chrono::milliseconds(10));
    store.flush();
  }
  std::filesystem::remove_all(dir);
  log_settings::configure(Level::info, false, true);
}
