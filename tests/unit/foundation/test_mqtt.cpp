// app/: command normalisation, topic naming and classification, discovery payloads.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "app/command_value.h"
#include "app/mqtt/discovery.h"
#include "app/mqtt/topics.h"

using namespace lc;
using nlohmann::json;

namespace {
Property switch_property() { return {.key = "power", .component = Component::switch_, .writable = true}; }
}  // namespace

TEST_CASE("binary commands accept the usual spellings") {
  const auto power = switch_property();
  for (const json& on : {json("ON"), json("on"), json("On"), json("true"), json("1"), json(true), json(1)})
    CHECK_MESSAGE(normalise_command(power, on).value == "ON", on.dump());
  for (const json& off : {json("OFF"), json("off"), json("false"), json("0"), json(false), json(0)})
    CHECK_MESSAGE(normalise_command(power, off).value == "OFF", off.dump());
  CHECK(normalise_command(power, "TOGGLE").value == "TOGGLE");
  CHECK(normalise_command(power, "toggle").value == "TOGGLE");
  for (const json& bad : {json("maybe"), json(2), json(nullptr), json::array(), json::object(), json(0.5)})
    CHECK_MESSAGE(!normalise_command(power, bad).error.empty(), bad.dump());
}

TEST_CASE("selects, numbers and read-only properties") {
  Property mode{.key = "mode", .component = Component::select, .writable = true, .options = {"green", "normal"}};
  CHECK(normalise_command(mode, "green").value == "green");
  CHECK(normalise_command(mode, "NORMAL").value == "normal");
  CHECK(normalise_command(mode, "turbo").error == "expected one of: green, normal");
  Property price{.key = "power_price", .component = Component::number, .writable = true, .min = 0, .max = 999};
  CHECK(normalise_command(price, 12.5).value == 12.5);
  CHECK(normalise_command(price, "12.5").value == 12.5);
  CHECK_FALSE(normalise_command(price, "12.5x").error.empty());
  CHECK_FALSE(normalise_command(price, 1000).error.empty());
  CHECK_FALSE(normalise_command(price, "nan").error.empty());
  Property load{.key = "load_power", .component = Component::sensor, .unit = "W"};
  CHECK(normalise_command(load, 5).error == "property 'load_power' is read-only");
}

TEST_CASE("plain payloads and /set JSON") {
  CHECK(plain_payload("ON") == "ON");
  CHECK(plain_payload("12.5") == 12.5);
  CHECK(plain_payload("true") == true);
  CHECK(plain_payload("{\"a\":1}") == "{\"a\":1}");  // objects are not values
  const auto request = parse_set_payload(R"({"power":"OFF","mode":"green"})");
  CHECK(request.error.empty());
  REQUIRE(request.entries.size() == 2);
  CHECK_FALSE(parse_set_payload("OFF").error.empty());
  CHECK_FALSE(parse_set_payload("[1]").error.empty());
  CHECK_FALSE(parse_set_payload("{}").error.empty());
  CHECK_FALSE(parse_set_payload(std::string(10000, ' ')).error.empty());
}

TEST_CASE("device keys and topics") {
  CHECK(topics::device_key("miio", "01020304", "") == "miio_01020304");
  CHECK(topics::device_key("vesync", "443C878F-F675", "") == "vesync_443c878f-f675");
  CHECK(topics::device_key("miio", "01020304", "living_room_strip") == "living_room_strip");
  CHECK(topics::state("lc", "plug") == "lc/plug");
  CHECK(topics::availability("lc", "plug") == "lc/plug/availability");
  CHECK(topics::attributes("lc", "plug") == "lc/plug/attributes");
  CHECK(topics::bridge_state("lc") == "lc/bridge/state");
  CHECK(topics::valid_level("desk_lamp"));
  for (const char* bad : {"", "a/b", "a+", "#", "a b"}) CHECK_FALSE(topics::valid_level(bad));
}

TEST_CASE("incoming topics are classified") {
  using Kind = topics::Incoming::Kind;
  auto in = topics::classify("lc", "lc/plug/set");
  REQUIRE(in);
  CHECK((in->kind == Kind::set && in->key == "plug"));
  in = topics::classify("lc", "lc/plug/set/power");
  REQUIRE(in);
  CHECK((in->kind == Kind::set_property && in->property == "power"));
  in = topics::classify("lc", "lc/plug/get");
  REQUIRE(in);
  CHECK(in->kind == Kind::get);
  in = topics::classify("lc", "lc/bridge/request/remove");
  REQUIRE(in);
  CHECK((in->kind == Kind::request && in->request == "remove"));
  in = topics::classify("lc", "lc/bridge/request/device/remove");
  REQUIRE(in);
  CHECK((in->kind == Kind::request && in->request == "device/remove"));
  for (const char* bad : {"lc/bridge/request/device/", "lc/bridge/request/a/b/c", "lc/bridge/request//remove"})
    CHECK_MESSAGE(!topics::classify("lc", bad), bad);
  in = topics::classify("lc", "lc/plug");
  REQUIRE(in);
  CHECK(in->kind == Kind::state);
  for (const char* other : {"lc", "lc/", "lcx/plug/set", "other/plug/set", "lc/plug/availability", "lc/bridge/state",
                            "lc/plug/set/", "lc/plug/set/a/b", "lc/bridge"})
    CHECK_MESSAGE(!topics::classify("lc", other), other);
}

