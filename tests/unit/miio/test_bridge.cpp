// The miio Bridge against tests/support/fake_hub.h and fake devices on loopback ports:
// registration, the models table, polling, commands, identity, cloud-side heard/props.
#include <doctest/doctest.h>

#include <filesystem>

#include "bridges/miio/miio_bridge.h"
#include "bridges/miio/trace.h"
#include "core/durable_store.h"
#include "fake_device.h"
#include "loop.h"
#include "tests/support/fake_hub.h"

using namespace lc;
using namespace lc::miio;
using namespace lc::miio::test;
namespace asio = boost::asio;
using asio::ip::udp;

namespace {

Token token_of(uint8_t fill) {
  Token token;
  token.fill(fill);
  return token;
}

const Json kV1Values = {{"power", "on"},          {"temperature", 38.5}, {"current", 215},    {"mode", "normal"},
                        {"power_consume_rate", 29}, {"voltage", 23057},  {"power_factor", 12}, {"elec_leakage", 8}};

struct Fixture {
  asio::io_context io;
  Settings settings;
  lc::test::FakeHub hub;
  Metrics metrics;
  std::filesystem::path dir = std::filesystem::temp_directory_path() / ("lc-miio-test-" + std::to_string(::getpid()));
  DurableStore store{io, dir};
  std::vector<std::unique_ptr<FakeDevice>> devices;
  std::unique_ptr<MiioBridge> bridge;

  Fixture() {
    settings.enabled = true;
    settings.listen = Endpoint{"127.0.0.1", 0};
    settings.poll_interval = std::chrono::milliseconds(300);
    settings.offline_after = std::chrono::seconds(5);
  }
  ~Fixture() {
    if (bridge) bridge->stop();
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }

  FakeDevice& add_device(const std::string& model, uint32_t did, bool configure_did = true, uint8_t token = 0x11,
                         uint8_t configured_token = 0) {
    devices.push_back(std::make_unique<FakeDevice>(io, token_of(token), did));
    FakeDevice& device = *devices.back();
    ConfiguredDevice d;
    d.host = "127.0.0.1";
    d.port = device.port();
    d.token = token_of(configured_token ? configured_token : token);
    d.model = model;
    if (configure_did) d.did = did;
    settings.devices.push_back(d);
    return device;
  }

  void start() {
    BridgeContext context{io, &settings, hub, metrics, store};
    BridgeOptions options;
    options.client.timeout = std::chrono::milliseconds(150);
    options.client.first_id = 1;
    bridge = std::make_unique<MiioBridge>(context, options);
    bridge->start();
  }

  // A keepalive ping from `did` to the bridge's cloud endpoint.
  void cloud_ping(uint32_t did, uint32_t stamp, const Token& key = token_of(0x99)) {
    udp::socket socket(io, udp::v4());
    const auto ping = ping_packet(Cipher(key), did, stamp);
    socket.send_to(asio::buffer(ping), udp::endpoint(asio::ip::make_address("127.0.0.1"), bridge->cloud().port()));
    run_for(io, std::chrono::milliseconds(20));
  }

  std::string command(const std::string& id, const std::string& property, const Json& value) {
    std::optional<std::string> result;
    bridge->command(id, property, value, [&](std::string error) { result = std::move(error); });
    REQUIRE(run_until(io, [&] { return result.has_value(); }, std::chrono::milliseconds(3000)));
    return *result;
  }
};

// The last request that is not a read (reads back follow every command).
const FakeDevice::Request& last_set(const FakeDevice& device) {
  for (auto it = device.requests.rbegin(); it != device.requests.rend(); ++it)
    if (it->method != "get_prop" && it->method != "get_power") return *it;
  throw std::runtime_error("no command request");
}

const Property* property(const DeviceInfo& info, const std::string& key) {
  for (const auto& p : info.properties)
    if (p.key == key) return &p;
  return nullptr;
}

}  // namespace

