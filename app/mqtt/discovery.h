// Home Assistant MQTT discovery payloads (per-entity configs), as docs/mqtt.md "Home Assistant discovery" describes them (pure):
// one config per property of a device, and the bridge device's own entities.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "bridges/device.h"

namespace lc::discovery {

struct Options {
  std::string prefix = "homeassistant";  // homeassistant.prefix
  std::string base = "localcloud";       // mqtt.base_topic
  std::string version;                   // origin.sw_version
  std::string client_id = "localcloud";  // mqtt.client_id: names the bridge device
  std::string configuration_url;         // api.public_url: "visit device"; empty = none
};

struct Message {
  std::string topic;    // <prefix>/<component>/localcloud_<bridge>_<id>/<property>/config
  std::string payload;  // JSON; retained
};

// "localcloud_<bridge>_<id>": the node id and the device identifier.
std::string node_id(const std::string& bridge, const std::string& id);

// "localcloud_bridge_<client_id>": the bridge device's identifier, every device's via_device.
std::string bridge_identifier(const Options& options);

std::string config_topic(const Options& options, Component component, const std::string& bridge,
                         const std::string& id, const std::string& property);

// `text` made a valid object id of a Home Assistant entity id: lower case, every character
// outside [a-z0-9_] replaced by '_', no "__", no '_' at either end ("Kitchen-Plug" ->
// "kitchen_plug"); "device" when nothing is left.
std::string entity_slug(std::string_view text);

// "<component>.<key>_<property>" made valid: what HA's default_entity_id gets.
std::string default_entity_id(Component component, std::string_view key, std::string_view property);

// One config per property of the device; `key` is its MQTT key.
std::vector<Message> build(const Options& options, const std::string& bridge, const DeviceInfo& device,
                           const std::string& key);

// The bridge device (identifiers localcloud_bridge_<client_id>): its connection state (a
// connectivity binary_sensor on <base>/bridge/state), the version (a sensor), the log level (a
// select whose command is an `options` request) and permit_join (a switch whose commands are
// permit_join requests for `permit_join_seconds`, or 0 to close).
std::vector<Message> build_bridge(const Options& options, int permit_join_seconds);

// "load_power" -> "Load power"
std::string friendly_name(const std::string& property_key);

}  // namespace lc::discovery
