// UTC offsets without tzdb: the TZif reader, POSIX TZ rules, the built-in Europe/London rule,
// and the boost countdown in local time (docs/protocols/timeguard.md Q3). Expected offsets were
// taken from Python's zoneinfo.
#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "bridges/timeguard/timezone.h"

using namespace lc::timeguard;

namespace {

const int64_t kDstStart2021 = 1616893200;  // 2021-03-28 01:00:00 UTC
const int64_t kDstEnd2021 = 1635642000;    // 2021-10-31 01:00:00 UTC

void check_london_2021(const TimeZone& zone) {
  CHECK(zone.utc_offset(kDstStart2021 - 1) == 0);
  CHECK(zone.utc_offset(kDstStart2021) == 3600);
  CHECK(zone.utc_offset(kDstEnd2021 - 1) == 3600);
  CHECK(zone.utc_offset(kDstEnd2021) == 0);
  CHECK(zone.utc_offset(4118083200) == 3600);  // 2100-07-01: the footer rule / the EU rule
  CHECK(zone.utc_offset(4102444800) == 0);     // 2100-01-01
}

struct ScopedTzdir {
  explicit ScopedTzdir(const char* value) {
    const char* old = std::getenv("TZDIR");
    if (old) saved = old, had = true;
    setenv("TZDIR", value, 1);
  }
  ~ScopedTzdir() {
    if (had) setenv("TZDIR", saved.c_str(), 1);
    else unsetenv("TZDIR");
  }
  std::string saved;
  bool had = false;
};

}  // namespace

TEST_CASE("calendar arithmetic") {
  CHECK(days_from_civil(1970, 1, 1) == 0);
  CHECK(days_from_civil(2021, 7, 13) == 18821);
  CHECK(days_from_civil(1969, 12, 31) == -1);
  CHECK(days_from_civil(2000, 3, 1) == 11017);
  CHECK(minute_of_week(0) == 4 * 1440);                  // 1970-01-01 was a Thursday
  CHECK(minute_of_week(18821LL * 86400 + 600) == 2 * 1440 + 10);  // Tuesday 2021-07-13 00:10
  CHECK(minute_of_week(-60) == 4 * 1440 - 1);            // Wednesday 23:59
}

TEST_CASE("POSIX TZ rules") {
  SUBCASE("Europe/London's rule") {
    auto zone = TimeZone::from_posix("GMT0BST,M3.5.0/1,M10.5.0");
    REQUIRE(zone);
    check_london_2021(*zone);
  }
  SUBCASE("US Eastern") {
    auto zone = TimeZone::from_posix("EST5EDT,M3.2.0,M11.1.0");
    REQUIRE(zone);
    CHECK(zone->utc_offset(1615705199) == -5 * 3600);
    CHECK(zone->utc_offset(1615705200) == -4 * 3600);
    CHECK(zone->utc_offset(1636264799) == -4 * 3600);
    CHECK(zone->utc_offset(1636264800) == -5 * 3600);
  }
  SUBCASE("southern hemisphere (Sydney)") {
    auto zone = TimeZone::from_posix("AEST-10AEDT,M10.1.0,M4.1.0/3");
    REQUIRE(zone);
    CHECK(zone->utc_offset(1617465599) == 11 * 3600);
    CHECK(zone->utc_offset(1617465600) == 10 * 3600);
    CHECK(zone->utc_offset(1633190399) == 10 * 3600);
    CHECK(zone->utc_offset(1633190400) == 11 * 3600);
    CHECK(zone->utc_offset(1609459200) == 11 * 3600);
  }
  SUBCASE("fixed offsets and quoted names") {
    auto zone = TimeZone::from_posix("<+0330>-3:30");
    REQUIRE(zone);
    CHECK(zone->utc_offset(0) == 3 * 3600 + 1800);
    CHECK(TimeZone::from_posix("UTC0")->utc_offset(kDstStart2021) == 0);
    // Julian day forms: DST from day 60 (1 March) to day 300.
    auto julian = TimeZone::from_posix("XST0XDT,J60/0,J300/0");
    REQUIRE(julian);
    CHECK(julian->utc_offset(days_from_civil(2021, 3, 1) * 86400 - 1) == 0);
    CHECK(julian->utc_offset(days_from_civil(2021, 3, 1) * 86400) == 3600);
  }
  SUBCASE("garbage is refused") {
    for (const char* bad : {"", "Europe/London", "GMT", "GMT0BST,M13.5.0,M10.5.0", "GMT0BST,M3.6.0,M10.5.0",
                            "GMT0BST,M3.5.7,M10.5.0", "GMT0BST,M3.5.0", "GMT0BST,M3.5.0,M10.5.0,", "GMTx",
                            "<GM>0", "GMT0BST,J0,J300", "GMT999"}) {
      CAPTURE(bad);
      CHECK(!TimeZone::from_posix(bad));
    }
  }
}