TEST_CASE("qmi.powerstrip.v1: registered at start, polled with exactly its 8 names, units converted") {
  Fixture f;
  FakeDevice& device = f.add_device("qmi.powerstrip.v1", 0x01020304);
  for (const auto& [name, value] : kV1Values.items()) device.props[name] = value;
  f.settings.devices[0].name = "strip";
  f.start();

  REQUIRE(f.hub.devices.count("01020304"));
  const DeviceInfo& info = f.hub.devices["01020304"];
  CHECK(info.model == "qmi.powerstrip.v1");
  CHECK(info.manufacturer == "Xiaomi");
  CHECK(info.name == "strip");
  CHECK(info.configured);
  std::vector<std::string> keys;
  for (const auto& p : info.properties) keys.push_back(p.key);
  CHECK(keys == std::vector<std::string>{"power", "temperature", "current", "mode", "load_power", "voltage",
                                         "power_factor", "leakage_current"});
  CHECK(property(info, "power")->component == Component::switch_);
  CHECK(property(info, "power")->writable);
  CHECK(property(info, "power")->device_class == "outlet");
  CHECK(property(info, "voltage")->unit == "V");
  CHECK(property(info, "voltage")->device_class == "voltage");
  CHECK(property(info, "current")->unit == "A");
  CHECK(property(info, "load_power")->unit == "W");
  CHECK(property(info, "load_power")->device_class == "power");
  CHECK(property(info, "temperature")->unit == "°C");
  CHECK(property(info, "temperature")->state_class == "measurement");
  CHECK(property(info, "mode")->component == Component::select);
  CHECK(property(info, "mode")->options == std::vector<std::string>{"green", "normal"});

  REQUIRE(run_until(f.io, [&] { return !f.hub.value("01020304", "voltage").is_null(); }));
  CHECK(f.hub.value("01020304", "power") == "ON");
  CHECK(f.hub.value("01020304", "voltage") == 230.57);
  CHECK(f.hub.value("01020304", "current") == 0.215);
  CHECK(f.hub.value("01020304", "temperature") == 38.5);
  CHECK(f.hub.value("01020304", "load_power") == 29);
  CHECK(f.hub.value("01020304", "mode") == "normal");
  CHECK(f.hub.value("01020304", "power_factor") == 12);
  CHECK(f.hub.value("01020304", "leakage_current") == 8);
  CHECK(f.hub.heard_count["01020304"] >= 1);
  REQUIRE(!device.requests.empty());
  CHECK(device.requests[0].method == "get_prop");
  CHECK(device.requests[0].params ==
        Json::parse(R"(["power","temperature","current","mode","power_consume_rate","voltage","power_factor","elec_leakage"])"));
  for (const auto& r : device.requests) CHECK(r.params.dump().find("wifi_led") == std::string::npos);
}

TEST_CASE("empty slots become unknown; values appear once the device fills them") {
  Fixture f;
  FakeDevice& device = f.add_device("qmi.powerstrip.v1", 0x01020304);
  f.start();
  REQUIRE(run_until(f.io, [&] { return device.count("get_prop") >= 1 && f.hub.state.count("01020304"); }));
  CHECK(f.hub.state["01020304"].size() == 8);
  for (const auto& [key, value] : f.hub.state["01020304"].items()) CHECK(value.is_null());
  CHECK(f.hub.heard_count["01020304"] >= 1);  // it answered
  for (const auto& [name, value] : kV1Values.items()) device.props[name] = value;
  REQUIRE(run_until(f.io, [&] { return f.hub.value("01020304", "power") == "ON"; }));
}

TEST_CASE("commands: set_power, read back; ON again; select; errors reported") {
  Fixture f;
  FakeDevice& device = f.add_device("qmi.powerstrip.v1", 0x01020304);
  for (const auto& [name, value] : kV1Values.items()) device.props[name] = value;
  device.respond = [&](const FakeDevice::Request& r) -> std::optional<std::string> {
    if (r.method == "set_power") {
      device.props["power"] = r.params[0];
      return "\"result\":[\"ok\"]";
    }
    if (r.method == "set_power_mode") return R"("error":{"code":-5001,"message":"invalid arg"})";
    std::string list = "[";
    for (size_t i = 0; i < r.params.size(); ++i) list += (i ? "," : "") + device.props[r.params[i].get<std::string>()].dump();
    return "\"result\":" + list + "]";
  };
  f.start();
  REQUIRE(run_until(f.io, [&] { return f.hub.value("01020304", "power") == "ON"; }));

  const size_t before = device.requests.size();
  CHECK(f.command("01020304", "power", "OFF") == "");
  REQUIRE(device.requests.size() > before);
  CHECK(device.requests[before].method == "set_power");
  CHECK(device.requests[before].params == Json::array({"off"}));
  // Read back right after the command.
  REQUIRE(run_until(f.io, [&] { return f.hub.value("01020304", "power") == "OFF"; }, std::chrono::milliseconds(250)));
  CHECK(device.requests[before + 1].method == "get_prop");

  // The Hub resolves TOGGLE (bridges/bridge.h): the bridge only ever gets ON or OFF.
  CHECK(f.command("01020304", "power", "ON") == "");
  CHECK(device.requests.back().method != "set_power");  // already reading back
  REQUIRE(run_until(f.io, [&] { return f.hub.value("01020304", "power") == "ON"; }));

  const std::string error = f.command("01020304", "mode", "green");
  CHECK(error == "device error -5001: invalid arg");
  CHECK(f.command("01020304", "voltage", 5) == "property is read-only");
  CHECK(f.command("deadbeef", "power", "ON") == "unknown device");
}

