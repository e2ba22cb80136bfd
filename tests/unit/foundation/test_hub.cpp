// The Hub against a fake MQTT link and a fake bridge: what is published when, and how
// commands are routed.
#include <doctest/doctest.h>

#include "tests/unit/foundation/hub_fixture.h"

using namespace lc;
using nlohmann::json;

using namespace lc::test;

TEST_CASE("nothing is published before the broker is up; everything once connected") {
  Fixture f;
  REQUIRE(f.port->device_seen(plug("d1", "desk")));
  f.hub->start();
  f.port->heard("d1");
  f.port->state_changed("d1", "power", "ON");
  f.settle();
  CHECK(f.link.published.empty());
  f.connect();
  CHECK(f.link.last("lc/bridge/state")->payload == "online");
  CHECK(f.link.last("lc/bridge/state")->retained);
  CHECK(f.link.last("lc/desk")->payload == R"({"energy":null,"power":"ON"})");
  CHECK(f.link.last("lc/desk/availability")->payload == "online");
  CHECK(f.link.last("homeassistant/switch/localcloud_fake_d1/power/config") != nullptr);
  CHECK(f.link.last("homeassistant/sensor/localcloud_fake_d1/energy/config") != nullptr);
  CHECK(json::parse(f.link.last("lc/bridge/devices")->payload)[0]["key"] == "desk");
  const auto info = json::parse(f.link.last("lc/bridge/info")->payload);
  CHECK(info["bridges"]["fake"]["listeners"][0]["address"] == "127.0.0.1:1");
  CHECK(std::find(f.link.subscribed.begin(), f.link.subscribed.end(), "lc/+/set/+") != f.link.subscribed.end());
}

TEST_CASE("state is coalesced and only published when it changed") {
  Fixture f;
  f.port->device_seen(plug("d1"));
  f.hub->start();
  f.connect();
  f.link.published.clear();
  f.port->state_changed("d1", "power", "ON");
  f.port->state_changed("d1", "energy", 1.5);
  f.settle();
  CHECK(f.link.count("lc/fake_d1") == 1);
  f.port->state_changed("d1", "power", "ON");
  f.settle();
  CHECK(f.link.count("lc/fake_d1") == 1);
  f.port->state_changed("d1", "power", "OFF");
  f.settle();
  CHECK(f.link.count("lc/fake_d1") == 2);
}

TEST_CASE("retained states found at connection go to the bridge, never commands") {
  Fixture f;
  f.port->device_seen(plug("d1", "desk"));
  f.hub->start();
  f.link.up = true;
  f.link.handlers.connected();
  f.link.handlers.message("lc/desk", R"({"energy":12.5,"power":"ON"})", true);
  f.link.handlers.message("lc/other", R"({"energy":3})", true);
  f.link.handlers.message("lc/desk/set/power", "OFF", true);
  f.settle(std::chrono::milliseconds(1200));
  REQUIRE(f.bridge.retained.size() == 1);
  CHECK(f.bridge.retained[0].second["energy"] == 12.5);
  CHECK(f.bridge.commands.empty());
  // A device registered later gets the retained state remembered for its key.
  f.port->device_seen(DeviceInfo{.id = "other", .name = "other", .configured = true});
  f.settle();
  REQUIRE(f.bridge.retained.size() == 2);
  CHECK(f.bridge.retained[1].first == "other");
}

