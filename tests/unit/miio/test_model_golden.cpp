// The ten legacy models as data (bridges/miio/models/legacy.yaml) against fixed expected values
// (legacy_golden.inc) taken from the C++ table they replaced: the same properties, byte-identical
// poll and setter requests, and identical published values (a digest over a range of raw
// inputs, down to the bits of every double).
#include <doctest/doctest.h>

#include <bit>
#include <cstdint>
#include <cstdio>
#include <sstream>
#include <string_view>

#include "bridges/miio/legacy_requests.h"
#include "bridges/miio/model_values.h"
#include "bridges/miio/shipped_models.h"

using namespace lc::miio;

namespace {

constexpr std::string_view kGolden =
#include "legacy_golden.inc"
    ;

const char* const kLegacyModels[] = {"qmi.powerstrip.v1", "zimi.powerstrip.v2", "chuangmi.plug.v1",
                                     "chuangmi.plug.v3",  "chuangmi.plug.m1",   "chuangmi.plug.m3",
                                     "chuangmi.plug.v2",  "chuangmi.plug.hmi205", "chuangmi.plug.hmi206",
                                     "chuangmi.plug.hmi208"};

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

// FNV-1a over the JSON type, text and (for doubles) the bits of each decoded value.
void mix(uint64_t& hash, std::string_view text) {
  for (unsigned char c : text) hash = (hash ^ c) * 1099511628211ULL;
  hash = (hash ^ 0xff) * 1099511628211ULL;
}
void mix_value(uint64_t& hash, const Json& value) {
  mix(hash, std::to_string(static_cast<int>(value.type())));
  mix(hash, value.dump());
  if (value.is_number_float()) mix(hash, std::to_string(std::bit_cast<uint64_t>(value.get<double>())));
}

std::string property_line(const lc::Property& p) {
  std::ostringstream out;
  out << "prop " << p.key << " component=" << static_cast<int>(p.component) << " writable=" << p.writable
      << " main=" << p.main << " diagnostic=" << p.diagnostic << " enabled=" << p.enabled_by_default
      << " class=" << p.device_class << " unit=" << p.unit << " state_class=" << p.state_class << " icon=" << p.icon
      << " options=" << Json(p.options).dump() << " min=" << Json(p.min).dump() << " max=" << Json(p.max).dump()
      << " step=" << Json(p.step).dump() << " precision=" << p.precision << " attributes=" << p.attributes
      << " hidden=" << p.hidden;
  return out.str();
}

// The golden text of one model, from the data.
std::string golden_of(const ModelDef& def) {
  const auto raws = raw_inputs();
  const auto commands = command_inputs();
  std::ostringstream out;
  out << "model " << def.model << "\n";
  for (const auto& property : properties_of(def)) out << property_line(property) << "\n";
  for (const auto& read : legacy_reads(def)) {
    out << "read " << read.call.method << " " << read.call.params.dump() << " ->";
    for (const PropDef* prop : read.props) out << " " << prop->property.key;
    out << "\n";
  }
  for (const auto& prop : def.props) {
    uint64_t hash = 14695981039346656037ULL;
    for (const auto& raw : raws) mix_value(hash, decode_value(prop, raw));
    char digest[17];
    std::snprintf(digest, sizeof digest, "%016llx", static_cast<unsigned long long>(hash));
    out << "values " << prop.property.key << " " << digest << "\n";
    for (const auto& command : commands)
      if (const auto call = legacy_set_request(prop, command))
        out << "set " << prop.property.key << " " << command.dump() << " -> " << call->method << " " << call->params.dump() << "\n";
  }
  return out.str();
}

std::vector<std::string_view> lines_of(std::string_view text) {
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    const size_t end = text.find('\n');
    lines.push_back(text.substr(0, end));
    if (end == std::string_view::npos) break;
    text.remove_prefix(end + 1);
  }
  return lines;
}

}  // namespace

TEST_CASE("the legacy data publishes and sends exactly what the C++ table did") {
  std::string text;
  for (const char* model : kLegacyModels) {
    const ModelDef* def = find_shipped_model(model);
    REQUIRE_MESSAGE(def != nullptr, model);
    CHECK(def->protocol == Protocol::miio);
    text += golden_of(*def);
  }
  const auto expected = lines_of(kGolden.substr(kGolden.find_first_not_of('\n')));
  const auto actual = lines_of(text);
  for (size_t i = 0; i < std::max(expected.size(), actual.size()); ++i) {
    INFO("line ", i + 1);
    CHECK(std::string(i < actual.size() ? actual[i] : "(none)") == std::string(i < expected.size() ? expected[i] : "(none)"));
  }
  CHECK(actual.size() == expected.size());
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
