#include "bridges/vesync/config.h"

#include <algorithm>
#include <map>
#include <set>

#include <boost/asio/ip/address.hpp>
#include <nlohmann/json.hpp>

#include "config/reader.h"
#include "config/text.h"

namespace lc::vesync {
namespace {

using config::Field;
using config::quote_value;
using config::Reader;

constexpr std::string_view kKeys[] = {"enabled",       "listen",         "upstream",       "allow_upgrade",
                                      "service_listen", "service_token",  "poll_interval",  "offline_after",
                                      "power_decoding", "accept_unknown", "max_unknown",    "devices"};

bool is_loopback_host(const std::string& host) {
  if (host == "localhost") return true;
  boost::system::error_code ec;
  auto address = boost::asio::ip::make_address(host, ec);
  return !ec && address.is_loopback();
}

void read_power_decoding(Reader& reader, const Field& f, PowerDecoding& out) {
  auto text = reader.string_value(f);
  if (!text) return;
  if (auto decoding = parse_power_decoding(*text)) out = *decoding;
  else reader.error(f, "bad power_decoding " + quote_value(*text) + " (expected app, q12 or mean)");
}

void read_device(Reader& reader, const Field& item, std::map<std::string, config::Mark>& seen_ids,
                 std::vector<ConfiguredDevice>& devices) {
  if (!item.node.IsMap()) {
    reader.error(item, "expected a device (id:, name:), got " + Reader::describe(item.node));
    return;
  }
  ConfiguredDevice d;
  d.mark = item.at;
  std::set<std::string> present;
  reader.for_each_key(item, {"id", "name"}, [&](const std::string& key, const Field& f) {
    present.insert(key);
    if (key == "name") {
      reader.device_name(f, d.name);
    } else if (key == "id") {
      auto text = reader.string_value(f);
      if (!text) return;
      bool ok = !text->empty() && text->size() <= 64 && std::all_of(text->begin(), text->end(), [](char c) {
        return c > ' ' && c <= '~' && c != '/' && c != '+' && c != '#';
      });
      if (!ok) {
        reader.error(f, "bad VeSync device id " + quote_value(*text) + " (expected e.g. 443c878f-f675-4c90-98e8-2f4566914d39)");
        return;
      }
      reader.duplicate(f, seen_ids, config::lower(*text), "id " + *text);
      d.id = std::move(*text);
    }
  });
  reader.missing(item, present, {"id"});
  if (d.name.empty() && !d.id.empty()) reader.unnamed_device("vesync_" + config::lower(d.id), item.at);
  devices.push_back(std::move(d));
}

}  // namespace

bool service_api_open(const Settings& settings) {
  return settings.service_listen && settings.service_token.empty() && !is_loopback_host(settings.service_listen->host);
}

std::shared_ptr<config::BridgeSettings> parse_settings(Reader& reader, const Field& section) {
  auto settings = std::make_shared<Settings>();
  Settings& v = *settings;
  std::map<std::string, config::Mark> seen_ids;
  Field service_listen_at;
  const bool read = config::read_bridge_section(
      reader, section, kKeys, v,
      [&](const std::string& key, const Field& f) {
        if (key == "upstream") reader.read_optional_endpoint(f, v.upstream);
        else if (key == "allow_upgrade") reader.read_bool(f, v.allow_upgrade);
        else if (key == "service_listen") reader.read_optional_endpoint(f, v.service_listen), service_listen_at = f;
        else if (key == "service_token") reader.read_string(f, v.service_token);
        else if (key == "poll_interval") reader.read_duration(f, v.poll_interval, true);
        else if (key == "power_decoding") read_power_decoding(reader, f, v.power_decoding);
      },
      [&](const Field& item) { read_device(reader, item, seen_ids, v.devices); });
  if (read && service_api_open(v)) {
    reader.warn(service_listen_at, v.service_listen->text() +
                                       " is reachable beyond loopback and no service_token is set: anyone on the network "
                                       "can use the service API");
  }
  return settings;
}

nlohmann::json Settings::redacted_json() const {
  nlohmann::json devices_json = nlohmann::json::array();
  for (const auto& d : devices) devices_json.push_back({{"id", d.id}, {"name", d.name}});
  nlohmann::json out = config::shared_json(*this, kKeys);
  out["upstream"] = config::endpoint_json(upstream);
  out["allow_upgrade"] = allow_upgrade;
  out["service_listen"] = config::endpoint_json(service_listen);
  out["service_token"] = config::secret_json(!service_token.empty());
  out["poll_interval"] = format_duration(poll_interval);
  out["power_decoding"] = power_decoding_name(power_decoding);
  out["devices"] = std::move(devices_json);
  return out;
}

}  // namespace lc::vesync
