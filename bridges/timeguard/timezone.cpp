#include "bridges/timeguard/timezone.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>

namespace lc::timeguard {
namespace {

constexpr int64_t kDay = 86400;

bool is_leap(int64_t year) { return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0; }

unsigned days_in_month(int64_t year, unsigned month) {
  static const unsigned days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && is_leap(year) ? 29 : days[month - 1];
}

int64_t floor_div(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

// Year of a day count since 1970-01-01 (inverse of days_from_civil, year only).
int64_t year_of_days(int64_t z) {
  z += 719468;
  const int64_t era = floor_div(z, 146097);
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int64_t month = mp < 10 ? mp + 3 : mp - 9;
  return yoe + era * 400 + (month <= 2);
}

// A little cursor over the POSIX TZ string.
struct Cursor {
  std::string_view text;
  size_t pos = 0;
  bool done() const { return pos >= text.size(); }
  char peek() const { return done() ? '\0' : text[pos]; }
  bool eat(char c) {
    if (peek() != c) return false;
    ++pos;
    return true;
  }
  std::optional<int> number(int max_digits = 3) {
    int value = 0, digits = 0;
    while (!done() && text[pos] >= '0' && text[pos] <= '9' && digits < max_digits) {
      value = value * 10 + (text[pos++] - '0');
      ++digits;
    }
    if (digits == 0) return std::nullopt;
    return value;
  }
  // std/dst designation: 3+ letters, or <...> with letters, digits, + and -.
  bool name() {
    if (eat('<')) {
      const size_t start = pos;
      while (!done() && text[pos] != '>') ++pos;
      if (done() || pos - start < 3) return false;
      ++pos;
      return true;
    }
    const size_t start = pos;
    while (!done() && ((text[pos] >= 'A' && text[pos] <= 'Z') || (text[pos] >= 'a' && text[pos] <= 'z'))) ++pos;
    return pos - start >= 3;
  }
  // [+-]hh[:mm[:ss]] as seconds; hours up to 167 (RFC 8536 extension for rule times).
  std::optional<int32_t> hms(bool allow_sign = true) {
    int sign = 1;
    if (allow_sign) {
      if (eat('-')) sign = -1;
      else eat('+');
    }
    auto hours = number(3);
    if (!hours || *hours > 167) return std::nullopt;
    int32_t seconds = *hours * 3600;
    if (eat(':')) {
      auto minutes = number(2);
      if (!minutes || *minutes > 59) return std::nullopt;
      seconds += *minutes * 60;
      if (eat(':')) {
        auto secs = number(2);
        if (!secs || *secs > 59) return std::nullopt;
        seconds += *secs;
      }
    }
    return sign * seconds;
  }
};

// A regular file only: libstdc++ throws when it reads a directory ("Europe").
std::optional<std::vector<uint8_t>> read_file(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return std::nullopt;
  try {
    std::ifstream in(path, std::ios::binary);
    if (!in) return std::nullopt;
    std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (bytes.size() > (1u << 20)) return std::nullopt;
    return bytes;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

int64_t be(std::span<const uint8_t> d, size_t at, size_t width) {
  uint64_t value = 0;
  for (size_t i = 0; i < width; ++i) value = (value << 8) | d[at + i];
  if (width == 4) return static_cast<int32_t>(static_cast<uint32_t>(value));
  return static_cast<int64_t>(value);
}

}  // namespace

int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = floor_div(y, 400);
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

int minute_of_week(int64_t local_seconds) {
  const int64_t days = floor_div(local_seconds, kDay);
  const int64_t weekday = ((days + 4) % 7 + 7) % 7;  // 1970-01-01 was a Thursday; 0 = Sunday
  const int64_t second_of_day = local_seconds - days * kDay;
  return static_cast<int>(weekday * 1440 + second_of_day / 60);
}

std::optional<int> boost_remaining_minutes(BoostWord boost, int64_t now_unix, const TimeZone& zone) {
  if (boost.kind() == BoostKind::unspecified) return std::nullopt;
  const int duration = boost.duration_minutes();
  if (duration == 0) return 0;
  const int now = minute_of_week(zone.to_local(now_unix));
  int elapsed = ((now - boost.start_minute()) % kMinutesPerWeek + kMinutesPerWeek) % kMinutesPerWeek;
  if (elapsed > kMinutesPerWeek - 5) elapsed = 0;
  return elapsed < duration ? duration - elapsed : 0;
}

TimeZone TimeZone::fixed(int32_t offset_s) {
  TimeZone zone;
  zone.posix_ = Posix{offset_s, false, offset_s, {}, {}};
  zone.source_ = "fixed offset";
  return zone;
}

std::optional<TimeZone::Posix> TimeZone::parse_posix(std::string_view rule) {
  Cursor c{rule};
  Posix p;
  if (!c.name()) return std::nullopt;
  auto std_west = c.hms();
  if (!std_west || *std_west < -25 * 3600 || *std_west > 25 * 3600) return std::nullopt;
  p.std_offset = -*std_west;  // POSIX offsets count west of Greenwich
  if (c.done()) return p;
  if (!c.name()) return std::nullopt;
  p.has_dst = true;
  p.dst_offset = p.std_offset + 3600;
  if (!c.done() && c.peek() != ',') {
    auto dst_west = c.hms();
    if (!dst_west || *dst_west < -25 * 3600 || *dst_west > 25 * 3600) return std::nullopt;
    p.dst_offset = -*dst_west;
  }
  if (c.done()) {  // no rule: POSIX leaves it to the implementation; use the US rule like glibc
    p.start = Rule{Rule::Form::month_week_day, 0, 2, 3, 7200};
    p.end = Rule{Rule::Form::month_week_day, 0, 1, 11, 7200};
    return p;
  }
  auto parse_rule = [&](Rule& r) -> bool {
    if (!c.eat(',')) return false;
    if (c.eat('M')) {
      auto month = c.number(2);
      if (!month || *month < 1 || *month > 12 || !c.eat('.')) return false;
      auto week = c.number(1);
      if (!week || *week < 1 || *week > 5 || !c.eat('.')) return false;
      auto day = c.number(1);
      if (!day || *day > 6) return false;
      r = Rule{Rule::Form::month_week_day, *day, *week, *month, 7200};
    } else if (c.eat('J')) {
      auto day = c.number(3);
      if (!day || *day < 1 || *day > 365) return false;
      r = Rule{Rule::Form::julian_no_leap, *day, 0, 0, 7200};
    } else {
      auto day = c.number(3);
      if (!day || *day > 365) return false;
      r = Rule{Rule::Form::zero_based, *day, 0, 0, 7200};
    }
    if (c.eat('/')) {
      auto time = c.hms();
      if (!time) return false;
      r.time = *time;
    }
    return true;
  };
  if (!parse_rule(p.start) || !parse_rule(p.end) || !c.done()) return std::nullopt;
  return p;
}

int64_t TimeZone::rule_time(const Rule& r, int year) {
  int64_t day;
  switch (r.form) {
    case Rule::Form::julian_no_leap:
      day = days_from_civil(year, 1, 1) + r.day - 1 + (is_leap(year) && r.day >= 60 ? 1 : 0);
      break;
    case Rule::Form::zero_based:
      day = days_from_civil(year, 1, 1) + r.day;
      break;
    case Rule::Form::month_week_day: {
      const int64_t first = days_from_civil(year, static_cast<unsigned>(r.month), 1);
      const int64_t first_weekday = ((first + 4) % 7 + 7) % 7;
      int64_t mday = 1 + ((r.day - first_weekday) % 7 + 7) % 7 + (r.week - 1) * 7;
      while (mday > days_in_month(year, static_cast<unsigned>(r.month))) mday -= 7;
      day = first + mday - 1;
      break;
    }
    default:
      day = 0;
  }
  return day * kDay + r.time;
}

int32_t TimeZone::posix_offset(const Posix& p, int64_t t) {
  if (!p.has_dst) return p.std_offset;
  const int year = static_cast<int>(year_of_days(floor_div(t + p.std_offset, kDay)));
  // Transition instants in UTC: the start is given in standard time, the end in daylight time.
  const int64_t start = rule_time(p.start, year) - p.std_offset;
  const int64_t end = rule_time(p.end, year) - p.dst_offset;
  const bool dst = start < end ? (t >= start && t < end) : !(t >= end && t < start);
  return dst ? p.dst_offset : p.std_offset;
}

int32_t TimeZone::utc_offset(int64_t t) const {
  if (!transitions_.empty() && t >= transitions_.front() && (t < transitions_.back() || !posix_)) {
    const auto it = std::upper_bound(transitions_.begin(), transitions_.end(), t);
    return type_offset_[transition_type_[static_cast<size_t>(it - transitions_.begin()) - 1]];
  }
  if (!transitions_.empty() && t < transitions_.front()) return type_offset_.empty() ? 0 : type_offset_[0];
  if (posix_) return posix_offset(*posix_, t);
  return type_offset_.empty() ? 0 : type_offset_[0];
}

std::optional<TimeZone> TimeZone::from_posix(std::string_view rule) {
  auto posix = parse_posix(rule);
  if (!posix) return std::nullopt;
  TimeZone zone;
  zone.posix_ = posix;
  zone.source_ = "POSIX rule " + std::string(rule);
  return zone;
}

std::optional<TimeZone> TimeZone::from_tzif(std::span<const uint8_t> d) {
  // RFC 8536 §3: header, v1 data block, and for version 2+ a second header, a 64-bit data
  // block and a footer "\n<POSIX TZ>\n".
  auto header = [&](size_t at, size_t counts[6]) -> bool {
    if (d.size() < at + 44 || d[at] != 'T' || d[at + 1] != 'Z' || d[at + 2] != 'i' || d[at + 3] != 'f') return false;
    for (int i = 0; i < 6; ++i) {
      const int64_t value = be(d, at + 20 + 4 * static_cast<size_t>(i), 4);
      if (value < 0 || value > 100000) return false;
      counts[i] = static_cast<size_t>(value);
    }
    return true;
  };
  auto block_size = [](const size_t c[6], size_t time_size) {
    // isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt
    return c[3] * time_size + c[3] + c[4] * 6 + c[5] + c[2] * (time_size + 4) + c[1] + c[0];
  };
  size_t counts[6];
  if (!header(0, counts)) return std::nullopt;
  const uint8_t version = d[4];
  size_t at = 44;
  size_t time_size = 4;
  if (version >= '2') {
    at += block_size(counts, 4);
    if (!header(at, counts)) return std::nullopt;
    at += 44;
    time_size = 8;
  }
  if (d.size() < at + block_size(counts, time_size)) return std::nullopt;
  const size_t timecnt = counts[3], typecnt = counts[4];
  if (typecnt == 0) return std::nullopt;
  TimeZone zone;
  for (size_t i = 0; i < timecnt; ++i) zone.transitions_.push_back(be(d, at + i * time_size, time_size));
  at += timecnt * time_size;
  for (size_t i = 0; i < timecnt; ++i) {
    if (d[at + i] >= typecnt) return std::nullopt;
    zone.transition_type_.push_back(d[at + i]);
  }
  at += timecnt;
  for (size_t i = 0; i < typecnt; ++i) zone.type_offset_.push_back(static_cast<int32_t>(be(d, at + 6 * i, 4)));
  if (!std::is_sorted(zone.transitions_.begin(), zone.transitions_.end())) return std::nullopt;
  at += block_size(counts, time_size) - timecnt * time_size - timecnt;
  if (time_size == 8 && at < d.size() && d[at] == '\n') {
    const auto end = std::find(d.begin() + static_cast<std::ptrdiff_t>(at) + 1, d.end(), uint8_t{'\n'});
    const std::string footer(d.begin() + static_cast<std::ptrdiff_t>(at) + 1, end);
    if (!footer.empty()) zone.posix_ = parse_posix(footer);
  }
  zone.source_ = "TZif";
  return zone;
}

std::optional<TimeZone> TimeZone::load(std::string_view name, std::string& error) {
  if (!name.empty() && name.front() == ':') name.remove_prefix(1);
  const bool path_like = name.find("..") == std::string_view::npos && !name.empty() && name.front() != '/';
  if (path_like) {
    const char* dir = std::getenv("TZDIR");
    const std::string path = std::string(dir && *dir ? dir : "/usr/share/zoneinfo") + "/" + std::string(name);
    if (auto bytes = read_file(path)) {
      if (auto zone = from_tzif(*bytes)) {
        zone->source_ = "tzdata " + path;
        return zone;
      }
      error = path + " is not a TZif file";
      return std::nullopt;
    }
  }
  if (auto zone = from_posix(name)) return zone;
  if (name == "Europe/London" || name == "GB") {
    auto zone = from_posix("GMT0BST,M3.5.0/1,M10.5.0");
    zone->source_ = "built-in rule GMT0BST,M3.5.0/1,M10.5.0 (no tzdata)";
    return zone;
  }
  if (name == "UTC" || name == "Etc/UTC" || name == "GMT" || name == "Etc/GMT") {
    auto zone = fixed(0);
    zone.source_ = "UTC (no tzdata)";
    return zone;
  }
  error = "unknown time zone \"" + std::string(name) +
          "\": no TZif file of that name (tzdata not installed?) and not a POSIX TZ string";
  return std::nullopt;
}

}  // namespace lc::timeguard