TEST_CASE("TZif files") {
  const std::filesystem::path london = "/usr/share/zoneinfo/Europe/London";
  if (!std::filesystem::exists(london)) {
    MESSAGE("tzdata not installed: TZif checks skipped");
    return;
  }
  std::ifstream in(london, std::ios::binary);
  const std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto zone = TimeZone::from_tzif(bytes);
  REQUIRE(zone);
  check_london_2021(*zone);
  // History the EU rule does not know: British Standard Time all year in 1969-1971, and DST
  // ending on 22 October in 1995.
  CHECK(zone->utc_offset(0) == 3600);
  CHECK(zone->utc_offset(-18489600) == 3600);
  CHECK(zone->utc_offset(814622400) == 0);
  CHECK(TimeZone::from_posix("GMT0BST,M3.5.0/1,M10.5.0")->utc_offset(814622400) == 3600);

  SUBCASE("truncated and corrupt files are refused") {
    for (size_t size : {size_t{0}, size_t{4}, size_t{44}, size_t{60}, bytes.size() / 2}) {
      CAPTURE(size);
      CHECK(!TimeZone::from_tzif(std::span<const uint8_t>(bytes).first(size)));
    }
    std::vector<uint8_t> corrupt = bytes;
    corrupt[0] = 'X';
    CHECK(!TimeZone::from_tzif(corrupt));
  }
  SUBCASE("load by name") {
    std::string error;
    auto loaded = TimeZone::load("Europe/London", error);
    REQUIRE(loaded);
    CHECK(loaded->source().find("tzdata") == 0);
    CHECK(loaded->utc_offset(814622400) == 0);
  }
}

TEST_CASE("loading a zone without tzdata") {
  const auto empty = std::filesystem::temp_directory_path() / "lc-tg-no-tzdata";
  std::filesystem::create_directories(empty);
  ScopedTzdir tzdir(empty.c_str());
  std::string error;
  auto london = TimeZone::load("Europe/London", error);
  REQUIRE(london);
  CHECK(london->source().find("built-in") == 0);
  check_london_2021(*london);
  auto utc = TimeZone::load("UTC", error);
  REQUIRE(utc);
  CHECK(utc->utc_offset(kDstStart2021) == 0);
  auto posix = TimeZone::load("CET-1CEST,M3.5.0,M10.5.0/3", error);
  REQUIRE(posix);
  CHECK(posix->utc_offset(kDstStart2021) == 7200);
  CHECK(!TimeZone::load("Nowhere/Land", error));
  CHECK(error.find("Nowhere/Land") != std::string::npos);
  CHECK(!TimeZone::load("../../etc/passwd", error));
  std::filesystem::remove_all(empty);
}

TEST_CASE("boost minutes left, counted in UK local time") {
  auto zone = TimeZone::from_posix("GMT0BST,M3.5.0/1,M10.5.0");
  REQUIRE(zone);
  // syn_device_set_boost_reply: 1 h boost started Wednesday 10:00 local = minute 4920.
  const BoostWord boost = BoostWord::make(BoostKind::one_hour, 4920);
  const int64_t wed_0930_utc = 1626255000;  // 2021-07-14 09:30 UTC = 10:30 BST
  CHECK(boost_remaining_minutes(boost, wed_0930_utc, *zone) == 30);
  // Read in UTC, 09:30 comes before the 10:00 start and the word looks a week old: the time
  // base matters (Q3).
  CHECK(boost_remaining_minutes(boost, wed_0930_utc, TimeZone::fixed(0)) == 0);
  CHECK(boost_remaining_minutes(boost, wed_0930_utc + 29 * 60 + 59, *zone) == 1);
  CHECK(boost_remaining_minutes(boost, wed_0930_utc + 30 * 60, *zone) == 0);
  CHECK(boost_remaining_minutes(boost, wed_0930_utc - 30 * 60, *zone) == 60);   // just started
  CHECK(boost_remaining_minutes(boost, wed_0930_utc - 33 * 60, *zone) == 60);   // skew: start ahead
  CHECK(boost_remaining_minutes(boost, wed_0930_utc - 40 * 60, *zone) == 0);    // a week-old start
  CHECK(boost_remaining_minutes(BoostWord::make(BoostKind::two_hours, 4920), wed_0930_utc, *zone) == 90);
  CHECK(boost_remaining_minutes(BoostWord{}, wed_0930_utc, *zone) == 0);
  CHECK(!boost_remaining_minutes(BoostWord{0xc000}, wed_0930_utc, *zone));
  // Across the end of the week: started Saturday 23:30, now Sunday 00:10.
  const BoostWord late = BoostWord::make(BoostKind::one_hour, 6 * 1440 + 23 * 60 + 30);
  const int64_t sun_0010_bst = days_from_civil(2021, 7, 18) * 86400 + 10 * 60 - 3600;
  CHECK(boost_remaining_minutes(late, sun_0010_bst, *zone) == 20);
}
