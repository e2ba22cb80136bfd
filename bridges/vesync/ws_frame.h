// RFC 6455 §5.2 frames, as the websocket client side (simulator, upstream proxy) writes and
// reads them (pure). The server side is Boost.Beast (transport.cpp).
//
// Data layout (RFC 6455 §5.2; integers big-endian)
//   [0]      FIN(0x80) | RSV1-3 (must be 0) | opcode (0 cont, 1 text, 2 binary, 8 close,
//            9 ping, 10 pong)
//   [1]      MASK(0x80) | len7: 0..125 = length, 126 = 16-bit length follows, 127 = 64-bit
//   [2..]    extended length (2 or 8 bytes), then a 4-byte masking key when MASK is set
//   payload  XOR key[i % 4] when masked (a client always masks, a server never does)
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace lc::vesync::wsframe {

enum class Opcode : uint8_t { continuation = 0, text = 1, binary = 2, close = 8, ping = 9, pong = 10 };

using Mask = std::array<uint8_t, 4>;

// One whole frame (FIN set), masked when `mask` is given.
std::string encode(Opcode opcode, std::string_view payload, const std::optional<Mask>& mask);

struct Frame {
  bool fin = true;
  Opcode opcode = Opcode::text;
  std::string payload;  // unmasked
};

enum class Parse { incomplete, ok, error };

// Parses the frame at the start of `buffer`. ok: `out` and `consumed` are set. error: bad
// reserved bits or opcode, a control frame over 125 bytes or fragmented, or a payload over
// `max_payload`.
Parse parse(std::string_view buffer, std::size_t max_payload, Frame& out, std::size_t& consumed);

}  // namespace lc::vesync::wsframe
