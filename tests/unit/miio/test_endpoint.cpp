// The cloud endpoint (docs/protocols/miio.md §2) on an io_context with real loopback sockets.
#include <doctest/doctest.h>

#include <ctime>
#include <thread>

#include <boost/asio/write.hpp>

#include "bridges/miio/cloud_endpoint.h"
#include "loop.h"
#include "support.h"

using namespace lc;
using namespace lc::miio;
using namespace lc::miio::test;
namespace asio = boost::asio;
using asio::ip::tcp;
using asio::ip::udp;

namespace {

class RecordingHandler : public CloudHandler {
 public:
  std::map<uint32_t, int> heard;
  std::vector<std::pair<uint32_t, Json>> messages;
  std::map<uint32_t, Cipher> keys;

  void cloud_heard(uint32_t did) override { ++heard[did]; }
  const Cipher* cloud_cipher(uint32_t did) override {
    const auto it = keys.find(did);
    return it == keys.end() ? nullptr : &it->second;
  }
  void cloud_message(uint32_t did, const Json& message) override { messages.emplace_back(did, message); }
};

struct Fixture {
  asio::io_context io;
  Metrics metrics;
  BridgeStats stats{metrics, "miio"};
  RecordingHandler handler;
  CloudOptions options;
  std::unique_ptr<CloudEndpoint> endpoint;
  udp::socket client{io};

  explicit Fixture(CloudOptions custom = {}) : options(std::move(custom)) {
    endpoint = std::make_unique<CloudEndpoint>(io, Endpoint{"127.0.0.1", 0}, stats, handler, options);
    endpoint->start();
    client.open(udp::v4());
    client.connect(udp::endpoint(asio::ip::make_address("127.0.0.1"), endpoint->port()));
  }
  udp::endpoint udp_target() const { return udp::endpoint(asio::ip::make_address("127.0.0.1"), endpoint->port()); }
  tcp::endpoint tcp_target() const { return tcp::endpoint(asio::ip::make_address("127.0.0.1"), endpoint->port()); }

  std::optional<std::vector<uint8_t>> exchange(const std::vector<uint8_t>& packet, std::chrono::milliseconds wait = 1000ms) {
    client.send(asio::buffer(packet));
    return receive(io, client, wait);
  }
};

std::vector<uint8_t> ping(uint32_t did, uint32_t stamp) {
  Token token;
  token.fill(0xff);
  const auto packet = ping_packet(Cipher(token), did, stamp);
  return {packet.begin(), packet.end()};
}

uint32_t stamp_of(const std::vector<uint8_t>& packet) {
  return uint32_t{packet[12]} << 24 | uint32_t{packet[13]} << 16 | uint32_t{packet[14]} << 8 | packet[15];
}

Token token_ff() {
  Token token;
  token.fill(0xff);
  return token;
}

}  // namespace

TEST_CASE("a hello gets the time sync reply with the current UTC time (§2.3)") {
  Fixture f;
  const auto hello = unhex(vector("cloud_hello_from_device")["packet_hex"]);
  const uint32_t before = static_cast<uint32_t>(std::time(nullptr));
  const auto reply = f.exchange(hello);
  const uint32_t after = static_cast<uint32_t>(std::time(nullptr));
  REQUIRE(reply);
  REQUIRE(reply->size() == 32);
  CHECK(std::equal(hello.begin(), hello.begin() + 12, reply->begin()));
  CHECK(std::equal(hello.begin() + 16, hello.end(), reply->begin() + 16));
  CHECK(stamp_of(*reply) >= before);
  CHECK(stamp_of(*reply) <= after);
  CHECK(f.handler.heard.empty());  // a hello carries no device id
}

TEST_CASE("the time sync reply is the echo-style vector for now = 0x1000") {
  CloudOptions options;
  options.clock = [] { return uint32_t{0x1000}; };
  Fixture f(options);
  const auto reply = f.exchange(unhex(vector("cloud_hello_from_device")["packet_hex"]));
  REQUIRE(reply);
  CHECK(hex(*reply) == vector("cloud_hello_reply_echo_style")["packet_hex"]);
}

