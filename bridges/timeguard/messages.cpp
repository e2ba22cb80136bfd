// The typed params of each message (codec.h, docs/protocols/timeguard.md §2) and the UTF-8
// of schedule names.
#include "bridges/timeguard/codec.h"

#include <algorithm>

#include "bridges/timeguard/little_endian.h"

namespace lc::timeguard {
namespace {

using namespace le;

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
