#include "app/mqtt/discovery.h"

#include <nlohmann/json.hpp>

namespace lc::discovery {

const char* const kSupportUrl = "https://github.com/localcloud/localcloud";

std::string node_id(const std::string& bridge, const std::string& id) { return "localcloud_" + bridge + "_" + id; }

std::string bridge_identifier(const Options& options) { return "localcloud_bridge_" + options.client_id; }

std::string entity_slug(std::string_view text) {
  std::string slug;
  slug.reserve(text.size());
  for (char c : text) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    const bool keep = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (keep) slug.push_back(c);
    else if (!slug.empty() && slug.back() != '_') slug.push_back('_');  // no "__", no leading '_'
  }
  while (!slug.empty() && slug.back() == '_') slug.pop_back();
  return slug.empty() ? "device" : slug;
}

std::string default_entity_id(Component component, std::string_view key, std::string_view property) {
  std::string object(key);
  object.append("_").append(property);
  return std::string(component_name(component)) + "." + entity_slug(object);
}

std::string config_topic(const Options& options, Component component, const std::string& bridge,
                         const std::string& id, const std::string& property) {
  return options.prefix + "/" + component_name(component) + "/" + node_id(bridge, id) + "/" + property + "/config";
}

std::string friendly_name(const std::string& property_key) {
  std::string name = property_key;
  for (auto& c : name)
    if (c == '_') c = ' ';
  if (!name.empty() && name[0] >= 'a' && name[0] <= 'z') name[0] = static_cast<char>(name[0] - 'a' + 'A');
  return name;
}

std::vector<Message> build(const Options& options, const std::string& bridge, const DeviceInfo& device,
                           const std::string& key) {
  using nlohmann::json;
  const std::string node = node_id(bridge, device.id);
  const std::string state_topic = options.base + "/" + key;

  json device_block = {{"identifiers", json::array({node})},
                       {"name", device.name.empty() ? key : device.name},
                       {"via_device", bridge_identifier(options)}};
  if (!device.manufacturer.empty()) device_block["manufacturer"] = device.manufacturer;
  if (!device.model.empty()) device_block["model"] = device.model;
  if (!device.firmware.empty()) device_block["sw_version"] = device.firmware;
  if (!options.configuration_url.empty()) device_block["configuration_url"] = options.configuration_url;
  const json origin = {{"name", "localcloud"}, {"sw_version", options.version}, {"support_url", kSupportUrl}};
  const json availability = json::array({{{"topic", options.base + "/bridge/state"}},
                                         {{"topic", state_topic + "/availability"}}});

  std::vector<Message> messages;
  messages.reserve(device.properties.size());
  for (const Property& property : device.properties) {
    if (property.hidden) continue;
    json config = {
        {"unique_id", node + "_" + property.key},
        {"default_entity_id", default_entity_id(property.component, key, property.key)},
        {"name", property.main ? json(nullptr) : json(friendly_name(property.key))},
        {"device", device_block},
        {"origin", origin},
        {"availability", availability},
        {"availability_mode", "all"},
        {"state_topic", state_topic},
        {"value_template", "{{ value_json." + property.key + " }}"},
    };
    if (property.writable) config["command_topic"] = state_topic + "/set/" + property.key;
    if (!property.device_class.empty()) config["device_class"] = property.device_class;
    if (!property.unit.empty()) config["unit_of_measurement"] = property.unit;
    if (!property.state_class.empty()) config["state_class"] = property.state_class;
    if (!property.icon.empty()) config["icon"] = property.icon;
    if (property.precision >= 0) config["suggested_display_precision"] = property.precision;
    if (property.diagnostic) config["entity_category"] = "diagnostic";
    if (!property.enabled_by_default) config["enabled_by_default"] = false;
    if (property.attributes) config["json_attributes_topic"] = state_topic + "/attributes";
    switch (property.component) {
      case Component::switch_:
      case Component::binary_sensor:
        config["payload_on"] = "ON";
        config["payload_off"] = "OFF";
        break;
      case Component::select:
        config["options"] = property.options;
        break;
      case Component::number:
        config["min"] = property.min;
        config["max"] = property.max;
        config["step"] = property.step;
        config["mode"] = "box";
        break;
      case Component::sensor:
        break;
    }
    messages.push_back({config_topic(options, property.component, bridge, device.id, property.key), config.dump()});
  }
  return messages;
}