TEST_CASE("a ping is echoed only when its stamp is newer than the last from that id (§2.4)") {
  Fixture f;
  const auto vector_ping = unhex(vector("keepalive_ping_token_ff")["packet_hex"]);
  auto reply = f.exchange(vector_ping);
  REQUIRE(reply);
  CHECK(*reply == vector_ping);  // byte for byte
  CHECK(f.handler.heard[0x01020304] == 1);

  CHECK_FALSE(f.exchange(vector_ping, 300ms));                 // same stamp: no echo
  CHECK_FALSE(f.exchange(ping(0x01020304, 0x0fff), 300ms));    // older: no echo
  CHECK(f.handler.heard[0x01020304] == 3);                      // but still heard
  CHECK(f.exchange(ping(0x01020304, 0x1001)) == ping(0x01020304, 0x1001));
  CHECK(f.exchange(ping(0x05060708, 0x0001)) == ping(0x05060708, 0x0001));  // another device
  CHECK_FALSE(f.exchange(ping(0x01020304, 0x1001), 300ms));
  CHECK(f.stats.dropped("ping_not_newer").value() == 3);
}

TEST_CASE("a stamp far behind the last one is a restarted device: echoed, and newer counts from it") {
  Fixture f;
  CHECK(f.exchange(ping(0x01020304, 100000)));
  CHECK_FALSE(f.exchange(ping(0x01020304, 99999), 300ms));  // one behind: the ping-pong case
  CHECK_FALSE(f.exchange(ping(0x01020304, 99400), 300ms));  // 600 s behind: still not newer
  CHECK(f.exchange(ping(0x01020304, 20)) == ping(0x01020304, 20));  // restarted, counts from boot
  CHECK_FALSE(f.exchange(ping(0x01020304, 20), 300ms));
  CHECK(f.exchange(ping(0x01020304, 35)));
}

TEST_CASE("the per-device stamp table is bounded") {
  CloudOptions options;
  options.max_tracked_devices = 4;
  Fixture f(options);
  for (uint32_t did = 1; did <= 10; ++did) {
    CHECK(f.exchange(ping(did, 100)));
    CHECK(f.endpoint->tracked_devices() <= 4);
  }
}

TEST_CASE("malformed datagrams are dropped and counted, and the endpoint keeps answering") {
  Fixture f;
  SUBCASE("shorter than 32 bytes (micloudfaker panics on it)") {
    for (size_t size : {0u, 1u, 2u, 11u, 12u, 31u}) {
      std::vector<uint8_t> bad(size, 0xff);
      if (size >= 2) bad[0] = 0x21, bad[1] = 0x31;
      CHECK_FALSE(f.exchange(bad, 100ms));
    }
    CHECK(f.stats.dropped("too_short").value() == 6);
  }
  SUBCASE("a 64 KiB datagram") {
    std::vector<uint8_t> huge(65000, 0);
    huge[0] = 0x21;
    huge[1] = 0x31;
    CHECK_FALSE(f.exchange(huge, 200ms));
    CHECK(f.stats.dropped("too_long").value() == 1);
  }
  SUBCASE("a length field larger than the datagram") {
    auto bad = unhex(vector("keepalive_ping_token_ff")["packet_hex"]);
    bad[3] = 0x40;
    CHECK_FALSE(f.exchange(bad, 200ms));
    CHECK(f.stats.dropped("bad_length").value() == 1);
  }
  SUBCASE("bad magic") {
    auto bad = unhex(vector("keepalive_ping_token_ff")["packet_hex"]);
    bad[0] = 0x47;
    CHECK_FALSE(f.exchange(bad, 200ms));
    CHECK(f.stats.dropped("bad_magic").value() == 1);
  }
  CHECK(f.exchange(unhex(vector("cloud_hello_from_device")["packet_hex"])));
}

TEST_CASE("an encrypted message without a cloud key is heard, counted and not answered (§2.7)") {
  Fixture f;
  CHECK_FALSE(f.exchange(unhex(vector("device_to_cloud_props_token_ff")["packet_hex"]), 300ms));
  CHECK(f.handler.heard[0x01020304] == 1);
  CHECK(f.handler.messages.empty());
  CHECK(f.stats.dropped("no_cloud_key").value() == 1);
}

