// The MIoT codec (docs/protocols/miio.md "MIoT over the local protocol") against the shipped
// definitions and small definitions written here.
#include <doctest/doctest.h>

#include "bridges/miio/miot.h"
#include "bridges/miio/model_loader.h"
#include "bridges/miio/shipped_models.h"

using namespace lc::miio;
using namespace lc::miio::miot;

namespace {

const ModelDef& shipped(const char* model) {
  const ModelDef* def = find_shipped_model(model);
  REQUIRE_MESSAGE(def != nullptr, model);
  return *def;
}

ModelDef load_one(const std::string& yaml) {
  std::vector<lc::config::Diagnostic> diagnostics;
  auto models = load_models(yaml, "t.yaml", diagnostics);
  for (const auto& d : diagnostics) MESSAGE(d.text());
  REQUIRE(models.size() == 1);
  return models[0];
}

// A MIoT model with `count` sensors at 3/1, 3/2, ... whose keys are `prefix` + index.
ModelDef sensors(int count, const std::string& prefix = "s") {
  std::string yaml = "models:\n  - model: test.sensors\n    protocol: miot\n    properties:\n";
  for (int i = 1; i <= count; ++i)
    yaml += "      - { key: " + prefix + std::to_string(i) + ", component: sensor, siid: 3, piid: " + std::to_string(i) + " }\n";
  return load_one(yaml);
}

const PropDef& prop(const ModelDef& model, const char* key) {
  const PropDef* p = find_prop(model, key);
  REQUIRE_MESSAGE(p != nullptr, key);
  return *p;
}

// A test model with one property of each format and kind.
const ModelDef& formats() {
  static const ModelDef model = load_one(R"(models:
  - model: test.formats
    protocol: miot
    properties:
      - { key: power, component: switch, siid: 2, piid: 1, main: true }
      - { key: relay, component: switch, siid: 2, piid: 2, format: uint8 }
      - { key: level, component: number, siid: 2, piid: 3, format: uint16, scale: 0.1, min: 0, max: 100 }
      - { key: target, component: number, siid: 2, piid: 4, format: float, min: -10, max: 40, step: 0.5 }
      - { key: mode, component: select, siid: 2, piid: 5, format: uint8, options: { 0: auto, 1: eco, 2: boost } }
      - { key: label, component: select, siid: 2, piid: 6, format: string, options: [a, b] }
      - { key: note, component: sensor, siid: 2, piid: 7, format: string }
      - { key: fault, component: binary_sensor, siid: 2, piid: 8 }
      - { key: power_w, component: sensor, siid: 3, piid: 1, format: uint32, scale: 0.01, unit: W, device_class: power }
      - { key: locked, component: switch, siid: 4, piid: 1, writable: false }
      - { key: toggle, component: button, siid: 2, aiid: 1 }
)");
  return model;
}

}  // namespace

TEST_CASE("get_properties requests: entries, order, and the 15-entry split") {
  const auto reads = property_reads(shipped("chuangmi.plug.212a01"));
  REQUIRE(reads.size() == 1);
  CHECK(reads[0].call.method == "get_properties");
  CHECK(reads[0].call.params.size() == 8);
  CHECK(reads[0].call.params[0].dump() == R"({"did":"power","piid":1,"siid":2})");
  CHECK(reads[0].call.params[2].dump() == R"({"did":"load_power","piid":6,"siid":5})");
  CHECK(reads[0].props[2]->property.key == "load_power");

  const ModelDef model20 = sensors(20);  // the reads point into it
  const auto twenty = property_reads(model20);
  REQUIRE(twenty.size() == 2);
  CHECK(twenty[0].call.params.size() == 15);
  CHECK(twenty[1].call.params.size() == 5);
  CHECK(twenty[1].call.params[0]["did"] == "s16");
  CHECK(twenty[1].props[4]->piid == 20);
  CHECK(property_reads(sensors(15)).size() == 1);
  CHECK(property_reads(sensors(16)).size() == 2);
  CHECK(property_reads(sensors(20), 4).size() == 5);

  // Long keys: split by bytes too, so a request stays within a module's 1000-byte packet.
  const ModelDef long_model = sensors(15, std::string(40, 'k'));
  const auto long_keys = property_reads(long_model);
  CHECK(long_keys.size() > 1);
  size_t total = 0;
  for (const auto& read : long_keys) {
    CHECK(read.call.params.dump().size() <= kMaxParamsBytes);
    total += read.props.size();
  }
  CHECK(total == 15);
  // Buttons are not read.
  for (const auto& read : property_reads(formats()))
    for (const PropDef* p : read.props) CHECK(p->kind != Kind::button);
}

