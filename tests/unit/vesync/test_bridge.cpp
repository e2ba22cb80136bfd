// The vesync bridge against tests/support/fake_hub.h: sessions over fake websocket links
// (login, keepalives, measurements, energy, commands, replacement), and the real Beast
// server, service API and upstream proxy over loopback sockets.
#include <doctest/doctest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>

#include "bridges/vesync/bridge.h"
#include "bridges/vesync/crypto.h"
#include "bridges/vesync/transport.h"
#include "bridges/vesync/ws_client.h"
#include "bridges/vesync/ws_server.h"
#include "bridges/vesync/ws_frame.h"
#include "core/durable_store.h"
#include "tests/support/fake_hub.h"

using namespace lc;
using namespace lc::vesync;
using namespace std::chrono_literals;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

const std::string kId = "443c878f-f675-4c90-98e8-2f4566914d39";
const std::string kUpgradeRequest =
    "GET /gnws HTTP/1.1\r\nHost: server2.vesync.com:17273\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\ndeviceVersion:5\r\n\r\n";
const std::string kLogin =
    "{\n\"account\":\"1234567\",\n\"id\":\"443C878F-f675-4c90-98e8-2f4566914d39\",\n\"deviceName\":\"vesync_wifi_"
    "outlet\",\n\"deviceVersion\":\"1.5\",\n\"deviceVersionCode\":5,\n\"type\":\"wifi-switch\",\n\"apptype\":\"switch-"
    "measure\",\n\"firmName\":\"cosytek_firm_a\",\n\"firmVersion\":\"1.89\",\n\"firmVersionCode\":89,\n\"key\":0,\n"
    "\"relay\":\"open\"\n}";
const std::string kMeasuring =
    R"({"uri":"/runtimeInfo","relay":"open","meastate":"idle","power":"9193:9185","voltage":"79192:78323","current":"NaN"})";

// 2017-11-01 17:15:25.134 UTC: the capture's loginReply (vector loginReply_cloud).
std::chrono::system_clock::time_point capture_time() {
  using namespace std::chrono;
  return sys_days{year{2017} / 11 / 1} + milliseconds{62125134};
}

// A websocket link the test drives by hand.
class FakeLink final : public WsLink {
 public:
  WsEvents* events = nullptr;
  std::vector<std::pair<std::string, bool>> sent;
  bool closed = false;
  std::chrono::milliseconds idle{0};
  std::string address = "192.0.2.7:40000";

  void set_events(WsEvents* e) override { events = e; }
  void send(std::string payload, bool binary) override {
    if (!closed) sent.emplace_back(std::move(payload), binary);
  }
  void close() override { closed = true; }
  void abort() override { closed = true; }
  void set_idle_timeout(std::chrono::milliseconds timeout) override { idle = timeout; }
  const std::string& peer() const override { return address; }
  bool open() const override { return !closed; }

  void frame(const std::string& text, bool binary = false) {
    REQUIRE(events);
    if (binary) events->ws_frame(*this, encrypt_frame(text), true);
    else events->ws_frame(*this, text, false);
  }
  void drop() {
    WsEvents* e = events;
    events = nullptr;
    closed = true;
    if (e) e->ws_closed(*this, CloseCause::peer, "");
  }
  // The JSON of the n-th message sent (decrypted when binary); negative counts from the end.
  std::string text(int n) const {
    REQUIRE(!sent.empty());
    const auto& [payload, binary] = sent.at(n < 0 ? sent.size() + n : size_t(n));
    if (!binary) return payload;
    auto plain = decrypt_frame(payload);
    REQUIRE(plain);
    return *plain;
  }
  Json json(int n) const { return Json::parse(text(n)); }
  int count_uri(const std::string& uri) const {
    int n = 0;
    for (size_t i = 0; i < sent.size(); ++i) n += json(int(i)).value("uri", "") == uri ? 1 : 0;
    return n;
  }
};

http::Request upgrade_request() {
  auto request = http::parse_request(kUpgradeRequest);
  REQUIRE(request);
  return *request;
}

// The fake Hub, keeping the description of each device it did not register (what the real
// Hub keeps while a device waits for its turn).
struct WaitingHub : test::FakeHub {
  std::map<std::string, DeviceInfo> waiting;
  bool device_seen(const DeviceInfo& info) override {
    if (!admit && !info.configured) waiting[info.id] = info;
    return FakeHub::device_seen(info);
  }
};