TEST_CASE("a command the device does not acknowledge fails") {
  Fixture f;
  FakeDevice& device = f.add_device("chuangmi.plug.m1", 0x0a0b0c0d);
  device.props = {{"power", "on"}, {"temperature", 30}};
  f.start();
  device.respond = [&](const FakeDevice::Request& r) -> std::optional<std::string> {
    if (r.method == "set_power") return std::nullopt;
    return "\"result\":[\"on\",30]";
  };
  REQUIRE(run_until(f.io, [&] { return f.hub.value("0a0b0c0d", "power") == "ON"; }));
  CHECK(f.command("0a0b0c0d", "power", "OFF") == "no reply from the device");
}

TEST_CASE("chuangmi.plug.v1 uses set_on/set_off and set_usb_on; v3 reads load power with get_power") {
  Fixture f;
  FakeDevice& v1 = f.add_device("chuangmi.plug.v1", 0x00000011);
  v1.props = {{"on", true}, {"usb_on", false}, {"temperature", 32}};
  FakeDevice& v3 = f.add_device("chuangmi.plug.v3", 0x00000012, true, 0x12);
  v3.respond = [&](const FakeDevice::Request& r) -> std::optional<std::string> {
    if (r.method == "get_power") return "\"result\":[300]";
    if (r.method == "get_prop") return "\"result\":[true,false,33,\"on\"]";
    return "\"result\":[\"ok\"]";
  };
  f.start();
  REQUIRE(run_until(f.io, [&] {
    return f.hub.value("00000011", "power") == "ON" && f.hub.value("00000012", "load_power") == 3.0;
  }));
  CHECK(f.hub.value("00000011", "usb_power") == "OFF");
  CHECK(f.hub.value("00000012", "wifi_led") == "ON");
  CHECK(f.command("00000011", "power", "OFF") == "");
  CHECK(last_set(v1).method == "set_off");
  CHECK(last_set(v1).params == Json::array());
  CHECK(f.command("00000011", "usb_power", "ON") == "");
  CHECK(last_set(v1).method == "set_usb_on");
  CHECK(f.command("00000012", "power", "OFF") == "");
  CHECK(last_set(v3).method == "set_power");
  CHECK(last_set(v3).params == Json::array({"off"}));
  CHECK(v1.count("get_power") == 0);
}

TEST_CASE("zimi.powerstrip.v2: wifi_led and power_price") {
  Fixture f;
  FakeDevice& device = f.add_device("zimi.powerstrip.v2", 0x00000021);
  device.props = {{"power", "on"}, {"temperature", 48.7}, {"current", 0.05}, {"power_consume_rate", 4.09},
                  {"wifi_led", "off"}, {"power_price", 49}};
  f.start();
  REQUIRE(run_until(f.io, [&] { return f.hub.value("00000021", "power_price") == 49; }));
  CHECK(f.hub.value("00000021", "current") == 0.05);
  CHECK(f.hub.value("00000021", "wifi_led") == "OFF");
  CHECK(f.command("00000021", "power_price", 120) == "");
  CHECK(last_set(device).method == "set_power_price");
  CHECK(last_set(device).params == Json::array({120}));
  CHECK(f.command("00000021", "wifi_led", "ON") == "");
  CHECK(last_set(device).method == "set_wifi_led");
  CHECK(last_set(device).params == Json::array({"on"}));
}

