// What an outlet's readings become (docs/protocols/vesync.md §5): the properties it exposes,
// /runtimeInfo as state and attributes with spikes left out, and what /api/power answers.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "bridges/bridge.h"
#include "bridges/vesync/codec.h"
#include "bridges/vesync/service_api.h"
#include "core/log.h"

namespace lc {
class Metrics;
}

namespace lc::vesync {

struct Outlet;

// Thresholds beyond which a reading is a spike and not published (§5: voltlet PR #13 drops
// power above 4000 W; fancygaphtrn drops >= 1000 W or >= 130 V, which would refuse 230 V
// outlets, so voltage is bounded at 300 V instead).
inline constexpr double kMaxPlausibleWatts = 4000.0;
inline constexpr double kMaxPlausibleVolts = 300.0;

// power (the relay), load_power, voltage, energy, rssi.
std::vector<Property> outlet_properties();

// The relay and the decoded first halves of a /runtimeInfo, spikes left out (/api/power).
PowerReading power_reading(const RuntimeInfo& info, PowerDecoding decoding);

double round_to(double value, double scale);

class Readings {
 public:
  Readings(Hub& hub, Metrics& metrics, const Logger& log, PowerDecoding decoding)
      : hub_(hub), metrics_(metrics), log_(log), decoding_(decoding) {}

  // A /runtimeInfo of a registered outlet: load_power and voltage (null when "NaN"), and the
  // raw halves, both decoded halves and the decoding as attributes.
  void runtime(const Outlet& outlet, const RuntimeInfo& info);

  // A value beyond its plausible bound: counted in localcloud_vesync_filtered_total{property},
  // logged at debug, not published.
  void filtered(const char* property, const Outlet& outlet, double value);

  PowerDecoding decoding() const { return decoding_; }

 private:
  Hub& hub_;
  Metrics& metrics_;
  const Logger& log_;
  PowerDecoding decoding_;
};

}  // namespace lc::vesync