struct Fixture {
  asio::io_context io;
  Settings settings;
  WaitingHub hub;
  Metrics metrics;
  std::filesystem::path dir;
  std::unique_ptr<DurableStore> store;
  std::unique_ptr<BridgeContext> context;
  std::unique_ptr<VesyncBridge> bridge;

  Fixture() {
    static int counter = 0;
    dir = std::filesystem::temp_directory_path() /
          ("lc-vesync-test-" + std::to_string(::getpid()) + "-" + std::to_string(++counter));
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    settings.enabled = true;
    settings.listen = Endpoint{"127.0.0.1", 0};
    settings.devices.push_back({"443C878F-f675-4c90-98e8-2f4566914d39", "desk", {}});
  }

  ~Fixture() {
    stop();
    std::filesystem::remove_all(dir);
  }

  void start() {
    store = std::make_unique<DurableStore>(io, dir);
    context = std::make_unique<BridgeContext>(BridgeContext{io, &settings, hub, metrics, *store});
    bridge = std::make_unique<VesyncBridge>(*context);
    bridge->set_clock(capture_time);
    bridge->start();
  }

  void stop() {
    if (!bridge) return;
    bridge->stop();
    store->flush();
    io.restart();
    io.poll();
    bridge.reset();
    store.reset();
    io.restart();
    io.poll();
  }

  void restart() {
    stop();
    hub = WaitingHub{};
    start();
  }

  template <class Predicate> bool run_until(Predicate predicate, std::chrono::milliseconds timeout = 5s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!predicate()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      io.restart();
      io.run_one_for(10ms);
    }
    return true;
  }

  void settle(std::chrono::milliseconds time = 100ms) {
    run_until([] { return false; }, time);
  }

  std::shared_ptr<FakeLink> connect(const std::string& login = kLogin, bool binary = false) {
    auto link = std::make_shared<FakeLink>();
    bridge->accept_link(link, upgrade_request());
    link->frame(login, binary);
    return link;
  }

  Json state(const std::string& property) const { return hub.value(kId, property); }
};

// A plain TCP client driven by the io_context.
struct RawClient {
  explicit RawClient(asio::io_context& io) : socket(io) {}
  tcp::socket socket;
  std::string received;
  bool done = false;

  void connect(uint16_t port) {
    socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    read();
  }
  void write(const std::string& bytes) { asio::write(socket, asio::buffer(bytes)); }
  void read() {
    buffer.resize(4096);
    socket.async_read_some(asio::buffer(buffer), [this](boost::system::error_code ec, size_t n) {
      if (ec == asio::error::operation_aborted) return;  // the client is gone
      if (ec) {
        done = true;
        return;
      }
      received.append(buffer.data(), n);
      read();
    });
  }
  std::string buffer;
};

// The value of the first sample line of /metrics that contains `needle`, else 0.
double counter_value(const Metrics& metrics, const std::string& needle) {
  std::istringstream text(metrics.prometheus_text());
  for (std::string line; std::getline(text, line);) {
    if (line.empty() || line[0] == '#' || line.find(needle) == std::string::npos) continue;
    return std::stod(line.substr(line.rfind(' ') + 1));
  }
  return 0;
}

}  // namespace

TEST_CASE("login: answered at once with UTC time, device registered, state from the login") {
  Fixture f;
  f.start();
  REQUIRE(f.hub.devices.count(kId) == 1);  // configured devices exist before they connect
  auto link = f.connect();
  REQUIRE(link->sent.size() >= 2);
  CHECK(link->text(0) ==
        R"({"uri":"/loginReply","error":0,"wd":3,"year":2017,"month":11,"day":1,"ms":62125134,"hh":0,"hl":0,"lh":0,"ll":0})");
  CHECK_FALSE(link->sent[0].second);
  // The first poll, with the cid as the device wrote it.
  CHECK(link->text(1) == R"({"cid":"443C878F-f675-4c90-98e8-2f4566914d39","uri":"/getRuntime"})");
  const auto& info = f.hub.devices.at(kId);
  CHECK(info.id == kId);
  CHECK(info.name == "desk");
  CHECK(info.configured);
  CHECK(info.model == "ESW01-USA");
  CHECK(info.firmware == "1.89");
  CHECK(info.manufacturer == "Etekcity");
  CHECK(f.state("power") == "ON");
  CHECK(f.hub.heard_count[kId] >= 1);

  // Properties with Home Assistant classes and units.
  std::map<std::string, Property> props;
  for (const auto& p : info.properties) props[p.key] = p;
  CHECK(props.at("power").component == Component::switch_);
  CHECK(props.at("power").writable);
  CHECK(props.at("load_power").device_class == "power");
  CHECK(props.at("load_power").unit == "W");
  CHECK(props.at("voltage").device_class == "voltage");
  CHECK(props.at("voltage").unit == "V");
  CHECK(props.at("energy").device_class == "energy");
  CHECK(props.at("energy").unit == "kWh");
  CHECK(props.at("energy").state_class == "total_increasing");
  CHECK(props.at("rssi").unit == "dBm");
  CHECK(props.at("rssi").diagnostic);
  CHECK_FALSE(props.at("rssi").enabled_by_default);  // it changes with every keepalive
}

