#include "app/api/views.h"

#include <cstdio>
#include <cstdlib>
#include <ctime>

#include "app/hub/bridge_port.h"
#include "core/log.h"

namespace lc::api {

using nlohmann::json;

std::string iso_time(std::chrono::system_clock::time_point at, bool millis) {
  using namespace std::chrono;
  const std::time_t seconds = system_clock::to_time_t(at);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[64];
  if (millis) {
    const auto ms = duration_cast<milliseconds>(at.time_since_epoch()).count() % 1000;
    std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", utc.tm_year + 1900, utc.tm_mon + 1,
                  utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, static_cast<int>(ms < 0 ? ms + 1000 : ms));
  } else {
    std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
  }
  return text;
}

std::optional<std::chrono::system_clock::time_point> last_seen(const DeviceRecord& record,
                                                                std::chrono::steady_clock::time_point now) {
  if (!record.ever_heard) return std::nullopt;
  const auto silent = std::chrono::duration_cast<std::chrono::system_clock::duration>(now - record.last_heard);
  return std::chrono::system_clock::now() - silent;
}

namespace {

json text_or_null(const std::string& text) { return text.empty() ? json(nullptr) : json(text); }

json time_or_null(std::chrono::system_clock::time_point at) {
  return at == std::chrono::system_clock::time_point{} ? json(nullptr) : json(iso_time(at));
}

// A property as the page needs it to show the value and a control.
json property_view(const Property& p) {
  json view = {{"key", p.key}, {"component", component_name(p.component)}, {"writable", p.writable}};
  if (p.main) view["main"] = true;
  if (p.diagnostic) view["diagnostic"] = true;
  if (!p.unit.empty()) view["unit"] = p.unit;
  if (!p.device_class.empty()) view["device_class"] = p.device_class;
  if (!p.options.empty()) view["options"] = p.options;
  if (p.component == Component::number) view["range"] = {p.min, p.max, p.step};
  if (p.precision >= 0) view["precision"] = p.precision;
  return view;
}

}  // namespace

json cloud_json(const CloudConversation& cloud) {
  return {{"received", text_or_null(cloud.received)},
          {"answered", text_or_null(cloud.answered)},
          {"at", time_or_null(cloud.at)},
          {"exchanges", cloud.exchanges},
          {"error", cloud.error},
          {"error_at", cloud.error.is_null() ? json(nullptr) : time_or_null(cloud.error_at)}};
}

json presence_json(const DeviceRecord& record) {
  const auto seen = last_seen(record, std::chrono::steady_clock::now());
  return {{"key", record.key}, {"online", record.online}, {"last_seen", seen ? json(iso_time(*seen)) : json(nullptr)}};
}

json values_json(const DeviceRecord& record) { return {{"key", record.key}, {"state", record.state}}; }

json device_json(const DeviceRecord& record, bool with_attributes) {
  json properties = json::array();
  for (const auto& property : record.info.properties)
    if (!property.hidden) properties.push_back(property_view(property));
  json device = presence_json(record);
  const std::string& bridge = record.port->name;
  device.update({{"bridge", bridge},
                 {"id", record.info.id},
                 {"name", text_or_null(record.info.name)},
                 // How log lines name it (the name, or with mask_ids the masked id): the
                 // page's log filter by device.
                 {"log_name", record.port->log_name(record.info.id)},
                 {"manufacturer", text_or_null(record.info.manufacturer)},
                 {"model", text_or_null(record.info.model)},
                 {"firmware", text_or_null(record.info.firmware)},
                 {"configured", record.info.configured},
                 {"heard", record.ever_heard},
                 {"properties", std::move(properties)},
                 {"state", record.state},
                 {"cloud", cloud_json(record.cloud)}});
  if (with_attributes) device["attributes"] = record.attributes;
  else device["has_attributes"] = !record.attributes.is_null() && !record.attributes.empty();
  return device;
}

json status_json(const StatusInputs& in) {
  using namespace std::chrono;
  const auto now = system_clock::now();
  const auto uptime = duration_cast<seconds>(steady_clock::now() - in.started);
  json bridges = in.bridges.is_object() ? in.bridges : json::object();
  const auto packets = packet_totals(in.metrics_text);
  for (auto& [name, bridge] : bridges.items()) {
    const auto it = packets.find(name);
    const PacketTotals totals = it == packets.end() ? PacketTotals{} : it->second;
    bridge["packets"] = {{"in", totals.in}, {"out", totals.out}, {"dropped", totals.dropped}};
  }
  return {{"version", LOCALCLOUD_VERSION},
          {"now", iso_time(now, true)},
          {"started_at", iso_time(now - duration_cast<system_clock::duration>(uptime))},
          {"uptime", uptime.count()},
          {"broker", {{"connected", in.broker_connected}}},
          {"base_topic", std::string(in.base_topic)},
          {"log", {{"level", std::string(level_name(log_settings::level()))}, {"trace", log_settings::trace()}}},
          {"changes", std::string(in.changes)},
          {"bridges", std::move(bridges)}};
}

std::map<std::string, PacketTotals, std::less<>> packet_totals(std::string_view text) {
  std::map<std::string, PacketTotals, std::less<>> totals;
  auto label = [](std::string_view labels, std::string_view name) -> std::string_view {
    const std::string pattern = std::string(name) + "=\"";
    size_t at = 0;
    while ((at = labels.find(pattern, at)) != std::string_view::npos) {
      if (at == 0 || labels[at - 1] == '{' || labels[at - 1] == ',') {
        const size_t begin = at + pattern.size();
        const size_t end = labels.find('"', begin);
        if (end == std::string_view::npos) return {};
        return labels.substr(begin, end - begin);
      }
      at += pattern.size();
    }
    return {};
  };
  while (!text.empty()) {
    const size_t newline = text.find('\n');
    const std::string_view line = text.substr(0, newline);
    text.remove_prefix(newline == std::string_view::npos ? text.size() : newline + 1);
    const bool packets = line.starts_with("localcloud_packets_total{");
    const bool dropped = line.starts_with("localcloud_packets_dropped_total{");
    if (!packets && !dropped) continue;
    const size_t close = line.rfind('}');
    if (close == std::string_view::npos) continue;
    const std::string_view labels = line.substr(line.find('{'), close - line.find('{') + 1);
    const std::string_view bridge = label(labels, "bridge");
    if (bridge.empty()) continue;
    const std::string value(line.substr(close + 1));
    char* end = nullptr;
    const double number = std::strtod(value.c_str(), &end);
    if (end == value.c_str()) continue;
    auto it = totals.find(bridge);
    if (it == totals.end()) it = totals.emplace(std::string(bridge), PacketTotals{}).first;
    if (dropped) it->second.dropped += number;
    else if (label(labels, "direction") == "in") it->second.in += number;
    else if (label(labels, "direction") == "out") it->second.out += number;
  }
  return totals;
}

}  // namespace lc::api
