// core/: endpoints, id masking, hex, metrics and the drop rule, the durable store.
#include <doctest/doctest.h>
#include <sys/stat.h>

#include <boost/asio/io_context.hpp>
#include <filesystem>
#include <fstream>

#include "core/durable_store.h"
#include "core/http_server.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/net.h"
#include "core/udp_batch.h"

using namespace lc;

TEST_CASE("endpoints parse HOST:PORT and bracketed IPv6") {
  CHECK(parse_endpoint("127.0.0.1:8053") == Endpoint{"127.0.0.1", 8053});
  CHECK(parse_endpoint("server2.vesync.com:17273") == Endpoint{"server2.vesync.com", 17273});
  CHECK(parse_endpoint("[::1]:9997") == Endpoint{"::1", 9997});
  CHECK(parse_endpoint("[::1]:9997")->text() == "[::1]:9997");
  for (const char* bad : {"", "host", ":80", "host:", "host:0", "host:65536", "host:8o", "::1:80", "a b:1",
                          "[::1]80", "host:-1", "host:123456"})
    CHECK_MESSAGE(!parse_endpoint(bad), bad);
}

TEST_CASE("an upstream that reaches our own listener is recognised") {
  const auto loopback = boost::asio::ip::make_address("127.0.0.1");
  CHECK(reaches_listener(loopback, 17273, {"0.0.0.0", 17273}));
  CHECK_FALSE(reaches_listener(loopback, 17274, {"0.0.0.0", 17273}));  // another port on loopback is fine
  CHECK(reaches_listener(loopback, 9997, {"127.0.0.1", 9997}));
  CHECK_FALSE(reaches_listener(boost::asio::ip::make_address("127.0.0.2"), 9997, {"127.0.0.1", 9997}));
  CHECK_FALSE(reaches_listener(boost::asio::ip::make_address("192.0.2.10"), 9997, {"0.0.0.0", 9997}));
}

TEST_CASE("mask_id hides ids when asked and is stable") {
  log_settings::configure(Level::info, false, true);
  const auto masked = mask_id("443c878f-f675-4c90-98e8-2f4566914d39");
  CHECK(masked.find("443c878f") == std::string::npos);
  CHECK(masked == mask_id("443c878f-f675-4c90-98e8-2f4566914d39"));
  CHECK(masked != mask_id("01020304"));
  log_settings::configure(Level::info, false, false);
  CHECK(mask_id("01020304") == "01020304");
}

TEST_CASE("hex") {
  const uint8_t bytes[] = {0x21, 0x31, 0x00, 0xff};
  CHECK(hex(bytes) == "213100ff");
}

TEST_CASE("metrics render Prometheus text; drops are counted per reason") {
  Metrics metrics;
  BridgeStats stats(metrics, "miio");
  stats.packets_in.inc(3);
  stats.drop("bad_checksum", "192.0.2.1");
  stats.drop("bad_checksum", "192.0.2.1");
  stats.drop("too_short", "192.0.2.2", "12 bytes");
  metrics.gauge("localcloud_devices_online", "online", {{"bridge", "miio"}}, [] { return 2.0; });
  const auto text = metrics.prometheus_text();
  CHECK(text.find("localcloud_packets_total{bridge=\"miio\",direction=\"in\"} 3") != std::string::npos);
  CHECK(text.find("localcloud_packets_dropped_total{bridge=\"miio\",reason=\"bad_checksum\"} 2") != std::string::npos);
  CHECK(text.find("localcloud_packets_dropped_total{bridge=\"miio\",reason=\"too_short\"} 1") != std::string::npos);
  CHECK(text.find("# TYPE localcloud_devices_online gauge") != std::string::npos);
  CHECK(text.find("localcloud_devices_online{bridge=\"miio\"} 2") != std::string::npos);
}

