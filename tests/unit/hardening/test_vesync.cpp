// Regression test from the hardening work on the vesync bridge: bridge/request/remove forgets
// an outlet completely, including its energy record in data_dir (it used to leave a zero
// record behind, one file per forgotten id).
#include <doctest/doctest.h>

#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <filesystem>

#include "bridges/vesync/bridge.h"
#include "bridges/vesync/transport.h"
#include "core/durable_store.h"
#include "tests/support/fake_hub.h"

using namespace lc;
using namespace lc::vesync;

namespace {

const std::string kId = "5e1a0000-0000-4000-8000-000000000001";

class Link final : public WsLink {
 public:
  WsEvents* events = nullptr;
  std::string address = "192.0.2.9:40000";
  void set_events(WsEvents* e) override { events = e; }
  void send(std::string, bool) override {}
  void close() override {}
  void abort() override {}
  void set_idle_timeout(std::chrono::milliseconds) override {}
  const std::string& peer() const override { return address; }
  bool open() const override { return true; }
  void frame(const std::string& text) {
    REQUIRE(events);
    events->ws_frame(*this, text, false);
  }
  void drop() {
    WsEvents* e = events;
    events = nullptr;
    if (e) e->ws_closed(*this, CloseCause::peer, "");
  }
};

}  // namespace

TEST_CASE("forget removes the outlet's energy record from data_dir") {
  const auto dir = std::filesystem::temp_directory_path() / ("lc-hardening-vesync-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  {
    boost::asio::io_context io;
    Settings settings;
    settings.enabled = true;
    settings.listen = Endpoint{"127.0.0.1", 0};
    test::FakeHub hub;
    Metrics metrics;
    DurableStore store(io, dir);
    BridgeContext context{io, &settings, hub, metrics, store};
    VesyncBridge bridge(context);
    bridge.start();

    auto link = std::make_shared<Link>();
    auto upgrade = http::parse_request(
        "GET /gnws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: a2V5\r\n\r\n");
    REQUIRE(upgrade);
    bridge.accept_link(link, *upgrade);
    link->frame(R"({"id":")" + kId + R"(","type":"wifi-switch","relay":"open"})");
    REQUIRE(hub.known(kId));
    link->frame(R"({"uri":"/report","e":"e10","t":"b6"})");  // 3600 Ws
    store.flush();
    io.poll();
    const auto record = dir / ("vesync-energy-" + kId);
    CHECK(std::filesystem::exists(record));
    CHECK(hub.value(kId, "energy") == Json(0.001));

    link->drop();
    io.poll();
    hub.devices.erase(kId);  // what the Hub does before it calls forget
    bridge.forget(kId);
    store.flush();
    io.poll();
    CHECK_FALSE(std::filesystem::exists(record));
    CHECK(bridge.device(kId) == nullptr);
    bridge.stop();
    store.flush();
  }
  std::filesystem::remove_all(dir);
}
