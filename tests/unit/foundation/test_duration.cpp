// core/duration: the durations of the config file and the simulators' options.
#include <doctest/doctest.h>

#include <optional>

#include "core/duration.h"

using namespace lc;
using namespace std::chrono_literals;

TEST_CASE("parse_duration") {
  struct Row {
    const char* text;
    std::optional<Duration> expected;
  };
  const Row rows[] = {
      {"250ms", 250ms}, {"30s", 30s},      {"5m", 5min},    {"1h", 1h},         {"90", 90s},
      {"1.5", 1500ms},  {"0.25s", 250ms},  {"1.5m", 90s},   {"0", 0ms},         {"0ms", 0ms},
      {"8760h", 8760h}, {"8761h", {}},     {"", {}},        {"s", {}},          {"ms", {}},
      {"-1", {}},       {"-5s", {}},       {"+5s", {}},     {"5 s", {}},        {" 5s", {}},
      {"5sec", {}},     {"5d", {}},        {"1e3", {}},     {"inf", {}},        {"nan", {}},
      {"1.2.3", {}},    {".", {}},         {"5x", {}},      {"0x10", {}},       {"99999999999999999999h", {}},
  };
  for (const auto& row : rows) {
    INFO("text: \"" << row.text << "\"");
    auto parsed = parse_duration(row.text);
    CHECK(parsed.has_value() == row.expected.has_value());
    if (parsed && row.expected) CHECK(parsed->count() == row.expected->count());
  }
}

TEST_CASE("format_duration takes the largest unit that divides") {
  CHECK(format_duration(2h) == "2h");
  CHECK(format_duration(10min) == "10m");
  CHECK(format_duration(150s) == "150s");
  CHECK(format_duration(250ms) == "250ms");
  CHECK(format_duration(0ms) == "0s");
}