TEST_CASE("discovery payloads follow docs/mqtt.md") {
  DeviceInfo device{.id = "01020304", .name = "strip", .configured = true, .manufacturer = "Xiaomi",
                    .model = "qmi.powerstrip.v1", .firmware = "3.4.2_71"};
  device.properties = {
      {.key = "power", .component = Component::switch_, .writable = true, .main = true, .device_class = "outlet"},
      {.key = "load_power", .component = Component::sensor, .device_class = "power", .unit = "W", .state_class = "measurement"},
      {.key = "mode", .component = Component::select, .writable = true, .options = {"green", "normal"}},
      {.key = "power_price", .component = Component::number, .writable = true, .min = 0, .max = 999, .step = 1},
      {.key = "rssi", .component = Component::sensor, .diagnostic = true, .device_class = "signal_strength", .unit = "dBm"},
      {.key = "relay", .component = Component::binary_sensor, .attributes = true},
      {.key = "raw", .component = Component::sensor, .writable = true, .hidden = true},  // no entity
  };
  discovery::Options options{.prefix = "homeassistant", .base = "lc", .version = "0.1.0"};
  const auto messages = discovery::build(options, "miio", device, "strip");
  REQUIRE(messages.size() == 6);
  CHECK(messages[0].topic == "homeassistant/switch/localcloud_miio_01020304/power/config");
  const json power = json::parse(messages[0].payload);
  CHECK(power["unique_id"] == "localcloud_miio_01020304_power");
  CHECK(power["name"].is_null());
  CHECK(power["device"]["identifiers"] == json::array({"localcloud_miio_01020304"}));
  CHECK(power["device"]["manufacturer"] == "Xiaomi");
  CHECK(power["device"]["model"] == "qmi.powerstrip.v1");
  CHECK(power["device"]["sw_version"] == "3.4.2_71");
  CHECK(power["device"]["name"] == "strip");
  CHECK(power["origin"]["name"] == "localcloud");
  CHECK(power["availability_mode"] == "all");
  CHECK(power["availability"][0]["topic"] == "lc/bridge/state");
  CHECK(power["availability"][1]["topic"] == "lc/strip/availability");
  CHECK(power["state_topic"] == "lc/strip");
  CHECK(power["value_template"] == "{{ value_json.power }}");
  CHECK(power["command_topic"] == "lc/strip/set/power");
  CHECK(power["default_entity_id"] == "switch.strip_power");
  CHECK_FALSE(power.contains("object_id"));  // gone from Home Assistant in 2026.4
  CHECK(power["device"]["via_device"] == "localcloud_bridge_localcloud");
  CHECK_FALSE(power["device"].contains("configuration_url"));
  const json load = json::parse(messages[1].payload);
  CHECK(messages[1].topic == "homeassistant/sensor/localcloud_miio_01020304/load_power/config");
  CHECK(load["name"] == "Load power");
  CHECK((load["device_class"] == "power" && load["unit_of_measurement"] == "W" && load["state_class"] == "measurement"));
  CHECK_FALSE(load.contains("command_topic"));
  const json mode = json::parse(messages[2].payload);
  CHECK(mode["options"] == json::array({"green", "normal"}));
  const json price = json::parse(messages[3].payload);
  CHECK((price["min"] == 0 && price["max"] == 999 && price["step"] == 1));
  CHECK(json::parse(messages[4].payload)["entity_category"] == "diagnostic");
  const json relay = json::parse(messages[5].payload);
  CHECK(relay["json_attributes_topic"] == "lc/strip/attributes");
  CHECK(messages[5].topic == "homeassistant/binary_sensor/localcloud_miio_01020304/relay/config");
}

TEST_CASE("default_entity_id is a valid Home Assistant entity id") {
  CHECK(discovery::entity_slug("Kitchen-Plug_power") == "kitchen_plug_power");
  CHECK(discovery::entity_slug("vesync_443c878f-f675-4c90-98e8-2f4566914d39_energy") ==
        "vesync_443c878f_f675_4c90_98e8_2f4566914d39_energy");
  CHECK(discovery::entity_slug("__a--b__") == "a_b");
  CHECK(discovery::entity_slug("a.b:c(d)") == "a_b_c_d");
  CHECK(discovery::entity_slug("---") == "device");
  CHECK(discovery::default_entity_id(Component::switch_, "Kitchen-Plug", "power") == "switch.kitchen_plug_power");
  CHECK(discovery::default_entity_id(Component::binary_sensor, "timeguard_1234abcd", "load_detected") ==
        "binary_sensor.timeguard_1234abcd_load_detected");
  DeviceInfo device{.id = "443c878f-f675", .name = "", .configured = false, .manufacturer = "Etekcity"};
  device.properties = {{.key = "energy", .component = Component::sensor, .device_class = "energy", .unit = "kWh",
                        .state_class = "total_increasing"},
                       {.key = "rssi", .component = Component::sensor, .diagnostic = true,
                        .enabled_by_default = false, .device_class = "signal_strength", .unit = "dBm"}};
  discovery::Options options{.prefix = "homeassistant", .base = "lc", .version = "0.1.0", .client_id = "localcloud",
                             .configuration_url = "http://10.0.0.2:8080"};
  const auto messages = discovery::build(options, "vesync", device, "vesync_443c878f-f675");
  REQUIRE(messages.size() == 2);
  const json energy = json::parse(messages[0].payload);
  CHECK(energy["default_entity_id"] == "sensor.vesync_443c878f_f675_energy");
  CHECK(energy["device"]["configuration_url"] == "http://10.0.0.2:8080");
  CHECK_FALSE(energy.contains("enabled_by_default"));
  CHECK(json::parse(messages[1].payload)["enabled_by_default"] == false);
}