namespace {

// The bridge's node id in config topics: its identifier with anything outside [a-zA-Z0-9_-]
// (a client id may hold more) replaced by '_'.
std::string bridge_node(const Options& options) {
  std::string node = bridge_identifier(options);
  for (auto& c : node)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-')) c = '_';
  return node;
}

}  // namespace

std::vector<Message> build_bridge(const Options& options, int permit_join_seconds) {
  using nlohmann::json;
  const std::string identifier = bridge_identifier(options);
  const std::string node = bridge_node(options);
  const std::string bridge_topic = options.base + "/bridge";
  // The entity ids: binary_sensor.localcloud_bridge_connection_state for the default client id,
  // binary_sensor.<client_id>_bridge_connection_state for the others (one per instance).
  const std::string entity_prefix = entity_slug(options.client_id) + "_bridge_";
  json device_block = {{"identifiers", json::array({identifier})},
                       {"name", options.client_id == "localcloud" ? std::string("localcloud bridge")
                                                                  : "localcloud bridge " + options.client_id},
                       {"manufacturer", "localcloud"},
                       {"model", "Bridge"},
                       {"sw_version", options.version}};
  if (!options.configuration_url.empty()) device_block["configuration_url"] = options.configuration_url;
  const json origin = {{"name", "localcloud"}, {"sw_version", options.version}, {"support_url", kSupportUrl}};
  const json availability = json::array({{{"topic", bridge_topic + "/state"}}});

  auto entity = [&](Component component, const std::string& object, const char* name) {
    return json{{"unique_id", identifier + "_" + object},
                {"default_entity_id", std::string(component_name(component)) + "." + entity_prefix + object},
                {"name", name},
                {"device", device_block},
                {"origin", origin}};
  };
  std::vector<Message> messages;
  auto add = [&](Component component, const std::string& object, const json& config) {
    messages.push_back({options.prefix + "/" + component_name(component) + "/" + node + "/" + object + "/config",
                        config.dump()});
  };

  // The broker connection: online while the daemon is connected, offline (the will) when not;
  // no availability of its own, so it shows "disconnected" rather than "unavailable".
  json connection = entity(Component::binary_sensor, "connection_state", "Connection state");
  connection["state_topic"] = bridge_topic + "/state";
  connection["payload_on"] = "online";
  connection["payload_off"] = "offline";
  connection["device_class"] = "connectivity";
  connection["entity_category"] = "diagnostic";
  add(Component::binary_sensor, "connection_state", connection);

  json version = entity(Component::sensor, "version", "Version");
  version["state_topic"] = bridge_topic + "/info";
  version["value_template"] = "{{ value_json.version }}";
  version["icon"] = "mdi:information-outline";
  version["entity_category"] = "diagnostic";
  version["availability"] = availability;
  add(Component::sensor, "version", version);

  // The select's command is an `options` request; its state is bridge/info's log_level.
  json log_level = entity(Component::select, "log_level", "Log level");
  log_level["state_topic"] = bridge_topic + "/info";
  log_level["value_template"] = "{{ value_json.log_level }}";
  log_level["command_topic"] = bridge_topic + "/request/options";
  log_level["command_template"] = R"({"options": {"log": {"level": "{{ value }}"}}})";
  log_level["options"] = json::array({"debug", "info", "warn", "error"});
  log_level["icon"] = "mdi:format-list-bulleted";
  log_level["entity_category"] = "config";
  log_level["availability"] = availability;
  add(Component::select, "log_level", log_level);

  // The switch sends whole permit_join requests as its payloads (no command_template, which
  // older Home Assistant switches lack); its state is bridge/info's permit_join.
  json permit_join = entity(Component::switch_, "permit_join", "Permit join");
  permit_join["state_topic"] = bridge_topic + "/info";
  permit_join["value_template"] = "{{ 'ON' if value_json.permit_join else 'OFF' }}";
  permit_join["state_on"] = "ON";
  permit_join["state_off"] = "OFF";
  permit_join["command_topic"] = bridge_topic + "/request/permit_join";
  permit_join["payload_on"] = json{{"time", permit_join_seconds}}.dump();
  permit_join["payload_off"] = json{{"time", 0}}.dump();
  permit_join["icon"] = "mdi:account-plus";
  permit_join["availability"] = availability;
  add(Component::switch_, "permit_join", permit_join);
  return messages;
}

}  // namespace lc::discovery

