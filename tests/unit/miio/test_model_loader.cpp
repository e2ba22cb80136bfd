// The model loader: every shipped definition loads, and each kind of bad definition is refused
// with a message at the right FILE:LINE:COL.
#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <set>
#include <string>

#include "bridges/miio/model_loader.h"
#include "bridges/miio/model_table.h"
#include "bridges/miio/shipped_models.h"

using namespace lc::miio;
using lc::config::Diagnostic;

namespace {

std::vector<Diagnostic> diagnostics_of(const std::string& yaml) {
  std::vector<Diagnostic> out;
  load_models(yaml, "t.yaml", out);
  return out;
}

// The 1-based line and column of `marker` in `text`, plus `offset` columns.
std::pair<int, int> position_of(const std::string& text, const std::string& marker, int offset = 0) {
  const size_t at = text.find(marker);
  REQUIRE_MESSAGE(at != std::string::npos, marker);
  int line = 1, column = 1;
  for (size_t i = 0; i < at; ++i) {
    if (text[i] == '\n') ++line, column = 1;
    else ++column;
  }
  return {line, column + offset};
}

// `yaml` loads with `count` errors, the first at `marker` (+ offset) with `part` in its message.
void expect_error(const std::string& yaml, const std::string& marker, int offset, const std::string& part, size_t count = 1) {
  const auto diagnostics = diagnostics_of(yaml);
  INFO(yaml);
  for (const auto& d : diagnostics) INFO(d.text());
  REQUIRE(diagnostics.size() == count);
  const auto [line, column] = position_of(yaml, marker, offset);
  CHECK(diagnostics[0].line == line);
  CHECK(diagnostics[0].column == column);
  CHECK_MESSAGE(diagnostics[0].message.find(part) != std::string::npos, diagnostics[0].message);
  CHECK(diagnostics[0].text().rfind("t.yaml:" + std::to_string(line) + ":" + std::to_string(column) + ": ", 0) == 0);
}

// A MIoT model whose one property has `extra` lines added (8-space indented).
std::string miot_with(const std::string& extra, const std::string& component = "switch") {
  return "models:\n"
         "  - model: acme.plug.p1\n"
         "    protocol: miot\n"
         "    properties:\n"
         "      - key: power\n"
         "        component: " + component + "\n" + extra;
}

std::string legacy_with(const std::string& extra, const std::string& component = "switch") {
  return "models:\n"
         "  - model: acme.plug.l1\n"
         "    protocol: miio\n"
         "    properties:\n"
         "      - key: power\n"
         "        component: " + component + "\n" + extra;
}

const std::string kAddress = "        siid: 2\n        piid: 1\n";

}  // namespace

TEST_CASE("every shipped definition loads") {
  for (const auto& d : shipped_diagnostics()) MESSAGE(d.text());
  CHECK(shipped_diagnostics().empty());
  CHECK(shipped_files().size() >= 2);
  size_t legacy = 0, miot = 0;
  std::set<std::string> names;
  for (const auto& model : shipped_models()) {
    INFO(model.model);
    CHECK(names.insert(model.model).second);
    CHECK_FALSE(model.source.empty());
    CHECK_FALSE(model.description.empty());
    (model.protocol == Protocol::miot ? miot : legacy) += 1;
    // Every model has exactly one main property, a switch called power.
    const PropDef* power = find_prop(model, "power");
    REQUIRE(power != nullptr);
    CHECK(power->kind == Kind::switch_);
    CHECK(power->property.main);
    for (const auto& prop : model.props) {
      if (prop.property.device_class == "energy") CHECK(prop.property.state_class == "total_increasing");
      if (prop.property.device_class == "energy") CHECK(prop.property.unit == "kWh");
      if (prop.property.device_class == "power") CHECK(prop.property.unit == "W");
      if (prop.property.device_class == "voltage") CHECK(prop.property.unit == "V");
      if (prop.property.device_class == "current") CHECK(prop.property.unit == "A");
      if (prop.property.device_class == "temperature") CHECK(prop.property.unit == "°C");
    }
  }
  CHECK(legacy == 10);
  CHECK(miot >= 10);
  for (const char* model : {"chuangmi.plug.212a01", "cuco.plug.v2eur", "cuco.plug.cp1", "cuco.plug.v3", "cuco.plug.cp2",
                            "cuco.plug.cp5", "qmi.powerstrip.v1", "zimi.powerstrip.v2"})
    CHECK_MESSAGE(find_shipped_model(model) != nullptr, model);
}

