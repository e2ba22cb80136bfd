#include "app/hub/requests.h"

#include <cmath>
#include <utility>

#include "app/hub/bridge_port.h"
#include "app/mqtt/topics.h"
#include "config/text.h"

namespace lc {

using nlohmann::json;

namespace {

json ok(json data) { return {{"status", "ok"}, {"data", std::move(data)}}; }
json error(std::string why) { return {{"status", "error"}, {"error", std::move(why)}}; }

using Handler = json (Requests::*)(const json& payload);

// A user's text inside an answer: cut at 64 bytes (what was sent is no secret of ours, but an
// answer stays small).
std::string shown(std::string_view text) {
  return "'" + std::string(text.substr(0, 64)) + (text.size() > 64 ? "...'" : "'");
}

// The first key of `payload` that is not one of `allowed` (nor "transaction"), or "".
std::string unknown_key(const json& payload, std::initializer_list<std::string_view> allowed) {
  for (const auto& [key, value] : payload.items()) {
    if (key == "transaction") continue;
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) return key;
  }
  return "";
}

}  // namespace

Requests::Requests(const config::Config& config, Registry& registry, Publisher& publisher, DeviceDatabase& database,
                   MqttLogging& logging)
    : config_(config), registry_(registry), publisher_(publisher), database_(database), logging_(logging), log_("hub") {}

json Requests::handle(std::string_view name, const json& payload) {
  static const std::pair<std::string_view, Handler> kRequests[] = {
      {"remove", &Requests::remove_device},
      {"device/remove", &Requests::remove_device},
      {"device/rename", &Requests::rename_device},
      {"permit_join", &Requests::permit_join},
      {"options", &Requests::options},
      {"health_check", &Requests::health_check},
  };
  json response = error("unknown request " + shown(name) +
                        " (known: device/rename, device/remove, remove, permit_join, options, health_check)");
  for (const auto& [request, handler] : kRequests)
    if (request == name) response = (this->*handler)(payload);
  if (payload.is_object() && payload.contains("transaction")) response["transaction"] = payload["transaction"];
  return response;
}

json Requests::remove_device(const json& payload) {
  std::string key;
  if (payload.is_object() && payload.contains("device") && payload["device"].is_string())
    key = payload["device"].get<std::string>();
  else if (payload.is_string())
    key = payload.get<std::string>();
  else
    return error(R"(remove takes {"device":"<key>"})");
  DeviceRecord* record = registry_.find_by_key(key);
  if (!record) return error("no device " + shown(key));
  BridgePort& port = *record->port;
  const std::string id = record->info.id;
  publisher_.clear_device(*record);
  port.log.info("device ", port.log_name(id), " removed on request");
  registry_.remove(*record);
  publisher_.event("device_left", key, {{"bridge", port.name}, {"id", id}});
  publisher_.devices_soon();
  database_.save_soon();
  return ok({{"device", key}});
}

// The new key follows the config's name rules (one topic level, not "bridge", unique), and
// those of the Hub's topics (printable ASCII without spaces); a name of the form <bridge>_...
// is left to the unnamed devices of that bridge, whose keys look like that, except the
// device's own unnamed key (renaming back).
json Requests::rename_device(const json& payload) {
  const char* const usage = R"(device/rename takes {"from":"<key>","to":"<name>"})";
  if (!payload.is_object()) return error(usage);
  if (auto key = unknown_key(payload, {"from", "to"}); !key.empty())
    return error("unknown key " + shown(key) + "; " + usage);
  if (!payload.contains("from") || !payload["from"].is_string() || !payload.contains("to") || !payload["to"].is_string())
    return error(usage);
  const std::string from = payload["from"].get<std::string>();
  const std::string to = payload["to"].get<std::string>();
  DeviceRecord* record = registry_.find_by_key(from);
  if (!record) return error("no device " + shown(from));
  if (record->info.configured && !record->info.name.empty() && !record->renamed)
    return error("device " + shown(from) + " is named in the config file (" + config_.path +
                 "): change its name there and restart");
  BridgePort& port = *record->port;
  const std::string unnamed_key = topics::device_key(port.name, record->info.id, "");
  if (to == record->key) return ok({{"from", from}, {"to", to}});
  if (auto problem = config::topic_level_problem(to); !problem.empty())
    return error("invalid name " + shown(to) + ": " + problem);
  if (!topics::valid_level(to)) return error("invalid name " + shown(to) + ": must be printable ASCII without spaces");
  if (to == "bridge") return error(R"(the name "bridge" is reserved (<base_topic>/bridge/... are the daemon's own topics))");
  if (registry_.key_taken(to)) return error("the name " + shown(to) + " is in use by another device");
  if (to != unnamed_key) {
    for (const auto& [bridge, other] : registry_.ports()) {
      if (to.size() > bridge.size() && to.compare(0, bridge.size(), bridge) == 0 && to[bridge.size()] == '_')
        return error("invalid name " + shown(to) + ": names starting '" + bridge +
                     "_' are the keys of unnamed " + bridge + " devices");
    }
  }

  const std::string old_key = record->key;
  const std::string old_for_log = registry_.key_for_log(old_key);
  registry_.rekey(*record, to);
  record->info.name = to == unnamed_key ? std::string() : to;
  record->renamed = !record->info.name.empty();
  port.log.info("device ", old_for_log, " renamed to ", registry_.key_for_log(to), " on request");
  publisher_.renamed(*record, old_key);
  database_.save_now();
  return ok({{"from", old_key}, {"to", to}});
}