TEST_CASE("with the cloud key: props are acknowledged exactly like vector cloud_ack_props (§2.6)") {
  Fixture f;
  f.handler.keys.emplace(0x01020304, Cipher(token_ff()));
  const auto reply = f.exchange(unhex(vector("device_to_cloud_props_token_ff")["packet_hex"]));
  REQUIRE(reply);
  CHECK(hex(*reply) == vector("cloud_ack_props_token_ff")["packet_hex"]);
  REQUIRE(f.handler.messages.size() == 1);
  CHECK(f.handler.messages[0].second["params"]["power"] == "on");

  SUBCASE("_otc.info is answered with an otc_list pointing at us") {
    Header header;
    header.did = 0x01020304;
    header.stamp = 0x2000;
    const auto request = encode_message(Cipher(token_ff()),
                                        header, R"({"id":7,"method":"_otc.info","params":{"model":"qmi.powerstrip.v1","token":"00112233445566778899aabbccddeeff"}})");
    REQUIRE(request);
    const auto answer = f.exchange(*request);
    REQUIRE(answer);
    Message message;
    REQUIRE(decode_message(*answer, Cipher(token_ff()), message) == Error::none);
    CHECK(message.header.did == 0x01020304);
    const auto json = parse_json(message.plaintext);
    REQUIRE(json);
    CHECK((*json)["id"] == 7);
    CHECK((*json)["result"]["otc_list"][0]["ip"] == "127.0.0.1");
    CHECK((*json)["result"]["otc_list"][0]["port"] == f.endpoint->port());
    CHECK((*json)["result"]["otc_test"]["list"][0]["port"] == f.endpoint->port());
  }
  SUBCASE("a result from the device gets no answer; a bad checksum is dropped") {
    Header header;
    header.did = 0x01020304;
    const auto result = encode_message(Cipher(token_ff()), header, R"({"id":1000,"result":["ok"]})");
    CHECK_FALSE(f.exchange(*result, 300ms));
    CHECK(f.handler.messages.size() == 2);
    auto corrupt = *result;
    corrupt[20] ^= 1;
    CHECK_FALSE(f.exchange(corrupt, 300ms));
    CHECK(f.stats.dropped("bad_checksum").value() == 1);
  }
}

TEST_CASE("TCP: packets back to back in one segment, and one packet split across segments (§2.1)") {
  Fixture f;
  tcp::socket stream(f.io);
  stream.connect(f.tcp_target());
  stream.set_option(tcp::no_delay(true));
  const auto hello = unhex(vector("cloud_hello_from_device")["packet_hex"]);
  const auto first_ping = ping(0x0a0b0c0d, 50);

  // Two packets in one write.
  std::vector<uint8_t> both = hello;
  both.insert(both.end(), first_ping.begin(), first_ping.end());
  asio::write(stream, asio::buffer(both));
  bool closed = false;
  auto replies = read_tcp(f.io, stream, 64, closed);
  REQUIRE(replies.size() == 64);
  CHECK(std::equal(hello.begin(), hello.begin() + 12, replies.begin()));
  CHECK(std::equal(first_ping.begin(), first_ping.end(), replies.begin() + 32));

  // One packet in three pieces, with the io_context running in between.
  const auto second_ping = ping(0x0a0b0c0d, 51);
  for (auto [from, to] : {std::pair<size_t, size_t>{0, 1}, {1, 20}, {20, 32}}) {
    asio::write(stream, asio::buffer(second_ping.data() + from, to - from));
    run_for(f.io, 30ms);
  }
  replies = read_tcp(f.io, stream, 32, closed);
  CHECK(replies == second_ping);

  // An encrypted packet split too, followed by a ping in the same segment as its tail.
  f.handler.keys.emplace(0x01020304, Cipher(token_ff()));
  const auto props = unhex(vector("device_to_cloud_props_token_ff")["packet_hex"]);
  const auto third_ping = ping(0x0a0b0c0d, 52);
  asio::write(stream, asio::buffer(props.data(), 40));
  run_for(f.io, 30ms);
  std::vector<uint8_t> tail(props.begin() + 40, props.end());
  tail.insert(tail.end(), third_ping.begin(), third_ping.end());
  asio::write(stream, asio::buffer(tail));
  replies = read_tcp(f.io, stream, 64 + 32, closed);
  REQUIRE(replies.size() == 96);
  CHECK(hex(std::span(replies).first(64)) == vector("cloud_ack_props_token_ff")["packet_hex"]);
  CHECK(std::equal(third_ping.begin(), third_ping.end(), replies.begin() + 64));
  CHECK_FALSE(closed);
  CHECK(f.handler.heard[0x0a0b0c0d] == 3);
}

