// The ten legacy models as data (bridges/miio/models/legacy.yaml) against the C++ table they
// replace (bridges/miio/models.cpp): the same properties, byte-identical poll and setter
// requests, and identical published values for a range of raw inputs.
#include <doctest/doctest.h>

#include <bit>
#include <cstdint>

#include "bridges/miio/legacy_requests.h"
#include "bridges/miio/model_values.h"
#include "bridges/miio/models.h"
#include "bridges/miio/shipped_models.h"

using namespace lc::miio;

namespace {

// Raw values devices send (docs/protocols/miio.md §4: "on"/"off", bools, temperatures, the power
// strip's integers, python-miio's examples) plus the malformed ones a decoder must survive.
std::vector<Json> raw_inputs() {
  std::vector<Json> raws = {"on",    "off",  "ON",     "OFF",  true,   false, 0,        1,         2,      -1,
                            0.0,     1.0,    0.5,      "1",    "0",    "",    "abc",    "green",   "normal", "eco",
                            nullptr, Json::array(), Json::object(), 23057, 29,   4.09,  48.7,     0.05,      215,    300,
                            12,      8,      50,       32.5,   "23057", "4.09", "nan",  "inf",     "-inf", "1e400",
                            1e300,   -1e300, 1e16,     -1e16,  999,    1000,  5.5,      -0.0,      "  5",  "5 ",
                            18446744073709551615ULL,   -9223372036854775807LL - 1};
  for (int raw = 0; raw <= 100000; raw += 7) raws.push_back(raw);       // integers: raw / 100, raw / 1000
  for (int raw = 0; raw <= 20000; raw += 13) raws.push_back(raw / 8.0);  // decimals
  return raws;
}

std::vector<Json> command_inputs() {
  return {"ON", "OFF", "on", "off", "TOGGLE", true, false, 1, 0, "1", "green", "normal", "eco", "", nullptr, -1,
          999, 1000, 998.6, 999.4, 999.5, "500", "5e2", 12.5, -0.4, -0.6, 1e300, "nan", Json::array({"ON"})};
}

// Identical JSON, down to the bits of every double and the integer kinds.
bool same(const Json& a, const Json& b) {
  if (a.type() != b.type() || a.dump() != b.dump()) return false;
  if (a.is_number_float()) return std::bit_cast<uint64_t>(a.get<double>()) == std::bit_cast<uint64_t>(b.get<double>());
  return true;
}

void check_same_property(const lc::Property& a, const lc::Property& b) {
  CHECK(a.key == b.key);
  CHECK(a.component == b.component);
  CHECK(a.writable == b.writable);
  CHECK(a.main == b.main);
  CHECK(a.diagnostic == b.diagnostic);
  CHECK(a.device_class == b.device_class);
  CHECK(a.unit == b.unit);
  CHECK(a.state_class == b.state_class);
  CHECK(a.icon == b.icon);
  CHECK(a.options == b.options);
  CHECK(a.min == b.min);
  CHECK(a.max == b.max);
  CHECK(a.step == b.step);
  CHECK(a.precision == b.precision);
  CHECK(a.attributes == b.attributes);
  CHECK(a.hidden == b.hidden);
}

}  // namespace

TEST_CASE("the legacy data is the C++ table: properties, reads, setters and values") {
  REQUIRE(model_table().size() == 10);
  const auto raws = raw_inputs();
  const auto commands = command_inputs();
  size_t decoded = 0, requests = 0;
  for (const ModelSpec& row : model_table()) {
    INFO(row.model);
    const ModelDef* def = find_shipped_model(row.model);
    REQUIRE(def != nullptr);
    CHECK(def->protocol == Protocol::miio);
    REQUIRE(def->props.size() == row.props.size());
    const auto old_properties = properties_of(row);
    const auto new_properties = properties_of(*def);
    for (size_t i = 0; i < row.props.size(); ++i) {
      const PropSpec& old_prop = row.props[i];
      const PropDef& new_prop = def->props[i];
      INFO(old_prop.property.key);
      check_same_property(old_properties[i], new_properties[i]);
      CHECK(new_prop.name == old_prop.name);
      CHECK(new_prop.get_method == (old_prop.read_method == "get_prop" ? "" : old_prop.read_method));
      if (!old_prop.name.empty()) CHECK(find_prop_by_name(*def, old_prop.name) == &new_prop);
      for (const auto& raw : raws) {
        INFO(raw.dump());
        CHECK(same(decode_value(new_prop, raw), decode_value(old_prop, raw)));
        ++decoded;
      }
      for (const auto& command : commands) {
        INFO(command.dump());
        const auto old_request = setter_request(old_prop, command);
        const auto new_request = legacy_set_request(new_prop, command);
        REQUIRE(old_request.has_value() == new_request.has_value());
        if (!old_request) continue;
        CHECK(new_request->method == old_request->method);
        CHECK(same(new_request->params, old_request->params));
        ++requests;
      }
    }
    const auto old_reads = poll_reads(row);
    const auto new_reads = legacy_reads(*def);
    REQUIRE(new_reads.size() == old_reads.size());
    for (size_t i = 0; i < old_reads.size(); ++i) {
      CHECK(new_reads[i].call.method == old_reads[i].request.method);
      CHECK(new_reads[i].call.params.dump() == old_reads[i].request.params.dump());
      REQUIRE(new_reads[i].props.size() == old_reads[i].props.size());
      for (size_t k = 0; k < old_reads[i].props.size(); ++k)
        CHECK(new_reads[i].props[k]->property.key == old_reads[i].props[k]->property.key);
    }
  }
  MESSAGE(decoded << " decoded values and " << requests << " setter requests compared");
}

TEST_CASE("scale 0.01 publishes raw / 100, not raw * 0.01") {
  // 0.01 is not exact in binary: raw * 0.01 and raw / 100 differ in the last bit for some raws
  // (35 * 0.01 = 0.35000000000000003). The C++ table divided; the data's scale must too.
  CHECK(35 * 0.01 != 35 / 100.0);
  size_t differ = 0;
  for (int raw = 0; raw <= 100000; ++raw) {
    if (raw * 0.01 != raw / 100.0) ++differ;
    CHECK(std::bit_cast<uint64_t>(apply_scale(raw, 0.01)) == std::bit_cast<uint64_t>(raw / 100.0));
    CHECK(std::bit_cast<uint64_t>(apply_scale(raw, 0.001)) == std::bit_cast<uint64_t>(raw / 1000.0));
  }
  CHECK(differ > 0);
  // A scale whose inverse is not whole multiplies; the inverse goes back.
  CHECK(apply_scale(3, 2.5) == 7.5);
  CHECK(remove_scale(7.5, 2.5) == 3);
  CHECK(remove_scale(12.3, 0.1) == doctest::Approx(123));
  CHECK(remove_scale(0.35, 0.01) == doctest::Approx(35));
}