TEST_CASE("commands are normalised, routed and their failures reported") {
  Fixture f;
  f.port->device_seen(plug("d1", "desk"));
  f.hub->start();
  f.connect();
  f.port->heard("d1");
  f.link.handlers.message("lc/desk/set/power", "off", false);
  REQUIRE(f.bridge.commands.size() == 1);
  CHECK(f.bridge.commands[0].value == "OFF");
  f.bridge.commands[0].done("no acknowledgement");
  const auto event = json::parse(f.link.last("lc/bridge/event")->payload);
  CHECK(event["type"] == "command_failed");
  CHECK(event["device"] == "desk");
  CHECK(event["error"] == "no acknowledgement");
  f.link.handlers.message("lc/desk/set", R"({"power":"TOGGLE"})", false);
  // No state reported yet: the Hub cannot resolve TOGGLE and reports the failure.
  CHECK(f.bridge.commands.size() == 1);
  CHECK(json::parse(f.link.last("lc/bridge/event")->payload)["error"] == "cannot toggle: the current state is unknown");
  f.link.handlers.message("lc/desk/set/energy", "5", false);  // read-only
  CHECK(f.bridge.commands.size() == 1);
  CHECK(json::parse(f.link.last("lc/bridge/event")->payload)["error"] == "property 'energy' is read-only");
  f.link.handlers.message("lc/desk/get", "", false);
  CHECK(f.bridge.reads == std::vector<std::string>{"d1"});
  f.link.handlers.message("lc/nobody/set/power", "ON", false);
  CHECK(f.bridge.commands.size() == 1);
}

TEST_CASE("a command to an offline device fails at once") {
  Fixture f;
  f.port->device_seen(plug("d1", "desk"));
  f.hub->start();
  f.connect();
  f.link.handlers.message("lc/desk/set/power", "ON", false);
  CHECK(f.bridge.commands.empty());
  CHECK(json::parse(f.link.last("lc/bridge/event")->payload)["error"] == "device offline");
}

TEST_CASE("unknown devices: max_unknown and one a second") {
  Fixture f;
  f.hub->start();
  CHECK(f.port->device_seen(plug("u1", "", false)));
  CHECK_FALSE(f.port->device_seen(plug("u2", "", false)));  // within a second of u1
  CHECK(f.port->device_seen(plug("c1", "", true)));          // configured: always
  CHECK_FALSE(f.port->device_seen(plug("Bad/Id", "", true)));
  CHECK(f.port->known("u1"));
  CHECK_FALSE(f.port->known("u2"));
}

TEST_CASE("shutdown says offline for every device and the bridge") {
  Fixture f;
  f.port->device_seen(plug("d1", "desk"));
  f.hub->start();
  f.connect();
  f.hub->shutdown(std::chrono::milliseconds(100));
  REQUIRE(f.link.last_words.size() == 2);
  CHECK(f.link.last_words[0] == std::pair<std::string, std::string>{"lc/desk/availability", "offline"});
  CHECK(f.link.last_words[1] == std::pair<std::string, std::string>{"lc/bridge/state", "offline"});
}

TEST_CASE("the device database keeps unknown devices and clears configured ones that left") {
  Fixture f;
  f.port->device_seen(plug("gone", "old_name", true));
  f.port->device_seen(plug("u1", "", false));
  f.hub->start();
  f.hub->shutdown(std::chrono::milliseconds(10));  // saves the database
  f.store->flush();

  Fixture g;  // a new run with the same data_dir and an empty config
  g.dir = f.dir;
  g.store = std::make_unique<DurableStore>(g.io, g.dir);
  g.hub = std::make_unique<HubService>(g.io, g.config, g.link, g.metrics, *g.store);
  g.port = &g.hub->port("fake");
  g.hub->attach(g.bridge);
  g.hub->start();
  CHECK(g.port->known("u1"));
  CHECK_FALSE(g.port->known("gone"));
  g.connect();
  const auto* cleared = g.link.last("homeassistant/switch/localcloud_fake_gone/power/config");
  REQUIRE(cleared != nullptr);
  CHECK(cleared->payload.empty());
  CHECK(cleared->retained);
  CHECK(g.link.last("lc/old_name")->payload.empty());
}