TEST_CASE("keepalive: /kr with the time for every /ka; rssi; nothing for /report, /state, /runtimeInfo") {
  Fixture f;
  f.start();
  auto link = f.connect();
  const int heard = f.hub.heard_count[kId];
  link->frame(R"({"uri":"/ka","rssi":-39})");
  CHECK(link->text(-1) == R"({"uri":"/kr","error":0,"wd":3,"year":2017,"month":11,"day":1,"ms":62125134})");
  CHECK(f.state("rssi") == -39);
  CHECK(f.hub.heard_count[kId] == heard + 1);
  link->frame(R"({"uri":"/ka"})");
  CHECK(link->count_uri("/kr") == 2);

  const size_t before = link->sent.size();
  link->frame("{\n\"uri\":\"/report\",\n\"e\":\"324\",\n\"t\":\"b7\"\n}");
  link->frame(R"({"uri":"/state","relay":"break"})");
  link->frame(kMeasuring);
  link->frame(R"({"uri":"/kr"})");
  link->frame(R"({"uri":"/evtimer","aname":"b","relay":"open","id":1})");
  CHECK(link->sent.size() == before);
  CHECK(f.state("power") == "ON");  // from the /evtimer
}

TEST_CASE("hot path: a keepalive that changed nothing reports nothing; heard() at most once a second") {
  Fixture f;
  f.start();
  auto link = f.connect();
  link->frame(R"({"uri":"/ka","rssi":-39})");
  REQUIRE(f.state("rssi") == -39);
  const int heard = f.hub.heard_count[kId];
  f.hub.state.clear();
  for (int i = 0; i < 100; ++i) link->frame(R"({"uri":"/ka","rssi":-39})");
  CHECK(link->count_uri("/kr") == 101);  // every one answered
  CHECK(f.hub.state.empty());             // nothing changed: nothing reported
  CHECK(f.hub.heard_count[kId] == heard);  // all within a second of the first
  link->frame(R"({"uri":"/ka","rssi":-41})");
  CHECK(f.state("rssi") == -41);
  f.settle(1100ms);
  link->frame(R"({"uri":"/ka","rssi":-41})");
  CHECK(f.hub.heard_count[kId] == heard + 1);
}

TEST_CASE("measurements: first half published, both halves in attributes, NaN, spikes") {
  Fixture f;
  f.start();
  auto link = f.connect();
  link->frame(kMeasuring);
  CHECK(f.state("load_power") == doctest::Approx(9.403));  // the app's formula (default)
  CHECK(f.state("voltage") == doctest::Approx(121.402));
  const Json& attributes = f.hub.attributes.at(kId);
  CHECK(attributes["power_raw"] == "9193:9185");
  CHECK(attributes["power_a"] == doctest::Approx(9.403));
  CHECK(attributes["power_b"] == doctest::Approx(9.389));
  CHECK(attributes["voltage_b"] == doctest::Approx(120.803));
  CHECK(attributes["current_raw"] == "NaN");
  CHECK(attributes["power_decoding"] == "app");

  // 0x1001000 = 4097 W: a spike, not published; "NaN" voltage: unavailable.
  link->frame(R"({"uri":"/runtimeInfo","relay":"open","power":"1001000:0","voltage":"NaN"})");
  CHECK(f.state("load_power") == doctest::Approx(9.403));
  CHECK(f.state("voltage").is_null());
  CHECK(counter_value(f.metrics, "localcloud_vesync_filtered_total{property=\"load_power\"}") == 1);
  link->frame(R"({"uri":"/runtimeInfo","relay":"open","power":"0:0","voltage":"12C000:0"})");  // 300 V
  CHECK(f.state("load_power") == 0.0);
  CHECK(f.state("voltage") == doctest::Approx(300.0));
  link->frame(R"({"uri":"/runtimeInfo","relay":"open","power":"0:0","voltage":"12C001:0"})");
  CHECK(f.state("voltage") == doctest::Approx(300.0));
}

