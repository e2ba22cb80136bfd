// The timeguard bridge's test fixture: a bridge on a loopback port with a FakeHub that counts
// calls, a loopback socket playing the device (support.h), and helpers that answer the
// first-sight reads and send commands.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "bridges/timeguard/bridge.h"
#include "core/durable_store.h"
#include "support.h"
#include "tests/support/fake_hub.h"

namespace lc::timeguard::test {

using TimeguardMode = lc::timeguard::Mode;

constexpr uint32_t kId = 0x12345678;
inline const std::string kKey = "12345678";

// A FakeHub that also counts the calls the hot path must not make.
struct CountingHub : lc::test::FakeHub {
  int seen_calls = 0;
  int state_calls = 0;
  int heard_calls = 0;
  bool device_seen(const lc::DeviceInfo& info) override {
    ++seen_calls;
    return FakeHub::device_seen(info);
  }
  void state_changed(std::string_view id, std::string_view property, Json value) override {
    ++state_calls;
    FakeHub::state_changed(id, property, std::move(value));
  }
  void heard(std::string_view id) override {
    ++heard_calls;
    FakeHub::heard(id);
  }
};

inline Schedule named_schedule(uint8_t index, const std::string& name) {
  Schedule s;
  s.index = index;
  s.slots[0] = Slot{SlotTime::make(true, 270), SlotTime::make(true, 300), 0x7d, 0};
  s.set_name(name);
  return s;
}

struct Fixture {
  boost::asio::io_context io;
  lc::timeguard::Settings settings;
  CountingHub hub;
  lc::Metrics metrics;
  std::filesystem::path dir;
  std::unique_ptr<lc::DurableStore> store;
  std::unique_ptr<lc::BridgeContext> context;
  std::unique_ptr<TimeguardBridge> bridge;
  std::unique_ptr<Peer> cloud;
  Peer device{io};
  std::vector<std::string> done;  // outcomes of commands ("" = ok)

  explicit Fixture(TimeguardMode mode = TimeguardMode::local, bool allow_raw = false, bool configured = true,
                   TimeguardBridge::Timing timing = {}) {
    settings.enabled = true;
    settings.listen = lc::Endpoint{"127.0.0.1", 0};
    settings.mode = mode;
    settings.allow_raw_commands = allow_raw;
    settings.timezone = "GMT0BST,M3.5.0/1,M10.5.0";
    if (configured) settings.devices.push_back({kId, "immersion_heater", {}});
    if (mode != TimeguardMode::local) {
      cloud = std::make_unique<Peer>(io);
      settings.upstream = lc::Endpoint{"127.0.0.1", cloud->address().port()};
    }
    dir = std::filesystem::temp_directory_path() / ("lc-tg-bridge-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    store = std::make_unique<lc::DurableStore>(io, dir);
    context = std::make_unique<lc::BridgeContext>(lc::BridgeContext{io, &settings, hub, metrics, *store});
    bridge = std::make_unique<TimeguardBridge>(*context, timing);
    bridge->start();
  }
  ~Fixture() {
    bridge->stop();
    bridge.reset();
    store.reset();
    std::filesystem::remove_all(dir);
  }

  udp::endpoint address() const { return bridge->endpoint().local_endpoint(); }

  void ping(uint8_t state = 0x2a, uint8_t work_mode = 0, BoostWord boost = {}, uint32_t uptime = 19804) {
    PingStatus s;
    s.state = state;
    s.unknown1 = {0, 0x64, 0};
    s.work_mode = work_mode;
    s.uptime_s = uptime;
    s.boost = boost;
    device.send(device_frame(kId, type::ping, flag::device_report, kDeviceSeq, encode(s)), address());
  }

  // The next frame the device receives that is not a ping reply.
  FrameView next_request(Bytes& storage, std::chrono::milliseconds timeout = 2000ms) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      auto got = device.receive(std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now()));
      if (!got) break;
      storage = *got;
      FrameView frame = parsed(storage);
      if (kind_of(frame.type, frame.flags) != Kind::ping_reply) return frame;
    }
    throw std::runtime_error("no request arrived");
  }

  void reply(const FrameView& request, uint8_t flags, const Bytes& params) {
    device.send(device_frame(kId, request.type, flags, request.seq, params), address());
  }

  // Answers the first-sight reads as a device with these schedule names would.
  std::vector<uint8_t> seqs;  // of every read answered by answer_reads
  void answer_reads(int count = 9, const std::vector<std::string>& names = {"Default", "Default", "", "Evenings", "", ""}) {
    Bytes storage;
    for (int i = 0; i < count; ++i) {
      const FrameView request = next_request(storage);
      seqs.push_back(request.seq);
      REQUIRE(request.flags == flag::read);
      switch (request.type) {
        case type::code_version:
          reply(request, flag::read_reply, encode(CodeVersion::from_text("4191717051001")));
          break;
        case type::active_schedule:
          reply(request, flag::read_reply, Bytes{0});
          break;
        case type::schedule:
          reply(request, flag::read_reply, encode(named_schedule(request.params[0], names.at(request.params[0]))));
          break;
        case type::holiday: {
          const Bytes captured = vector_bytes("readme_07_device_holiday_reply");
          const FrameView frame = parsed(captured);
          reply(request, flag::read_reply, Bytes(frame.params.begin(), frame.params.end()));
          break;
        }
        default:
          FAIL("unexpected request type ", int(request.type));
      }
    }
    run_until(io, [&] { return hub.attributes.count(kKey) && hub.attributes[kKey]["holiday"].is_object(); });
  }

  void command(const std::string& property, const Json& value) {
    bridge->command(kKey, property, value, [this](std::string error) { done.push_back(std::move(error)); });
  }
  bool wait_done(size_t count = 1, std::chrono::milliseconds timeout = 2000ms) {
    return run_until(io, [&] { return done.size() >= count; }, timeout);
  }
};

}  // namespace lc::timeguard::test
