// miio.models in the config file: definitions in the schema of the shipped ones (docs/miio.md
// "Writing a definition"), read by the miio section and checked like the rest of the file, each
// problem at its FILE:LINE:COL.
#include <doctest/doctest.h>

#include <string>

#include "bridges/bridge.h"
#include "bridges/miio/catalog.h"
#include "bridges/miio/config.h"
#include "config/config.h"

using namespace lc::config;
using lc::miio::find_model;

namespace {

LoadResult load(std::string_view yaml) {
  static const auto sections = lc::config_sections(lc::bridge_registry());
  return load_string(yaml, "test.yaml", sections);
}
const lc::miio::Settings& miio(const Config& c) { return dynamic_cast<const lc::miio::Settings&>(*c.bridge("miio")); }

std::string all_text(const LoadResult& result) {
  std::string out;
  for (const auto& d : result.diagnostics) out += d.text() + "\n";
  return out;
}

// The 1-based line and column of `marker` in `text`.
std::pair<int, int> position_of(std::string_view text, std::string_view marker) {
  const size_t at = text.find(marker);
  REQUIRE_MESSAGE(at != std::string::npos, marker);
  int line = 1, column = 1;
  for (size_t i = 0; i < at; ++i) {
    if (text[i] == '\n') ++line, column = 1;
    else ++column;
  }
  return {line, column};
}

// The config does not load, with an error at `marker` that says `needle`, as test.yaml:LINE:COL.
void expect_error(const std::string& yaml, std::string_view marker, std::string_view needle) {
  const auto result = load(yaml);
  INFO(yaml);
  INFO(all_text(result));
  CHECK_FALSE(result.ok());
  const auto position = position_of(yaml, marker);
  const int line = position.first, column = position.second;  // not a structured binding: clang refuses one in CHECK_MESSAGE
  bool found = false;
  for (const auto& d : result.diagnostics)
    if (!d.warning && d.line == line && d.column == column && d.message.find(needle) != std::string::npos) {
      found = true;
      CHECK(d.text().rfind("test.yaml:" + std::to_string(line) + ":" + std::to_string(column) + ": ", 0) == 0);
    }
  CHECK_MESSAGE(found, "no error at ", line, ":", column, " saying ", needle);
}

const std::string kHead = "miio:\n  models:\n";
const std::string kPlug =
    "    - model: acme.plug.p1\n"
    "      protocol: miot\n"
    "      description: a test plug\n"
    "      properties:\n"
    "        - { key: power, component: switch, siid: 2, piid: 1, format: bool, main: true, device_class: outlet }\n"
    "        - { key: load_power, component: sensor, siid: 11, piid: 2, format: float, scale: 0.1, device_class: power, unit: W }\n";

}  // namespace

TEST_CASE("miio.models: a user definition is read, found by its model, and listed") {
  const auto result = load(kHead + kPlug);
  INFO(all_text(result));
  REQUIRE(result.ok());
  const auto& models = miio(result.config).models;
  REQUIRE(models.size() == 1);
  CHECK(models[0].model == "acme.plug.p1");
  CHECK(find_model(models, "acme.plug.p1") == &models[0]);
  CHECK(find_model(models, "chuangmi.plug.m1") != nullptr);  // the shipped ones stay
  CHECK(find_model(models, "acme.plug.p2") == nullptr);
  const auto& power = models[0].props[1];
  CHECK(power.scale == 0.1);
  // localcloud models: the user's definitions first and marked, then the shipped ones.
  const std::string listing = miio(result.config).models_listing();
  CHECK(listing.find("(1 from miio.models)") == std::string::npos);
  CHECK(listing.find("1 from miio.models") != std::string::npos);
  CHECK(listing.find("`acme.plug.p1`") < listing.find("`chuangmi.plug.m1`"));
  CHECK(listing.find("a test plug (miio.models)") != std::string::npos);
  const auto shown = miio(result.config).redacted_json();
  CHECK(shown["models"] == nlohmann::json::array({"acme.plug.p1"}));
}

TEST_CASE("miio.models: a definition named like a shipped model replaces it") {
  const std::string yaml = kHead +
                           "    - model: chuangmi.plug.m1\n"
                           "      protocol: miio\n"
                           "      properties:\n"
                           "        - { key: power, component: switch, name: power, set: set_power }\n";
  const auto result = load(yaml);
  INFO(all_text(result));
  REQUIRE(result.ok());
  const auto& models = miio(result.config).models;
  const auto* def = find_model(models, "chuangmi.plug.m1");
  REQUIRE(def == &models[0]);
  CHECK(def->props.size() == 1);
}

TEST_CASE("miio.models: what is wrong is reported at its line and column") {
  SUBCASE("an unknown key") {
    expect_error(kHead + kPlug + "        - { key: x, component: sensor, siid: 3, piid: 1, colour: red }\n", "colour",
                 "colour");
  }
  SUBCASE("a switch without an address") {
    const std::string yaml = kHead +
                             "    - model: acme.plug.p2\n"
                             "      protocol: miot\n"
                             "      properties:\n"
                             "        - { key: power, component: switch, format: bool }\n";
    expect_error(yaml, "{ key: power", "siid and piid");
  }
  SUBCASE("a key twice") {
    expect_error(kHead + kPlug + "        - { key: power, component: sensor, siid: 3, piid: 1 }\n",
                 "{ key: power, component: sensor", "used twice");
  }
  SUBCASE("scale 0") {
    expect_error(kHead + kPlug + "        - { key: energy, component: sensor, siid: 11, piid: 1, scale: 0 }\n", "0 }",
                 "scale must be more than 0");
  }
  SUBCASE("options on a non-select") {
    expect_error(kHead + kPlug + "        - { key: mode, component: sensor, siid: 3, piid: 1, options: { 0: a } }\n",
                 "{ 0: a }", "options are for a select");
  }
  SUBCASE("no protocol") {
    expect_error(kHead + "    - model: acme.plug.p3\n      properties: []\n", "model: acme.plug.p3", "protocol");
  }
  SUBCASE("models is not a list") { expect_error("miio:\n  models: acme\n", "acme", ""); }
}