TEST_CASE("TCP: a stream that does not start with 21 31 is closed (§2.1, §5 item 14)") {
  Fixture f;
  tcp::socket stream(f.io);
  stream.connect(f.tcp_target());
  const std::string http = "GET /gslb?tver=2&id=1&dm=ot.io.mi.com HTTP/1.1\r\nHost: ott.io.mi.com\r\n\r\n";
  asio::write(stream, asio::buffer(http));
  bool closed = false;
  const auto got = read_tcp(f.io, stream, 1, closed);
  CHECK(got.empty());
  CHECK(closed);
  CHECK(f.stats.dropped("tcp_not_miio").value() == 1);
  CHECK(run_until(f.io, [&] { return f.endpoint->connections() == 0; }));
}

TEST_CASE("TCP: a length below 32 or above the limit closes the connection; no resync") {
  Fixture f;
  for (std::vector<uint8_t> header : {std::vector<uint8_t>{0x21, 0x31, 0x00, 0x10}, std::vector<uint8_t>{0x21, 0x31, 0xff, 0xff}}) {
    tcp::socket stream(f.io);
    stream.connect(f.tcp_target());
    // A good ping first, then the bad header.
    const auto good = ping(0x11111111, 1 + header[3]);
    std::vector<uint8_t> bytes = good;
    bytes.insert(bytes.end(), header.begin(), header.end());
    asio::write(stream, asio::buffer(bytes));
    bool closed = false;
    const auto got = read_tcp(f.io, stream, 64, closed);
    CHECK(got == good);
    CHECK(closed);
  }
  CHECK(f.stats.dropped("tcp_bad_frame").value() == 2);
}

TEST_CASE("TCP: idle connections are closed, and the connection cap holds") {
  CloudOptions options;
  options.idle_timeout = 300ms;
  options.max_connections = 2;
  Fixture f(options);
  tcp::socket a(f.io), b(f.io), c(f.io);
  a.connect(f.tcp_target());
  b.connect(f.tcp_target());
  REQUIRE(run_until(f.io, [&] { return f.endpoint->connections() == 2; }));
  c.connect(f.tcp_target());
  bool closed = false;
  read_tcp(f.io, c, 1, closed, 1000ms);
  CHECK(closed);  // over the cap
  CHECK(f.stats.dropped("tcp_too_many_connections").value() == 1);

  // `a` keeps pinging, `b` stays silent: only `b` is closed for idleness.
  const auto start = std::chrono::steady_clock::now();
  uint32_t stamp = 1;
  bool b_closed = false;
  while (std::chrono::steady_clock::now() - start < 800ms) {
    asio::write(a, asio::buffer(ping(0x22222222, stamp++)));
    bool a_closed = false;
    CHECK(read_tcp(f.io, a, 32, a_closed, 500ms).size() == 32);
    CHECK_FALSE(a_closed);
    if (!b_closed) read_tcp(f.io, b, 1, b_closed, 100ms);
  }
  CHECK(b_closed);
  CHECK(f.endpoint->connections() == 1);
}

TEST_CASE("UDP and TCP share the port; stop() closes both") {
  Fixture f;
  tcp::socket stream(f.io);
  stream.connect(f.tcp_target());
  CHECK(f.exchange(ping(0x33333333, 9)));
  f.endpoint->stop();
  bool closed = false;
  read_tcp(f.io, stream, 1, closed, 1000ms);
  CHECK(closed);
  CHECK_FALSE(f.exchange(ping(0x33333333, 10), 200ms));
}
