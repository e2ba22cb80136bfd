// Which unknown devices (not in the config) a bridge registers, docs/config.md (accept_unknown, max_unknown): none
// while accept_unknown is false, at most max_unknown, and at most one new one a second. A
// device over the rate waits in a queue, bounded by what max_unknown still allows, and a timer
// admits it in its turn: the bridge does not have to ask again.
#pragma once

#include <chrono>
#include <deque>
#include <functional>
#include <set>
#include <string>
#include <string_view>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "bridges/bridge.h"
#include "core/log.h"
#include "core/metrics.h"

namespace lc {

class UnknownAdmission {
 public:
  enum class Verdict { admit, defer, refuse };
  using Admit = std::function<void(const DeviceInfo& info)>;

  // `admit_deferred` registers a waiting device when the timer says its turn has come.
  UnknownAdmission(boost::asio::io_context& io, const Logger& log, Counter& refused, Admit admit_deferred);

  // For an unknown device that is not registered. `registered` counts the bridge's registered
  // unknown devices. A refusal is counted and logged once per id; a device already waiting
  // gets its description replaced, and is admitted now if it is first in line and the rate
  // allows.
  Verdict consider(const DeviceInfo& info, const BridgePolicy& policy, int registered);

  // The device no longer waits (it is registered as a configured device).
  void withdraw(std::string_view id);
  // The device was removed: a later refusal is logged again.
  void forget_refusal(std::string_view id);
  size_t waiting() const { return waiting_.size(); }
  void stop();

 private:
  using Clock = std::chrono::steady_clock;
  bool rate_allows(Clock::time_point now) const;
  void refuse(std::string_view id, const char* reason);
  void arm();
  void on_turn();

  const Logger& log_;
  Counter& refused_;
  Admit admit_deferred_;
  boost::asio::steady_timer timer_;
  bool armed_ = false;
  std::deque<DeviceInfo> waiting_;  // first come, first admitted
  Clock::time_point last_admitted_{};
  std::set<std::string, std::less<>> refusals_logged_;
};

}  // namespace lc
