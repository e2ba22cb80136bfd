#include "app/mqtt/discovery.h"

#include <nlohmann/json.hpp>

namespace lc::discovery {

const char* const kSupportUrl = "https://github.com/localcloud/localcloud";

std::string node_id(const std::string& bridge, const std::string& id) { return "localcloud_" + bridge + "_" + id; }

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
                       {"name", device.name.empty() ? key : device.name}};
  if (!device.manufacturer.empty()) device_block["manufacturer"] = device.manufacturer;
  if (!device.model.empty()) device_block["model"] = device.model;
  if (!device.firmware.empty()) device_block["sw_version"] = device.firmware;
  const json origin = {{"name", "localcloud"}, {"sw_version", options.version}, {"support_url", kSupportUrl}};
  const json availability = json::array({{{"topic", options.base + "/bridge/state"}},
                                         {{"topic", state_topic + "/availability"}}});

  std::vector<Message> messages;
  messages.reserve(device.properties.size());
  for (const Property& property : device.properties) {
    if (property.hidden) continue;
    const char* domain = component_name(property.component);
    json config = {
        {"unique_id", node + "_" + property.key},
        {"object_id", key + "_" + property.key},
        {"default_entity_id", std::string(domain) + "." + key + "_" + property.key},
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

}  // namespace lc::discovery

