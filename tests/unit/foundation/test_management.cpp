// Management over MQTT (issue 13): device/rename, permit_join, options, bridge/logging, the
// bridge device in Home Assistant and discovery without churn, against a fake MQTT link and a
// fake bridge (hub_fixture.h).
#include <doctest/doctest.h>

#include <algorithm>

#include "tests/unit/foundation/hub_fixture.h"

using namespace lc;
using namespace lc::test;
using nlohmann::json;
using std::chrono::milliseconds;

namespace {

// Log settings are process-wide: a test that changes them puts them back.
struct LogSettingsGuard {
  Level level = log_settings::level();
  bool trace = log_settings::trace();
  bool mask = log_settings::mask_ids();
  ~LogSettingsGuard() { log_settings::configure(level, trace, mask); }
};

std::string error_of(Fixture& f, std::string_view request, const json& payload) {
  const json answer = f.hub->request(request, payload);
  REQUIRE_MESSAGE(answer["status"] == "error", answer.dump());
  REQUIRE_MESSAGE(answer["error"].is_string(), answer.dump());
  return answer["error"].get<std::string>();
}

bool contains(const std::string& text, std::string_view part) { return text.find(part) != std::string::npos; }

int64_t now_ms() {
  return std::chrono::duration_cast<milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

DeviceInfo select_device(const std::vector<std::string>& options) {
  DeviceInfo info{.id = "s1", .name = "timer", .configured = true, .manufacturer = "Test", .model = "timer"};
  info.properties = {{.key = "mode", .component = Component::select, .writable = true, .options = options}};
  return info;
}

const char* const kPowerConfig = "homeassistant/switch/localcloud_fake_u1/power/config";

}  // namespace

// ---- device/rename ---------------------------------------------------------------------------

TEST_CASE("device/rename moves state, attributes, availability and discovery; the unique_id stays") {
  Fixture f;
  REQUIRE(f.port->device_seen(plug("u1", "", false)));  // unknown: key fake_u1
  f.hub->start();
  f.port->heard("u1");
  f.port->state_changed("u1", "power", "ON");
  f.port->attributes_changed("u1", {{"schedule", 1}});
  f.connect();
  const json before = f.last_json(kPowerConfig);
  CHECK(before["state_topic"] == "lc/fake_u1");
  const size_t mark = f.link.published.size();

  CHECK(f.hub->request("device/rename", {{"from", "fake_u1"}, {"to", "kitchen"}, {"transaction", 1}}) ==
        json{{"status", "ok"}, {"data", {{"from", "fake_u1"}, {"to", "kitchen"}}}, {"transaction", 1}});
  f.settle(milliseconds(1300));  // the state waits a moment after its config changed

  // The old retained topics are cleared (empty and retained), the new ones are there.
  for (const char* topic : {"lc/fake_u1", "lc/fake_u1/attributes", "lc/fake_u1/availability"}) {
    const Published* cleared = f.link.last(topic);
    REQUIRE_MESSAGE(cleared != nullptr, topic);
    CHECK_MESSAGE(cleared->payload.empty(), topic);
    CHECK_MESSAGE(cleared->retained, topic);
  }
  CHECK(f.last_json("lc/kitchen") == json{{"power", "ON"}, {"energy", nullptr}});
  CHECK(f.link.last("lc/kitchen")->retained);
  CHECK(f.link.last("lc/kitchen/availability")->payload == "online");
  CHECK(f.last_json("lc/kitchen/attributes") == json{{"schedule", 1}});
  // Discovery: the same config topic and unique_id (Home Assistant keeps the entity and its
  // history), the new topics and device name; published before the new state.
  const json after = f.last_json(kPowerConfig);
  CHECK(after["unique_id"] == before["unique_id"]);
  CHECK(after["default_entity_id"] == "switch.kitchen_power");
  CHECK(after["state_topic"] == "lc/kitchen");
  CHECK(after["command_topic"] == "lc/kitchen/set/power");
  CHECK(after["availability"][1]["topic"] == "lc/kitchen/availability");
  CHECK(after["device"]["name"] == "kitchen");
  CHECK(f.link.index_of(kPowerConfig, mark) < f.link.index_of("lc/kitchen", mark));
  CHECK(f.link.last("homeassistant/switch/localcloud_fake_u1/power/config")->payload.size() > 0);

  // Commands follow the key; the old key is nobody's.
  f.link.handlers.message("lc/kitchen/set/power", "OFF", false);
  f.link.handlers.message("lc/fake_u1/set/power", "OFF", false);
  CHECK(f.bridge.commands.size() == 1);
  f.settle(milliseconds(1100));
  CHECK(json::parse(f.link.last("lc/bridge/devices")->payload)[0]["key"] == "kitchen");
  CHECK(f.hub->devices_json(false)[0]["name"] == "kitchen");

  // Renaming back to its own unnamed key is allowed; so is renaming to the name it has.
  CHECK(f.hub->request("device/rename", {{"from", "kitchen"}, {"to", "kitchen"}})["status"] == "ok");
  CHECK(f.hub->request("device/rename", {{"from", "kitchen"}, {"to", "fake_u1"}})["status"] == "ok");
  CHECK(f.hub->devices_json(false)[0]["name"].is_null());
  f.settle(milliseconds(1300));
  CHECK(f.link.last("lc/kitchen")->payload.empty());
  CHECK(f.last_json("lc/fake_u1")["power"] == "ON");
}

TEST_CASE("device/rename refuses, changing nothing: config names, names in use, reserved and invalid names") {
  Fixture f;
  f.port->device_seen(plug("u1", "", false));
  f.port->device_seen(plug("c1", "", true));       // configured without a name: may be renamed
  f.port->device_seen(plug("n1", "named", true));  // named in the config file: may not
  f.hub->start();
  f.connect();
  const size_t published = f.link.published.size();

  CHECK(contains(error_of(f, "device/rename", {{"from", "named"}, {"to", "other"}}), "named in the config file"));
  CHECK(contains(error_of(f, "device/rename", {{"from", "fake_u1"}, {"to", "named"}}), "in use"));
  CHECK(contains(error_of(f, "device/rename", {{"from", "fake_u1"}, {"to", "fake_c1"}}), "in use"));
  CHECK(contains(error_of(f, "device/rename", {{"from", "fake_u1"}, {"to", "bridge"}}), "reserved"));
  for (const std::string& bad : std::vector<std::string>{"a/b", "a+b", "#", "", "two words", "fake_u7",
                                                         std::string(129, 'x'), "caf\xc3\xa9"})
    CHECK_MESSAGE(contains(error_of(f, "device/rename", {{"from", "fake_u1"}, {"to", bad}}), "invalid name"), bad);
  CHECK(error_of(f, "device/rename", {{"from", "nobody"}, {"to", "x"}}) == "no device 'nobody'");
  // Malformed requests are answered too.
  for (const json& malformed : {json("fake_u1"), json::object(), json{{"from", "fake_u1"}}, json{{"from", 1}, {"to", "x"}},
                                json{{"from", "fake_u1"}, {"to", nullptr}}, json::array({1, 2})})
    CHECK_MESSAGE(contains(error_of(f, "device/rename", malformed), "device/rename takes"), malformed.dump());
  CHECK(contains(error_of(f, "device/rename", {{"from", "fake_u1"}, {"to", "x"}, {"homeassistant_rename", true}}),
                 "unknown key 'homeassistant_rename'"));
  CHECK(f.link.published.size() == published);  // nothing published, nothing changed
  CHECK(f.hub->devices_json(false).size() == 3);

  // On MQTT: the same answers, with the transaction, also for a payload that is not JSON.
  f.link.handlers.message("lc/bridge/request/device/rename", R"({"from":"named","to":"x","transaction":9})", false);
  const json answer = f.last_json("lc/bridge/response/device/rename");
  CHECK(answer["status"] == "error");
  CHECK(answer["transaction"] == 9);
  f.link.handlers.message("lc/bridge/request/device/rename", "{not json", false);
  CHECK(f.last_json("lc/bridge/response/device/rename")["status"] == "error");
  f.link.handlers.message("lc/bridge/request/device/rename", R"({"from":"fake_c1","to":"boiler"})", false);
  CHECK(f.last_json("lc/bridge/response/device/rename") ==
        json{{"status", "ok"}, {"data", {{"from", "fake_c1"}, {"to", "boiler"}}}});
}

TEST_CASE("a rename is kept in data_dir across a restart; a name given in the config later wins") {
  Fixture f;
  f.port->device_seen(plug("u1", "", false));
  f.port->device_seen(plug("c1", "", true));
  f.hub->start();
  f.connect();
  REQUIRE(f.hub->request("device/rename", {{"from", "fake_u1"}, {"to", "kitchen"}})["status"] == "ok");
  REQUIRE(f.hub->request("device/rename", {{"from", "fake_c1"}, {"to", "boiler"}})["status"] == "ok");

  f.restart();
  f.port->device_seen(plug("c1", "", true));  // the config still gives it no name
  f.hub->start();
  CHECK(f.port->known("u1"));
  f.connect();
  CHECK(f.link.last("lc/kitchen/availability") != nullptr);
  CHECK(f.link.last("lc/boiler/availability") != nullptr);
  CHECK(f.link.last("lc/fake_c1/availability") == nullptr);
  CHECK(f.last_json("homeassistant/switch/localcloud_fake_c1/power/config")["state_topic"] == "lc/boiler");
  CHECK(f.last_json(kPowerConfig)["state_topic"] == "lc/kitchen");
  CHECK(f.hub->request("device/rename", {{"from", "boiler"}, {"to", "boiler2"}})["status"] == "ok");  // still renamable

  // The config now names it: that name wins, and the renamed key's topics are cleared.
  f.restart();
  f.port->device_seen(plug("c1", "heater", true));
  f.hub->start();
  f.connect();
  CHECK(f.link.last("lc/heater/availability") != nullptr);
  const Published* old = f.link.last("lc/boiler2/availability");
  REQUIRE(old != nullptr);
  CHECK(old->payload.empty());
  CHECK(contains(error_of(f, "device/rename", {{"from", "heater"}, {"to", "x"}}), "named in the config file"));
}

// ---- permit_join -----------------------------------------------------------------------------

TEST_CASE("permit_join admits unknown devices only while open; its end is a timer shown in bridge/info") {
  Fixture f;
  f.bridge.rules.accept_unknown = false;
  f.bridge.rules.max_unknown = 5;
  f.hub->attach(f.bridge);
  f.hub->start();
  f.connect();
  CHECK_FALSE(f.port->device_seen(plug("u1", "", false)));
  json info = f.last_json("lc/bridge/info");
  CHECK(info["permit_join"] == false);
  CHECK(info["permit_join_end"].is_null());
  CHECK(info["bridges"]["fake"]["accept_unknown"] == false);

  const int64_t asked = now_ms();
  const json answer = f.hub->request("permit_join", {{"time", 1}, {"transaction", "t"}});
  CHECK(answer["status"] == "ok");
  CHECK(answer["transaction"] == "t");
  CHECK(answer["data"]["time"] == 1);
  CHECK(answer["data"]["bridge"].is_null());
  f.settle();
  info = f.last_json("lc/bridge/info");
  CHECK(info["permit_join"] == true);
  CHECK(info["bridges"]["fake"]["permit_join"] == true);
  CHECK(std::abs(info["permit_join_end"].get<int64_t>() - (asked + 1000)) < 500);
  CHECK(f.port->device_seen(plug("u1", "", false)));  // admitted while open

  f.settle(milliseconds(1200));  // the window's timer closes it
  info = f.last_json("lc/bridge/info");
  CHECK(info["permit_join"] == false);
  CHECK(info["permit_join_end"].is_null());
  CHECK_FALSE(f.port->device_seen(plug("u2", "", false)));
  CHECK(f.port->known("u1"));  // what joined stays

  // For one bridge, closed early with time 0.
  CHECK(f.hub->request("permit_join", {{"time", 60}, {"bridge", "fake"}})["data"]["bridge"] == "fake");
  f.settle();
  CHECK(f.last_json("lc/bridge/info")["permit_join"] == true);
  CHECK(f.hub->request("permit_join", {{"time", 0}})["status"] == "ok");
  f.settle();
  CHECK(f.last_json("lc/bridge/info")["permit_join"] == false);
  f.settle(milliseconds(1100));  // past the one-new-device-a-second rate
  CHECK_FALSE(f.port->device_seen(plug("u3", "", false)));

  // The Home Assistant switch's payloads, over MQTT.
  f.link.handlers.message("lc/bridge/request/permit_join", R"({"time": 300})", false);
  CHECK(f.last_json("lc/bridge/response/permit_join")["status"] == "ok");
  f.link.handlers.message("lc/bridge/request/permit_join", R"({"time": 0})", false);
  f.settle();
  CHECK(f.last_json("lc/bridge/info")["permit_join"] == false);

  // Mistakes.
  for (const json& bad : {json{{"time", -1}}, json{{"time", 3601}}, json{{"time", 1.5}}, json{{"time", "10"}},
                          json{{"time", nullptr}}})
    CHECK_MESSAGE(contains(error_of(f, "permit_join", bad), "whole number of seconds"), bad.dump());
  for (const json& bad : {json::object(), json("on"), json(true), json::array()})
    CHECK_MESSAGE(contains(error_of(f, "permit_join", bad), "permit_join takes"), bad.dump());
  CHECK(contains(error_of(f, "permit_join", {{"value", true}}), "unknown key 'value'"));
  CHECK(contains(error_of(f, "permit_join", {{"time", 10}, {"bridge", "nope"}}), "no bridge 'nope' (running: fake)"));
  CHECK(contains(error_of(f, "permit_join", {{"time", 10}, {"bridge", 3}}), "bridge must be"));
  CHECK(f.last_json("lc/bridge/info")["permit_join"] == false);
}

TEST_CASE("permit_join has nothing to open on a bridge that registers only configured devices") {
  Fixture f;
  f.bridge.rules.accept_unknown = false;
  f.bridge.rules.max_unknown = 0;
  f.hub->attach(f.bridge);
  f.hub->start();
  CHECK(contains(error_of(f, "permit_join", {{"time", 10}, {"bridge", "fake"}}), "max_unknown is 0"));
  CHECK(contains(error_of(f, "permit_join", {{"time", 10}}), "no running bridge"));
  CHECK(f.hub->request("permit_join", {{"time", 0}})["status"] == "ok");  // closing is always fine
}

TEST_CASE("permit_join still holds max_unknown") {
  Fixture f;
  f.bridge.rules.accept_unknown = false;
  f.bridge.rules.max_unknown = 1;
  f.hub->attach(f.bridge);
  f.hub->start();
  REQUIRE(f.hub->request("permit_join", {{"time", 60}})["status"] == "ok");
  CHECK(f.port->device_seen(plug("u1", "", false)));
  f.settle(milliseconds(1100));
  CHECK_FALSE(f.port->device_seen(plug("u2", "", false)));
}

// ---- options ---------------------------------------------------------------------------------

TEST_CASE("options change the log level, trace and bridge/logging at once, or nothing") {
  LogSettingsGuard guard;
  log_settings::configure(Level::info, false, true);
  Fixture f;
  f.hub->start();
  f.connect();
  const json answer = f.hub->request(
      "options", {{"options", {{"log", {{"level", "debug"}, {"trace", true}, {"mqtt", "info"}}}}}, {"transaction", 2}});
  CHECK(answer == json{{"status", "ok"},
                       {"data", {{"restart_required", false},
                                 {"options", {{"log", {{"level", "debug"}, {"trace", true}, {"mqtt", "info"}}}}}}},
                       {"transaction", 2}});
  CHECK(log_settings::level() == Level::debug);
  CHECK(log_settings::trace());
  json info = f.last_json("lc/bridge/info");
  CHECK(info["log_level"] == "debug");
  CHECK(info["options"]["log"] == json{{"level", "debug"}, {"trace", true}, {"mqtt", "info"}});
  CHECK(info["config"]["log"]["level"] == "info");  // the file is not changed

  // bridge/logging now carries info lines.
  Logger("test").info("hello from the test");
  f.settle();
  CHECK(f.last_json("lc/bridge/logging") ==
        json{{"level", "info"}, {"bridge", "test"}, {"message", "hello from the test"}});

  // Any other key is an error naming it; nothing is applied.
  CHECK(contains(error_of(f, "options", {{"options", {{"log", {{"level", "error"}, {"mask_ids", false}}}}}}),
                 "'log.mask_ids' cannot be changed at run time"));
  CHECK(contains(error_of(f, "options", {{"options", {{"mqtt", {{"url", "mqtt://x"}}}}}}), "'mqtt' cannot be changed"));
  CHECK(contains(error_of(f, "options", {{"options", {{"log", {{"level", "loud"}}}}}}), "log.level"));
  CHECK(contains(error_of(f, "options", {{"options", {{"log", {{"trace", "yes"}}}}}}), "log.trace"));
  CHECK(contains(error_of(f, "options", {{"options", {{"log", {{"mqtt", "verbose"}}}}}}), "log.mqtt"));
  CHECK(contains(error_of(f, "options", {{"options", {{"log", 1}}}}), "'log' must be an object"));
  CHECK(contains(error_of(f, "options", {{"log", {{"level", "warn"}}}}), "options takes"));
  CHECK(contains(error_of(f, "options", json("debug")), "options takes"));
  CHECK(contains(error_of(f, "options", {{"options", json::object()}, {"extra", 1}}), "unknown key 'extra'"));
  CHECK(log_settings::level() == Level::debug);

  // The Home Assistant select's command template, over MQTT.
  f.link.handlers.message("lc/bridge/request/options", R"({"options": {"log": {"level": "warn"}}})", false);
  CHECK(f.last_json("lc/bridge/response/options")["status"] == "ok");
  CHECK(log_settings::level() == Level::warn);
  CHECK(f.last_json("lc/bridge/info")["log_level"] == "warn");
  // log.mqtt off: nothing on bridge/logging.
  REQUIRE(f.hub->request("options", {{"options", {{"log", {{"mqtt", "off"}, {"trace", false}}}}}})["status"] == "ok");
  f.settle();
  const size_t lines = f.link.count("lc/bridge/logging");
  Logger("test").error("not on MQTT");
  f.settle();
  CHECK(f.link.count("lc/bridge/logging") == lines);
  CHECK(f.last_json("lc/bridge/info")["options"]["log"]["mqtt"] == "off");
}

// ---- bridge/logging --------------------------------------------------------------------------

TEST_CASE("bridge/logging: lines at or above log.mqtt, masked, never recursive, rate-limited") {
  LogSettingsGuard guard;
  log_settings::configure(Level::error, false, true);  // stderr quiet; the observer hears warn
  Fixture f;  // log.mqtt: warn (the default)
  f.hub->start();
  f.connect();
  const Logger log("fake");
  size_t mark = f.link.published.size();
  log.info("below the threshold");
  log.warn("device ", mask_id("0a1b2c3d"), " misbehaves");
  f.settle();
  std::vector<json> lines;
  for (const auto& p : f.since(mark))
    if (p.topic == "lc/bridge/logging") lines.push_back(json::parse(p.payload));
  REQUIRE(lines.size() == 1);
  CHECK(lines[0]["level"] == "warn");
  CHECK(lines[0]["bridge"] == "fake");
  CHECK(lines[0]["message"] == "device " + mask_id("0a1b2c3d") + " misbehaves");
  CHECK_FALSE(contains(lines[0]["message"].get<std::string>(), "0a1b2c3d"));
  CHECK_FALSE(f.link.last("lc/bridge/logging")->retained);

  // A link that logs while it publishes (as a failed publish does): its lines are not published.
  f.link.on_publish = [](const std::string& topic) {
    if (topic == "lc/bridge/logging") Logger("link").warn("published on ", topic);
  };
  f.settle(milliseconds(2100));  // the bucket fills up again
  mark = f.link.published.size();
  log.warn("once");
  f.settle();
  CHECK(f.link.count("lc/bridge/logging") == 2);

  // A flood: the first lines pass, the rest is counted into one line a second later.
  constexpr int kFlood = 1000;
  for (int i = 0; i < kFlood; ++i) log.warn("flood ", i);
  f.settle(milliseconds(100));
  size_t passed = 0;
  for (const auto& p : f.since(mark))
    if (p.topic == "lc/bridge/logging" && contains(p.payload, "flood")) ++passed;
  CHECK(passed >= static_cast<size_t>(MqttLogging::kBurst) - 2);
  CHECK(passed <= static_cast<size_t>(MqttLogging::kBurst) + 2);
  f.settle(milliseconds(1200));
  const json note = f.last_json("lc/bridge/logging");
  const std::string text = note["message"];
  CHECK(note["level"] == "warn");
  CHECK(text == std::to_string(kFlood - passed) + " log lines dropped (bridge/logging carries at most 10 lines a second)");
  size_t total = 0;
  for (const auto& p : f.since(mark)) total += p.topic == "lc/bridge/logging";
  CHECK(total == passed + 2);  // "once", the flood's first lines, the note
  f.link.on_publish = nullptr;
}

// ---- discovery: the bridge device and no churn ---------------------------------------------------

TEST_CASE("the bridge device: connection, version, log level and permit_join; every device is via it") {
  Fixture f([](config::Config& c) {
    c.api.public_url = "http://192.168.1.10:8080";
    c.mqtt.client_id = "site-a";
  });
  f.port->device_seen(plug("d1", "desk"));
  f.hub->start();
  f.link.up = true;
  f.link.handlers.connected();
  f.settle();
  // At connection, before the sync: bridge/state, the bridge's configs, then bridge/info.
  const std::string connection = "homeassistant/binary_sensor/localcloud_bridge_site-a/connection_state/config";
  const std::string version = "homeassistant/sensor/localcloud_bridge_site-a/version/config";
  const std::string log_level = "homeassistant/select/localcloud_bridge_site-a/log_level/config";
  const std::string permit = "homeassistant/switch/localcloud_bridge_site-a/permit_join/config";
  CHECK(f.link.index_of("lc/bridge/state") < f.link.index_of(connection));
  CHECK(f.link.index_of(permit) < f.link.index_of("lc/bridge/info"));
  const json c = f.last_json(connection);
  CHECK(c["state_topic"] == "lc/bridge/state");
  CHECK(c["device_class"] == "connectivity");
  CHECK((c["payload_on"] == "online" && c["payload_off"] == "offline"));
  CHECK_FALSE(c.contains("availability"));
  CHECK(c["device"]["identifiers"] == json::array({"localcloud_bridge_site-a"}));
  CHECK(c["device"]["configuration_url"] == "http://192.168.1.10:8080");
  CHECK(c["unique_id"] == "localcloud_bridge_site-a_connection_state");
  CHECK(c["default_entity_id"] == "binary_sensor.site_a_bridge_connection_state");
  CHECK_FALSE(c.contains("object_id"));
  CHECK(f.last_json(version)["value_template"] == "{{ value_json.version }}");
  const json select = f.last_json(log_level);
  CHECK(select["command_topic"] == "lc/bridge/request/options");
  CHECK(select["options"] == json::array({"debug", "info", "warn", "error"}));
  CHECK(select["value_template"] == "{{ value_json.log_level }}");
  // The select's command, rendered as Home Assistant would, is a valid options request.
  std::string rendered = select["command_template"];
  rendered.replace(rendered.find("{{ value }}"), 11, "error");
  CHECK(json::parse(rendered) == json{{"options", {{"log", {{"level", "error"}}}}}});
  const json sw = f.last_json(permit);
  CHECK(sw["command_topic"] == "lc/bridge/request/permit_join");
  CHECK(json::parse(sw["payload_on"].get<std::string>()) == json{{"time", Publisher::kPermitJoinSwitchSeconds}});
  CHECK(json::parse(sw["payload_off"].get<std::string>()) == json{{"time", 0}});
  CHECK((sw["state_on"] == "ON" && sw["state_off"] == "OFF"));

  f.settle(milliseconds(1200));  // the sync
  const json power = f.last_json("homeassistant/switch/localcloud_fake_d1/power/config");
  CHECK(power["device"]["via_device"] == "localcloud_bridge_site-a");
  CHECK(power["device"]["configuration_url"] == "http://192.168.1.10:8080");
  CHECK_FALSE(power.contains("object_id"));
  CHECK(f.link.count(connection) == 1);  // once a connection
}

TEST_CASE("no churn: a config goes out once a connection, and again only when its content changed") {
  Fixture f;
  f.port->device_seen(plug("d1", "desk"));
  f.hub->start();
  f.connect();
  const std::string topic = "homeassistant/switch/localcloud_fake_d1/power/config";
  const std::string bridge_topic = "homeassistant/select/localcloud_bridge_localcloud/log_level/config";
  CHECK(f.link.count(topic) == 1);
  CHECK(f.link.count(bridge_topic) == 1);
  CHECK(f.last_json(topic)["device"]["via_device"] == "localcloud_bridge_localcloud");
  CHECK_FALSE(f.last_json(topic)["device"].contains("configuration_url"));  // no api.public_url

  f.port->device_seen(plug("d1", "desk"));  // the same description: nothing
  f.settle(milliseconds(500));
  CHECK(f.link.count(topic) == 1);

  DeviceInfo changed = plug("d1", "desk");  // changes in quick succession: one publication
  for (const char* firmware : {"2.0", "2.1", "2.2"}) {
    changed.firmware = firmware;
    f.port->device_seen(changed);
    f.settle(milliseconds(20));
  }
  f.settle(milliseconds(500));
  CHECK(f.link.count(topic) == 2);
  CHECK(f.last_json(topic)["device"]["sw_version"] == "2.2");

  f.link.handlers.message("homeassistant/status", "online", true);  // a retained birth is old news
  f.settle(milliseconds(2200));
  CHECK(f.link.count(topic) == 2);
  f.link.handlers.message("homeassistant/status", "online", false);  // Home Assistant's birth
  f.settle(milliseconds(2200));
  CHECK(f.link.count(topic) == 3);
  CHECK(f.link.count(bridge_topic) == 2);

  f.link.handlers.disconnected();  // a new connection: once more
  f.connect();
  CHECK(f.link.count(topic) == 4);
  CHECK(f.link.count(bridge_topic) == 3);
}

TEST_CASE("no state before its device's configs; held while Home Assistant applies a changed config") {
  Fixture f;
  f.hub->start();
  f.connect();
  size_t mark = f.link.published.size();
  f.port->device_seen(plug("d1", "desk"));
  f.port->heard("d1");
  f.port->state_changed("d1", "power", "ON");
  f.settle(milliseconds(100));
  CHECK(f.link.index_of("lc/desk", mark) == f.link.published.size());  // not yet: the configs are not out
  f.settle(milliseconds(500));
  const size_t config_at = f.link.index_of("homeassistant/switch/localcloud_fake_d1/power/config", mark);
  const size_t state_at = f.link.index_of("lc/desk", mark);
  CHECK(config_at < f.link.published.size());
  CHECK(state_at < f.link.published.size());
  CHECK(config_at < state_at);

  // A select whose options change (a schedule's name read later, say): the config goes out,
  // and the state that needs it waits a moment, then goes out again.
  const std::string select = "homeassistant/select/localcloud_fake_s1/mode/config";
  f.port->device_seen(select_device({"a", "b"}));
  f.port->heard("s1");
  f.port->state_changed("s1", "mode", "a");
  f.settle(milliseconds(600));
  CHECK(f.last_json("lc/timer")["mode"] == "a");
  mark = f.link.published.size();
  f.port->device_seen(select_device({"a", "b", "c"}));
  f.port->state_changed("s1", "mode", "c");
  f.settle(milliseconds(600));
  CHECK(f.last_json(select)["options"] == json::array({"a", "b", "c"}));
  CHECK(f.link.index_of("lc/timer", mark) == f.link.published.size());  // held
  f.settle(milliseconds(1000));
  CHECK(f.last_json("lc/timer")["mode"] == "c");
  CHECK(f.link.index_of(select, mark) < f.link.index_of("lc/timer", mark));
  CHECK(f.link.count("lc/timer") == 2);
}
