// The UDP endpoint on real loopback sockets: the mandatory replies of local mode, the
// forwarding rules of fallback and relay (docs/protocols/timeguard.md §4.2, §5.1), routing by the
// latest address, and bad input dropped without stalling anyone.
#include <doctest/doctest.h>

#include <chrono>
#include <vector>

#include "bridges/timeguard/endpoint.h"
#include "support.h"

using namespace lc::timeguard;
using namespace lc::timeguard::test;
using TimeguardMode = lc::timeguard::Mode;

namespace {

struct Recorder : CloudEndpoint::Handler {
  std::vector<std::pair<Bytes, Classified>> frames;
  void device_frame(const FrameView& frame, const Classified& classified) override {
    Bytes params(frame.params.begin(), frame.params.end());
    frames.emplace_back(std::move(params), classified);
  }
};

uint16_t free_udp_port() {
  boost::asio::io_context io;
  udp::socket socket(io, udp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0));
  return socket.local_endpoint().port();
}

uint32_t now_unix() {
  return static_cast<uint32_t>(
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count());
}

struct Fixture {
  boost::asio::io_context io;
  lc::Metrics metrics;
  lc::BridgeStats stats{metrics, "timeguard"};
  Recorder recorder;
  std::unique_ptr<Peer> cloud;
  std::unique_ptr<CloudEndpoint> endpoint;

  explicit Fixture(TimeguardMode mode, size_t max_devices = 4096) {
    CloudEndpoint::Options options;
    options.listen = lc::Endpoint{"127.0.0.1", 0};
    options.mode = mode;
    options.max_devices = max_devices;
    if (mode != TimeguardMode::local) {
      cloud = std::make_unique<Peer>(io);
      options.upstream = lc::Endpoint{"127.0.0.1", cloud->address().port()};
    }
    endpoint = std::make_unique<CloudEndpoint>(io, options, metrics, stats, recorder);
    endpoint->start();
  }
  ~Fixture() { endpoint->stop(); }
  udp::endpoint address() const { return endpoint->local_endpoint(); }
  uint64_t dropped(const char* reason) { return stats.dropped(reason).value(); }
};

}  // namespace

TEST_CASE("local mode: a ping gets type 0 flags 0x0f, the seq echoed and the current UTC time") {
  Fixture f(TimeguardMode::local);
  Peer device(f.io);
  const Bytes ping = vector_bytes("readme_01_device_ping");
  const uint32_t before = now_unix();
  device.send(ping, f.address());
  auto reply = device.receive();
  REQUIRE(reply);
  const FrameView frame = parsed(*reply);
  CHECK(frame.type == 0);
  CHECK(frame.flags == 0x0f);
  CHECK(frame.seq == 0xff);
  CHECK(frame.message_id == 0xffffffff);
  CHECK(frame.padding == std::array<uint8_t, 3>{0, 0, 0});
  CHECK(frame.device_id == 0x12345678);
  const uint32_t time = *decode_u32(frame.params);
  CHECK(time >= before);
  CHECK(time <= now_unix());
  // Byte-exact with the vector for the same time.
  uint8_t expected[64];
  CHECK(*reply == Bytes(expected, expected + encode_ping_reply(0x12345678, 0xff, time, expected)));
  REQUIRE(f.recorder.frames.size() == 1);
  CHECK(f.recorder.frames[0].second.kind == Kind::ping);
  CHECK(f.endpoint->device_address(0x12345678) == device.address());
}

TEST_CASE("local mode: the code-version report gets the ack with flags 0x0b, echoed") {
  Fixture f(TimeguardMode::local);
  Peer device(f.io);
  device.send(vector_bytes("syn_device_code_version_report"), f.address());
  auto reply = device.receive();
  REQUIRE(reply);
  CHECK(*reply == vector_bytes("syn_server_code_version_ack"));
}

TEST_CASE("local mode: nothing else is answered, and device replies reach the bridge") {
  Fixture f(TimeguardMode::local);
  Peer device(f.io);
  for (const char* name : {"readme_05_device_type4_reply", "readme_07_device_holiday_reply",
                           "syn_device_set_work_mode_reply", "syn_device_schedule_0_reply"})
    device.send(vector_bytes(name), f.address());
  device.send(device_frame(0x12345678, 7, 0x06, 0xff, Bytes{1, 2}), f.address());  // unknown type
  CHECK(!device.receive(300ms));
  CHECK(f.recorder.frames.size() == 5);
  CHECK(f.recorder.frames.back().second.kind == Kind::unknown);
}

