#include "app/hub/property_json.h"

namespace lc {

using nlohmann::json;

json property_to_json(const Property& p) {
  return {{"key", p.key}, {"component", component_name(p.component)}, {"writable", p.writable},
          {"main", p.main}, {"diagnostic", p.diagnostic}, {"device_class", p.device_class},
          {"unit", p.unit}, {"state_class", p.state_class}, {"icon", p.icon}, {"options", p.options},
          {"min", p.min}, {"max", p.max}, {"step", p.step}, {"precision", p.precision},
          {"attributes", p.attributes}, {"hidden", p.hidden}, {"enabled_by_default", p.enabled_by_default}};
}

Property property_from_json(const json& j) {
  Property p;
  p.key = j.value("key", "");
  const std::string component = j.value("component", "sensor");
  for (Component c : {Component::sensor, Component::binary_sensor, Component::switch_, Component::select,
                      Component::number})
    if (component == component_name(c)) p.component = c;
  p.writable = j.value("writable", false);
  p.main = j.value("main", false);
  p.diagnostic = j.value("diagnostic", false);
  p.device_class = j.value("device_class", "");
  p.unit = j.value("unit", "");
  p.state_class = j.value("state_class", "");
  p.icon = j.value("icon", "");
  p.options = j.value("options", std::vector<std::string>{});
  p.min = j.value("min", 0.0);
  p.max = j.value("max", 100.0);
  p.step = j.value("step", 1.0);
  p.precision = j.value("precision", -1);
  p.attributes = j.value("attributes", false);
  p.hidden = j.value("hidden", false);
  p.enabled_by_default = j.value("enabled_by_default", true);
  return p;
}

bool same_properties(const std::vector<Property>& a, const std::vector<Property>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (property_to_json(a[i]) != property_to_json(b[i])) return false;
  return true;
}

}  // namespace lc