TEST_CASE("an unknown model falls back to the m1 row") {
  Fixture f;
  FakeDevice& device = f.add_device("chuangmi.plug.futuristic", 0x00000031);
  device.props = {{"power", "off"}, {"temperature", 25}};
  f.start();
  REQUIRE(f.hub.devices.count("00000031"));
  CHECK(f.hub.devices["00000031"].model == "chuangmi.plug.futuristic");
  CHECK(f.hub.devices["00000031"].properties.size() == 2);
  REQUIRE(run_until(f.io, [&] { return f.hub.value("00000031", "power") == "OFF"; }));
}

TEST_CASE("no did and no model: did from the handshake, miIO.info only once the cloud session is up") {
  Fixture f;
  FakeDevice& device = f.add_device("", 0x01020304, false);
  device.respond = [&](const FakeDevice::Request& r) -> std::optional<std::string> {
    if (r.method == "miIO.info")
      return R"("result":{"model":"qmi.powerstrip.v1","fw_ver":"3.4.2_71","hw_ver":"RTL8711AF","token":"00","ott_stat":[0,0,0,0],,"otu_stat":[1,2,3,4,5,6]})";
    return R"("result":["on",30,10,"green",5,23000,90,1])";
  };
  f.start();
  REQUIRE(run_until(f.io, [&] { return f.hub.devices.count("01020304") != 0; }));
  CHECK(f.hub.devices["01020304"].model == "");
  CHECK(f.hub.devices["01020304"].properties.empty());
  run_for(f.io, std::chrono::milliseconds(700));  // two poll intervals
  CHECK(device.requests.empty());                 // waiting for the cloud session

  f.cloud_ping(0x01020304, 100);
  CHECK(f.hub.heard_count["01020304"] >= 1);
  REQUIRE(run_until(f.io, [&] { return f.hub.devices["01020304"].model == "qmi.powerstrip.v1"; }));
  CHECK(f.hub.devices["01020304"].firmware == "3.4.2_71");
  CHECK(f.hub.devices["01020304"].properties.size() == 8);
  REQUIRE(run_until(f.io, [&] { return f.hub.value("01020304", "mode") == "green"; }));
  CHECK(device.count("miIO.info") == 1);
  CHECK(f.hub.value("01020304", "voltage") == 230.0);
}

TEST_CASE("a wrong token is reported once as device_error, and the bridge keeps going") {
  Fixture f;
  FakeDevice& device = f.add_device("qmi.powerstrip.v1", 0x01020304, true, 0x11, 0x22);
  FakeDevice& good = f.add_device("chuangmi.plug.m1", 0x00000041, true, 0x44);
  good.props = {{"power", "on"}, {"temperature", 20}};
  f.start();
  REQUIRE(run_until(f.io, [&] { return !f.hub.events.empty(); }, std::chrono::milliseconds(3000)));
  run_for(f.io, std::chrono::milliseconds(1500));  // more failing polls
  int errors = 0;
  for (const auto& e : f.hub.events) {
    if (e.type == "device_error" && e.id == "01020304") ++errors;
    CHECK(e.detail.dump().find("token") != std::string::npos);
  }
  CHECK(errors == 1);
  CHECK(device.bad_checksums >= 4);
  CHECK(f.hub.value("00000041", "power") == "ON");
  CHECK(f.hub.heard_count.count("01020304") == 0);
}

TEST_CASE("cloud traffic from a configured did counts as heard; others are answered but not reported") {
  Fixture f;
  f.add_device("qmi.powerstrip.v1", 0x01020304).silent = true;
  f.start();
  f.cloud_ping(0x01020304, 10);
  f.cloud_ping(0x01020304, 11);  // within the second: the Hub has heard of it already
  CHECK(f.hub.heard_count["01020304"] == 1);
  run_for(f.io, std::chrono::milliseconds(1000));
  f.cloud_ping(0x01020304, 12);
  f.cloud_ping(0x7777, 1);
  CHECK(f.hub.heard_count["01020304"] == 2);
  CHECK(f.hub.heard_count.count("00007777") == 0);
  CHECK(f.hub.devices.size() == 1);
}