TEST_CASE("power_decoding q12 and mean") {
  for (auto [decoding, watts, volts] : {std::tuple{PowerDecoding::q12, 9.098, 121.098},
                                        std::tuple{PowerDecoding::mean, 9.097, 120.647}}) {
    Fixture f;
    f.settings.power_decoding = decoding;
    f.start();
    auto link = f.connect();
    link->frame(kMeasuring);
    CHECK(f.state("load_power") == doctest::Approx(watts).epsilon(0.001));
    CHECK(f.state("voltage") == doctest::Approx(volts).epsilon(0.001));
  }
}

TEST_CASE("energy: durable before published, accumulates, survives a restart, never decreases") {
  Fixture f;
  f.start();
  auto link = f.connect();
  link->frame("{\n\"uri\":\"/report\",\n\"e\":\"324\",\n\"t\":\"b7\"\n}");  // 804 Ws
  CHECK(f.state("energy").is_null());  // not before the store says it is durable
  REQUIRE(f.run_until([&] { return !f.state("energy").is_null(); }));
  CHECK(f.state("energy") == doctest::Approx(804 / 3.6e6));
  const auto record = f.dir / ("vesync-energy-" + kId);
  REQUIRE(std::filesystem::exists(record));
  link->frame("{\n\"uri\":\"/report\",\n\"e\":\"af5\",\n\"t\":\"b6\"\n}");  // 2805 Ws
  REQUIRE(f.run_until([&] { return f.state("energy").get<double>() > 0.0003; }));
  CHECK(f.state("energy") == doctest::Approx((804 + 2805) / 3.6e6));

  // Implausible reports (over 4000 W on average, t = 0) change nothing.
  link->frame(R"({"uri":"/report","e":"fffff","t":"1"})");
  link->frame(R"({"uri":"/report","e":"1","t":"0"})");
  f.settle();
  CHECK(f.state("energy") == doctest::Approx((804 + 2805) / 3.6e6));

  // A smaller retained value is ignored; a larger one wins, once durable.
  f.bridge->retained_state(kId, Json{{"energy", 0.0001}});
  f.settle();
  CHECK(f.state("energy") == doctest::Approx((804 + 2805) / 3.6e6));
  f.bridge->retained_state(kId, Json{{"energy", 5.0}, {"power", "ON"}});
  REQUIRE(f.run_until([&] { return f.state("energy").get<double>() >= 5.0; }));

  // After a restart the stored counter comes back and keeps counting.
  f.restart();
  auto again = f.connect();
  REQUIRE(f.run_until([&] { return !f.state("energy").is_null(); }));
  CHECK(f.state("energy") == doctest::Approx(5.0));
  again->frame("{\n\"uri\":\"/report\",\n\"e\":\"e10\",\n\"t\":\"b6\"\n}");  // 3600 Ws = 1 Wh
  REQUIRE(f.run_until([&] { return f.state("energy").get<double>() > 5.0; }));
  CHECK(f.state("energy") == doctest::Approx(5.001));
}

TEST_CASE("commands: /relay with cid, acknowledged by /runtimeInfo, then a /getRuntime") {
  Fixture f;
  f.start();
  auto link = f.connect();
  link->frame(kMeasuring);
  std::optional<std::string> result;
  f.bridge->command(kId, "power", "OFF", [&](std::string error) { result = error; });
  CHECK(link->text(-1) == R"({"cid":"443C878F-f675-4c90-98e8-2f4566914d39","uri":"/relay","action":"break"})");
  CHECK_FALSE(result);
  const int polls = link->count_uri("/getRuntime");
  // A poll answer that still says open is not the acknowledgement.
  link->frame(kMeasuring);
  CHECK_FALSE(result);
  link->frame("{\n\"uri\":\"/runtimeInfo\",\n\"relay\":\"break\",\n\"meastate\":\"idle\",\n\"power\":\"0:0\",\n"
              "\"voltage\":\"0:0\",\n\"current\":\"NaN\"\n}");
  REQUIRE(result);
  CHECK(*result == "");
  CHECK(f.state("power") == "OFF");
  CHECK(f.state("voltage") == doctest::Approx(121.402));  // the ack's 0:0 is not a reading
  CHECK(link->count_uri("/getRuntime") == polls + 1);

  // ON (the Hub resolves TOGGLE: the bridge gets ON or OFF); a /state may acknowledge too.
  result.reset();
  f.bridge->command(kId, "power", "ON", [&](std::string error) { result = error; });
  CHECK(link->json(-1)["action"] == "open");
  link->frame(R"({"uri":"/state","relay":"open"})");
  REQUIRE(result);
  CHECK(*result == "");

  // No acknowledgement: an error after the deadline.
  f.bridge->set_ack_timeout(100ms);
  result.reset();
  f.bridge->command(kId, "power", "OFF", [&](std::string error) { result = error; });
  REQUIRE(f.run_until([&] { return result.has_value(); }));
  CHECK(result->find("no acknowledgement") != std::string::npos);

  // Bad requests fail at once; TOGGLE never reaches the bridge, which refuses it too.
  result.reset();
  f.bridge->command(kId, "energy", 1, [&](std::string error) { result = error; });
  CHECK((result && !result->empty()));
  result.reset();
  f.bridge->command(kId, "power", "TOGGLE", [&](std::string error) { result = error; });
  CHECK((result && !result->empty()));
  result.reset();
  f.bridge->command("nope", "power", "ON", [&](std::string error) { result = error; });
  CHECK((result && !result->empty()));
}

