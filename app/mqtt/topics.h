// Topic names of docs/mqtt.md "Topics" (pure).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace lc::topics {

// <key>: the configured name, else "<bridge>_<id>" in lower case.
std::string device_key(std::string_view bridge, std::string_view id, std::string_view name);

// True when `level` can be one topic level of ours: non-empty, at most 128 bytes, printable
// ASCII without '/', '+', '#' or spaces.
bool valid_level(std::string_view level);

std::string bridge_state(std::string_view base);    // <base>/bridge/state
std::string bridge_info(std::string_view base);     // <base>/bridge/info
std::string bridge_devices(std::string_view base);  // <base>/bridge/devices
std::string bridge_event(std::string_view base);    // <base>/bridge/event
std::string state(std::string_view base, std::string_view key);         // <base>/<key>
std::string attributes(std::string_view base, std::string_view key);    // <base>/<key>/attributes
std::string availability(std::string_view base, std::string_view key);  // <base>/<key>/availability

// What an incoming topic under <base>/ asks for.
struct Incoming {
  enum class Kind { set, set_property, get, request, state } kind;
  std::string key;       // device key (set, set_property, get, state)
  std::string property;  // set_property
  std::string request;   // request: the part after bridge/request/, one or two levels
};
std::optional<Incoming> classify(std::string_view base, std::string_view topic);

}  // namespace lc::topics
