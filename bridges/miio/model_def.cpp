#include "bridges/miio/model_def.h"

#include <array>
#include <cstdint>
#include <limits>
#include <utility>

namespace lc::miio {
namespace {

constexpr std::array<std::pair<Kind, const char*>, 6> kKinds = {{
    {Kind::sensor, "sensor"},
    {Kind::binary_sensor, "binary_sensor"},
    {Kind::switch_, "switch"},
    {Kind::select, "select"},
    {Kind::number, "number"},
    {Kind::button, "button"},
}};

constexpr std::array<std::pair<Format, const char*>, 11> kFormats = {{
    {Format::bool_, "bool"},
    {Format::int8, "int8"},
    {Format::uint8, "uint8"},
    {Format::int16, "int16"},
    {Format::uint16, "uint16"},
    {Format::int32, "int32"},
    {Format::uint32, "uint32"},
    {Format::int64, "int64"},
    {Format::float_, "float"},
    {Format::string, "string"},
    {Format::int32, "int"},  // a generic integer; read back as int32
}};

}  // namespace

const char* protocol_name(Protocol protocol) { return protocol == Protocol::miot ? "miot" : "miio"; }

const char* kind_name(Kind kind) {
  for (const auto& [k, name] : kKinds)
    if (k == kind) return name;
  return "sensor";
}

const char* format_name(Format format) {
  for (const auto& [f, name] : kFormats)
    if (f == format) return name;
  return "";
}

std::optional<Kind> kind_from_name(std::string_view name) {
  for (const auto& [k, text] : kKinds)
    if (name == text) return k;
  return std::nullopt;
}

std::optional<Format> format_from_name(std::string_view name) {
  for (const auto& [f, text] : kFormats)
    if (name == text) return f;
  return std::nullopt;
}

std::optional<Component> component_of(Kind kind) {
  switch (kind) {
    case Kind::sensor: return Component::sensor;
    case Kind::binary_sensor: return Component::binary_sensor;
    case Kind::switch_: return Component::switch_;
    case Kind::select: return Component::select;
    case Kind::number: return Component::number;
    case Kind::button: return std::nullopt;
  }
  return std::nullopt;
}

bool is_integer_format(Format format) {
  return format == Format::int8 || format == Format::uint8 || format == Format::int16 || format == Format::uint16 ||
         format == Format::int32 || format == Format::uint32 || format == Format::int64;
}

std::pair<long long, long long> integer_range(Format format) {
  switch (format) {
    case Format::int8: return {-128, 127};
    case Format::uint8: return {0, 255};
    case Format::int16: return {-32768, 32767};
    case Format::uint16: return {0, 65535};
    case Format::int32: return {std::numeric_limits<int32_t>::min(), std::numeric_limits<int32_t>::max()};
    case Format::uint32: return {0, std::numeric_limits<uint32_t>::max()};
    default: return {-(1LL << 53), 1LL << 53};
  }
}

const PropDef* find_prop(const ModelDef& model, std::string_view key) {
  for (const auto& prop : model.props)
    if (prop.property.key == key) return &prop;
  return nullptr;
}

const PropDef* find_prop_by_name(const ModelDef& model, std::string_view name) {
  for (const auto& prop : model.props)
    if (!prop.name.empty() && prop.name == name) return &prop;
  return nullptr;
}

const PropDef* find_prop_by_iid(const ModelDef& model, int siid, int piid) {
  for (const auto& prop : model.props)
    if (prop.readable() && prop.siid == siid && prop.piid == piid) return &prop;
  return nullptr;
}

std::vector<Property> properties_of(const ModelDef& model) {
  std::vector<Property> out;
  for (const auto& prop : model.props) out.push_back(prop.property);
  return out;
}

}  // namespace lc::miio
