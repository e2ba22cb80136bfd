// The local client (docs/protocols/miio.md §3) against a fake device on a loopback port.
#include <doctest/doctest.h>

#include "bridges/miio/local_client.h"
#include "fake_device.h"
#include "loop.h"

using namespace lc;
using namespace lc::miio;
using namespace lc::miio::test;
namespace asio = boost::asio;

namespace {

Token token_of(uint8_t fill) {
  Token token;
  token.fill(fill);
  return token;
}

struct Fixture {
  asio::io_context io;
  Metrics metrics;
  BridgeStats stats{metrics, "miio"};
  FakeDevice device{io, token_of(0x11)};
  std::vector<std::pair<uint32_t, uint32_t>> handshakes;
  std::vector<std::string> suspicions;
  std::unique_ptr<LocalClient> client;

  explicit Fixture(Token token = token_of(0x11), ClientOptions options = fast()) {
    LocalClient::Events events;
    events.handshake = [this](uint32_t did, uint32_t stamp) { handshakes.emplace_back(did, stamp); };
    events.token_suspect = [this](std::string detail) { suspicions.push_back(detail); };
    client = std::make_unique<LocalClient>(io, "127.0.0.1", device.port(), token, stats, events, options);
    client->start();
  }

  static ClientOptions fast() {
    ClientOptions options;
    options.timeout = 150ms;
    options.first_id = 1;
    return options;
  }

  std::optional<Reply> call(const std::string& method, Json params = Json::array(), std::chrono::milliseconds wait = 3000ms) {
    std::optional<Reply> reply;
    client->request(method, std::move(params), [&](Reply r) { reply = std::move(r); });
    run_until(io, [&] { return reply.has_value(); }, wait);
    return reply;
  }
};

}  // namespace

TEST_CASE("handshake, then a request with the device's id and stamp + elapsed (§3.1, §3.2)") {
  Fixture f;
  f.device.props = {{"power", "on"}, {"temperature", 38.5}};
  const auto reply = f.call("get_prop", {"power", "temperature"});
  REQUIRE(reply);
  CHECK(reply->ok());
  CHECK(reply->result == Json::parse(R"(["on",38.5])"));
  CHECK(f.device.handshakes == 1);
  REQUIRE(f.handshakes.size() == 1);
  CHECK(f.handshakes[0] == std::pair<uint32_t, uint32_t>(0x01020304, 5000));
  CHECK(f.client->did() == 0x01020304u);
  REQUIRE(f.device.requests.size() == 1);
  const auto& request = f.device.requests[0];
  CHECK(request.id == 1);
  CHECK(request.did == 0x01020304);
  CHECK(request.stamp == 5001);  // stamp + elapsed, at least + 1

  // The next request reuses the handshake and counts from the reply's stamp.
  REQUIRE(f.call("get_prop", {"power"}));
  CHECK(f.device.handshakes == 1);
  CHECK(f.device.requests[1].id == 2);
  CHECK(f.device.requests[1].stamp == 5002);
}

TEST_CASE("a timeout retries with id + 100 after a fresh handshake, as python-miio (§3.3, §3.4)") {
  Fixture f;
  int silent_tries = 2;
  f.device.respond = [&](const FakeDevice::Request&) -> std::optional<std::string> {
    if (silent_tries-- > 0) return std::nullopt;
    return "\"result\":[\"ok\"]";
  };
  const auto reply = f.call("set_power", {"off"});
  REQUIRE(reply);
  CHECK(reply->ok());
  REQUIRE(f.device.requests.size() == 3);
  CHECK(f.device.requests[0].id == 1);
  CHECK(f.device.requests[1].id == 102);
  CHECK(f.device.requests[2].id == 203);
  CHECK(f.device.handshakes == 3);
}

TEST_CASE("ids stay in 1..9998 and wrap") {
  ClientOptions options = Fixture::fast();
  options.first_id = 9998;
  Fixture f(token_of(0x11), options);
  REQUIRE(f.call("get_prop", {"power"}));
  REQUIRE(f.call("get_prop", {"power"}));
  CHECK(f.device.requests[0].id == 9998);
  CHECK(f.device.requests[1].id == 1);
  // A +100 jump near the top wraps as well.
  f.device.respond = [&](const FakeDevice::Request& r) -> std::optional<std::string> {
    if (r.id == 2) return std::nullopt;
    return "\"result\":[\"ok\"]";
  };
  options.first_id = 9990;
  Fixture g(token_of(0x11), options);
  g.device.respond = [&](const FakeDevice::Request& r) -> std::optional<std::string> {
    if (r.id == 9990) return std::nullopt;
    return "\"result\":[\"ok\"]";
  };
  REQUIRE(g.call("set_power", {"on"}));
  REQUIRE(g.device.requests.size() == 2);
  CHECK(g.device.requests[1].id == 93);  // 9990 + 101 - 9998
}

TEST_CASE("an unanswered request fails after 1 + 3 tries") {
  Fixture f;
  f.device.respond = [](const FakeDevice::Request&) -> std::optional<std::string> { return std::nullopt; };
  const auto reply = f.call("get_prop", {"power"});
  REQUIRE(reply);
  CHECK(reply->status == Reply::Status::timeout);
  CHECK(f.device.requests.size() == 4);
}

