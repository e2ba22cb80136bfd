// What the bridge keeps about one registered Timeguard device: what it learned from the
// device's frames, what it last told the Hub (so that a ping that changed nothing reports
// nothing), and the requests it makes of the device.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include <boost/asio/io_context.hpp>

#include "bridges/device.h"
#include "bridges/timeguard/codec.h"
#include "bridges/timeguard/properties.h"
#include "bridges/timeguard/requests.h"

namespace lc::timeguard {

// A property code no value has: nothing reported yet.
constexpr int64_t kNotReported = INT64_MIN;

struct DeviceState {
  using Clock = std::chrono::steady_clock;

  DeviceState(boost::asio::io_context& io, const DeviceRequests::Shared& shared, DeviceInfo description, uint32_t id)
      : id(id), key(description.id), info(std::move(description)), requests(io, shared, id, key) {
    reported.fill(kNotReported);
  }

  uint32_t id;
  std::string key;  // DeviceInfo::id, 8 hex digits
  DeviceInfo info;  // as last given to Hub::device_seen

  // Learned from the device.
  std::optional<PingStatus> ping;
  std::string code_version;
  std::optional<uint8_t> active_schedule;
  std::array<std::optional<Schedule>, kSchedules> schedules;
  std::optional<Holiday> holiday;

  // Told to the Hub.
  std::array<int64_t, kPingProperties> reported;  // the ping's properties, as codes
  bool firmware_reported = false;
  Json attributes;
  bool heard_before = false;
  Clock::time_point heard_reported{};  // Hub::heard at most once a second
  Clock::time_point exchange_reported{};  // Hub::cloud_exchange at most once a second
  Clock::time_point uptime_reported{};  // the uptime at most once a minute (reports.cpp)

  DeviceRequests requests;
  Clock::time_point next_refresh{};  // first-sight reads missing: ask again from then
};

}  // namespace lc::timeguard