TEST_CASE("management requests answer the same through request() as on MQTT") {
  Fixture f;
  f.port->device_seen(plug("d1", "desk"));
  f.hub->start();
  f.connect();
  CHECK(f.hub->request("health_check", {{"transaction", 3}}) ==
        json{{"status", "ok"}, {"data", {{"healthy", true}}}, {"transaction", 3}});
  CHECK(f.hub->request("nope", json::object())["error"].get<std::string>().rfind("unknown request 'nope'", 0) == 0);
  CHECK(f.hub->request("remove", {{"device", "nobody"}}) == json{{"status", "error"}, {"error", "no device 'nobody'"}});
  CHECK(f.hub->request("remove", {{"device", "desk"}}) == json{{"status", "ok"}, {"data", {{"device", "desk"}}}});
  CHECK_FALSE(f.port->known("d1"));
  CHECK(json::parse(f.link.last("lc/bridge/event")->payload)["type"] == "device_left");
  CHECK(f.link.last("lc/desk")->payload.empty());
  // On MQTT: the same answers, a bare key for remove, the transaction echoed.
  f.port->device_seen(plug("d2", "desk2"));
  f.link.handlers.message("lc/bridge/request/remove", "desk2", false);
  CHECK(json::parse(f.link.last("lc/bridge/response/remove")->payload) ==
        json{{"status", "ok"}, {"data", {{"device", "desk2"}}}});
  f.port->device_seen(plug("d3", "desk3"));
  f.link.handlers.message("lc/bridge/request/device/remove", R"({"device":"desk3"})", false);
  CHECK(json::parse(f.link.last("lc/bridge/response/device/remove")->payload) ==
        json{{"status", "ok"}, {"data", {{"device", "desk3"}}}});
  CHECK(std::find(f.link.subscribed.begin(), f.link.subscribed.end(), "lc/bridge/request/+/+") != f.link.subscribed.end());
  f.link.handlers.message("lc/bridge/request/health_check", R"({"transaction":"t"})", false);
  CHECK(json::parse(f.link.last("lc/bridge/response/health_check")->payload)["transaction"] == "t");
}

TEST_CASE("command() takes the path of an MQTT command and reports its outcome") {
  Fixture f;
  f.port->device_seen(plug("d1", "desk"));
  f.hub->start();
  f.connect();
  f.port->heard("d1");
  f.port->state_changed("d1", "power", "ON");
  f.settle();
  std::vector<std::string> outcomes;
  auto record = [&outcomes](std::string error) { outcomes.push_back(error.empty() ? "ok" : error); };
  f.hub->command("desk", "power", "off", record);
  REQUIRE(f.bridge.commands.size() == 1);
  CHECK(f.bridge.commands[0].value == "OFF");
  CHECK(outcomes.empty());  // not before the device answered
  const size_t states = f.link.count("lc/desk");
  f.bridge.commands[0].done("");
  f.settle();
  CHECK(outcomes == std::vector<std::string>{"ok"});
  CHECK(f.link.count("lc/desk") == states + 1);  // the read-back answer
  f.hub->command("desk", "energy", 5, record);
  CHECK(outcomes.back() == "property 'energy' is read-only");
  CHECK(json::parse(f.link.last("lc/bridge/event")->payload)["type"] == "command_failed");
  f.hub->command("nobody", "power", "ON", record);
  CHECK(outcomes.back() == "no device 'nobody'");
  f.hub->command("desk", "power", "ON", {});  // no callback: fine
  REQUIRE(f.bridge.commands.size() == 2);
  f.bridge.commands[1].done("no acknowledgement");
  CHECK(json::parse(f.link.last("lc/bridge/event")->payload)["error"] == "no acknowledgement");
}

