// MQTT command payloads: normalisation of values and parsing of <key>/set JSON (pure).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "bridges/device.h"

namespace lc {

// A command value checked against a property: the normalised value, or the reason it was refused.
struct NormalisedValue {
  nlohmann::json value;  // null when refused
  std::string error;     // empty when accepted
};

// Switches accept ON/OFF/TOGGLE (any case), true/false, 1/0 as text or JSON -> "ON"/"OFF"/"TOGGLE".
// Selects accept one of the options (exact, else case-insensitive) -> the option as declared.
// Numbers accept a JSON number or its text within min..max -> a JSON number.
// Read-only properties are refused.
NormalisedValue normalise_command(const Property& property, const nlohmann::json& value);

// The text of a /set/<property> payload as a JSON value: a JSON scalar when it parses as one
// ("1.5", "true", "\"x\""), else the text itself ("ON", "green").
nlohmann::json plain_payload(std::string_view payload);

// A <key>/set payload: a JSON object of property -> value (in key order). Errors ("not a
// JSON object", "payload too large") are reported in `error` with no entries.
struct SetRequest {
  std::vector<std::pair<std::string, nlohmann::json>> entries;
  std::string error;
};
SetRequest parse_set_payload(std::string_view payload);

// "ON" for on-like, "OFF" for off-like binary state values, nullopt otherwise.
std::optional<bool> binary_value(const nlohmann::json& value);

}  // namespace lc
