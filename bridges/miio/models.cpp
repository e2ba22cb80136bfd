// The models table of models.h. § are sections of docs/protocols/miio.md.
#include "bridges/miio/models.h"

#include <charconv>
#include <cmath>

namespace lc::miio {
namespace {

// Building blocks of the rows. Units and classes as docs/miio.md "Models" lists them, in Home
// Assistant's names (docs/protocols/homeassistant-mqtt.md §1.4).

PropSpec power_switch(std::string name = "power", Setter setter = Setter::on_off_param,
                      std::string method = "set_power", std::string off_method = "") {
  PropSpec p;
  p.property.key = "power";
  p.property.component = Component::switch_;
  p.property.writable = true;
  p.property.main = true;
  p.property.device_class = "outlet";
  p.name = std::move(name);
  p.decode = Decode::on_off;
  p.setter = setter;
  p.method = std::move(method);
  p.off_method = std::move(off_method);
  return p;
}

PropSpec sensor(std::string key, std::string name, std::string device_class, std::string unit,
                double divisor = 1, int precision = -1) {
  PropSpec p;
  p.property.key = std::move(key);
  p.property.component = Component::sensor;
  p.property.device_class = std::move(device_class);
  p.property.unit = std::move(unit);
  p.property.state_class = "measurement";
  p.property.precision = precision;
  p.name = std::move(name);
  p.decode = Decode::number;
  p.divisor = divisor;
  return p;
}

PropSpec temperature() { return sensor("temperature", "temperature", "temperature", "°C", 1, 1); }
// power_consume_rate is the load in W (python-miio load_power, §4.1).
PropSpec load_power() { return sensor("load_power", "power_consume_rate", "power", "W", 1, 1); }

PropSpec on_off_switch(std::string key, std::string name, Setter setter, std::string method,
                       std::string off_method = "", std::string icon = "") {
  PropSpec p;
  p.property.key = std::move(key);
  p.property.component = Component::switch_;
  p.property.writable = true;
  p.property.icon = std::move(icon);
  p.name = std::move(name);
  p.decode = Decode::on_off;
  p.setter = setter;
  p.method = std::move(method);
  p.off_method = std::move(off_method);
  return p;
}

PropSpec wifi_led() {
  return on_off_switch("wifi_led", "wifi_led", Setter::on_off_param, "set_wifi_led", "", "mdi:led-outline");
}
// chuangmi plugs: usb_on is a bool, switched with set_usb_on / set_usb_off (§4.5).
PropSpec usb_power() {
  return on_off_switch("usb_power", "usb_on", Setter::method_pair, "set_usb_on", "set_usb_off", "mdi:usb-port");
}

PropSpec power_mode() {
  PropSpec p;
  p.property.key = "mode";
  p.property.component = Component::select;
  p.property.writable = true;
  p.property.options = {"green", "normal"};
  p.property.icon = "mdi:leaf";
  p.name = "mode";
  p.decode = Decode::option;
  p.setter = Setter::option_param;
  p.method = "set_power_mode";
  return p;
}

PropSpec power_price() {
  PropSpec p;
  p.property.key = "power_price";
  p.property.component = Component::number;
  p.property.writable = true;
  p.property.min = 0;
  p.property.max = 999;  // python-miio validates 0..999
  p.property.step = 1;
  p.property.icon = "mdi:cash";
  p.name = "power_price";
  p.decode = Decode::integer;
  p.setter = Setter::integer_param;
  p.method = "set_power_price";
  return p;
}

std::vector<ModelSpec> build_table() {
  // qmi.powerstrip.v1 (§4.1): exactly its 8 names, never wifi_led/power_price (python-miio#302).
  // current is an integer, probably mA (inference, docs/miio.md "Models"); voltage is in 0.01 V;
  // elec_leakage's unit is unverified, so it is published raw without a unit.
  PropSpec leakage = sensor("leakage_current", "elec_leakage", "", "");
  PropSpec factor = sensor("power_factor", "power_factor", "power_factor", "%");
  const ModelSpec qmi_v1{"qmi.powerstrip.v1",
                         {power_switch(), temperature(), sensor("current", "current", "current", "A", 1000, 3),
                          power_mode(), load_power(), sensor("voltage", "voltage", "voltage", "V", 100, 2), factor,
                          leakage}};
  // zimi.powerstrip.v2 (§4.2): current already in A; no power modes.
  const ModelSpec zimi_v2{"zimi.powerstrip.v2",
                          {power_switch(), temperature(), sensor("current", "current", "current", "A", 1, 3),
                           load_power(), wifi_led(), power_price()}};
  // chuangmi plugs (§4.5).
  const ModelSpec plug_v1{"chuangmi.plug.v1",
                          {power_switch("on", Setter::method_pair, "set_on", "set_off"), usb_power(), temperature()}};
  PropSpec v3_load = sensor("load_power", "", "power", "W", 100, 2);  // get_power -> [300] = 3.00 W
  v3_load.read_method = "get_power";
  const ModelSpec plug_v3{"chuangmi.plug.v3",
                          {power_switch("on"), usb_power(), temperature(), wifi_led(), v3_load}};
  const ModelSpec plug_hmi208{"chuangmi.plug.hmi208", {power_switch(), usb_power(), temperature()}};
  auto basic = [](std::string model) { return ModelSpec{std::move(model), {power_switch(), temperature()}}; };
  return {qmi_v1, zimi_v2, plug_v1, plug_v3, basic("chuangmi.plug.m1"), basic("chuangmi.plug.m3"),
          basic("chuangmi.plug.v2"), basic("chuangmi.plug.hmi205"), basic("chuangmi.plug.hmi206"), plug_hmi208};
}

std::optional<double> as_number(const Json& raw) {
  if (raw.is_number()) return raw.get<double>();
  if (raw.is_string()) {
    const auto& text = raw.get_ref<const std::string&>();
    double value = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (error == std::errc() && end == text.data() + text.size() && !text.empty()) return value;
  }
  return std::nullopt;
}

}  // namespace

const std::vector<ModelSpec>& model_table() {
  static const std::vector<ModelSpec> table = build_table();
  return table;
}

const ModelSpec* find_model(std::string_view model) {
  for (const auto& row : model_table())
    if (row.model == model) return &row;
  return nullptr;
}

const ModelSpec& fallback_model() { return *find_model("chuangmi.plug.m1"); }

std::vector<Property> properties_of(const ModelSpec& spec) {
  std::vector<Property> out;
  for (const auto& prop : spec.props) out.push_back(prop.property);
  return out;
}

const PropSpec* find_prop(const ModelSpec& spec, std::string_view key) {
  for (const auto& prop : spec.props)
    if (prop.property.key == key) return &prop;
  return nullptr;
}

const PropSpec* find_prop_by_name(const ModelSpec& spec, std::string_view name) {
  for (const auto& prop : spec.props)
    if (!prop.name.empty() && prop.name == name) return &prop;
  return nullptr;
}

Json decode_value(const PropSpec& prop, const Json& raw) {
  switch (prop.decode) {
    case Decode::on_off:
      if (raw == "on" || raw == true || raw == 1) return "ON";
      if (raw == "off" || raw == false || raw == 0) return "OFF";
      return nullptr;
    case Decode::number: {
      const auto value = as_number(raw);
      if (!value || !std::isfinite(*value)) return nullptr;
      if (prop.divisor == 1) return raw.is_number_integer() ? raw : Json(*value);
      return *value / prop.divisor;
    }
    case Decode::integer: {
      const auto value = as_number(raw);
      if (!value || !std::isfinite(*value) || std::fabs(*value) > 1e15) return nullptr;
      return static_cast<long long>(std::llround(*value));
    }
    case Decode::option:
      if (raw.is_string()) {
        for (const auto& option : prop.property.options)
          if (raw == option) return option;
      }
      return nullptr;
  }
  return nullptr;
}

std::optional<Request> setter_request(const PropSpec& prop, const Json& value) {
  switch (prop.setter) {
    case Setter::none:
      return std::nullopt;
    case Setter::on_off_param:
      if (value == "ON") return Request{prop.method, Json::array({"on"})};
      if (value == "OFF") return Request{prop.method, Json::array({"off"})};
      return std::nullopt;
    case Setter::method_pair:
      if (value == "ON") return Request{prop.method, Json::array()};
      if (value == "OFF") return Request{prop.off_method, Json::array()};
      return std::nullopt;
    case Setter::option_param:
      for (const auto& option : prop.property.options)
        if (value == option) return Request{prop.method, Json::array({option})};
      return std::nullopt;
    case Setter::integer_param: {
      const auto number = as_number(value);
      if (!number || !std::isfinite(*number) || *number < prop.property.min || *number > prop.property.max)
        return std::nullopt;
      return Request{prop.method, Json::array({std::llround(*number)})};
    }
  }
  return std::nullopt;
}

std::vector<Read> poll_reads(const ModelSpec& spec) {
  std::vector<Read> reads;
  Read get_prop{{"get_prop", Json::array()}, {}};
  for (const auto& prop : spec.props) {
    if (prop.read_method == "get_prop") {
      get_prop.request.params.push_back(prop.name);
      get_prop.props.push_back(&prop);
    } else {
      reads.push_back(Read{{prop.read_method, Json::array()}, {&prop}});
    }
  }
  if (!get_prop.props.empty()) reads.insert(reads.begin(), std::move(get_prop));
  return reads;
}

}  // namespace lc::miio