TEST_CASE("a device that is not connected fails commands at once; a drop keeps state until offline") {
  Fixture f;
  f.start();
  std::optional<std::string> result;
  f.bridge->command(kId, "power", "ON", [&](std::string error) { result = error; });
  REQUIRE(result);
  CHECK(*result == "device not connected");

  auto link = f.connect();
  result.reset();
  f.bridge->command(kId, "power", "OFF", [&](std::string error) { result = error; });
  link->drop();
  REQUIRE(result);
  CHECK(*result == "device disconnected");
  CHECK(f.hub.lost.empty());  // offline comes from offline_after, not from the drop
  result.reset();
  f.bridge->command(kId, "power", "ON", [&](std::string error) { result = error; });
  REQUIRE(result);
  CHECK(*result == "device not connected");
}

TEST_CASE("a second login for the same id replaces the older connection") {
  Fixture f;
  f.start();
  auto first = f.connect();
  auto second = f.connect();
  CHECK(first->closed);
  CHECK_FALSE(second->closed);
  CHECK(first->events == nullptr);
  std::optional<std::string> result;
  f.bridge->command(kId, "power", "OFF", [&](std::string error) { result = error; });
  CHECK(second->json(-1)["uri"] == "/relay");
  CHECK(first->count_uri("/relay") == 0);
  second->frame(R"({"uri":"/runtimeInfo","relay":"break"})");
  CHECK(result == "");
}

TEST_CASE("encrypted firmware: binary AES in, binary AES out") {
  Fixture f;
  f.start();
  auto link = f.connect(kLogin, true);
  REQUIRE(link->sent.size() >= 2);
  CHECK(link->sent[0].second);
  CHECK(link->sent[0].first.size() % 16 == 0);
  CHECK(link->json(0)["uri"] == "/loginReply");
  CHECK(link->json(0)["year"] == 2017);
  link->frame(R"({"uri":"/ka","rssi":-50})", true);
  CHECK(link->sent.back().second);
  CHECK(link->json(-1)["uri"] == "/kr");
  CHECK(f.state("rssi") == -50);
  // A binary frame that is not whole blocks is dropped, the session goes on.
  link->events->ws_frame(*link, std::string(17, 'x'), true);
  CHECK_FALSE(link->closed);
  CHECK(counter_value(f.metrics, "reason=\"bad_aes_frame\"") == 1);
}

TEST_CASE("bad first frames end the connection; counted drops") {
  Fixture f;
  f.start();
  for (const std::string& bad : {std::string("garbage"), std::string(R"({"account":"1"})"),
                                 std::string(R"({"id":"../../etc"})"), std::string(R"({"uri":"/ka"})")}) {
    CAPTURE(bad);
    auto link = std::make_shared<FakeLink>();
    f.bridge->accept_link(link, upgrade_request());
    link->frame(bad);
    CHECK(link->closed);
    CHECK(link->count_uri("/loginReply") == 0);
  }
  auto link = std::make_shared<FakeLink>();
  f.bridge->accept_link(link, upgrade_request());
  link->events->ws_frame(*link, std::string(15, 'x'), true);
  CHECK(link->closed);
  CHECK(counter_value(f.metrics, "reason=\"bad_json\"") == 1);
  CHECK(counter_value(f.metrics, "reason=\"missing_field\"") == 1);
  CHECK(counter_value(f.metrics, "reason=\"bad_login\"") == 1);
  CHECK(counter_value(f.metrics, "reason=\"no_login\"") == 1);
  CHECK(counter_value(f.metrics, "reason=\"bad_aes_frame\"") == 1);

  // Later bad frames are dropped; the session stays.
  auto good = f.connect();
  good->frame("{not json");
  CHECK_FALSE(good->closed);
  CHECK(counter_value(f.metrics, "reason=\"bad_json\"") == 2);
}

