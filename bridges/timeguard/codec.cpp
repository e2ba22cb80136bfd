// Frames: validation, building, the catalogue of type/flags pairs, device ids (codec.h; the
// typed params are in messages.cpp). Section numbers are those of docs/protocols/timeguard.md.
#include "bridges/timeguard/codec.h"

#include <cctype>
#include <cstdio>

#include "bridges/timeguard/little_endian.h"
#include "core/hex.h"

namespace lc::timeguard {
namespace {

using namespace le;

constexpr std::array<uint16_t, 256> make_crc_table() {
  std::array<uint16_t, 256> table{};
  for (unsigned byte = 0; byte < 256; ++byte) {
    uint16_t crc = static_cast<uint16_t>(byte << 8);
    for (int bit = 0; bit < 8; ++bit) crc = static_cast<uint16_t>((crc & 0x8000) ? (crc << 1) ^ 0x1021 : crc << 1);
    table[byte] = crc;
  }
  return table;
}
constexpr auto kCrcTable = make_crc_table();

// §2.1; params_size is the layout the section gives.
constexpr KindInfo kCatalogue[] = {
    {Kind::ping, type::ping, flag::device_report, 16, "ping"},
    {Kind::ping_reply, type::ping, flag::ping_reply, 4, "ping_reply"},
    {Kind::code_version_report, type::code_version, flag::device_report, 13, "code_version_report"},
    {Kind::code_version_ack, type::code_version, flag::version_ack, 13, "code_version_ack"},
    {Kind::code_version_read, type::code_version, flag::read, 0, "code_version_read"},
    {Kind::code_version_reply, type::code_version, flag::read_reply, 13, "code_version_reply"},
    {Kind::unknown4_read, type::unknown4, flag::read, 0, "unknown4_read"},
    {Kind::unknown4_reply, type::unknown4, flag::read_reply, 4, "unknown4_reply"},
    {Kind::schedule_read, type::schedule, flag::read, 1, "schedule_read"},
    {Kind::schedule_reply, type::schedule, flag::read_reply, kScheduleSize, "schedule_reply"},
    {Kind::schedule_write, type::schedule, flag::write, kScheduleSize, "schedule_write"},
    {Kind::schedule_ack, type::schedule, flag::write_ack, kScheduleSize, "schedule_ack"},
    {Kind::work_mode_write, type::work_mode, flag::write, 1, "work_mode_write"},
    {Kind::work_mode_ack, type::work_mode, flag::write_ack, 1, "work_mode_ack"},
    {Kind::holiday_read, type::holiday, flag::read, 0, "holiday_read"},
    {Kind::holiday_reply, type::holiday, flag::read_reply, 12, "holiday_reply"},
    {Kind::holiday_write, type::holiday, flag::write, 12, "holiday_write"},
    {Kind::holiday_ack, type::holiday, flag::write_ack, 12, "holiday_ack"},
    {Kind::schedule_name_write, type::schedule_name, flag::write, 1 + kNameSize, "schedule_name_write"},
    {Kind::schedule_name_ack, type::schedule_name, flag::write_ack, 1, "schedule_name_ack"},
    {Kind::active_schedule_read, type::active_schedule, flag::read, 0, "active_schedule_read"},
    {Kind::active_schedule_reply, type::active_schedule, flag::read_reply, 1, "active_schedule_reply"},
    {Kind::active_schedule_write, type::active_schedule, flag::write, 1, "active_schedule_write"},
    {Kind::active_schedule_ack, type::active_schedule, flag::write_ack, 1, "active_schedule_ack"},
    {Kind::advance_write, type::advance, flag::write, 1, "advance_write"},
    {Kind::advance_ack, type::advance, flag::write_ack, 1, "advance_ack"},
    {Kind::boost_write, type::boost, flag::write, 1, "boost_write"},
    {Kind::boost_ack, type::boost, flag::write_ack, 4, "boost_ack"},
};

// Kind by (type << 4 | flags & 0x0f), types 0..15; built once.
struct KindIndex {
  std::array<Kind, 256> by_pair{};
  std::array<const KindInfo*, 64> by_kind{};
  KindIndex() {
    by_pair.fill(Kind::unknown);
    by_kind.fill(nullptr);
    for (const auto& row : kCatalogue) {
      by_pair[(row.type << 4) | row.flags] = row.kind;
      by_kind[static_cast<size_t>(row.kind)] = &row;
    }
  }
};
const KindIndex& kind_index() {
  static const KindIndex index;
  return index;
}

}  // namespace

uint16_t crc16_xmodem(std::span<const uint8_t> bytes) {
  uint16_t crc = 0;
  for (uint8_t b : bytes) crc = static_cast<uint16_t>((crc << 8) ^ kCrcTable[((crc >> 8) ^ b) & 0xff]);
  return crc;
}

const char* reason(FrameError error) {
  switch (error) {
    case FrameError::none: return "none";
    case FrameError::too_short: return "short_datagram";
    case FrameError::bad_magic: return "bad_magic";
    case FrameError::bad_length: return "bad_length";
    case FrameError::bad_params_length: return "bad_params_length";
    case FrameError::bad_crc: return "bad_checksum";
    case FrameError::bad_trailer: return "bad_trailer";
  }
  return "?";
}

FrameError parse_frame(std::span<const uint8_t> d, FrameView& out) {
  if (d.size() < kMinFrameSize) return FrameError::too_short;
  if (d[0] != kMagic[0] || d[1] != kMagic[1]) return FrameError::bad_magic;
  const size_t n = get_u16(&d[2]);
  if (n < kInnerHeaderSize || d.size() != n + kFrameOverhead) return FrameError::bad_length;
  const size_t p = get_u16(&d[10]);
  if (p != n - kInnerHeaderSize) return FrameError::bad_params_length;
  if (d[10 + n] != kTrailer[0] || d[11 + n] != kTrailer[1]) return FrameError::bad_trailer;
  const uint16_t stored = get_u16(&d[8 + n]);
  if (crc16_xmodem(d.subspan(8, n)) != stored) return FrameError::bad_crc;
  out.message_id = get_u32(&d[4]);
  out.type = d[8];
  out.flags = d[9];
  out.seq = d[12];
  out.padding = {d[13], d[14], d[15]};
  out.device_id = get_u32(&d[16]);
  out.params = d.subspan(kHeaderSize, p);
  out.crc = stored;
  return FrameError::none;
}

std::optional<uint32_t> peek_device_id(std::span<const uint8_t> datagram) {
  if (datagram.size() < kHeaderSize) return std::nullopt;
  return get_u32(&datagram[16]);
}

size_t encode_frame(const FrameHeader& h, std::span<const uint8_t> params, std::span<uint8_t> out) {
  const size_t size = frame_size(params.size());
  if (params.size() > kMaxParams || out.size() < size) return 0;
  const size_t n = kInnerHeaderSize + params.size();
  uint8_t* p = out.data();
  p[0] = kMagic[0];
  p[1] = kMagic[1];
  put_u16(p + 2, static_cast<uint16_t>(n));
  put_u32(p + 4, h.message_id);
  p[8] = h.type;
  p[9] = h.flags;
  put_u16(p + 10, static_cast<uint16_t>(params.size()));
  p[12] = h.seq;
  p[13] = h.padding[0];
  p[14] = h.padding[1];
  p[15] = h.padding[2];
  put_u32(p + 16, h.device_id);
  if (!params.empty()) std::copy(params.begin(), params.end(), p + kHeaderSize);
  put_u16(p + 8 + n, crc16_xmodem(std::span<const uint8_t>(p + 8, n)));
  p[10 + n] = kTrailer[0];
  p[11 + n] = kTrailer[1];
  return size;
}

Bytes encode_frame(const FrameHeader& header, std::span<const uint8_t> params) {
  if (params.size() > kMaxParams) return {};
  Bytes out(frame_size(params.size()));
  encode_frame(header, params, out);
  return out;
}

std::span<const KindInfo> catalogue() { return kCatalogue; }

const KindInfo* info(Kind kind) { return kind_index().by_kind[static_cast<size_t>(kind)]; }

Kind kind_of(uint8_t frame_type, uint8_t flags) {
  if (frame_type > 0x0f) return Kind::unknown;
  return kind_index().by_pair[(frame_type << 4) | (flags & flag::known_bits)];
}

const char* kind_name(Kind kind) {
  const KindInfo* row = info(kind);
  return row ? row->name : "unknown";
}
Classified classify(const FrameView& frame) {
  Classified c;
  c.kind = kind_of(frame.type, frame.flags);
  c.reserved_flags = frame.flags & ~flag::known_bits;
  if (c.kind == Kind::unknown) return c;
  const size_t layout = info(c.kind)->params_size;
  if (frame.params.size() < layout) {
    c.parse = Parse::short_params;
    return c;
  }
  c.trailing = frame.params.size() - layout;
  c.parse = c.reserved_flags ? Parse::unknown : Parse::success;
  return c;
}

size_t encode_ping_reply(uint32_t device_id, uint8_t seq, uint32_t unix_time, std::span<uint8_t> out) {
  uint8_t params[4];
  put_u32(params, unix_time);
  return encode_frame(FrameHeader{type::ping, flag::ping_reply, seq, device_id}, params, out);
}

size_t encode_version_ack(uint32_t device_id, uint8_t seq, std::span<const uint8_t> version,
                          std::span<uint8_t> out) {
  return encode_frame(FrameHeader{type::code_version, flag::version_ack, seq, device_id}, version, out);
}

Bytes encode_request(uint8_t frame_type, uint8_t flags, uint8_t seq, uint32_t device_id,
                     std::span<const uint8_t> params) {
  return encode_frame(FrameHeader{frame_type, flags, seq, device_id}, params);
}

std::string device_key(uint32_t device_id) {
  char text[9];
  std::snprintf(text, sizeof text, "%08x", device_id);
  return text;
}

std::optional<uint32_t> parse_device_id(std::string_view text) {
  if (text.size() != 8) return std::nullopt;
  const auto value = number_from_hex(text);
  if (!value) return std::nullopt;
  return static_cast<uint32_t>(*value);
}

std::optional<Bytes> bytes_from_hex_text(std::string_view text) {
  std::string digits;
  digits.reserve(text.size());
  for (char c : text)
    if (!std::isspace(static_cast<unsigned char>(c)) && c != ':') digits.push_back(c);
  return bytes_from_hex(digits);
}

Bytes masked_copy(std::span<const uint8_t> datagram) {
  Bytes copy(datagram.begin(), datagram.end());
  if (copy.size() < kHeaderSize) return copy;
  put_u32(&copy[16], 0x12345678);
  const size_t n = get_u16(&copy[2]);
  if (n >= kInnerHeaderSize && copy.size() == n + kFrameOverhead) {
    put_u16(&copy[8 + n], crc16_xmodem(std::span<const uint8_t>(&copy[8], n)));
  } else if (copy.size() >= kMinFrameSize) {
    copy[copy.size() - 4] = 0;  // where a CRC would be; it could reveal the id
    copy[copy.size() - 3] = 0;
  }
  return copy;
}

}  // namespace lc::timeguard
