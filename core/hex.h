// Hexadecimal text: bytes to lower-case hex and back, and hex numbers. The one place for it.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace lc {

// Lower-case hex of bytes, no separators.
std::string hex(std::span<const uint8_t> bytes);

// 0..15 for a hex digit (either case), -1 for anything else.
int hex_digit(char c);

// True when `text` is non-empty and all hex digits.
bool all_hex(std::string_view text);

// Bytes from an even number of hex digits (either case; no separators); nullopt otherwise.
std::optional<std::vector<uint8_t>> bytes_from_hex(std::string_view text);

// An unsigned number from 1 to 16 hex digits; nullopt otherwise.
std::optional<uint64_t> number_from_hex(std::string_view text);

}  // namespace lc
