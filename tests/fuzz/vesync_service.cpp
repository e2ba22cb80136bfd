// libFuzzer target: the vesync service API (vesync.service_listen) end to end. Each input is
// what one client sends on one loopback connection to the real ServiceApi of a real
// VesyncBridge (token "t0k3n"), which has one connected outlet ("desk") behind a fake
// websocket link that answers /relay and /getRuntime at once; the answer is read back. Every
// answer must be a well-formed HTTP/1.1 status line, never 500, and never echo the token.
#include <sys/socket.h>

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
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>

#include "bridges/vesync/bridge.h"
#include "bridges/vesync/transport.h"
#include "core/durable_store.h"
#include "tests/support/fake_hub.h"

namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
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
  tcp::endpoint service;

  World() {
    log_settings::configure(Level::error, false, true);
    const auto dir = std::filesystem::temp_directory_path() / ("lc-fuzz-vesync-service-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    settings.enabled = true;
    settings.listen = Endpoint{"127.0.0.1", 0};
    settings.service_listen = Endpoint{"127.0.0.1", 0};
    settings.service_token = kToken;
    settings.devices.push_back({kId, "desk", {}});
    store = std::make_unique<DurableStore>(io, dir);
    context = std::make_unique<BridgeContext>(BridgeContext{io, &settings, hub, metrics, *store});
    bridge = std::make_unique<VesyncBridge>(*context);
    bridge->start();
    const Endpoint bound = bridge->bound_service_endpoint();
    service = tcp::endpoint(asio::ip::make_address(bound.host), bound.port);
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
  tcp::socket client(w.io);
  boost::system::error_code ec;
  // libFuzzer's timeout alarm (SIGALRM, every second) can interrupt a blocking connect: start
  // again on a fresh socket.
  for (int attempt = 0; attempt < 5; ++attempt) {
    client = tcp::socket(w.io);
    client.connect(w.service, ec);
    if (ec != asio::error::interrupted) break;
  }
  // Thousands of connections a second exhaust the loopback's ephemeral ports (TIME_WAIT):
  // that is the harness's limit, not the server's. Any other failure means the server is gone.
  if (ec == boost::system::errc::address_not_available) return 0;
  if (ec) {
    std::fprintf(stderr, "connect to the service API failed: %s\n", ec.message().c_str());
    std::abort();
  }
  // Close with a reset, so that neither side keeps the connection in TIME_WAIT.
  client.set_option(asio::socket_base::linger(true, 0), ec);
  asio::write(client, asio::buffer(data, size), ec);
  client.shutdown(tcp::socket::shutdown_send, ec);
  client.non_blocking(true, ec);
  std::string answer;
  // The deadline counts this process's CPU time (the loop below spins), not wall time: a fuzzer
  // run at nice 19 next to a saturating benchmark got 8 wall seconds and almost no CPU.
  const std::clock_t deadline = std::clock() + 8 * CLOCKS_PER_SEC;
  for (;;) {
    if (w.io.poll() == 0) std::this_thread::yield();
    w.io.restart();
    char buffer[4096];
    const size_t n = client.read_some(asio::buffer(buffer), ec);
    if (!ec) {
      answer.append(buffer, n);
      continue;
    }
    if (ec != asio::error::would_block && ec != asio::error::try_again) break;  // EOF or reset: done
    if (std::clock() > deadline) std::abort();  // a connection left hanging
  }
  if (!answer.empty()) {
    if (answer.rfind("HTTP/1.1 ", 0) != 0) std::abort();
    if (answer.compare(9, 3, "500") == 0) std::abort();
    if (answer.find(kToken) != std::string::npos) std::abort();
  }
  return 0;
}