TEST_CASE("login deadline and idle connections") {
  Fixture f;
  f.settings.poll_interval = 100ms;
  f.start();
  f.bridge->set_login_deadline(200ms);
  f.bridge->set_idle_timeout(500ms);
  auto silent = std::make_shared<FakeLink>();
  f.bridge->accept_link(silent, upgrade_request());
  auto device = f.connect();
  REQUIRE(f.run_until([&] { return silent->closed; }, 2s));
  CHECK(counter_value(f.metrics, "reason=\"login_timeout\"") == 1);
  CHECK_FALSE(device->closed);  // logged in
  // Polled every poll_interval; answering keeps it open.
  REQUIRE(f.run_until([&] { return device->count_uri("/getRuntime") >= 3; }, 2s));
  for (int i = 0; i < 8; ++i) {
    device->frame(R"({"uri":"/runtimeInfo","relay":"open"})");
    f.settle(100ms);
  }
  CHECK_FALSE(device->closed);
  // Silence beyond the idle timeout closes it.
  REQUIRE(f.run_until([&] { return device->closed; }, 3s));
  CHECK(f.hub.lost.empty());
}

TEST_CASE("unknown devices: registered as such, or served without registration") {
  Fixture f;
  f.settings.devices.clear();
  f.hub.admit = false;
  f.start();
  auto link = f.connect();
  CHECK(link->count_uri("/loginReply") == 1);
  CHECK(f.hub.devices.empty());
  link->frame(R"({"uri":"/ka","rssi":-39})");
  CHECK(link->count_uri("/kr") == 1);
  CHECK(f.hub.state.empty());
  // Keepalives do not ask again: the Hub admits a waiting device in its turn.
  f.hub.admit = true;
  link->frame(R"({"uri":"/ka","rssi":-40})");
  CHECK(f.hub.devices.empty());
  f.settle(1100ms);
  link->frame(R"({"uri":"/ka","rssi":-40})");
  CHECK(f.hub.devices.empty());
  // Its turn: the Hub registers it as the bridge described it and calls admitted().
  REQUIRE(f.hub.waiting.count(kId) == 1);
  f.hub.devices[kId] = f.hub.waiting.at(kId);
  f.bridge->admitted(kId);
  REQUIRE(f.hub.devices.count(kId) == 1);
  CHECK_FALSE(f.hub.devices.at(kId).configured);
  CHECK(f.state("power") == "ON");
  link->frame(R"({"uri":"/ka","rssi":-40})");
  CHECK(f.state("rssi") == -40);
}

TEST_CASE("Beast server: the outlet's exact upgrade request, login over a real socket, 404") {
  Fixture f;
  f.start();
  const uint16_t port = f.bridge->bound_endpoint().port;
  REQUIRE(port != 0);

  RawClient device(f.io);
  device.connect(port);
  device.write(kUpgradeRequest);
  REQUIRE(f.run_until([&] { return device.received.find("\r\n\r\n") != std::string::npos; }));
  CHECK(device.received.rfind("HTTP/1.1 101", 0) == 0);
  CHECK(device.received.find("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") != std::string::npos);
  CHECK(device.received.find("Sec-WebSocket-Protocol") == std::string::npos);
  device.received.erase(0, device.received.find("\r\n\r\n") + 4);
  device.write(wsframe::encode(wsframe::Opcode::text, kLogin, wsframe::Mask{1, 2, 3, 4}));
  wsframe::Frame frame;
  size_t consumed = 0;
  REQUIRE(f.run_until([&] { return wsframe::parse(device.received, 4096, frame, consumed) == wsframe::Parse::ok; }));
  CHECK(frame.opcode == wsframe::Opcode::text);
  CHECK(Json::parse(frame.payload)["uri"] == "/loginReply");
  CHECK(f.hub.heard_count[kId] >= 1);

  // A frame over the size limit ends the connection, counted.
  device.write(wsframe::encode(wsframe::Opcode::text, std::string(8000, ' '), wsframe::Mask{1, 2, 3, 4}));
  REQUIRE(f.run_until([&] { return device.done; }));
  CHECK(counter_value(f.metrics, "reason=\"frame_too_large\"") == 1);

  RawClient browser(f.io);
  browser.connect(port);
  browser.write("GET /gnws HTTP/1.1\r\nHost: x\r\n\r\n");
  REQUIRE(f.run_until([&] { return browser.done; }));
  CHECK(browser.received.rfind("HTTP/1.1 404", 0) == 0);
  CHECK(counter_value(f.metrics, "reason=\"not_websocket\"") == 1);

  // Another path is accepted too (newer firmware may differ).
  RawClient other(f.io);
  other.connect(port);
  std::string request = kUpgradeRequest;
  request.replace(4, 5, "/other");
  other.write(request);
  REQUIRE(f.run_until([&] { return other.received.find("\r\n\r\n") != std::string::npos; }));
  CHECK(other.received.rfind("HTTP/1.1 101", 0) == 0);
}

