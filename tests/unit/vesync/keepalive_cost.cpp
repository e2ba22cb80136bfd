// What one outlet keepalive costs the bridge (issue #15): N /ka frames, round robin over
// --devices configured outlets that are logged in over fake links, each /ka carrying the rssi
// the outlet sent before (nothing changed). Prints the heap allocations and the Hub calls per
// keepalive; for the instructions run it under callgrind, counting only the loop:
//
//   valgrind --tool=callgrind --toggle-collect='*run_keepalives*'
//     build/tests/unit/vesync/vesync_keepalive_cost --pings 100000 --devices 128 [--encrypted 1]
//
// (one command line; build it with cmake --build build --target vesync_keepalive_cost).
//
// The link is a fake (no socket, no Beast): what is measured is the frame handler, from the
// frame's text to the /kr handed to the link.
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "bridges/vesync/bridge.h"
#include "bridges/vesync/crypto.h"
#include "bridges/vesync/transport.h"
#include "core/durable_store.h"
#include "core/metrics.h"

#if defined(__GNUC__) && !defined(__clang__)
// GCC sees free() meet memory from the replaced operator new below: both are malloc's here.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

namespace {

std::atomic<bool> counting{false};
std::atomic<long> allocations{0};

}  // namespace

void* operator new(std::size_t size) {
  if (counting.load(std::memory_order_relaxed)) allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size ? size : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace {

using namespace lc;
using namespace lc::vesync;

// Counts what the bridge reports; stores nothing.
class CountingHub final : public Hub {
 public:
  long heard_calls = 0, state_calls = 0, other_calls = 0;
  bool device_seen(const DeviceInfo&) override { return true; }
  bool known(std::string_view) const override { return true; }
  void heard(std::string_view) override { ++heard_calls; }
  void state_changed(std::string_view, std::string_view, Json) override { ++state_calls; }
  void attributes_changed(std::string_view, Json) override { ++other_calls; }
  void device_lost(std::string_view) override { ++other_calls; }
  void event(std::string_view, std::string_view, Json) override { ++other_calls; }
  std::string log_name(std::string_view id) const override { return std::string(id); }
};

class Link final : public WsLink {
 public:
  WsEvents* events = nullptr;
  long sent = 0;
  std::string address = "192.0.2.7:40000";
  void set_events(WsEvents* e) override { events = e; }
  void send(std::string, bool) override { ++sent; }
  void close() override {}
  void abort() override {}
  void set_idle_timeout(std::chrono::milliseconds) override {}
  const std::string& peer() const override { return address; }
  bool open() const override { return true; }
};

__attribute__((noinline)) void run_keepalives(std::vector<std::shared_ptr<Link>>& links, long pings,
                                              std::string_view frame, bool binary) {
  for (long i = 0; i < pings; ++i) {
    Link& link = *links[size_t(i) % links.size()];
    link.events->ws_frame(link, frame, binary);
  }
}

long option(int argc, char** argv, const char* name, long fallback) {
  for (int i = 1; i + 1 < argc; ++i)
    if (std::string(argv[i]) == name) return std::atol(argv[i + 1]);
  return fallback;
}

}  // namespace

int main(int argc, char** argv) {
  const long pings = option(argc, argv, "--pings", 100000);
  const long devices = option(argc, argv, "--devices", 128);
  const bool encrypted = option(argc, argv, "--encrypted", 0) != 0;
  log_settings::configure(Level::warn, false, true);
  const auto dir = std::filesystem::temp_directory_path() / ("lc-keepalive-cost-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  {
    boost::asio::io_context io;
    Settings settings;
    settings.enabled = true;
    settings.listen = Endpoint{"127.0.0.1", 0};
    settings.poll_interval = std::chrono::hours(1);
    std::vector<std::string> ids;
    for (long n = 0; n < devices; ++n) {
      char id[64];
      std::snprintf(id, sizeof id, "443c878f-f675-4c90-98e8-%012lx", n);
      ids.emplace_back(id);
      settings.devices.push_back({id, "outlet" + std::to_string(n), {}});
    }
    CountingHub hub;
    Metrics metrics;
    DurableStore store(io, dir);
    BridgeContext context{io, &settings, hub, metrics, store};
    VesyncBridge bridge(context);
    bridge.start();
    auto upgrade = http::parse_request(
        "GET /gnws HTTP/1.1\r\nHost: server2.vesync.com:17273\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\ndeviceVersion:5\r\n\r\n");
    std::vector<std::shared_ptr<Link>> links;
    const std::string ka_text = R"({"uri":"/ka","rssi":-45})";
    const std::string ka = encrypted ? encrypt_frame(ka_text) : ka_text;
    for (const auto& id : ids) {
      auto link = std::make_shared<Link>();
      bridge.accept_link(link, *upgrade);
      const std::string login = R"({"id":")" + id + R"(","type":"wifi-switch","relay":"open","firmVersion":"1.89"})";
      link->events->ws_frame(*link, encrypted ? encrypt_frame(login) : login, encrypted);
      link->events->ws_frame(*link, ka, encrypted);  // the rssi is known from here on
      links.push_back(link);
    }
    io.poll();
    const long heard_before = hub.heard_calls, state_before = hub.state_calls;
    counting = true;
    run_keepalives(links, pings, ka, encrypted);
    counting = false;
    long replies = 0;
    for (const auto& link : links) replies += link->sent;
    std::printf("%ld %s keepalives from %ld outlets: %.3f allocations, %.4f heard(), %.4f state_changed() per keepalive; "
                "%ld frames sent in all\n",
                pings, encrypted ? "encrypted" : "plaintext", devices, double(allocations.load()) / double(pings),
                double(hub.heard_calls - heard_before) / double(pings),
                double(hub.state_calls - state_before) / double(pings), replies);
    bridge.stop();
    store.flush();
    io.restart();
    io.poll();
  }
  std::filesystem::remove_all(dir);
  return 0;
}
