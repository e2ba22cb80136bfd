#include "bridges/timeguard/codec.h"

#include <algorithm>
#include <cstdio>

namespace lc::timeguard {
namespace {

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

uint16_t get_u16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }
uint32_t get_u32(const uint8_t* p) {
  return uint32_t{p[0]} | (uint32_t{p[1]} << 8) | (uint32_t{p[2]} << 16) | (uint32_t{p[3]} << 24);
}
void put_u16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v);
  p[1] = static_cast<uint8_t>(v >> 8);
}
void put_u32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
void append_u16(Bytes& out, uint16_t v) {
  out.push_back(static_cast<uint8_t>(v));
  out.push_back(static_cast<uint8_t>(v >> 8));
}
void append_u32(Bytes& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

// §2.1; params_size is the layout of protocols/timeguard.md.
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

// Length of a valid UTF-8 sequence starting at bytes[i], or 0.
size_t utf8_sequence(std::span<const uint8_t> bytes, size_t i) {
  const uint8_t lead = bytes[i];
  size_t length;
  uint32_t min_value;
  uint32_t value;
  if (lead < 0x80) return 1;
  if (lead >= 0xc2 && lead <= 0xdf) length = 2, min_value = 0x80, value = lead & 0x1f;
  else if (lead >= 0xe0 && lead <= 0xef) length = 3, min_value = 0x800, value = lead & 0x0f;
  else if (lead >= 0xf0 && lead <= 0xf4) length = 4, min_value = 0x10000, value = lead & 0x07;
  else return 0;
  if (i + length > bytes.size()) return 0;
  for (size_t k = 1; k < length; ++k) {
    if ((bytes[i + k] & 0xc0) != 0x80) return 0;
    value = (value << 6) | (bytes[i + k] & 0x3f);
  }
  if (value < min_value || value > 0x10ffff || (value >= 0xd800 && value <= 0xdfff)) return 0;
  return length;
}

std::string name_text(const std::array<uint8_t, kNameSize>& raw) {
  const auto end = std::find(raw.begin(), raw.end(), uint8_t{0});
  return sanitize_utf8(std::span<const uint8_t>(raw.data(), static_cast<size_t>(end - raw.begin())));
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

int BoostWord::duration_minutes() const {
  switch (kind()) {
    case BoostKind::one_hour: return 60;
    case BoostKind::two_hours: return 120;
    default: return 0;
  }
}

BoostWord BoostWord::make(BoostKind kind, int start_minute) {
  return BoostWord{static_cast<uint16_t>((static_cast<unsigned>(kind) << 14) | (start_minute & 0x3fff))};
}

std::string CodeVersion::text() const {
  const auto end = std::find(raw.begin(), raw.end(), uint8_t{0});
  return sanitize_utf8(std::span<const uint8_t>(raw.data(), static_cast<size_t>(end - raw.begin())));
}

CodeVersion CodeVersion::from_text(std::string_view text) {
  CodeVersion version;
  std::copy_n(text.begin(), std::min(text.size(), version.raw.size()), version.raw.begin());
  return version;
}

std::string model_of(std::string_view code_version) {
  if (code_version.substr(0, 5) == "41917") return "NTTWIFI";
  if (code_version.substr(0, 5) == "41901") return "FSTWIFI";
  return "";
}

SlotTime SlotTime::make(bool enabled, int minutes) {
  return SlotTime{static_cast<uint16_t>((enabled ? 0x1000 : 0) | (minutes & 0x0fff))};
}

std::string Schedule::name() const { return name_text(name_raw); }

void Schedule::set_name(std::string_view utf8) {
  name_raw.fill(0);
  const auto bytes = std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(utf8.data()), utf8.size());
  size_t length = 0;
  while (length < bytes.size()) {
    const size_t step = utf8_sequence(bytes, length);
    if (step == 0 || length + step > kNameSize) break;
    length += step;
  }
  std::copy_n(bytes.begin(), length, name_raw.begin());
}

std::string ScheduleName::name() const { return name_text(name_raw); }

std::optional<PingStatus> decode_ping(std::span<const uint8_t> p) {
  if (p.size() < 16) return std::nullopt;
  PingStatus s;
  s.state = p[0];
  s.unknown1 = {p[1], p[2], p[3]};
  s.work_mode = p[4];
  s.unknown5 = {p[5], p[6], p[7]};
  s.uptime_s = get_u32(&p[8]);
  s.boost.raw = get_u16(&p[12]);
  s.unknown14 = get_u16(&p[14]);
  return s;
}

std::optional<uint32_t> decode_u32(std::span<const uint8_t> p) {
  if (p.size() < 4) return std::nullopt;
  return get_u32(p.data());
}

std::optional<CodeVersion> decode_code_version(std::span<const uint8_t> p) {
  if (p.size() < 13) return std::nullopt;
  CodeVersion v;
  std::copy_n(p.begin(), 13, v.raw.begin());
  return v;
}

std::optional<uint8_t> decode_u8(std::span<const uint8_t> p) {
  if (p.empty()) return std::nullopt;
  return p[0];
}

std::optional<Schedule> decode_schedule(std::span<const uint8_t> p) {
  if (p.size() < kScheduleSize) return std::nullopt;
  Schedule s;
  s.index = p[0];
  for (size_t k = 0; k < kSlots; ++k) {
    const uint8_t* slot = &p[1 + 6 * k];
    s.slots[k] = Slot{SlotTime{get_u16(slot)}, SlotTime{get_u16(slot + 2)}, slot[4], slot[5]};
  }
  std::copy_n(&p[1 + 6 * kSlots], kNameSize, s.name_raw.begin());
  return s;
}

std::optional<Holiday> decode_holiday(std::span<const uint8_t> p) {
  if (p.size() < 12) return std::nullopt;
  return Holiday{p[0], {p[1], p[2], p[3]}, get_u32(&p[4]), get_u32(&p[8])};
}

std::optional<ScheduleName> decode_schedule_name(std::span<const uint8_t> p) {
  if (p.size() < 1 + kNameSize) return std::nullopt;
  ScheduleName n;
  n.index = p[0];
  std::copy_n(&p[1], kNameSize, n.name_raw.begin());
  return n;
}

std::optional<std::array<BoostWord, 2>> decode_boost_ack(std::span<const uint8_t> p) {
  if (p.size() < 4) return std::nullopt;
  return std::array<BoostWord, 2>{BoostWord{get_u16(&p[0])}, BoostWord{get_u16(&p[2])}};
}

Bytes encode(const PingStatus& s) {
  Bytes out;
  out.reserve(16);
  out.push_back(s.state);
  out.insert(out.end(), s.unknown1.begin(), s.unknown1.end());
  out.push_back(s.work_mode);
  out.insert(out.end(), s.unknown5.begin(), s.unknown5.end());
  append_u32(out, s.uptime_s);
  append_u16(out, s.boost.raw);
  append_u16(out, s.unknown14);
  return out;
}

Bytes encode_u32(uint32_t value) {
  Bytes out;
  append_u32(out, value);
  return out;
}

Bytes encode(const CodeVersion& v) { return Bytes(v.raw.begin(), v.raw.end()); }

Bytes encode(const Schedule& s) {
  Bytes out;
  out.reserve(kScheduleSize);
  out.push_back(s.index);
  for (const Slot& slot : s.slots) {
    append_u16(out, slot.start.raw);
    append_u16(out, slot.end.raw);
    out.push_back(slot.days);
    out.push_back(slot.unknown);
  }
  out.insert(out.end(), s.name_raw.begin(), s.name_raw.end());
  return out;
}

Bytes encode(const Holiday& h) {
  Bytes out;
  out.push_back(h.active);
  out.insert(out.end(), h.unknown.begin(), h.unknown.end());
  append_u32(out, h.time_a);
  append_u32(out, h.time_b);
  return out;
}

Bytes encode(const ScheduleName& n) {
  Bytes out;
  out.push_back(n.index);
  out.insert(out.end(), n.name_raw.begin(), n.name_raw.end());
  return out;
}

Bytes encode_boost_ack(BoostWord first, BoostWord second) {
  Bytes out;
  append_u16(out, first.raw);
  append_u16(out, second.raw);
  return out;
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
  uint32_t value = 0;
  for (char c : text) {
    int digit;
    if (c >= '0' && c <= '9') digit = c - '0';
    else if (c >= 'a' && c <= 'f') digit = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F') digit = c - 'A' + 10;
    else return std::nullopt;
    value = (value << 4) | static_cast<uint32_t>(digit);
  }
  return value;
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

std::string sanitize_utf8(std::span<const uint8_t> bytes) {
  std::string out;
  out.reserve(bytes.size());
  for (size_t i = 0; i < bytes.size();) {
    const size_t step = utf8_sequence(bytes, i);
    if (step == 0) {
      out.append("\xef\xbf\xbd");
      ++i;
      continue;
    }
    if (step == 1 && (bytes[i] < 0x20 || bytes[i] == 0x7f)) out.push_back(' ');
    else out.append(reinterpret_cast<const char*>(&bytes[i]), step);
    i += step;
  }
  return out;
}

}  // namespace lc::timeguard
