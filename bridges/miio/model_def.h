// A miio model as data (schema: docs/miio.md "Models"): which
// properties a device has, where each lives (a legacy get_prop name and setter, or MIoT
// siid/piid/aiid), and how a raw value becomes the published one. Loaded from YAML by
// model_loader.h; the shipped definitions are in bridges/miio/models/*.yaml.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "bridges/device.h"

namespace lc::miio {

using Json = nlohmann::json;

enum class Protocol { miio, miot };

// The entity a property becomes. `button` is an MIoT action; the Hub has no button component
// yet, so its Property is a hidden, writable one (a command-only property) until it does.
enum class Kind { sensor, binary_sensor, switch_, select, number, button };

// MIoT value types (miot-spec "format"); `none` for legacy properties and untyped sensors.
enum class Format { none, bool_, int8, uint8, int16, uint16, int32, uint32, int64, float_, string };

// How a raw device value becomes the published value (derived from the kind and format).
enum class Decoding {
  on_off,   // "on"/"off", true/false, 1/0 -> "ON"/"OFF"
  number,   // a number (or numeric string) times `scale`
  integer,  // a whole number (legacy number entities)
  option,   // one of the options' raw values -> its label
  text,     // a string, as is (MIoT format string)
  none,     // not read (buttons)
};

// How a legacy setter passes the value.
enum class SetValue {
  on_off,  // method ["on"] / ["off"]
  value,   // method [<option raw value>] or [<integer>]
  none,    // method [] (with set_off: a method pair)
};

struct Option {
  Json raw;           // what the device sends and takes
  std::string label;  // what is published (and what commands name)
};

struct PropDef {
  Property property;  // key, component, writable, Home Assistant metadata; options = labels
  Kind kind = Kind::sensor;
  Decoding decoding = Decoding::number;
  double scale = 1;  // published = raw x scale
  std::vector<Option> options;
  // Legacy (protocol miio).
  std::string name;        // get_prop argument and "props" push key; may be empty with get_method
  std::string get_method;  // a read method of its own (result[0]); empty: get_prop by name
  std::string set_method;  // empty: read-only
  std::string set_off_method;
  SetValue set_value = SetValue::on_off;
  // MIoT (protocol miot).
  int siid = 0, piid = 0, aiid = 0;
  Format format = Format::none;

  bool readable() const { return kind != Kind::button; }
};

// A request to send: {"method": ..., "params": ...}.
struct Call {
  std::string method;
  Json params = Json::array();
};

struct ModelDef {
  std::string model;
  Protocol protocol = Protocol::miio;
  std::string description;
  std::string source;
  std::vector<PropDef> props;
};

const char* protocol_name(Protocol protocol);
const char* kind_name(Kind kind);
const char* format_name(Format format);
std::optional<Kind> kind_from_name(std::string_view name);
std::optional<Format> format_from_name(std::string_view name);
// The Hub component a kind maps to; nullopt for button (see Kind).
std::optional<Component> component_of(Kind kind);
bool is_integer_format(Format format);
// The raw values an integer format holds (int64 kept to what a JSON double holds exactly).
std::pair<long long, long long> integer_range(Format format);

const PropDef* find_prop(const ModelDef& model, std::string_view key);
const PropDef* find_prop_by_name(const ModelDef& model, std::string_view name);
const PropDef* find_prop_by_iid(const ModelDef& model, int siid, int piid);
std::vector<Property> properties_of(const ModelDef& model);

}  // namespace lc::miio
