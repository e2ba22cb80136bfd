#include "bridges/vesync/ws_frame.h"

namespace lc::vesync::wsframe {

std::string encode(Opcode opcode, std::string_view payload, const std::optional<Mask>& mask) {
  std::string out;
  out.reserve(payload.size() + 14);
  out += char(0x80 | uint8_t(opcode));
  const uint8_t mask_bit = mask ? 0x80 : 0;
  const uint64_t size = payload.size();
  if (size < 126) {
    out += char(mask_bit | uint8_t(size));
  } else if (size <= 0xFFFF) {
    out += char(mask_bit | 126);
    out += char(size >> 8);
    out += char(size & 0xFF);
  } else {
    out += char(mask_bit | 127);
    for (int shift = 56; shift >= 0; shift -= 8) out += char((size >> shift) & 0xFF);
  }
  if (!mask) {
    out.append(payload);
    return out;
  }
  out.append(reinterpret_cast<const char*>(mask->data()), 4);
  for (size_t i = 0; i < payload.size(); ++i) out += char(uint8_t(payload[i]) ^ (*mask)[i % 4]);
  return out;
}

Parse parse(std::string_view buffer, std::size_t max_payload, Frame& out, std::size_t& consumed) {
  auto byte = [&](size_t i) { return uint8_t(buffer[i]); };
  if (buffer.size() < 2) return Parse::incomplete;
  const uint8_t b0 = byte(0), b1 = byte(1);
  if (b0 & 0x70) return Parse::error;  // no extension negotiated
  const uint8_t op = b0 & 0x0F;
  const bool control = op >= 8;
  if (!(op <= 2 || (op >= 8 && op <= 10))) return Parse::error;
  const bool fin = b0 & 0x80;
  if (control && !fin) return Parse::error;
  const bool masked = b1 & 0x80;
  uint64_t size = b1 & 0x7F;
  size_t pos = 2;
  if (size == 126) {
    if (buffer.size() < 4) return Parse::incomplete;
    size = uint64_t(byte(2)) << 8 | byte(3);
    pos = 4;
  } else if (size == 127) {
    if (buffer.size() < 10) return Parse::incomplete;
    size = 0;
    for (size_t i = 2; i < 10; ++i) size = size << 8 | byte(i);
    pos = 10;
  }
  if (control && size > 125) return Parse::error;
  if (size > max_payload) return Parse::error;
  Mask key{};
  if (masked) {
    if (buffer.size() < pos + 4) return Parse::incomplete;
    for (size_t i = 0; i < 4; ++i) key[i] = byte(pos + i);
    pos += 4;
  }
  if (buffer.size() - pos < size) return Parse::incomplete;
  out.fin = fin;
  out.opcode = Opcode(op);
  out.payload.assign(buffer.substr(pos, size_t(size)));
  if (masked) {
    for (size_t i = 0; i < out.payload.size(); ++i) out.payload[i] = char(uint8_t(out.payload[i]) ^ key[i % 4]);
  }
  consumed = pos + size_t(size);
  return Parse::ok;
}

}  // namespace lc::vesync::wsframe
