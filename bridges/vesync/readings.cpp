#include "bridges/vesync/readings.h"

#include <cmath>
#include <string>

#include "bridges/vesync/outlet.h"
#include "core/metrics.h"

namespace lc::vesync {

double round_to(double value, double scale) { return std::round(value * scale) / scale; }

std::vector<Property> outlet_properties() {
  std::vector<Property> props;
  Property power;
  power.key = "power";
  power.component = Component::switch_;
  power.writable = true;
  power.main = true;
  power.device_class = "outlet";
  props.push_back(power);

  Property load;
  load.key = "load_power";
  load.device_class = "power";
  load.unit = "W";
  load.state_class = "measurement";
  load.precision = 1;
  load.attributes = true;
  props.push_back(load);

  Property voltage;
  voltage.key = "voltage";
  voltage.device_class = "voltage";
  voltage.unit = "V";
  voltage.state_class = "measurement";
  voltage.precision = 1;
  voltage.attributes = true;
  props.push_back(voltage);

  Property energy;
  energy.key = "energy";
  energy.device_class = "energy";
  energy.unit = "kWh";
  energy.state_class = "total_increasing";
  energy.precision = 3;
  props.push_back(energy);

  Property rssi;
  rssi.key = "rssi";
  rssi.device_class = "signal_strength";
  rssi.unit = "dBm";
  rssi.state_class = "measurement";
  rssi.diagnostic = true;
  rssi.enabled_by_default = false;  // changes with every keepalive
  props.push_back(rssi);
  return props;
}

PowerReading power_reading(const RuntimeInfo& info, PowerDecoding decoding) {
  PowerReading reading;
  reading.relay = info.relay;
  if (info.power) {
    if (auto pair = parse_pair(*info.power)) {
      const double watts = decode_pair(*pair, decoding);
      if (watts <= kMaxPlausibleWatts) reading.watts = round_to(watts, 1000);
    }
  }
  if (info.voltage) {
    if (auto pair = parse_pair(*info.voltage)) {
      const double volts = decode_pair(*pair, decoding);
      if (volts <= kMaxPlausibleVolts) reading.volts = round_to(volts, 1000);
    }
  }
  return reading;
}

void Readings::filtered(const char* property, const Outlet& outlet, double value) {
  metrics_.counter("localcloud_vesync_filtered_total", "Implausible readings not published (spikes)",
                   {{"property", property}})
      .inc();
  log_.debug(who(hub_, outlet), ": implausible ", property, " ", value, " not published");
}

void Readings::runtime(const Outlet& outlet, const RuntimeInfo& info) {
  Json attributes = Json::object();
  attributes["power_decoding"] = power_decoding_name(decoding_);
  if (info.meastate) attributes["meastate"] = *info.meastate;
  struct Field {
    const std::optional<std::string>& raw;
    const char* name;      // attribute prefix
    const char* property;  // published property, or nullptr
    double max;
  };
  const Field fields[] = {{info.power, "power", "load_power", kMaxPlausibleWatts},
                          {info.voltage, "voltage", "voltage", kMaxPlausibleVolts},
                          {info.current, "current", nullptr, 0}};
  for (const auto& field : fields) {
    if (!field.raw) continue;
    attributes[std::string(field.name) + "_raw"] = *field.raw;
    auto pair = parse_pair(*field.raw);
    if (pair) {
      attributes[std::string(field.name) + "_a"] = round_to(decode_half(pair->a, decoding_), 1000);
      attributes[std::string(field.name) + "_b"] = round_to(decode_half(pair->b, decoding_), 1000);
    }
    if (!field.property) continue;
    if (!pair) {  // "NaN" or garbage: not available
      hub_.state_changed(outlet.id, field.property, nullptr);
      continue;
    }
    const double value = decode_pair(*pair, decoding_);
    if (value > field.max) {
      filtered(field.property, outlet, value);
      continue;
    }
    hub_.state_changed(outlet.id, field.property, round_to(value, 1000));
  }
  hub_.attributes_changed(outlet.id, std::move(attributes));
}

}  // namespace lc::vesync