TEST_CASE("the ids the issue names are the ones shipped") {
  const ModelDef& plug2 = *find_shipped_model("chuangmi.plug.212a01");
  auto at = [](const ModelDef& m, const char* key) {
    const PropDef* p = find_prop(m, key);
    REQUIRE_MESSAGE(p != nullptr, key);
    return std::pair(p->siid, p->piid);
  };
  CHECK(at(plug2, "power") == std::pair(2, 1));
  CHECK(at(plug2, "temperature") == std::pair(2, 6));
  CHECK(at(plug2, "energy") == std::pair(5, 1));
  CHECK(at(plug2, "current") == std::pair(5, 2));
  CHECK(at(plug2, "voltage") == std::pair(5, 3));
  CHECK(at(plug2, "load_power") == std::pair(5, 6));
  CHECK(find_prop(plug2, "load_power")->scale == 0.01);
  // Chatty diagnostics (an uptime) are off by default; everything else is on.
  CHECK_FALSE(find_prop(plug2, "working_time")->property.enabled_by_default);
  CHECK(find_prop(plug2, "power")->property.enabled_by_default);
  CHECK_FALSE(find_prop(*find_shipped_model("zimi.plug.zncz01"), "working_time")->property.enabled_by_default);
  const ModelDef& eu = *find_shipped_model("cuco.plug.v2eur");
  CHECK(at(eu, "power") == std::pair(2, 1));
  CHECK(at(eu, "energy") == std::pair(11, 1));
  CHECK(at(eu, "load_power") == std::pair(11, 2));
  CHECK(at(eu, "indicator_light") == std::pair(13, 1));
  const PropDef* toggle = find_prop(*find_shipped_model("cuco.plug.cp1"), "toggle");
  REQUIRE(toggle != nullptr);
  CHECK(toggle->kind == Kind::button);
  CHECK(std::pair(toggle->siid, toggle->aiid) == std::pair(2, 1));
  CHECK(toggle->property.hidden);
  CHECK(toggle->property.writable);
}

TEST_CASE("a user definition in the shape of the miio.models example (docs/config.md) loads") {
  const std::string yaml = R"(models:
  - model: acme.plug.p1
    protocol: miot
    properties:
      - { key: power, component: switch, siid: 2, piid: 1, main: true }
      - { key: load_power, component: sensor, siid: 11, piid: 2, scale: 0.01,
          device_class: power, unit: W, state_class: measurement }
)";
  std::vector<Diagnostic> diagnostics;
  const auto models = load_models(yaml, "t.yaml", diagnostics);
  CHECK(diagnostics.empty());
  REQUIRE(models.size() == 1);
  CHECK(models[0].props[0].format == Format::bool_);  // a switch's default
  CHECK(models[0].props[0].property.writable);
  CHECK_FALSE(models[0].props[1].property.writable);
}

TEST_CASE("unknown and duplicate keys") {
  expect_error(miot_with(kAddress + "        fromat: bool\n"), "fromat", 0, "unknown key \"fromat\" in models[0].properties[0] (did you mean 'format'?)");
  expect_error(miot_with(kAddress + "        colour: red\n"), "colour", 0, "(allowed: key, component,");
  expect_error(miot_with(kAddress + "        siid: 3\n"), "siid: 3", 0, "duplicate key \"siid\" in models[0].properties[0] (first at line 7)");
  expect_error("models:\n  - model: a.b\n    protocol: miot\n    descripton: x\n"
               "    properties: [{key: power, component: switch, siid: 2, piid: 1}]\n",
               "descripton", 0, "did you mean 'description'?");
  expect_error("modles: []\n", "modles", 0, "did you mean 'models'?", 2);
}

