// UTC offsets for the `timeguard.timezone` setting, without the C++20 tzdb that g++ 12 lacks.
//
// The devices run boost and schedules in UK local time (docs/protocols/timeguard.md Q3): the
// boost word's start minute counts from Sunday 00:00 local time. An IANA name is read from
// the TZif file in $TZDIR or /usr/share/zoneinfo (RFC 8536, version 1-3, with the POSIX rule
// of its footer for times after the last transition); without that file, a POSIX TZ string
// ("GMT0BST,M3.5.0/1,M10.5.0") is accepted, and Europe/London and UTC work from a built-in
// rule (the EU rule in force since 1996: historic UK dates before that come out wrong).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "bridges/timeguard/codec.h"

namespace lc::timeguard {

class TimeZone {
 public:
  // A zone that is always `offset_s` east of UTC.
  static TimeZone fixed(int32_t offset_s);
  // IANA name (TZif file), else POSIX TZ string, else the built-in rules. `error` says why not.
  static std::optional<TimeZone> load(std::string_view name, std::string& error);
  static std::optional<TimeZone> from_tzif(std::span<const uint8_t> data);
  static std::optional<TimeZone> from_posix(std::string_view rule);

  // Seconds east of UTC in force at `unix_time`.
  int32_t utc_offset(int64_t unix_time) const;
  int64_t to_local(int64_t unix_time) const { return unix_time + utc_offset(unix_time); }
  // Where the rules came from: "tzdata /usr/share/zoneinfo/Europe/London", "POSIX rule ...".
  const std::string& source() const { return source_; }

 private:
  struct Rule {  // one end of a POSIX daylight-saving rule
    enum class Form { julian_no_leap, zero_based, month_week_day } form = Form::month_week_day;
    int day = 0, week = 0, month = 0;  // Jn / n: day; Mm.w.d: month, week, day (0 = Sunday)
    int32_t time = 7200;               // seconds after local midnight
  };
  struct Posix {
    int32_t std_offset = 0;  // seconds east of UTC
    bool has_dst = false;
    int32_t dst_offset = 0;
    Rule start, end;
  };
  static std::optional<Posix> parse_posix(std::string_view rule);
  static int32_t posix_offset(const Posix& posix, int64_t unix_time);
  static int64_t rule_time(const Rule& rule, int year);  // local seconds since the epoch

  std::vector<int64_t> transitions_;  // ascending unix times
  std::vector<uint8_t> transition_type_;
  std::vector<int32_t> type_offset_;
  std::optional<Posix> posix_;  // after the last transition (or alone)
  std::string source_;
};

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil).
int64_t days_from_civil(int64_t year, unsigned month, unsigned day);
// Minutes since Sunday 00:00 of a local time in seconds since 1970-01-01 00:00 local.
int minute_of_week(int64_t local_seconds);
// Boost minutes left at `now_unix` for a boost word whose start minute counts in local time
// of `zone`: 0 when off or elapsed, nullopt for the "unspecified" kind 3. A start up to five
// minutes in the future counts as just started (clock skew between us and the device).
std::optional<int> boost_remaining_minutes(BoostWord boost, int64_t now_unix, const TimeZone& zone);

}  // namespace lc::timeguard
