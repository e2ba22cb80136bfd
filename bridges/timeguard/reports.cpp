// Reports to the Hub (reports.h). QN: the open questions of docs/protocols/timeguard.md §7.
#include "bridges/timeguard/reports.h"

#include "core/coarse_clock.h"

namespace lc::timeguard {

namespace {

int64_t unix_now() {
  using namespace std::chrono;
  return duration_cast<seconds>(system_clock::now().time_since_epoch()).count();
}

// The uptime changes with every ping; it goes to the Hub at most this often, so that a home
// of ticking devices does not publish a state message per ping (issue 15's "values change
// on every packet" bench row).
constexpr auto kUptimeInterval = std::chrono::seconds(60);

// The hot path: a compare of two integers when nothing changed.
void report(Hub& hub, DeviceState& device, PingProperty property, int64_t code) {
  int64_t& last = device.reported[static_cast<size_t>(property)];
  if (last == code) return;
  if (property == PingProperty::uptime && !once_every(device.uptime_reported, kUptimeInterval)) return;
  last = code;
  hub.state_changed(device.key, property_name(property), property_json(property, code));
}

void report_attributes(Hub& hub, DeviceState& device) {
  Json schedules = Json::array();
  for (const auto& schedule : device.schedules) schedules.push_back(schedule ? schedule_json(*schedule) : Json());
  const auto active = device.active_schedule;
  const bool active_known = active && *active < kSchedules && device.schedules[*active];
  Json attributes = {
      {"active_schedule_index", active ? Json(*active) : Json()},
      {"active_schedule_name", active_known ? Json(device.schedules[*active]->name()) : Json()},
      {"schedules", std::move(schedules)},
      {"holiday", device.holiday ? holiday_json(*device.holiday) : Json()},
      {"load_previously_detected", device.ping ? Json(device.ping->load_previously_detected()) : Json()},
      {"code_version", device.code_version.empty() ? Json() : Json(device.code_version)},
  };
  if (attributes == device.attributes) return;
  device.attributes = attributes;
  hub.attributes_changed(device.key, std::move(attributes));
}

void report_code_version(Hub& hub, DeviceState& device, const std::string& version) {
  if (device.firmware_reported && version == device.code_version) return;
  hub.state_changed(device.key, "firmware", version);
  device.firmware_reported = true;
  if (version == device.code_version) return;
  device.code_version = version;
  device.info.firmware = version;
  device.info.model = model_of(version);
  hub.device_seen(device.info);  // a new description: model and firmware
}

void report_active_schedule(Hub& hub, DeviceState& device, uint8_t index) {
  device.active_schedule = index;
  hub.state_changed(device.key, "active_schedule", index < kSchedules ? Json(schedule_option(index)) : Json());
  report_attributes(hub, device);
}

void report_schedule(Hub& hub, DeviceState& device, const Schedule& schedule) {
  if (schedule.index >= kSchedules) return;
  // A new name changes the attributes only: the select's options are the numbers.
  device.schedules[schedule.index] = schedule;
  report_attributes(hub, device);
}

}  // namespace

void report_ping(Hub& hub, DeviceState& device, const PingStatus& ping, const TimeZone& zone) {
  const int64_t now = ping.boost.duration_minutes() ? unix_now() : 0;  // only a running boost needs it
  const auto codes = ping_codes(ping, boost_remaining_minutes(ping.boost, now, zone));
  for (size_t i = 0; i < kPingProperties; ++i) report(hub, device, static_cast<PingProperty>(i), codes[i]);
  const bool attributes_change =
      !device.ping || device.ping->load_previously_detected() != ping.load_previously_detected();
  device.ping = ping;
  if (attributes_change) report_attributes(hub, device);
}

void report_frame(Hub& hub, DeviceState& device, const FrameView& frame, Kind kind, const TimeZone& zone) {
  switch (kind) {
    case Kind::ping:
      if (auto ping = decode_ping(frame.params)) report_ping(hub, device, *ping, zone);
      break;
    case Kind::code_version_report:
    case Kind::code_version_reply:
      if (auto version = decode_code_version(frame.params)) report_code_version(hub, device, version->text());
      break;
    case Kind::active_schedule_reply:
    case Kind::active_schedule_ack:
      if (auto index = decode_u8(frame.params)) report_active_schedule(hub, device, *index);
      break;
    case Kind::schedule_reply:
    case Kind::schedule_ack:
      if (auto schedule = decode_schedule(frame.params)) report_schedule(hub, device, *schedule);
      break;
    case Kind::holiday_reply:
    case Kind::holiday_ack:
      if (auto holiday = decode_holiday(frame.params)) {
        device.holiday = *holiday;
        report_attributes(hub, device);
      }
      break;
    case Kind::work_mode_ack:
      if (auto mode = decode_u8(frame.params)) report(hub, device, PingProperty::work_mode, work_mode_code(*mode));
      break;
    case Kind::advance_ack:
      if (auto on = decode_u8(frame.params)) report(hub, device, PingProperty::advance, on_off_code(*on != 0));
      break;
    case Kind::boost_ack:
      // Which word is which is not settled (Q7): the kind is taken only when both agree.
      if (auto words = decode_boost_ack(frame.params); words && (*words)[0].kind() == (*words)[1].kind()) {
        if (const int64_t code = boost_code((*words)[0].kind()); code != kNullCode)
          report(hub, device, PingProperty::boost, code);
      }
      break;
    default:
      break;
  }
}

}  // namespace lc::timeguard