TEST_CASE("the durable store writes atomically and reports when durable") {
  const auto dir = std::filesystem::temp_directory_path() / ("lc-store-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  boost::asio::io_context io;
  {
    DurableStore store(io, dir);
    int done = 0;
    bool all_ok = true;
    store.store("energy.json", "{\"a\":1}", [&](bool ok) { ++done, all_ok &= ok; });
    store.store("energy.json", "{\"a\":2}", [&](bool ok) { ++done, all_ok &= ok; });
    store.store("../escape", "x", [&](bool ok) { ++done, all_ok &= !ok; });
    store.flush();
    io.run();
    CHECK(done == 3);
    CHECK(all_ok);
    CHECK(store.load("energy.json") == std::optional<std::string>("{\"a\":2}"));
    CHECK_FALSE(store.load("missing"));
    CHECK_FALSE(store.load("../etc/passwd"));
    struct stat info {};
    REQUIRE(::stat((dir / "energy.json").c_str(), &info) == 0);
    CHECK((info.st_mode & 0777) == 0600);
    CHECK_FALSE(std::filesystem::exists(dir / ".energy.json.tmp"));

    // The records whose name starts with a prefix: regular files with valid names only.
    store.store("energy-b", "2");
    store.store("energy-a", "1");
    store.flush();
    std::filesystem::create_directories(dir / "energy-dir");
    { std::ofstream(dir / "energy-UPPER") << "x"; }
    CHECK(store.list("energy-") == std::vector<std::string>{"energy-a", "energy-b"});
    CHECK(store.list("energy").size() == 3);  // energy.json too
    CHECK(store.list("nothing-").empty());
  }
  std::filesystem::remove_all(dir);
}

TEST_CASE("query parameters and raw HTTP requests") {
  CHECK(target_path("/api/relay?name=a") == "/api/relay");
  bool present = false;
  CHECK(query_parameter("/x?name=desk%20lamp&on=1", "name", &present) == "desk lamp");
  CHECK(present);
  CHECK(query_parameter("/x?name=a+b", "name") == "a b");
  CHECK(query_parameter("/x?on", "on", &present).empty());
  CHECK(present);
  query_parameter("/x", "on", &present);
  CHECK_FALSE(present);
  CHECK(query_parameter("/x?a=%", "a") == "%");
  const HttpHandler echo = [](const HttpRequest& r) { return HttpResponse{200, "text/plain", r.method + " " + r.target}; };
  CHECK(answer_raw_request("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", echo).body == "GET /healthz");
  CHECK(answer_raw_request("garbage\r\n\r\n", echo).status == 400);
  CHECK(answer_raw_request(std::string(20000, 'a'), echo).status == 431);
  const HttpHandler thrower = [](const HttpRequest&) -> HttpResponse { throw std::runtime_error("x"); };
  CHECK(answer_raw_request("GET / HTTP/1.1\r\nHost: x\r\n\r\n", thrower).status == 500);
}

TEST_CASE("the batched UDP socket answers every datagram and flags oversized ones") {
  boost::asio::io_context io;
  UdpBatchSocket server(io);
  size_t truncated_seen = 0;
  server.open({"127.0.0.1", 0}, [&](std::span<const uint8_t> datagram, bool truncated, const auto& from, auto& replies) {
    if (truncated) {
      ++truncated_seen;
      return;
    }
    std::vector<uint8_t> reply(datagram.begin(), datagram.end());
    reply.push_back('!');
    replies.send(reply, from);
  });
  boost::asio::ip::udp::socket client(io, boost::asio::ip::udp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0));
  const auto target = server.local_endpoint();
  for (int i = 0; i < 200; ++i) {
    const std::string text = "ping " + std::to_string(i);
    client.send_to(boost::asio::buffer(text), target);
  }
  const std::vector<uint8_t> big(UdpBatchSocket::kMaxDatagram + 100, 0x41);
  client.send_to(boost::asio::buffer(big), target);
  io.run_for(std::chrono::milliseconds(300));
  client.non_blocking(true);
  size_t replies = 0;
  std::array<char, 100> buffer{};
  boost::system::error_code ec;
  for (;;) {
    const size_t n = client.receive(boost::asio::buffer(buffer), 0, ec);
    if (ec) break;
    CHECK(buffer[n - 1] == '!');
    ++replies;
  }
  CHECK(replies == 200);
  CHECK(truncated_seen == 1);
}
