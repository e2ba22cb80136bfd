#include "bridges/timeguard/config.h"

#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "bridges/timeguard/codec.h"
#include "bridges/timeguard/timezone.h"
#include "config/reader.h"
#include "config/text.h"

namespace lc::timeguard {
namespace {

using config::Field;
using config::quote_value;
using config::Reader;

constexpr std::string_view kKeys[] = {"enabled",       "listen",        "mode",           "upstream",
                                      "timezone",      "offline_after", "allow_raw_commands",
                                      "accept_unknown", "max_unknown",  "devices"};

void read_mode(Reader& reader, const Field& f, Mode& out) {
  auto text = reader.string_value(f);
  if (!text) return;
  if (auto mode = parse_mode(*text)) out = *mode;
  else reader.error(f, "bad mode " + quote_value(*text) + " (expected local, fallback or relay)");
}

// Catches for check-config what would stop the bridge at start: a zone TimeZone::load cannot load.
void read_timezone(Reader& reader, const Field& f, std::string& out) {
  auto text = reader.string_value(f);
  if (!text) return;
  std::string load_error;
  if (text->size() <= 64 && TimeZone::load(*text, load_error)) {
    out = std::move(*text);
    return;
  }
  reader.error(f, "unknown timezone " + quote_value(*text) +
                      " (expected an IANA name found in /usr/share/zoneinfo, e.g. Europe/London, or a POSIX TZ rule "
                      "such as GMT0BST,M3.5.0/1,M10.5.0)");
}

void read_device(Reader& reader, const Field& item, std::map<std::string, config::Mark>& seen_ids,
                 std::vector<ConfiguredDevice>& devices) {
  if (!item.node.IsMap()) {
    reader.error(item, "expected a device (id:, name:), got " + Reader::describe(item.node));
    return;
  }
  ConfiguredDevice d;
  d.mark = item.at;
  bool id_valid = false;
  std::set<std::string> present;
  reader.for_each_key(item, {"id", "name"}, [&](const std::string& key, const Field& f) {
    present.insert(key);
    if (key == "name") {
      reader.device_name(f, d.name);
    } else if (key == "id") {
      // Written as 8 hex digits; unquoted, YAML may take 12345678 for a number, so the text
      // is read as written either way.
      const auto id = f.node.IsScalar() ? parse_device_id(f.node.Scalar()) : std::nullopt;
      if (!id) {
        reader.error(f, "bad Timeguard device id " + Reader::describe(f.node) + " (expected 8 hex digits, e.g. \"12345678\")");
        return;
      }
      reader.duplicate(f, seen_ids, device_key(*id), "id " + device_key(*id));
      d.id = *id;
      id_valid = true;
    }
  });
  reader.missing(item, present, {"id"});
  if (d.name.empty() && id_valid) reader.unnamed_device("timeguard_" + device_key(d.id), item.at);
  devices.push_back(std::move(d));
}

}  // namespace

std::shared_ptr<config::BridgeSettings> parse_settings(Reader& reader, const Field& section) {
  auto settings = std::make_shared<Settings>();
  Settings& t = *settings;
  std::map<std::string, config::Mark> seen_ids;
  Field upstream_at;
  const bool read = config::read_bridge_section(
      reader, section, kKeys, t,
      [&](const std::string& key, const Field& f) {
        if (key == "mode") read_mode(reader, f, t.mode);
        else if (key == "upstream") reader.read_optional_endpoint(f, t.upstream), upstream_at = f;
        else if (key == "timezone") read_timezone(reader, f, t.timezone);
        else if (key == "allow_raw_commands") reader.read_bool(f, t.allow_raw_commands);
      },
      [&](const Field& item) { read_device(reader, item, seen_ids, t.devices); });
  if (read && t.mode != Mode::local && !t.upstream && !upstream_at.path.empty()) {
    reader.error(upstream_at, std::string("mode ") + mode_name(t.mode) +
                                  " needs an upstream (HOST:PORT of the Timeguard cloud)");
  }
  return settings;
}

nlohmann::json Settings::redacted_json() const {
  nlohmann::json devices_json = nlohmann::json::array();
  for (const auto& d : devices) devices_json.push_back({{"id", device_key(d.id)}, {"name", d.name}});
  nlohmann::json out = config::shared_json(*this, kKeys);
  out["mode"] = mode_name(mode);
  out["upstream"] = config::endpoint_json(upstream);
  out["timezone"] = timezone;
  out["allow_raw_commands"] = allow_raw_commands;
  out["devices"] = std::move(devices_json);
  return out;
}

}  // namespace lc::timeguard
