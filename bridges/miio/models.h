// The models table (docs/protocols/miio.md §4; docs/miio.md "Models"): one row per model, each
// row listing what to read (get_prop names, positionally aligned; or a method of its own),
// the property each value becomes with its unit conversion, and how to set it.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "bridges/device.h"

namespace lc::miio {

using Json = nlohmann::json;

// How a raw device value becomes the published value.
enum class Decode {
  on_off,   // "on"/"off" (also true/false, 1/0) -> "ON"/"OFF"
  number,   // a number (or numeric string) divided by `divisor`
  integer,  // a whole number
  option,   // a string that must be one of the property's options
};

// How a command becomes a request.
enum class Setter {
  none,          // read-only
  on_off_param,  // method ["on"] / ["off"]
  method_pair,   // method [] to switch on, off_method [] to switch off
  option_param,  // method ["<option>"]
  integer_param, // method [<integer>]
};

struct PropSpec {
  Property property;            // key, component, device class, unit, options, ...
  std::string name;             // the device's name for it (get_prop argument, props push key)
  std::string read_method = "get_prop";  // get_prop: asked by name; else its own request, result[0]
  Decode decode = Decode::number;
  double divisor = 1;
  Setter setter = Setter::none;
  std::string method;           // set_power, set_on, set_power_mode, ...
  std::string off_method;       // method_pair only
};

struct ModelSpec {
  std::string model;
  std::vector<PropSpec> props;
};

// The row of a model, or nullptr when the model is not in the table.
const ModelSpec* find_model(std::string_view model);
// The row unknown models fall back to (chuangmi.plug.m1: power and temperature, as python-miio).
const ModelSpec& fallback_model();
const std::vector<ModelSpec>& model_table();

// The row's properties for DeviceInfo.
std::vector<Property> properties_of(const ModelSpec& spec);
const PropSpec* find_prop(const ModelSpec& spec, std::string_view key);
const PropSpec* find_prop_by_name(const ModelSpec& spec, std::string_view name);

// A raw device value as the published value; null when empty or not understood.
Json decode_value(const PropSpec& prop, const Json& raw);

struct Request {
  std::string method;
  Json params = Json::array();
};
// The request that sets `prop` to `value` ("ON"/"OFF" for switches, an option, a number);
// nullopt when the property is read-only or the value does not fit.
std::optional<Request> setter_request(const PropSpec& prop, const Json& value);

// The reads one poll makes: one get_prop with every name, plus one request per other method.
struct Read {
  Request request;
  std::vector<const PropSpec*> props;  // get_prop: aligned with params; else the one prop for result[0]
};
std::vector<Read> poll_reads(const ModelSpec& spec);

}  // namespace lc::miio