TEST_CASE("duplicate property keys, addresses and models") {
  expect_error(miot_with(kAddress + "      - { key: power, component: sensor, siid: 2, piid: 6 }\n"), "- { key: power", 2,
               "the key \"power\" is used twice (first at line 5)");
  expect_error(miot_with(kAddress + "      - { key: other, component: sensor, siid: 2, piid: 1 }\n"), "- { key: other", 2,
               "siid/piid 2/1 is read twice");
  expect_error(miot_with(kAddress + "        main: true\n      - { key: b, component: switch, siid: 3, piid: 1, main: true }\n"),
               "- { key: b", 2, "only one property can be main");
  const std::string two = miot_with(kAddress) + "  - model: acme.plug.p1\n    protocol: miot\n    properties:\n" +
                          "      - { key: power, component: switch, siid: 2, piid: 1 }\n";
  expect_error(two, "- model: acme.plug.p1\n    protocol: miot\n    properties:\n      - {", 2,
               "model \"acme.plug.p1\" is defined twice (first at line 2)");
}

TEST_CASE("properties without an address") {
  expect_error(miot_with("        siid: 2\n"), "- key: power", 2, "a switch needs its MIoT address: siid and piid");
  expect_error(miot_with("", "sensor"), "- key: power", 2, "a sensor needs its MIoT address");
  expect_error(legacy_with("        set: set_power\n"), "- key: power", 2, "a legacy property needs the device's name");
  expect_error(legacy_with("        name: power\n"), "- key: power", 2, "a writable switch needs set");
  expect_error(miot_with("        siid: 2\n", "button"), "- key: power", 2, "a button needs its action's address: siid and aiid");
}

TEST_CASE("values out of range") {
  expect_error(miot_with("        siid: 0\n        piid: 1\n"), "siid: 0", 6, "must be between 1 and 65535, got \"0\"");
  expect_error(miot_with("        siid: 2\n        piid: 70000\n"), "70000", 0, "must be between 1 and 65535");
  expect_error(miot_with("        siid: two\n        piid: 1\n"), "two", 0, "expected a whole number, got \"two\"");
  expect_error(miot_with(kAddress + "        scale: 0\n", "sensor"), "scale: 0", 7, "scale must be more than 0");
  expect_error(miot_with(kAddress + "        scale: -0.1\n", "sensor"), "-0.1", 0, "scale must be more than 0");
  expect_error(miot_with(kAddress + "        scale: .inf\n", "sensor"), ".inf", 0, "expected a number");
  expect_error(miot_with(kAddress + "        format: uint8\n        min: 10\n        max: 5\n", "number"), "max: 5", 5,
               "min (10.0) is greater than max (5.0)");
  expect_error(miot_with(kAddress + "        format: uint8\n        step: 0\n", "number"), "step: 0", 6, "step must be more than 0");
  expect_error(miot_with(kAddress + "        precision: 11\n", "sensor"), "11", 0, "between 0 and 10");
}