TEST_CASE("TOGGLE is resolved by the Hub from the state the device last reported") {
  Fixture f;
  f.port->device_seen(plug("d1", "desk"));
  f.hub->start();
  f.connect();
  f.port->heard("d1");
  f.port->state_changed("d1", "power", "ON");
  f.link.handlers.message("lc/desk/set/power", "toggle", false);
  REQUIRE(f.bridge.commands.size() == 1);
  CHECK(f.bridge.commands[0].value == "OFF");
  // The state follows the device's report, not the command: until then TOGGLE still means OFF.
  f.link.handlers.message("lc/desk/set", R"({"power":"TOGGLE"})", false);
  REQUIRE(f.bridge.commands.size() == 2);
  CHECK(f.bridge.commands[1].value == "OFF");
  f.port->state_changed("d1", "power", "OFF");
  f.link.handlers.message("lc/desk/set/power", "TOGGLE", false);
  REQUIRE(f.bridge.commands.size() == 3);
  CHECK(f.bridge.commands[2].value == "ON");
  // A state that is neither ON nor OFF (null: unknown) cannot be toggled.
  f.port->state_changed("d1", "power", nullptr);
  f.link.handlers.message("lc/desk/set/power", "TOGGLE", false);
  CHECK(f.bridge.commands.size() == 3);
  const auto event = json::parse(f.link.last("lc/bridge/event")->payload);
  CHECK(event["type"] == "command_failed");
  CHECK(event["property"] == "power");
  CHECK(event["value"] == "TOGGLE");
  CHECK(event["error"] == "cannot toggle: the current state is unknown");
  // The same through command().
  std::string outcome = "pending";
  f.hub->command("desk", "power", "TOGGLE", [&](std::string error) { outcome = error; });
  CHECK(outcome == "cannot toggle: the current state is unknown");
}

TEST_CASE("an unknown device over the rate is admitted by the Hub in its turn, and its bridge told") {
  Fixture f;
  f.hub->start();
  f.connect();
  CHECK(f.port->device_seen(plug("u1", "", false)));
  DeviceInfo second = plug("u2", "", false);
  CHECK_FALSE(f.port->device_seen(second));  // within a second of u1: waits
  CHECK_FALSE(f.port->known("u2"));
  second.firmware = "2.0";                    // asked again: the description is updated
  CHECK_FALSE(f.port->device_seen(second));
  CHECK(f.bridge.admissions.empty());
  f.settle(std::chrono::milliseconds(1300));  // no further call from the bridge
  CHECK(f.port->known("u2"));
  CHECK(f.bridge.admitted_ids() == std::vector<std::string>{"u2"});
  const auto joined = json::parse(f.link.last("lc/bridge/event")->payload);
  CHECK((joined["type"] == "device_joined" && joined["device"] == "fake_u2"));
  CHECK(f.hub->devices_json(false)[1]["firmware"] == "2.0");
  f.settle(std::chrono::milliseconds(400));  // its description settles before its configs go out
  CHECK(f.link.last("homeassistant/switch/localcloud_fake_u2/power/config") != nullptr);
  CHECK(f.port->device_seen(second));  // registered: true, as before
  CHECK(f.bridge.admissions.size() == 1);
}

TEST_CASE("waiting unknown devices are admitted one a second, first come first served") {
  Fixture f;
  f.bridge.rules.max_unknown = 10;
  f.hub->attach(f.bridge);
  f.hub->start();
  CHECK(f.port->device_seen(plug("u1", "", false)));
  const auto first = std::chrono::steady_clock::now();
  for (const char* id : {"u2", "u3", "u4"}) CHECK_FALSE(f.port->device_seen(plug(id, "", false)));
  f.settle(std::chrono::milliseconds(3500));
  REQUIRE(f.bridge.admitted_ids() == std::vector<std::string>{"u2", "u3", "u4"});
  auto previous = first;
  for (const auto& admission : f.bridge.admissions) {
    CHECK_MESSAGE(admission.second - previous >= std::chrono::milliseconds(990), admission.first);
    previous = admission.second;
  }
}

