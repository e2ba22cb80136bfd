// Properties and attribute JSON (properties.h). QN: docs/protocols/timeguard.md §7.
#include "bridges/timeguard/properties.h"

#include <cstdio>
#include <ctime>

#include "core/hex.h"

namespace lc::timeguard {

const std::array<const char*, 4> kWorkModeNames = {"auto", "always_off", "always_on", "holiday"};
const std::array<const char*, 3> kBoostNames = {"off", "1h", "2h"};

namespace {

constexpr std::string_view kScheduleOptionPrefix = "schedule_";
constexpr const char* kDayNames[7] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};
constexpr const char* kPingPropertyNames[kPingProperties] = {"relay",           "load_detected", "work_mode", "boost",
                                                             "boost_remaining", "advance",       "uptime"};

std::string hh_mm(int minutes) {
  char text[32];
  std::snprintf(text, sizeof text, "%02d:%02d", minutes / 60, minutes % 60);
  return text;
}

// The u32 as a calendar time without a zone: whether the device means UTC or UK wall time is
// not known (Q5).
std::string calendar(uint32_t seconds) {
  const std::time_t t = static_cast<std::time_t>(seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char text[64];
  std::snprintf(text, sizeof text, "%04d-%02d-%02d %02d:%02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec);
  return text;
}

}  // namespace

std::string schedule_option(size_t index) { return std::string(kScheduleOptionPrefix) + std::to_string(index + 1); }

std::optional<uint8_t> schedule_index(std::string_view option) {
  if (option.size() != kScheduleOptionPrefix.size() + 1 || !option.starts_with(kScheduleOptionPrefix)) return std::nullopt;
  const char number = option.back();
  if (number < '1' || number > '0' + static_cast<int>(kSchedules)) return std::nullopt;
  return static_cast<uint8_t>(number - '1');
}

std::vector<Property> device_properties(bool allow_raw) {
  std::vector<Property> properties;
  auto add = [&](std::string key, Component component) -> Property& {
    Property& p = properties.emplace_back();
    p.key = std::move(key);
    p.component = component;
    return p;
  };
  {
    Property& p = add("relay", Component::binary_sensor);
    p.main = true;
    p.device_class = "power";
  }
  add("load_detected", Component::binary_sensor).icon = "mdi:current-ac";
  {
    Property& p = add("work_mode", Component::select);
    p.writable = true;
    p.options.assign(kWorkModeNames.begin(), kWorkModeNames.end());
    p.icon = "mdi:calendar-clock";
    p.attributes = true;  // holiday settings live in the attributes
  }
  {
    Property& p = add("boost", Component::select);
    p.writable = true;
    p.options.assign(kBoostNames.begin(), kBoostNames.end());
    p.icon = "mdi:timer-plus-outline";
  }
  {
    Property& p = add("boost_remaining", Component::sensor);
    p.unit = "min";
    p.device_class = "duration";
    p.state_class = "measurement";
  }
  {
    Property& p = add("advance", Component::switch_);
    p.writable = true;
    p.icon = "mdi:skip-next";
  }
  {
    Property& p = add("active_schedule", Component::select);
    p.writable = true;
    for (size_t i = 0; i < kSchedules; ++i) p.options.push_back(schedule_option(i));
    p.icon = "mdi:calendar-week";
    p.attributes = true;  // the six schedules and their names live in the attributes
  }
  {
    Property& p = add("uptime", Component::sensor);
    p.unit = "s";
    p.device_class = "duration";
    p.state_class = "measurement";
    p.diagnostic = true;
    p.enabled_by_default = false;  // changes with every ping
  }
  {
    Property& p = add("firmware", Component::sensor);
    p.diagnostic = true;
    p.icon = "mdi:chip";
  }
  if (allow_raw) {
    // <key>/set/raw: a whole frame in hex (a writable sensor: the Hub passes the text on).
    // A debugging aid, so no Home Assistant entity.
    Property& p = add("raw", Component::sensor);
    p.writable = true;
    p.hidden = true;
  }
  return properties;
}

const char* property_name(PingProperty property) { return kPingPropertyNames[static_cast<size_t>(property)]; }

Json property_json(PingProperty property, int64_t code) {
  if (code == kNullCode) return nullptr;
  switch (property) {
    case PingProperty::relay:
    case PingProperty::load_detected:
    case PingProperty::advance:
      return code ? "ON" : "OFF";
    case PingProperty::work_mode:
      return kWorkModeNames[static_cast<size_t>(code)];
    case PingProperty::boost:
      return kBoostNames[static_cast<size_t>(code)];
    case PingProperty::boost_remaining:
    case PingProperty::uptime:
      return code;
  }
  return nullptr;
}

int64_t work_mode_code(uint8_t mode) { return mode < kWorkModeNames.size() ? mode : kNullCode; }

int64_t boost_code(BoostKind kind) {
  const auto index = static_cast<size_t>(kind);
  return index < kBoostNames.size() ? static_cast<int64_t>(index) : kNullCode;
}

std::array<int64_t, kPingProperties> ping_codes(const PingStatus& ping, std::optional<int> boost_remaining) {
  const Relay relay = ping.relay();
  return {relay == Relay::on ? 1 : relay == Relay::off ? 0 : kNullCode,
          on_off_code(ping.load_detected()),
          work_mode_code(ping.work_mode),
          boost_code(ping.boost.kind()),
          boost_remaining ? *boost_remaining : kNullCode,
          on_off_code(ping.advance()),
          ping.uptime_s};
}

Json schedule_json(const Schedule& schedule) {
  Json slots = Json::array();
  for (const Slot& slot : schedule.slots) {
    Json days = Json::array();
    for (int day = 0; day < 7; ++day)
      if (slot.days & (1 << day)) days.push_back(kDayNames[day]);
    Json entry = {{"start", hh_mm(slot.start.minutes())},
                  {"start_enabled", slot.start.enabled()},
                  {"end", hh_mm(slot.end.minutes())},
                  {"end_enabled", slot.end.enabled()},
                  {"days", days}};
    // Bits nobody has explained (Q6) are shown only when set (kept on writes anyway).
    if (slot.unknown) entry["unknown"] = slot.unknown;
    if ((slot.start.raw | slot.end.raw) & 0xe000) entry["reserved_bits"] = (slot.start.raw | slot.end.raw) >> 13;
    if (slot.days & 0x80) entry["day_bit7"] = true;
    slots.push_back(std::move(entry));
  }
  return {{"index", schedule.index}, {"name", schedule.name()}, {"slots", std::move(slots)}};
}

Json holiday_json(const Holiday& holiday) {
  Json out = {{"active", holiday.active != 0},
              {"time_a", calendar(holiday.time_a)},
              {"time_b", calendar(holiday.time_b)},
              {"time_a_raw", holiday.time_a},
              {"time_b_raw", holiday.time_b}};
  if (holiday.active > 1) out["active_raw"] = holiday.active;
  out["unknown"] = hex(holiday.unknown);
  return out;
}

}  // namespace lc::timeguard