TEST_CASE("keys that do not fit the component or the protocol") {
  expect_error(miot_with(kAddress + "        options: { 0: a }\n", "sensor"), "options", 9, "options are for a select; this property is a sensor");
  expect_error(miot_with(kAddress + "        format: uint8\n", "select"), "- key: power", 2, "a select needs options");
  expect_error(miot_with(kAddress + "        set: set_power\n"), "set: set_power", 5,
               "\"set\" is a legacy (miio) key, but this model's protocol is miot");
  expect_error(legacy_with("        name: power\n        set: set_power\n        siid: 2\n"), "siid: 2", 6,
               "\"siid\" is an MIoT key, but this model's protocol is miio");
  expect_error(legacy_with("        siid: 2\n        aiid: 1\n", "button"), "button", 0, "a button is an MIoT action");
  expect_error(miot_with(kAddress + "        writable: true\n", "sensor"), "writable", 10, "writable applies to switches, selects and numbers");
  expect_error(miot_with(kAddress + "        format: float\n"), "float", 0, "format float does not fit a switch");
  expect_error(miot_with(kAddress, "number"), "- key: power", 2, "a writable number needs a format");
  expect_error(miot_with(kAddress + "        format: int128\n", "number"), "int128", 0, "unknown format \"int128\"");
  expect_error(miot_with(kAddress + "        unit: W\n"), "unit: W", 6, "unit applies to sensors and numbers, not to a switch");
  expect_error(miot_with(kAddress + "        state_class: sometimes\n", "sensor"), "sometimes", 0, "state_class is measurement");
  expect_error(miot_with(kAddress + "        icon: led\n"), "icon: led", 6, "an icon is \"mdi:<name>\"");
  expect_error(miot_with("        siid: 2\n        piid: 1\n        aiid: 1\n", "sensor"), "aiid", 6, "only a button has one");
  expect_error(miot_with("        siid: 2\n        aiid: 1\n        piid: 1\n", "button"), "piid", 6, "it has an aiid, not a piid");
  expect_error(legacy_with("        name: power\n        set: set_on\n        set_off: set_off\n        set_value: on_off\n"),
               "set_value: on_off", 11, "set_value \"on_off\" does not fit");
  expect_error(legacy_with("        name: temperature\n        set: set_t\n", "sensor"), "set: set_t", 5, "set on a read-only property");
  expect_error(legacy_with("        name: mode\n        set: set_mode\n        set_off: x\n        options: [a, b]\n", "select"),
               "set_off: x", 9, "set_off applies to switches");
  expect_error(miot_with(kAddress + "        key: Power\n"), "key: Power", 0, "duplicate key \"key\"");
}

TEST_CASE("select options") {
  const std::string select = kAddress + "        format: uint8\n";
  expect_error(miot_with(select + "        options: { 0: a, 256: b }\n", "select"), "256", 0, "must be between 0 and 255");
  expect_error(miot_with(select + "        options: { 0: a, 1: a }\n", "select"), "1: a", 3, "the label \"a\" is used twice");
  expect_error(miot_with(select + "        options: { 0: a, 00: b }\n", "select"), "00", 0, "the raw value \"0\" is listed twice");
  expect_error(miot_with(select + "        options: [a, b]\n", "select"), "[a, b]", 0, "MIoT options map raw values to labels");
  expect_error(miot_with(select + "        options: {}\n", "select"), "{}", 0, "at least one option");
  std::vector<Diagnostic> diagnostics;
  const auto models = load_models(miot_with(select + "        options: { 0: \"off\", 1: \"on\" }\n", "select"), "t.yaml", diagnostics);
  REQUIRE(models.size() == 1);
  REQUIRE(models[0].props[0].options.size() == 2);
  CHECK(models[0].props[0].options[1].raw == 1);
  CHECK(models[0].props[0].options[1].label == "on");
  CHECK(models[0].props[0].property.options == std::vector<std::string>{"off", "on"});
}