TEST_CASE("waiting devices count toward max_unknown; refusals stay refusals") {
  Fixture f;  // max_unknown 2
  f.hub->start();
  CHECK(f.port->device_seen(plug("u1", "", false)));
  CHECK_FALSE(f.port->device_seen(plug("u2", "", false)));  // waits: 1 registered + 1 waiting
  CHECK_FALSE(f.port->device_seen(plug("u3", "", false)));  // no room left: refused
  const auto refused = [&f] {
    const std::string text = f.metrics.prometheus_text();
    const auto at = text.find("\nlocalcloud_unknown_devices_refused_total ");
    return at == std::string::npos ? std::string() : text.substr(at + 1, text.find('\n', at + 1) - at - 1);
  };
  CHECK(refused() == "localcloud_unknown_devices_refused_total 1");
  f.settle(std::chrono::milliseconds(1300));
  CHECK(f.port->known("u2"));
  CHECK_FALSE(f.port->known("u3"));
  CHECK(f.bridge.admitted_ids() == std::vector<std::string>{"u2"});
  CHECK_FALSE(f.port->device_seen(plug("u3", "", false)));  // max_unknown reached
  CHECK(refused() == "localcloud_unknown_devices_refused_total 2");

  // A waiting device that turns out to be configured is registered at once, and not again.
  Fixture g;
  g.bridge.rules.max_unknown = 5;
  g.hub->attach(g.bridge);
  g.hub->start();
  CHECK(g.port->device_seen(plug("u1", "", false)));
  CHECK_FALSE(g.port->device_seen(plug("c1", "", false)));
  CHECK(g.port->device_seen(plug("c1", "", true)));
  g.settle(std::chrono::milliseconds(1300));
  CHECK(g.bridge.admissions.empty());

  // accept_unknown: false refuses; nothing waits.
  Fixture h;
  h.bridge.rules.accept_unknown = false;
  h.hub->attach(h.bridge);
  h.hub->start();
  CHECK_FALSE(h.port->device_seen(plug("u1", "", false)));
  h.settle(std::chrono::milliseconds(1300));
  CHECK_FALSE(h.port->known("u1"));
  CHECK(h.bridge.admissions.empty());
}

TEST_CASE("shutdown drops the devices waiting for admission") {
  Fixture f;
  f.hub->start();
  CHECK(f.port->device_seen(plug("u1", "", false)));
  CHECK_FALSE(f.port->device_seen(plug("u2", "", false)));
  f.hub->shutdown(std::chrono::milliseconds(10));
  f.settle(std::chrono::milliseconds(1300));
  CHECK_FALSE(f.port->known("u2"));
  CHECK(f.bridge.admissions.empty());
}

TEST_CASE("a devices.json written before the Hub was split still loads") {
  Fixture f;
  f.store->store("devices.json", R"({"version":1,"devices":[
    {"bridge":"fake","id":"u9","key":"fake_u9","name":"","configured":false,"manufacturer":"Test",
     "model":"plug","firmware":"1.2","properties":[{"key":"power","component":"switch","writable":true,"main":true,
     "diagnostic":false,"device_class":"","unit":"","state_class":"","icon":"","options":[],"min":0.0,
     "max":100.0,"step":1.0,"precision":-1,"attributes":false,"hidden":false}]},
    {"bridge":"fake","id":"old","key":"old_plug","name":"old_plug","configured":true,"model":"plug"},
    {"id":"no-bridge"}]})");
  f.store->flush();
  f.hub->start();
  CHECK(f.port->known("u9"));
  CHECK_FALSE(f.port->known("old"));
  const auto devices = f.hub->devices_json(false);
  REQUIRE(devices.size() == 1);
  CHECK(devices[0]["firmware"] == "1.2");
  f.connect();
  const auto* power = f.link.last("homeassistant/switch/localcloud_fake_u9/power/config");
  REQUIRE(power != nullptr);
  CHECK(json::parse(power->payload)["command_topic"] == "lc/fake_u9/set/power");
  CHECK(f.link.last("lc/old_plug/availability")->payload.empty());  // left the config: cleared
}
