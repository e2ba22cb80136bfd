// What a bridge tells the Hub about a device: identity and the properties it exposes.
// The Hub turns these into MQTT state, Home Assistant discovery and the device list.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace lc {

enum class Component { sensor, binary_sensor, switch_, select, number };

// Home Assistant platform name of a component ("switch", "sensor", ...).
const char* component_name(Component component);

struct Property {
  std::string key;                  // JSON key in <base>/<key> and the /set/<key> suffix
  Component component = Component::sensor;
  bool writable = false;            // true: command_topic, and the Hub routes /set to the bridge
  bool main = false;                // the device's main feature: entity named after the device
  bool diagnostic = false;          // entity_category: diagnostic
  bool enabled_by_default = true;   // false for chatty diagnostics (an uptime, an RSSI)
  std::string device_class;         // Home Assistant device_class ("power", "outlet", ...)
  std::string unit;                 // unit_of_measurement ("W", "V", "kWh", ...)
  std::string state_class;          // "measurement", "total_increasing", ...
  std::string icon;                 // "mdi:..." or empty
  std::vector<std::string> options; // select: the allowed values, unique
  double min = 0, max = 100, step = 1;  // number
  int precision = -1;               // suggested_display_precision; -1 = unset
  bool attributes = false;          // the entity gets json_attributes_topic <base>/<key>/attributes
  bool hidden = false;              // a command-only property with no Home Assistant entity
};

struct DeviceInfo {
  std::string id;            // stable hardware id: lower-case, [a-z0-9-]; used in unique_id
  std::string name;          // configured name, or empty; becomes the MQTT key when set
  bool configured = false;   // in the config file (unknown devices are subject to max_unknown)
  std::string manufacturer;  // "Xiaomi", "Etekcity", "Timeguard"
  std::string model;         // "qmi.powerstrip.v1", "ESW01-USA", "NTTWIFI"; empty = unknown yet
  std::string firmware;      // empty = unknown yet
  std::vector<Property> properties;
};

}  // namespace lc
