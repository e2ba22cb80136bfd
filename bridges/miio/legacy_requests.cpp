#include "bridges/miio/legacy_requests.h"

#include <cmath>

#include "bridges/miio/model_values.h"

namespace lc::miio {

std::vector<LegacyRead> legacy_reads(const ModelDef& model) {
  std::vector<LegacyRead> reads;
  LegacyRead get_prop{{"get_prop", Json::array()}, {}};
  for (const auto& prop : model.props) {
    if (!prop.readable()) continue;
    if (prop.get_method.empty()) {
      get_prop.call.params.push_back(prop.name);
      get_prop.props.push_back(&prop);
    } else {
      reads.push_back(LegacyRead{{prop.get_method, Json::array()}, {&prop}});
    }
  }
  if (!get_prop.props.empty()) reads.insert(reads.begin(), std::move(get_prop));
  return reads;
}

std::optional<Call> legacy_set_request(const PropDef& prop, const Json& value) {
  if (!prop.property.writable || prop.set_method.empty()) return std::nullopt;
  switch (prop.set_value) {
    case SetValue::on_off:
      if (value == "ON") return Call{prop.set_method, Json::array({"on"})};
      if (value == "OFF") return Call{prop.set_method, Json::array({"off"})};
      return std::nullopt;
    case SetValue::none:
      if (prop.kind != Kind::switch_) return Call{prop.set_method, Json::array()};
      if (value == "ON") return Call{prop.set_method, Json::array()};
      if (value == "OFF" && !prop.set_off_method.empty()) return Call{prop.set_off_method, Json::array()};
      return std::nullopt;
    case SetValue::value:
      if (prop.kind == Kind::select) {
        for (const auto& option : prop.options)
          if (value == option.label) return Call{prop.set_method, Json::array({option.raw})};
        return std::nullopt;
      }
      if (prop.kind == Kind::number) {
        const auto number = as_number(value);
        if (!number || !std::isfinite(*number) || *number < prop.property.min || *number > prop.property.max)
          return std::nullopt;
        return Call{prop.set_method, Json::array({std::llround(remove_scale(*number, prop.scale))})};
      }
      return std::nullopt;
  }
  return std::nullopt;
}

}  // namespace lc::miio