TEST_CASE("cloud_key: props pushed over the cloud link are published at once and acknowledged") {
  Fixture f;
  FakeDevice& device = f.add_device("qmi.powerstrip.v1", 0x01020304);
  device.silent = true;
  f.settings.devices[0].cloud_key = "0123456789abcdef";
  f.start();
  udp::socket socket(f.io, udp::v4());
  socket.connect(udp::endpoint(asio::ip::make_address("127.0.0.1"), f.bridge->cloud().port()));
  const Cipher cloud(*token_from_cloud_key("0123456789abcdef"));
  Header header;
  header.did = 0x01020304;
  header.stamp = 1234;
  const auto packet = encode_message(cloud, header, R"({"id":42,"method":"props","params":{"power":"off","mode":"green"}})");
  socket.send(asio::buffer(*packet));
  const auto reply = receive(f.io, socket);
  REQUIRE(reply);
  Message message;
  REQUIRE(decode_message(*reply, cloud, message) == Error::none);
  CHECK(parse_json(message.plaintext) == Json::parse(R"({"id":42,"result":"ok"})"));
  CHECK(f.hub.value("01020304", "power") == "OFF");
  CHECK(f.hub.value("01020304", "mode") == "green");
}

TEST_CASE("trace hex masks the did under mask_ids and hides a handshake reply's token") {
  const auto reply = hello_reply_packet(0x01020304, 0x1000);
  log_settings::configure(Level::info, true, true);
  const std::string masked = trace_hex(reply, true);
  CHECK(masked.find("01020304") == std::string::npos);
  CHECK(masked.find("xxxxxxxx") != std::string::npos);
  CHECK(masked.substr(32) == std::string(32, '*'));
  const Json redacted = redact(Json::parse(R"({"params":{"token":"abc","did":"123","model":"m"}})"));
  CHECK(redacted["params"]["token"] == "<redacted>");
  CHECK(redacted["params"]["did"] != "123");
  CHECK(redacted["params"]["model"] == "m");
  log_settings::configure(Level::info, false, false);
  CHECK(trace_hex(reply).find("01020304") != std::string::npos);
}

TEST_CASE("forget: the device is registered afresh with its next successful poll") {
  Fixture f;
  FakeDevice& device = f.add_device("chuangmi.plug.m1", 0x00000051);
  device.props = {{"power", "on"}, {"temperature", 20}};
  f.start();
  REQUIRE(run_until(f.io, [&] { return f.hub.value("00000051", "power") == "ON"; }));
  f.hub.devices.clear();
  f.hub.state.clear();
  f.bridge->forget("00000051");
  REQUIRE(run_until(f.io, [&] { return f.hub.devices.count("00000051") == 1; }));
  REQUIRE(run_until(f.io, [&] { return f.hub.value("00000051", "power") == "ON"; }));
}

TEST_CASE("admitted: a device the Hub registers later gets everything read so far at once") {
  Fixture f;
  FakeDevice& device = f.add_device("chuangmi.plug.m1", 0x00000061);
  device.props = {{"power", "on"}, {"temperature", 21}};
  f.start();
  REQUIRE(run_until(f.io, [&] { return f.hub.value("00000061", "temperature") == 21; }));
  // Not registered (forgotten), then admitted by the Hub: no poll needed for the values.
  f.bridge->forget("00000061");
  f.hub.state.clear();
  f.bridge->admitted("00000061");
  CHECK(f.hub.value("00000061", "power") == "ON");
  CHECK(f.hub.value("00000061", "temperature") == 21);
  f.bridge->admitted("deadbeef");  // unknown: nothing happens
}

TEST_CASE("a poll that changed nothing tells the Hub nothing") {
  Fixture f;
  FakeDevice& device = f.add_device("chuangmi.plug.m1", 0x00000071);
  device.props = {{"power", "on"}, {"temperature", 21}};
  f.start();
  REQUIRE(run_until(f.io, [&] { return f.hub.value("00000071", "temperature") == 21; }));
  f.hub.state.clear();
  const int polls = device.count("get_prop");
  REQUIRE(run_until(f.io, [&] { return device.count("get_prop") >= polls + 2; }));
  CHECK(f.hub.state.count("00000071") == 0);  // the same answers: no state_changed
  device.props["temperature"] = 22;
  REQUIRE(run_until(f.io, [&] { return f.hub.value("00000071", "temperature") == 22; }));
  CHECK(f.hub.state["00000071"].size() == 1);  // only what changed
}