TEST_CASE("text that is not a definition file") {
  CHECK(diagnostics_of("").size() == 0);  // empty: nothing defined, nothing wrong
  const auto unclosed = diagnostics_of("models: [\n");  // yaml-cpp points at the end of the text
  REQUIRE(unclosed.size() == 1);
  CHECK(unclosed[0].line == 2);
  CHECK(unclosed[0].column == 1);
  CHECK(unclosed[0].message.find("YAML syntax error") == 0);
  expect_error("models: []\n---\nmodels: []\n", "---", 0, "only one YAML document is allowed");
  expect_error("- a\n- b\n", "- a", 0, "expected a mapping");
  expect_error("models: 5\n", "5", 0, "expected a list");
  expect_error("models:\n  - 5\n", "5", 0, "expected a mapping");
  expect_error("other: 1\n", "other", 0, "unknown key \"other\"", 2);
  expect_error("models:\n  - model: a.b\n    protocol: miot\n    properties: []\n", "[]", 0, "at least one property");
  expect_error("models:\n  - model: A.B\n    protocol: miot\n    properties: [{key: power, component: switch, siid: 2, piid: 1}]\n",
               "A.B", 0, "a model is lower-case");
  expect_error("models:\n  - model: a.b\n    protocol: zigbee\n    properties: []\n", "zigbee", 0, "protocol is miio (legacy) or miot");
  // Alias cycles are walked along the schema only: no loop.
  expect_error("models: &a [*a]\n", "&a", 0, "expected a mapping");  // an anchored node is marked at its anchor
  const auto cycle = diagnostics_of("models:\n  - &m {model: a.b, protocol: miot, properties: [*m]}\n");
  CHECK_FALSE(cycle.empty());  // the model read as its own property: unknown keys, no loop
  for (const auto& d : cycle) CHECK((d.line == 2 && d.column >= 1));
  // Nesting deeper than yaml-cpp's guard.
  const auto deep = diagnostics_of("models: " + std::string(10000, '[') + std::string(10000, ']') + "\n");
  REQUIRE(deep.size() == 1);
  CHECK(deep[0].line >= 1);
  CHECK(deep[0].column >= 1);
  const auto large = diagnostics_of(std::string(lc::miio::kMaxTextBytes + 1, ' '));
  REQUIRE(large.size() == 1);
  CHECK(large[0].message.find("larger than 1 MiB") != std::string::npos);
}

TEST_CASE("aliases repeating a subtree cannot multiply the work") {
  // 1000 models naming one model of 120 properties naming one property: 120,000 properties
  // to read from 5 kB of text.
  std::string yaml = "p: &p { key: k, component: sensor, siid: 2, piid: 1 }\n";
  yaml += "m: &m { model: a.b, protocol: miot, properties: [";
  for (int i = 0; i < 120; ++i) yaml += std::string(i ? ", " : "") + "*p";
  yaml += "] }\nmodels: [";
  for (int i = 0; i < 1000; ++i) yaml += std::string(i ? ", " : "") + "*m";
  yaml += "]\n";
  const auto diagnostics = diagnostics_of(yaml);
  bool budget = false;
  for (const auto& d : diagnostics) budget = budget || d.message.find("values in all") != std::string::npos;
  CHECK(budget);
  CHECK(diagnostics.size() <= lc::miio::kMaxDiagnostics + 2);
}

TEST_CASE("many errors are all reported, up to a cap") {
  std::string yaml = "models:\n";
  for (int i = 0; i < 300; ++i) yaml += "  - { model: m" + std::to_string(i) + ", protocol: x, properties: [] }\n";
  const auto diagnostics = diagnostics_of(yaml);
  CHECK(diagnostics.size() == lc::miio::kMaxDiagnostics + 1);
  CHECK(diagnostics.back().message == "too many errors; the rest are not shown");
}

TEST_CASE("docs/miio.md lists the shipped models as the data does") {
  // The table is generated: LOCALCLOUD_PRINT_MODEL_TABLE=1 prints it for pasting into the doc.
  const std::string table = models_markdown_table(shipped_models());
  if (std::getenv("LOCALCLOUD_PRINT_MODEL_TABLE")) std::fputs(table.c_str(), stdout);
  const char* dir = std::getenv("LOCALCLOUD_SOURCE_DIR");
  std::ifstream in(std::string(dir ? dir : ".") + "/docs/miio.md");
  REQUIRE_MESSAGE(in.good(), "cannot open docs/miio.md (LOCALCLOUD_SOURCE_DIR?)");
  const std::string doc((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string begin = "<!-- shipped-models:begin -->\n", end = "<!-- shipped-models:end -->";
  const size_t from = doc.find(begin), to = doc.find(end);
  REQUIRE(from != std::string::npos);
  REQUIRE(to != std::string::npos);
  CHECK_MESSAGE(doc.substr(from + begin.size(), to - from - begin.size()) == table,
                "docs/miio.md is out of date; run with LOCALCLOUD_PRINT_MODEL_TABLE=1 and paste:\n" << table);
}
