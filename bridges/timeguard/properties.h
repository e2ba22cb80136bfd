// What a Timeguard device looks like to the Hub: its properties (README.md "timeguard",
// docs/timeguard.md "MQTT"), the values they take, and the JSON of the attributes.
// Section numbers (§N, QN) are those of docs/protocols/timeguard.md.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bridges/device.h"
#include "bridges/timeguard/codec.h"

namespace lc::timeguard {

using Json = nlohmann::json;

// Property values as published.
extern const std::array<const char*, 4> kWorkModeNames;  // auto, always_off, always_on, holiday
extern const std::array<const char*, 3> kBoostNames;     // off, 1h, 2h

// The active_schedule select's options: "schedule_1".."schedule_6" (the schedule's index + 1).
// They stay the same for the device's life: the names, which the device reports later and the
// user may change, are in the attributes (docs/timeguard.md "Schedule names"). Not bare
// numbers: a plain MQTT payload "3" arrives as a JSON number, which is no select option.
std::string schedule_option(size_t index);
// The schedule index of an option, or nullopt.
std::optional<uint8_t> schedule_index(std::string_view option);

// The properties of a device (the same for every Timeguard device).
std::vector<Property> device_properties(bool allow_raw);

// The properties a ping carries, kept per device as small integer codes (an index into the
// names above, 0/1 for OFF/ON, a number; kNullCode for JSON null) so that a ping can be
// compared with what was last reported before any JSON is built (the hot path).
enum class PingProperty : uint8_t { relay, load_detected, work_mode, boost, boost_remaining, advance, uptime };
constexpr size_t kPingProperties = 7;
constexpr int64_t kNullCode = -1;
const char* property_name(PingProperty property);
Json property_json(PingProperty property, int64_t code);

// The codes of each property for a ping; `boost_remaining` as boost_remaining_minutes() says.
std::array<int64_t, kPingProperties> ping_codes(const PingStatus& ping, std::optional<int> boost_remaining);
// The code of a work mode / boost kind byte (kNullCode when out of range) and of a bool.
int64_t work_mode_code(uint8_t mode);
int64_t boost_code(BoostKind kind);
constexpr int64_t on_off_code(bool on) { return on ? 1 : 0; }

// Attribute JSON: a schedule's slots and name, the holiday settings.
Json schedule_json(const Schedule& schedule);
Json holiday_json(const Holiday& holiday);

}  // namespace lc::timeguard
