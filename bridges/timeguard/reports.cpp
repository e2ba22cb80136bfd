// Reports to the Hub (reports.h). QN: the open questions of docs/protocols/timeguard.md §7.
#include "bridges/timeguard/reports.h"

namespace lc::timeguard {

namespace {

int64_t unix_now() {
  using namespace std::chrono;
  return duration_cast<seconds>(system_clock::now().time_since_epoch()).count();
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
  hub.state_changed(device.key, "firmware", version);
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
  const std::string& id = device.key;
  switch (ping.relay()) {
    case Relay::on: hub.state_changed(id, "relay", "ON"); break;
    case Relay::off: hub.state_changed(id, "relay", "OFF"); break;
    default: hub.state_changed(id, "relay", nullptr); break;
  }
  hub.state_changed(id, "load_detected", on_off(ping.load_detected()));
  hub.state_changed(id, "work_mode", work_mode_json(ping.work_mode));
  hub.state_changed(id, "boost", boost_json(ping.boost.kind()));
  const auto remaining = boost_remaining_minutes(ping.boost, unix_now(), zone);
  hub.state_changed(id, "boost_remaining", remaining ? Json(*remaining) : Json());
  hub.state_changed(id, "advance", on_off(ping.advance()));
  hub.state_changed(id, "uptime", ping.uptime_s);
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
      if (auto mode = decode_u8(frame.params)) hub.state_changed(device.key, "work_mode", work_mode_json(*mode));
      break;
    case Kind::advance_ack:
      if (auto on = decode_u8(frame.params)) hub.state_changed(device.key, "advance", on_off(*on != 0));
      break;
    case Kind::boost_ack:
      // Which word is which is not settled (Q7): the kind is taken only when both agree.
      if (auto words = decode_boost_ack(frame.params); words && (*words)[0].kind() == (*words)[1].kind()) {
        if (Json boost = boost_json((*words)[0].kind()); !boost.is_null())
          hub.state_changed(device.key, "boost", std::move(boost));
      }
      break;
    default:
      break;
  }
}

}  // namespace lc::timeguard