TEST_CASE("the websocket client (simulator side) against the server, encrypted") {
  Fixture f;
  f.start();
  struct Events : WsEvents {
    bool open = false, closed = false;
    std::vector<std::string> frames;
    void ws_open(WsLink&) override { open = true; }
    void ws_frame(WsLink&, std::string_view payload, bool binary) override {
      frames.push_back(binary ? decrypt_frame(payload).value_or("?") : std::string(payload));
    }
    void ws_closed(WsLink&, CloseCause, std::string_view) override { closed = true; }
  } events;
  WsClientOptions options;
  options.host = "127.0.0.1";
  options.port = f.bridge->bound_endpoint().port;
  options.header_lines = {"Host: server2.vesync.com:17273", "Upgrade: websocket", "Connection: Upgrade",
                          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version: 13",
                          "deviceVersion:5"};
  auto link = ws_connect(f.io, options, &events);
  REQUIRE(f.run_until([&] { return events.open; }));
  link->send(encrypt_frame(kLogin), true);
  REQUIRE(f.run_until([&] { return events.frames.size() >= 2; }));
  CHECK(Json::parse(events.frames[0])["uri"] == "/loginReply");
  CHECK(Json::parse(events.frames[1])["uri"] == "/getRuntime");
  link->close();
  REQUIRE(f.run_until([&] { return events.closed; }));
  link->set_events(nullptr);
}

TEST_CASE("service API: relay and power, 400/401/404, never 500") {
  Fixture f;
  f.settings.service_listen = Endpoint{"127.0.0.1", 0};
  f.settings.service_token = "s3cret";
  f.start();
  const uint16_t port = f.bridge->bound_service_endpoint().port;
  REQUIRE(port != 0);
  auto ask = [&](const std::string& target, const std::string& headers = "") {
    RawClient client(f.io);
    client.connect(port);
    client.write("GET " + target + " HTTP/1.1\r\nHost: x\r\n" + headers + "\r\n");
    REQUIRE(f.run_until([&] { return client.done; }));
    return client.received;
  };
  CHECK(ask("/api/relay?name=desk&on=0").rfind("HTTP/1.1 401", 0) == 0);
  CHECK(ask("/api/relay?name=desk&on=0&token=wrong").rfind("HTTP/1.1 401", 0) == 0);
  CHECK(ask("/api/relay?on=0&token=s3cret").rfind("HTTP/1.1 400", 0) == 0);
  CHECK(ask("/api/relay?name=nobody&on=0&token=s3cret").rfind("HTTP/1.1 404", 0) == 0);
  CHECK(ask("/api/relay?name=desk&token=s3cret").rfind("HTTP/1.1 400", 0) == 0);
  CHECK(ask("/api/relay?name=desk&on=maybe&token=s3cret").rfind("HTTP/1.1 400", 0) == 0);
  CHECK(ask("/api/relay?name=desk&on=0&token=s3cret").rfind("HTTP/1.1 503", 0) == 0);  // not connected
  CHECK(ask("/api/nothing", "Authorization: Bearer s3cret\r\n").rfind("HTTP/1.1 404", 0) == 0);

  auto link = f.connect();
  RawClient client(f.io);
  client.connect(port);
  client.write("GET /api/relay?id=" + kId + "&on=0 HTTP/1.1\r\nAuthorization: Bearer s3cret\r\n\r\n");
  REQUIRE(f.run_until([&] { return link->json(-1)["uri"] == "/relay"; }));
  CHECK(link->json(-1)["action"] == "break");
  link->frame(R"({"uri":"/runtimeInfo","relay":"break","power":"0:0","voltage":"0:0"})");
  REQUIRE(f.run_until([&] { return client.done; }));
  CHECK(client.received.rfind("HTTP/1.1 200", 0) == 0);
  CHECK(client.received.find("\r\n\r\nOK. relay=break") != std::string::npos);

  RawClient power(f.io);
  power.connect(port);
  power.write("GET /api/power?name=desk&token=s3cret HTTP/1.1\r\n\r\n");
  const int polls = link->count_uri("/getRuntime");
  REQUIRE(f.run_until([&] { return link->count_uri("/getRuntime") > polls; }));
  link->frame(R"({"uri":"/runtimeInfo","relay":"open","power":"1000:1000","voltage":"78000:78000","current":"NaN"})");
  REQUIRE(f.run_until([&] { return power.done; }));
  CHECK(power.received.rfind("HTTP/1.1 200", 0) == 0);
  const auto body = Json::parse(power.received.substr(power.received.find("\r\n\r\n") + 4));
  CHECK(body == Json{{"relay", "open"}, {"watts", 1.0}, {"volts", 120.0}});
}