TEST_CASE("bad datagrams are dropped and counted, and the next ping is still answered") {
  Fixture f(TimeguardMode::local);
  Peer device(f.io);
  Bytes bad_crc = vector_bytes("readme_01_device_ping");
  bad_crc[bad_crc.size() - 3] ^= 0xff;
  Bytes bad_trailer = vector_bytes("readme_01_device_ping");
  bad_trailer.back() = 0;
  Bytes too_long = vector_bytes("readme_01_device_ping");
  too_long[2] = 0x7f;
  device.send(bad_crc, f.address());
  device.send(bad_trailer, f.address());
  device.send(too_long, f.address());
  device.send(Bytes{0xfa, 0xd4}, f.address());
  device.send(Bytes(65507, 0xfa), f.address());  // the largest UDP/IPv4 datagram
  Bytes bad_magic = vector_bytes("readme_01_device_ping");
  bad_magic[1] = 0x00;
  device.send(bad_magic, f.address());
  // A server-style frame from a device address is not for us either.
  device.send(vector_bytes("readme_02_server_ping_reply"), f.address());
  device.send(vector_bytes("readme_01_device_ping"), f.address());
  auto reply = device.receive();
  REQUIRE(reply);
  CHECK(parsed(*reply).flags == 0x0f);
  CHECK(!device.receive(200ms));
  CHECK(f.dropped("bad_checksum") == 1);
  CHECK(f.dropped("bad_trailer") == 1);
  CHECK(f.dropped("bad_length") == 1);
  CHECK(f.dropped("short_datagram") == 1);
  CHECK(f.dropped("oversized") == 1);
  CHECK(f.dropped("bad_magic") == 1);
  CHECK(f.dropped("server_frame_from_device") == 1);
  CHECK(f.recorder.frames.size() == 1);
  CHECK(f.stats.packets_in.value() == 8);
}

TEST_CASE("a ping with a reserved flag bit is answered; unknown flags are kept, not rejected") {
  Fixture f(TimeguardMode::local);
  Peer device(f.io);
  device.send(device_frame(0x0a0b0c0d, type::ping, 0x26, 0xff, Bytes(16, 0)), f.address());
  auto reply = device.receive();
  REQUIRE(reply);
  CHECK(parsed(*reply).device_id == 0x0a0b0c0d);
  device.send(device_frame(0x0a0b0c0d, type::ping, 0x10, 0xff, Bytes(16, 0)), f.address());
  CHECK(!device.receive(200ms));
  REQUIRE(f.recorder.frames.size() == 2);
  CHECK(f.recorder.frames[1].second.kind == Kind::unknown);
}

TEST_CASE("devices are routed by id to their latest source address") {
  Fixture f(TimeguardMode::local);
  Peer first(f.io), second(f.io);
  const Bytes ping = vector_bytes("readme_01_device_ping");
  first.send(ping, f.address());
  REQUIRE(first.receive());
  second.send(ping, f.address());  // the same id from a new port (reboot, NAT change)
  REQUIRE(second.receive());
  const Bytes request = encode_request(type::holiday, flag::read, 0x20, 0x12345678, {});
  CHECK(f.endpoint->send_to_device(0x12345678, request));
  auto got = second.receive();
  REQUIRE(got);
  CHECK(*got == request);
  CHECK(!first.receive(100ms));
  CHECK(!f.endpoint->send_to_device(0x99999999, request));
}

TEST_CASE("the device table is bounded; the least recently heard device goes") {
  Fixture f(TimeguardMode::local, 4);
  Peer device(f.io);
  for (uint32_t id = 1; id <= 10; ++id) {
    device.send(device_frame(id, type::ping, flag::device_report, 0xff, Bytes(16, 0)), f.address());
    REQUIRE(device.receive());
  }
  CHECK(f.endpoint->device_count() == 4);
  CHECK(f.endpoint->device_address(10));
  CHECK(!f.endpoint->device_address(1));
}

