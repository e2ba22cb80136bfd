// Home Assistant MQTT discovery payloads (per-entity configs), as PRODUCT.md fixes them (pure).
#pragma once

#include <string>
#include <vector>

#include "bridges/device.h"

namespace lc::discovery {

struct Options {
  std::string prefix = "homeassistant";  // homeassistant.prefix
  std::string base = "localcloud";       // mqtt.base_topic
  std::string version;                   // origin.sw_version
};

struct Message {
  std::string topic;    // <prefix>/<component>/localcloud_<bridge>_<id>/<property>/config
  std::string payload;  // JSON; retained
};

// "localcloud_<bridge>_<id>": the node id and the device identifier.
std::string node_id(const std::string& bridge, const std::string& id);

std::string config_topic(const Options& options, Component component, const std::string& bridge,
                         const std::string& id, const std::string& property);

// One config per property of the device; `key` is its MQTT key.
std::vector<Message> build(const Options& options, const std::string& bridge, const DeviceInfo& device,
                           const std::string& key);

// "load_power" -> "Load power"
std::string friendly_name(const std::string& property_key);

}  // namespace lc::discovery