TEST_CASE("get_properties answers: out of order, missing, non-zero codes, stray entries") {
  const auto reads = property_reads(shipped("chuangmi.plug.212a01"));
  const Json result = Json::parse(R"([
    {"did":"voltage","siid":5,"piid":3,"code":0,"value":231},
    {"did":"power","siid":2,"piid":1,"code":0,"value":true},
    {"did":"load_power","siid":5,"piid":6,"code":0,"value":7825},
    {"did":"energy","siid":5,"piid":1,"code":-4001},
    {"did":"xyz","siid":5,"piid":2,"code":0,"value":500},
    {"did":"power","siid":2,"piid":1,"code":0,"value":false},
    {"did":"temperature","siid":9,"piid":9,"code":0,"value":30},
    {"did":"indicator_light","siid":3,"piid":1,"code":"0","value":true},
    {"did":"working_time","siid":2,"piid":7,"code":0},
    5, "x", null
  ])");
  const ReadResult r = read_properties_result(reads[0], result);
  CHECK(r.values["power"] == "ON");              // the first answer for it counts
  CHECK(r.values["voltage"] == 231);
  CHECK(r.values["load_power"] == 78.25);        // 0.01 W steps
  CHECK(r.values["energy"].is_null());           // code -4001
  CHECK(r.values["current"] == 0.5);             // matched by siid/piid: "xyz" names nothing
  CHECK(r.values["temperature"].is_null());      // its did with another address: not trusted
  CHECK(r.values["indicator_light"].is_null());  // a code that is not a number: malformed
  CHECK(r.values["working_time"].is_null());     // code 0 without a value
  CHECK(r.values.size() == 8);
  REQUIRE(r.errors.size() == 1);
  CHECK(r.errors[0].prop->property.key == "energy");
  CHECK(r.errors[0].code == -4001);
  CHECK(r.missing.size() == 3);  // temperature, indicator_light (unmatched), working_time (no value)
  CHECK(r.unexpected == 6);      // the second power, the contradicting temperature, the bad code, 5, "x", null

  const ReadResult none = read_properties_result(reads[0], Json::parse(R"({"code":-9999})"));
  CHECK(none.missing.size() == 8);
  CHECK(none.values.size() == 8);
  for (const auto& [key, value] : none.values.items()) CHECK(value.is_null());

  // python-miio's genericmiot names its entries "switch:on": matched by siid/piid.
  const auto cp1 = property_reads(shipped("cuco.plug.cp1"));
  const ReadResult named = read_properties_result(cp1[0], Json::parse(
      R"([{"did":"switch:on","siid":2,"piid":1,"code":0,"value":false},{"did":"indicator-light:on","siid":3,"piid":1,"code":0,"value":true}])"));
  CHECK(named.values["power"] == "OFF");
  CHECK(named.values["indicator_light"] == "ON");
  CHECK(named.unexpected == 0);
}

TEST_CASE("answers decode by format, scale and options") {
  const auto reads = property_reads(formats());
  REQUIRE(reads.size() == 1);
  const ReadResult r = read_properties_result(reads[0], Json::parse(R"([
    {"did":"power","siid":2,"piid":1,"code":0,"value":true},
    {"did":"relay","siid":2,"piid":2,"code":0,"value":0},
    {"did":"level","siid":2,"piid":3,"code":0,"value":123},
    {"did":"target","siid":2,"piid":4,"code":0,"value":21.5},
    {"did":"mode","siid":2,"piid":5,"code":0,"value":2},
    {"did":"label","siid":2,"piid":6,"code":0,"value":"b"},
    {"did":"note","siid":2,"piid":7,"code":0,"value":"hello"},
    {"did":"fault","siid":2,"piid":8,"code":0,"value":false},
    {"did":"power_w","siid":3,"piid":1,"code":0,"value":35},
    {"did":"locked","siid":4,"piid":1,"code":0,"value":"maybe"}
  ])"));
  CHECK(r.values["power"] == "ON");
  CHECK(r.values["relay"] == "OFF");
  CHECK(r.values["level"] == 12.3);
  CHECK(r.values["target"] == 21.5);
  CHECK(r.values["mode"] == "boost");
  CHECK(r.values["label"] == "b");
  CHECK(r.values["note"] == "hello");
  CHECK(r.values["fault"] == "OFF");
  CHECK(r.values["power_w"].get<double>() == 35 / 100.0);  // 0.35, not 35 * 0.01
  CHECK(r.values["locked"].is_null());
  REQUIRE(r.not_understood.size() == 1);
  CHECK(r.not_understood[0]->property.key == "locked");
  CHECK(r.missing.empty());
  CHECK(r.unexpected == 0);
}

