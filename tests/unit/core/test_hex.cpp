#include <doctest/doctest.h>

#include "core/hex.h"

using namespace lc;

TEST_CASE("hex text both ways") {
  const std::vector<uint8_t> bytes = {0x00, 0x7f, 0xab, 0xff};
  CHECK(hex(bytes) == "007fabff");
  CHECK(bytes_from_hex("007FabFF") == bytes);
  CHECK(bytes_from_hex("") == std::vector<uint8_t>{});
  CHECK_FALSE(bytes_from_hex("0"));
  CHECK_FALSE(bytes_from_hex("0g"));
  CHECK_FALSE(bytes_from_hex("00 11"));
  CHECK(hex_digit('a') == 10);
  CHECK(hex_digit('F') == 15);
  CHECK(hex_digit('g') == -1);
  CHECK(all_hex("12345678"));
  CHECK_FALSE(all_hex(""));
  CHECK(number_from_hex("12345678") == 0x12345678u);
  CHECK(number_from_hex("ffffffffffffffff") == UINT64_MAX);
  CHECK_FALSE(number_from_hex("1ffffffffffffffff"));
  CHECK_FALSE(number_from_hex("x1"));
}
