#include "bridges/miio/model_values.h"

#include <charconv>
#include <cmath>

namespace lc::miio {
namespace {

constexpr size_t kMaxTextValueBytes = 256;

// The whole number d with scale = 1/d, or 0 when there is none.
double whole_inverse(double scale) {
  const double d = std::round(1 / scale);
  return d >= 1 && std::fabs(d * scale - 1) < 1e-12 ? d : 0;
}

}  // namespace

std::optional<double> as_number(const Json& value) {
  if (value.is_number()) return value.get<double>();
  if (value.is_string()) {
    const auto& text = value.get_ref<const std::string&>();
    double number = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), number);
    if (error == std::errc() && end == text.data() + text.size() && !text.empty()) return number;
  }
  return std::nullopt;
}

double apply_scale(double raw, double scale) {
  const double d = whole_inverse(scale);
  return d != 0 ? raw / d : raw * scale;
}

double remove_scale(double published, double scale) {
  const double d = whole_inverse(scale);
  return d != 0 ? published * d : published / scale;
}

Json decode_value(const PropDef& prop, const Json& raw) {
  switch (prop.decoding) {
    case Decoding::on_off:
      if (raw == "on" || raw == true || raw == 1) return "ON";
      if (raw == "off" || raw == false || raw == 0) return "OFF";
      return nullptr;
    case Decoding::number: {
      const auto value = as_number(raw);
      if (!value || !std::isfinite(*value)) return nullptr;
      if (prop.scale == 1) return raw.is_number_integer() ? raw : Json(*value);
      return apply_scale(*value, prop.scale);
    }
    case Decoding::integer: {
      const auto value = as_number(raw);
      if (!value || !std::isfinite(*value)) return nullptr;
      const double scaled = apply_scale(*value, prop.scale);
      if (std::fabs(scaled) > 1e15) return nullptr;
      return static_cast<long long>(std::llround(scaled));
    }
    case Decoding::option:
      for (const auto& option : prop.options)
        if (raw == option.raw) return option.label;
      return nullptr;
    case Decoding::text:
      if (raw.is_string() && raw.get_ref<const std::string&>().size() <= kMaxTextValueBytes) return raw;
      return nullptr;
    case Decoding::none:
      return nullptr;
  }
  return nullptr;
}

std::optional<Json> encode_miot_value(const PropDef& prop, const Json& value, std::string* why) {
  auto fail = [&](std::string reason) -> std::optional<Json> {
    if (why) *why = std::move(reason);
    return std::nullopt;
  };
  if (!prop.property.writable || prop.kind == Kind::button) return fail(prop.property.key + " is read-only");
  switch (prop.kind) {
    case Kind::switch_: {
      std::optional<bool> on;
      if (value == "ON" || value == true) on = true;
      else if (value == "OFF" || value == false) on = false;
      if (!on) return fail("expected ON or OFF");
      if (is_integer_format(prop.format)) return Json(*on ? 1 : 0);
      return Json(*on);
    }
    case Kind::select:
      for (const auto& option : prop.options)
        if (value.is_string() && value == option.label) return option.raw;
      return fail("expected one of the options");
    case Kind::number: {
      const auto number = as_number(value);
      if (!number || !std::isfinite(*number)) return fail("expected a number");
      if (*number < prop.property.min || *number > prop.property.max)
        return fail("out of range (" + Json(prop.property.min).dump() + ".." + Json(prop.property.max).dump() + ")");
      const double raw = remove_scale(*number, prop.scale);
      if (!is_integer_format(prop.format)) return Json(raw);
      const double rounded = std::round(raw);
      const auto [min, max] = integer_range(prop.format);
      if (rounded < static_cast<double>(min) || rounded > static_cast<double>(max))
        return fail(std::string("the raw value does not fit ") + format_name(prop.format));
      return Json(static_cast<long long>(rounded));
    }
    default:
      return fail(prop.property.key + " is read-only");
  }
}

}  // namespace lc::miio
