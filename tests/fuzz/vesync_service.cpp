// libFuzzer target: the vesync service API (vesync.service_listen) end to end. Each input is
// one raw HTTP request, parsed and bounded as the core HTTP server does (answer_raw_request),
// answered by the real ServiceApi (token "t0k3n") of a real VesyncBridge, which has one
// connected outlet ("desk") behind a fake websocket link that answers /relay and /getRuntime
// (posted, as a socket would). Every answer must come (no request left hanging), never be 500,
// and never echo the token.
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include "bridges/vesync/bridge.h"
#include "bridges/vesync/service_api.h"
#include "bridges/vesync/transport.h"
#include "core/durable_store.h"
#include "core/http_server.h"
#include "tests/support/fake_hub.h"

namespace {

namespace asio = boost::asio;
using namespace lc;
using namespace lc::vesync;

constexpr const char* kToken = "t0k3n";
constexpr const char* kId = "443c878f-f675-4c90-98e8-2f4566914d39";

// The outlet: answers every /relay with the new relay state and every /getRuntime with figures.
class Outlet final : public WsLink {
 public:
  explicit Outlet(asio::io_context& io) : io_(io) {}
  void set_events(WsEvents* events) override { events_ = events; }
  void send(std::string payload, bool) override {
    std::string answer;
    if (payload.find("\"/relay\"") != std::string::npos) {
      const bool open = payload.find("\"open\"") != std::string::npos;
      answer = std::string(R"({"uri":"/runtimeInfo","relay":")") + (open ? "open" : "break") +
               R"(","meastate":"idle","power":"0:0","voltage":"0:0","current":"NaN"})";
    } else if (payload.find("\"/getRuntime\"") != std::string::npos) {
      answer = R"({"uri":"/runtimeInfo","relay":"open","meastate":"idle","power":"9193:9185","voltage":"79192:78323","current":"NaN"})";
    }
    if (answer.empty()) return;
    asio::post(io_, [this, answer] {
      if (events_) events_->ws_frame(*this, answer, false);
    });
  }
  void close() override {}
  void abort() override {}
  void set_idle_timeout(std::chrono::milliseconds) override {}
  const std::string& peer() const override { return peer_; }
  bool open() const override { return true; }
  void frame(const std::string& text) {
    if (events_) events_->ws_frame(*this, text, false);
  }

 private:
  asio::io_context& io_;
  WsEvents* events_ = nullptr;
  std::string peer_ = "127.0.0.1:40000";
};

struct World {
  asio::io_context io;
  Settings settings;
  test::FakeHub hub;
  Metrics metrics;
  std::unique_ptr<DurableStore> store;
  std::unique_ptr<BridgeContext> context;
  std::unique_ptr<VesyncBridge> bridge;
  std::shared_ptr<Outlet> outlet;
  std::unique_ptr<ServiceApi> service;

  World() {
    log_settings::configure(Level::error, false, true);
    const auto dir = std::filesystem::temp_directory_path() / ("lc-fuzz-vesync-service-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    settings.enabled = true;
    settings.listen = Endpoint{"127.0.0.1", 0};
    settings.devices.push_back({kId, "desk", {}});
    store = std::make_unique<DurableStore>(io, dir);
    context = std::make_unique<BridgeContext>(BridgeContext{io, &settings, hub, metrics, *store});
    bridge = std::make_unique<VesyncBridge>(*context);
    bridge->start();
    service = std::make_unique<ServiceApi>(io, metrics, kToken, *bridge);
    outlet = std::make_shared<Outlet>(io);
    auto upgrade = http::parse_request(
        "GET /gnws HTTP/1.1\r\nHost: server2.vesync.com:17273\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
    if (!upgrade) std::abort();
    bridge->accept_link(outlet, *upgrade);
    outlet->frame(std::string(R"({"id":")") + kId + R"(","type":"wifi-switch","relay":"open","firmVersion":"1.89"})");
    io.poll();
  }
};

World& world() {
  static World* instance = new World();  // never destroyed: the fuzzer exits without cleanup
  return *instance;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 16384) return 0;
  World& w = world();
  // The deadline counts this process's CPU time (the loop below spins), not wall time: a fuzzer
  // run at nice 19 next to a saturating benchmark got 8 wall seconds and almost no CPU.
  const std::clock_t deadline = std::clock() + 8 * CLOCKS_PER_SEC;
  const AsyncHttpHandler handler = [&w, deadline](const HttpRequest& request, HttpReply reply) {
    w.service->answer(request, reply);
    // An answer that waits for the outlet comes once the io_context has run its fake answers.
    while (!reply.answered()) {
      if (w.io.poll() == 0) std::this_thread::yield();
      w.io.restart();
      if (std::clock() > deadline) std::abort();  // a request left hanging
    }
  };
  const HttpResponse answer =
      answer_raw_request(std::string_view(reinterpret_cast<const char*>(data), size), handler, 1024);
  w.io.poll();  // what the request left behind (the poll after an acknowledgement)
  w.io.restart();
  switch (answer.status) {
    case 200: case 400: case 401: case 404: case 413: case 431: case 503: case 504: break;
    default: std::abort();  // never 500
  }
  if (answer.body.find(kToken) != std::string::npos) std::abort();
  for (const auto& [name, value] : answer.headers)
    if (value.find(kToken) != std::string::npos) std::abort();
  return 0;
}