TEST_CASE("upstream proxy: whitelists both ways, /upgrade blocked, local commands sync /state") {
  Fixture f;
  // The stand-in cloud on its own loopback port.
  struct Cloud : WsEvents {
    std::shared_ptr<WsLink> link;
    std::vector<std::string> received;
    void ws_frame(WsLink&, std::string_view payload, bool) override { received.emplace_back(payload); }
    void ws_closed(WsLink&, CloseCause, std::string_view) override { link.reset(); }
    bool got(const std::string& uri) const {
      for (const auto& r : received) {
        auto j = Json::parse(r, nullptr, false);
        if (j.is_object() && j.value("uri", "login") == uri) return true;
      }
      return false;
    }
  } cloud;
  WsServerOptions options;
  options.listen = Endpoint{"127.0.0.1", 0};
  WsServer::Callbacks callbacks;
  callbacks.upgraded = [&](std::shared_ptr<WsLink> link, const http::Request&) {
    cloud.link = link;
    link->set_events(&cloud);
  };
  WsServer server(f.io, options, callbacks);
  server.start();
  f.settings.upstream = Endpoint{"127.0.0.1", server.local_endpoint().port};
  f.start();

  auto device = f.connect();
  REQUIRE(f.run_until([&] { return cloud.got("login"); }));
  CHECK(Json::parse(cloud.received[0])["id"] == "443C878F-f675-4c90-98e8-2f4566914d39");
  device->frame(R"({"uri":"/ka","rssi":-39})");  // rssi is not blocked
  REQUIRE(f.run_until([&] { return cloud.got("/ka"); }));
  CHECK(device->count_uri("/kr") == 1);  // answered locally

  const size_t before = device->sent.size();
  cloud.link->send(R"({"uri":"/upgrade","url":"http://192.0.2.1/","newVersion":"9"})", false);
  cloud.link->send(R"({"uri":"/delDevice"})", false);
  cloud.link->send(R"({"uri":"/kr","error":0,"wd":3,"year":2017,"month":11,"day":1,"ms":1})", false);
  cloud.link->send(R"({"cid":"443C878F-f675-4c90-98e8-2f4566914d39","uri":"/relay","action":"break"})", false);
  REQUIRE(f.run_until([&] { return device->sent.size() > before; }));
  f.settle();
  CHECK(device->sent.size() == before + 1);
  CHECK(device->json(-1)["uri"] == "/relay");
  CHECK(device->count_uri("/upgrade") == 0);
  device->frame(R"({"uri":"/runtimeInfo","relay":"break","power":"0:0","voltage":"0:0"})");
  REQUIRE(f.run_until([&] { return cloud.got("/runtimeInfo"); }));

  // A local command: after its acknowledgement the cloud hears a /state.
  std::optional<std::string> result;
  f.bridge->command(kId, "power", "ON", [&](std::string error) { result = error; });
  device->frame(R"({"uri":"/runtimeInfo","relay":"open","power":"0:0","voltage":"0:0"})");
  REQUIRE(result == "");
  REQUIRE(f.run_until([&] { return cloud.got("/state"); }));

  // The cloud goes away: the device is still served locally.
  server.stop();
  f.settle(200ms);
  device->frame(R"({"uri":"/ka","rssi":-40})");
  CHECK(device->count_uri("/kr") == 2);
}

TEST_CASE("upstream that loops back to our own listener is refused") {
  Fixture f;
  f.start();
  f.settings.upstream = Endpoint{"127.0.0.1", f.bridge->bound_endpoint().port};
  auto device = f.connect();
  f.settle(300ms);
  CHECK(counter_value(f.metrics, "localcloud_vesync_connections") == 1);  // only the fake device
  device->frame(R"({"uri":"/ka","rssi":-39})");
  CHECK(device->count_uri("/kr") == 1);
}