TEST_CASE("fallback: answered here, forwarded byte-exact both ways, the cloud's keepalive replies suppressed") {
  Fixture f(TimeguardMode::fallback);
  Peer device(f.io);
  const Bytes ping = vector_bytes("readme_01_device_ping");
  device.send(ping, f.address());
  auto local_reply = device.receive();
  REQUIRE(local_reply);
  CHECK(parsed(*local_reply).padding == std::array<uint8_t, 3>{0, 0, 0});  // ours, not the cloud's
  auto upstream = f.cloud->receive();
  REQUIRE(upstream);
  CHECK(*upstream == ping);
  CHECK(f.cloud->last_from() == f.address());

  // The cloud's ping reply and version ack do not reach the device; its read does, unchanged.
  f.cloud->send(vector_bytes("readme_02_server_ping_reply"), f.address());
  f.cloud->send(vector_bytes("syn_server_code_version_ack"), f.address());
  f.cloud->send(vector_bytes("readme_03_server_type4_read"), f.address());
  auto delivered = device.receive();
  REQUIRE(delivered);
  CHECK(*delivered == vector_bytes("readme_03_server_type4_read"));
  CHECK(!device.receive(200ms));

  // The device's reply to the cloud goes up unchanged (and the bridge sees it).
  device.send(vector_bytes("readme_05_device_type4_reply"), f.address());
  auto reply_up = f.cloud->receive();
  REQUIRE(reply_up);
  CHECK(*reply_up == vector_bytes("readme_05_device_type4_reply"));
  CHECK(f.recorder.frames.size() == 2);

  // Invalid frames from the cloud are dropped; frames for devices never heard too.
  Bytes bad = vector_bytes("readme_03_server_type4_read");
  bad[bad.size() - 4] ^= 1;
  f.cloud->send(bad, f.address());
  f.cloud->send(encode_request(type::holiday, flag::read, 1, 0x55555555, {}), f.address());
  CHECK(!device.receive(200ms));
  CHECK(f.dropped("bad_checksum") == 1);
  CHECK(f.dropped("unknown_device") == 1);
}

TEST_CASE("relay: forwarded untouched both ways, nothing answered here") {
  Fixture f(TimeguardMode::relay);
  Peer device(f.io);
  const Bytes ping = vector_bytes("readme_01_device_ping");
  device.send(ping, f.address());
  auto upstream = f.cloud->receive();
  REQUIRE(upstream);
  CHECK(*upstream == ping);
  CHECK(!device.receive(200ms));  // no local ping reply

  f.cloud->send(vector_bytes("readme_02_server_ping_reply"), f.address());
  auto delivered = device.receive();
  REQUIRE(delivered);
  CHECK(*delivered == vector_bytes("readme_02_server_ping_reply"));  // the cloud's junk padding intact

  // Even an invalid frame goes through: relay is for watching the protocol.
  Bytes odd = vector_bytes("syn_device_code_version_report");
  odd[odd.size() - 3] ^= 0x55;
  device.send(odd, f.address());
  auto odd_up = f.cloud->receive();
  REQUIRE(odd_up);
  CHECK(*odd_up == odd);
  CHECK(!device.receive(200ms));  // and no version ack
}

TEST_CASE("an upstream that reaches our own listener is refused; fallback needs an upstream") {
  boost::asio::io_context io;
  lc::Metrics metrics;
  lc::BridgeStats stats(metrics, "timeguard");
  Recorder recorder;
  const uint16_t port = free_udp_port();
  CloudEndpoint::Options options;
  options.listen = lc::Endpoint{"0.0.0.0", port};
  options.mode = TimeguardMode::fallback;
  options.upstream = lc::Endpoint{"127.0.0.1", port};
  CloudEndpoint looping(io, options, metrics, stats, recorder);
  CHECK_THROWS_WITH_AS(looping.start(), doctest::Contains("reaches our own listener"), std::runtime_error);

  options.upstream = lc::Endpoint{"127.0.0.1", static_cast<uint16_t>(port == 65535 ? 1 : port + 1)};
  CloudEndpoint other_port(io, options, metrics, stats, recorder);
  CHECK_NOTHROW(other_port.start());  // another port on loopback is a valid upstream
  other_port.stop();

  options.upstream.reset();
  CloudEndpoint none(io, options, metrics, stats, recorder);
  CHECK_THROWS_AS(none.start(), std::runtime_error);

  options.mode = TimeguardMode::local;
  CloudEndpoint local(io, options, metrics, stats, recorder);
  CHECK_NOTHROW(local.start());  // local mode never uses the upstream
  CloudEndpoint clash(io, options, metrics, stats, recorder);
  CHECK_THROWS_WITH_AS(clash.start(), doctest::Contains("cannot listen"), std::runtime_error);
  local.stop();
}

TEST_CASE("an upstream host name is resolved in the background") {
  boost::asio::io_context io;
  lc::Metrics metrics;
  lc::BridgeStats stats(metrics, "timeguard");
  Recorder recorder;
  Peer cloud(io);
  CloudEndpoint::Options options;
  options.listen = lc::Endpoint{"127.0.0.1", 0};
  options.mode = TimeguardMode::relay;
  options.upstream = lc::Endpoint{"localhost", cloud.address().port()};
  CloudEndpoint endpoint(io, options, metrics, stats, recorder);
  endpoint.start();
  REQUIRE(run_until(io, [&] { return endpoint.upstream().has_value(); }));
  Peer device(io);
  device.send(vector_bytes("readme_01_device_ping"), endpoint.local_endpoint());
  CHECK(cloud.receive());
  endpoint.stop();
}
