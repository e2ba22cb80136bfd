#include "app/command_value.h"

#include <algorithm>
#include <cctype>

#include "core/json_limits.h"

namespace lc {
namespace {

constexpr JsonLimits kCommandLimits{4096, 16};

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

}  // namespace

std::optional<bool> binary_value(const nlohmann::json& value) {
  if (value.is_boolean()) return value.get<bool>();
  if (value.is_number_integer() || value.is_number_unsigned()) {
    const auto number = value.get<long long>();
    if (number == 1) return true;
    if (number == 0) return false;
    return std::nullopt;
  }
  if (!value.is_string()) return std::nullopt;
  const std::string text = lower(value.get<std::string>());
  if (text == "on" || text == "true" || text == "1") return true;
  if (text == "off" || text == "false" || text == "0") return false;
  return std::nullopt;
}

NormalisedValue normalise_command(const Property& property, const nlohmann::json& value) {
  if (!property.writable) return {nullptr, "property '" + property.key + "' is read-only"};
  switch (property.component) {
    case Component::switch_: {
      if (value.is_string() && lower(value.get<std::string>()) == "toggle") return {"TOGGLE", {}};
      const auto on = binary_value(value);
      if (!on) return {nullptr, "expected ON, OFF or TOGGLE"};
      return {*on ? "ON" : "OFF", {}};
    }
    case Component::select: {
      if (!value.is_string()) return {nullptr, "expected one of the options"};
      const std::string text = value.get<std::string>();
      for (const auto& option : property.options)
        if (option == text) return {option, {}};
      for (const auto& option : property.options)
        if (lower(option) == lower(text)) return {option, {}};
      std::string list;
      for (const auto& option : property.options) list += (list.empty() ? "" : ", ") + option;
      return {nullptr, "expected one of: " + list};
    }
    case Component::number: {
      double number = 0;
      if (value.is_number()) {
        number = value.get<double>();
      } else if (value.is_string()) {
        const std::string text = value.get<std::string>();
        try {
          size_t used = 0;
          number = std::stod(text, &used);
          if (used != text.size()) return {nullptr, "expected a number"};
        } catch (const std::exception&) {
          return {nullptr, "expected a number"};
        }
      } else {
        return {nullptr, "expected a number"};
      }
      if (!(number >= property.min && number <= property.max))
        return {nullptr, "out of range " + nlohmann::json(property.min).dump() + ".." + nlohmann::json(property.max).dump()};
      return {number, {}};
    }
    case Component::sensor:
    case Component::binary_sensor:
      break;
  }
  // A writable sensor is a bridge-specific raw property (e.g. a raw frame to send): passed on.
  if (!value.is_string()) return {nullptr, "expected text"};
  return {value, {}};
}

nlohmann::json plain_payload(std::string_view payload) {
  if (payload.size() > kCommandLimits.max_bytes) return std::string(payload.substr(0, 0));
  auto parsed = parse_json_bounded(payload, kCommandLimits);
  if (!parsed.is_discarded() && !parsed.is_object() && !parsed.is_array() && !parsed.is_null()) return parsed;
  return std::string(payload);
}

SetRequest parse_set_payload(std::string_view payload) {
  SetRequest request;
  JsonRefusal refusal = JsonRefusal::none;
  auto parsed = parse_json_bounded(payload, kCommandLimits, &refusal);
  if (refusal == JsonRefusal::too_large || refusal == JsonRefusal::too_deep) {
    request.error = refusal == JsonRefusal::too_large ? "payload too large" : "payload nested too deep";
    return request;
  }
  if (parsed.is_discarded() || !parsed.is_object()) {
    request.error = "payload is not a JSON object (use <key>/set/<property> for plain values)";
    return request;
  }
  for (auto& [key, value] : parsed.items()) request.entries.emplace_back(key, value);
  if (request.entries.empty()) request.error = "empty command";
  return request;
}

}  // namespace lc
