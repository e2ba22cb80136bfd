// Which unknown devices (not in the config) a bridge registers, PRODUCT.md "Bad input": none
// while accept_unknown is false, at most max_unknown, and at most one new one a second (a
// device over the rate is refused for now; its bridge asks again on a later keepalive).
#pragma once

#include <chrono>
#include <set>
#include <string>
#include <string_view>

#include "bridges/bridge.h"
#include "core/log.h"
#include "core/metrics.h"

namespace lc {

class UnknownAdmission {
 public:
  enum class Verdict { admit, defer, refuse };

  UnknownAdmission(const Logger& log, Counter& refused);

  // For an unknown device that is not registered. `registered` counts the bridge's registered
  // unknown devices. A refusal is counted and logged once per id.
  Verdict consider(const DeviceInfo& info, const BridgePolicy& policy, int registered);
  // The device was removed: a later refusal is logged again.
  void forget_refusal(std::string_view id);

 private:
  using Clock = std::chrono::steady_clock;
  void refuse(std::string_view id, const char* reason);

  const Logger& log_;
  Counter& refused_;
  Clock::time_point last_admitted_{};
  std::set<std::string, std::less<>> refusals_logged_;
};

}  // namespace lc