TEST_CASE("a device that does not answer the handshake: no request is sent, no token warning") {
  Fixture f;
  f.device.answer_handshake = false;
  const auto reply = f.call("get_prop", {"power"});
  REQUIRE(reply);
  CHECK(reply->status == Reply::Status::timeout);
  CHECK(f.device.handshakes == 4);
  CHECK(f.device.requests.empty());
  CHECK(f.suspicions.empty());
}

TEST_CASE("error replies surface as device errors; -9999 and -30001 are retried (§3.5)") {
  Fixture f;
  f.device.respond = [](const FakeDevice::Request& r) -> std::optional<std::string> {
    if (r.method == "set_power_price") return R"("error":{"code":-5001,"message":"invalid arg"})";
    if (r.method == "flaky" && r.id < 3) return R"("error":{"code":-9999,"message":"user ack timeout"})";
    return "\"result\":[\"ok\"]";
  };
  auto reply = f.call("set_power_price", {1000});
  REQUIRE(reply);
  CHECK(reply->status == Reply::Status::device_error);
  CHECK(reply->code == -5001);
  CHECK(reply->message == "invalid arg");
  CHECK(reply->describe() == "device error -5001: invalid arg");
  reply = f.call("flaky");
  REQUIRE(reply);
  CHECK(reply->ok());
  CHECK(f.device.count("flaky") == 2);
}

TEST_CASE("a wrong token: handshakes answered, requests ignored -> reported once (§3.5)") {
  Fixture f(token_of(0x22));  // the device's token is 11..11
  auto reply = f.call("get_prop", {"power"});
  REQUIRE(reply);
  CHECK(reply->status == Reply::Status::timeout);
  CHECK(reply->describe().find("wrong token") != std::string::npos);
  CHECK(f.device.bad_checksums == 4);
  REQUIRE(f.suspicions.size() == 1);
  reply = f.call("get_prop", {"power"});
  REQUIRE(reply);
  CHECK(f.suspicions.size() == 1);  // once
}

TEST_CASE("replies with another id or a bad checksum are dropped; the right one is taken") {
  Fixture f;
  f.device.noise_first = true;
  f.device.props = {{"power", "off"}};
  const auto reply = f.call("get_prop", {"power"});
  REQUIRE(reply);
  CHECK(reply->ok());
  CHECK(reply->result == Json::array({"off"}));
  CHECK(f.stats.dropped("stale_reply").value() == 1);
  CHECK(f.stats.dropped("bad_checksum").value() == 1);
  // A reply that our token does not verify points at a wrong token.
  CHECK(f.suspicions.size() == 1);
}

TEST_CASE("empty slots come back as nulls (qmi.powerstrip.v1 without a cloud session)") {
  Fixture f;
  f.device.respond = [&](const FakeDevice::Request&) -> std::optional<std::string> { return "\"result\":[,,,,,,,]"; };
  const auto reply = f.call("get_prop", {"a", "b", "c", "d", "e", "f", "g", "h"});
  REQUIRE(reply);
  CHECK(reply->ok());
  REQUIRE(reply->result.size() == 8);
  for (const auto& slot : reply->result) CHECK(slot.is_null());
}

TEST_CASE("a request that would exceed 1000 bytes is refused without sending (§1.5)") {
  Fixture f;
  const auto reply = f.call("set_something", {std::string(2000, 'x')});
  REQUIRE(reply);
  CHECK(reply->status == Reply::Status::failed);
  CHECK(f.device.requests.empty());
}

TEST_CASE("requests are sent one at a time, in order") {
  Fixture f;
  std::vector<int> done;
  for (int i = 0; i < 5; ++i)
    f.client->request("m" + std::to_string(i), Json::array(), [&done, i](Reply r) {
      CHECK(r.ok());
      done.push_back(i);
    });
  REQUIRE(run_until(f.io, [&] { return done.size() == 5; }));
  CHECK(done == std::vector<int>{0, 1, 2, 3, 4});
  CHECK(f.device.methods() == std::vector<std::string>{"m0", "m1", "m2", "m3", "m4"});
}

TEST_CASE("a device that never answers: at most max_queued requests wait, the rest fail at once") {
  // Issue 15 part 0: 100,000 commands to such a device queued 23 days of retries.
  Fixture f;
  f.device.silent = true;
  std::vector<Reply> replies;
  for (int i = 0; i < 100; ++i) f.client->request("set_power", {"on"}, [&](Reply r) { replies.push_back(std::move(r)); });
  CHECK(replies.empty());  // never from within request()
  CHECK(f.client->queued() == ClientOptions{}.max_queued);
  run_until(f.io, [&] { return replies.size() >= 92; }, 1000ms);
  REQUIRE(replies.size() == 92);
  for (const auto& reply : replies) CHECK(reply.status == Reply::Status::failed);
  CHECK(f.stats.dropped("queue_full").value() == 92);
  // Destroying the client with refusals still posted calls none of them.
  size_t late = 0;
  for (int i = 0; i < 20; ++i) f.client->request("set_power", {"on"}, [&](Reply) { ++late; });
  f.client.reset();
  f.io.poll();
  CHECK(late == 0);
}