json Requests::permit_join(const json& payload) {
  const std::string usage = R"(permit_join takes {"time":<seconds>,"bridge":"<name>"} (bridge optional, time 0 closes))";
  if (!payload.is_object()) return error(usage);
  if (auto key = unknown_key(payload, {"time", "bridge"}); !key.empty())
    return error("unknown key " + shown(key) + "; " + usage);
  if (!payload.contains("time")) return error(usage);
  const json& time_value = payload["time"];
  const double time = time_value.is_number() ? time_value.get<double>() : -1;
  if (!time_value.is_number() || !(time >= 0) || time > kMaxPermitJoinSeconds || time != std::floor(time))
    return error("time must be a whole number of seconds from 0 (close) to " + std::to_string(kMaxPermitJoinSeconds));
  const auto seconds = std::chrono::seconds(static_cast<int64_t>(time));

  std::vector<BridgePort*> ports;
  json bridge = nullptr;
  if (payload.contains("bridge") && !payload["bridge"].is_null()) {
    if (!payload["bridge"].is_string()) return error("bridge must be the name of a bridge");
    const std::string name = payload["bridge"].get<std::string>();
    BridgePort* port = registry_.find_port(name);
    if (!port || !port->bridge) {
      std::string running;
      for (const auto& [bridge_name, p] : registry_.ports())
        if (p->bridge) running += (running.empty() ? "" : ", ") + bridge_name;
      return error("no bridge " + shown(name) + " (running: " + (running.empty() ? "none" : running) + ")");
    }
    if (seconds.count() > 0 && port->policy.max_unknown <= 0)
      return error("permit_join has no effect on " + name + ": it registers only configured devices (max_unknown is 0)");
    ports.push_back(port);
    bridge = name;
  } else {
    for (const auto& [name, port] : registry_.ports())
      if (port->bridge && (seconds.count() == 0 || port->policy.max_unknown > 0)) ports.push_back(port.get());
    if (ports.empty() && seconds.count() > 0)
      return error("no running bridge registers unknown devices (max_unknown is 0 on every one)");
  }
  json end = nullptr;
  for (BridgePort* port : ports) {
    port->permit_join(seconds);
    if (seconds.count() > 0) end = port->permit_join_end_json();
  }
  return ok({{"time", seconds.count()}, {"bridge", bridge}, {"permit_join_end", end}});
}

json Requests::options(const json& payload) {
  const char* const usage = R"(options takes {"options":{"log":{"level":"debug","trace":true,"mqtt":"info"}}})";
  if (!payload.is_object() || !payload.contains("options") || !payload["options"].is_object()) return error(usage);
  if (auto key = unknown_key(payload, {"options"}); !key.empty()) return error("unknown key " + shown(key) + "; " + usage);
  const char* const changeable = " cannot be changed at run time (only log.level, log.trace and log.mqtt)";
  Level level = log_settings::level();
  bool trace = log_settings::trace();
  Level mqtt = logging_.threshold();
  for (const auto& [section, values] : payload["options"].items()) {
    if (section != "log") return error("option " + shown(section) + changeable);
    if (!values.is_object()) return error("option 'log' must be an object");
    for (const auto& [key, value] : values.items()) {
      const std::string name = "log." + key;
      if (key == "level") {
        if (!value.is_string() || !parse_level(value.get<std::string>(), level))
          return error("option 'log.level' must be debug, info, warn or error");
      } else if (key == "trace") {
        if (!value.is_boolean()) return error("option 'log.trace' must be true or false");
        trace = value.get<bool>();
      } else if (key == "mqtt") {
        if (!value.is_string() || !config::parse_mqtt_log_level(value.get<std::string>(), mqtt))
          return error("option 'log.mqtt' must be off, error, warn, info or debug");
      } else {
        return error("option " + shown(name) + changeable);
      }
    }
  }
  // Everything checked: applied at once, together; not written to the config file.
  log_settings::configure(level, trace, log_settings::mask_ids());
  logging_.set_threshold(mqtt);
  log_.info("options: log level ", level_name(level), ", trace ", trace ? "on" : "off", ", bridge/logging ",
            config::mqtt_log_level_name(mqtt));
  publisher_.info();
  return ok({{"restart_required", false}, {"options", {{"log", log_options()}}}});
}

json Requests::log_options() const {
  return {{"level", std::string(level_name(log_settings::level()))},
          {"trace", log_settings::trace()},
          {"mqtt", std::string(config::mqtt_log_level_name(logging_.threshold()))}};
}

json Requests::health_check(const json&) { return ok({{"healthy", true}}); }

}  // namespace lc