TEST_CASE("set_properties: the value in the definition's format") {
  const ModelDef& m = formats();
  auto set = [&](const char* key, const Json& value) -> Json {
    std::string why;
    const auto call = set_properties_request(prop(m, key), value, &why);
    if (!call) return Json("refused: " + why);
    CHECK(call->method == "set_properties");
    REQUIRE(call->params.size() == 1);
    CHECK(call->params[0]["did"] == key);
    return call->params[0]["value"];
  };
  CHECK(set("power", "ON") == true);
  CHECK(set("power", "OFF") == false);
  CHECK(set("power", false) == false);
  CHECK(set("relay", "ON") == 1);
  CHECK(set("relay", "OFF") == 0);
  CHECK(set("level", 12.3) == 123);  // inverse scale: 12.3 / 0.1
  CHECK(set("level", "55") == 550);
  CHECK(set("level", 100) == 1000);
  CHECK(set("target", 21.5) == 21.5);
  CHECK(set("target", 21.5).is_number_float());
  CHECK(set("mode", "eco") == 1);
  CHECK(set("label", "a") == "a");
  CHECK(set("power", "maybe") == "refused: expected ON or OFF");
  CHECK(set("level", 100.5) == "refused: out of range (0.0..100.0)");
  CHECK(set("level", "x") == "refused: expected a number");
  CHECK(set("mode", "turbo") == "refused: expected one of the options");
  CHECK(set("mode", 1) == "refused: expected one of the options");  // labels, not raw values
  CHECK(set("note", "x") == "refused: note is read-only");
  CHECK(set("locked", "ON") == "refused: locked is read-only");
  CHECK(set("toggle", "ON") == "refused: toggle has no MIoT address");

  const auto call = set_properties_request(prop(shipped("cuco.plug.v2eur"), "power"), "OFF");
  REQUIRE(call);
  CHECK(call->params.dump() == R"([{"did":"power","piid":1,"siid":2,"value":false}])");
}

TEST_CASE("set_properties answers") {
  const PropDef& power = prop(formats(), "power");
  CHECK(read_set_result(power, Json::parse(R"([{"did":"power","siid":2,"piid":1,"code":0}])")).ok());
  const auto refused = read_set_result(power, Json::parse(R"([{"did":"power","siid":2,"piid":1,"code":-4004}])"));
  CHECK(refused.answered);
  CHECK_FALSE(refused.ok());
  CHECK(refused.code == -4004);
  CHECK_FALSE(read_set_result(power, Json::parse(R"([{"did":"relay","siid":2,"piid":2,"code":0}])")).answered);
  CHECK_FALSE(read_set_result(power, Json::parse(R"(["ok"])")).answered);
  CHECK_FALSE(read_set_result(power, Json::parse(R"({"code":0})")).answered);
  CHECK(read_set_result(power, Json::parse(R"([{"siid":2,"piid":1,"code":0}])")).ok());
}

TEST_CASE("actions") {
  const PropDef& toggle = prop(shipped("cuco.plug.cp1"), "toggle");
  const auto call = action_request(toggle);
  REQUIRE(call);
  CHECK(call->method == "action");
  CHECK(call->params.dump() == R"({"aiid":1,"did":"toggle","in":[],"siid":2})");
  CHECK_FALSE(action_request(prop(formats(), "power")));
  CHECK_FALSE(action_request(toggle, Json::object()));

  CHECK(read_action_result(Json::parse(R"({"code":0,"out":[]})")).ok());
  const auto out = read_action_result(Json::parse(R"({"code":0,"out":[1,"a"]})"));
  CHECK(out.out == Json::parse(R"([1,"a"])"));
  CHECK(read_action_result(Json::parse(R"([{"code":0}])")).ok());
  const auto failed = read_action_result(Json::parse(R"({"code":-4004})"));
  CHECK(failed.answered);
  CHECK(failed.code == -4004);
  CHECK_FALSE(failed.ok());
  CHECK_FALSE(read_action_result(Json::parse(R"("ok")")).answered);
  CHECK_FALSE(read_action_result(Json::parse(R"({"code":"0"})")).answered);
}

TEST_CASE("properties_changed pushes") {
  const ModelDef& v3 = shipped("cuco.plug.v3");
  const auto list = read_properties_changed(v3, Json::parse(R"([
    {"did":"860381950","siid":11,"piid":1,"value":123},
    {"did":"860381950","siid":2,"piid":1,"value":false},
    {"did":"860381950","siid":99,"piid":1,"value":1},
    {"did":"860381950","siid":2,"piid":2},
    {"did":"860381950","siid":2,"aiid":1,"value":1},
    "garbage"
  ])"));
  REQUIRE(list.changes.size() == 2);
  CHECK(list.changes[0].prop->property.key == "energy");
  CHECK(list.changes[0].value == 1.23);
  CHECK(list.changes[1].prop->property.key == "power");
  CHECK(list.changes[1].value == "OFF");
  CHECK(list.unknown == 4);
  // XiaoMi/ha_xiaomi_home#996 logs the push with a single object as params.
  const auto one = read_properties_changed(v3, Json::parse(R"({"did":"859110167","siid":11,"piid":1,"value":1})"));
  REQUIRE(one.changes.size() == 1);
  CHECK(one.changes[0].value == 0.01);
  CHECK(read_properties_changed(v3, Json::parse("42")).unknown == 1);
  CHECK(read_properties_changed(v3, Json::parse(R"({"siid":2,"piid":2,"value":7})")).changes[0].value.is_null());
}
