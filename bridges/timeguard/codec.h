// Timeguard NTTWIFI / FSTWIFI cloud protocol (UDP 9997): frames <-> typed messages.
// Pure: no sockets, clocks or logging. Facts and confidence marks: docs/protocols/timeguard.md,
// whose section numbers (§N, gotchas, open questions QN) the comments here and in the rest of
// bridges/timeguard/ cite. Frames are in codec.cpp, the typed params in messages.cpp.
//
// Data layout (§1.1; all integers little-endian; N = length field):
//
//   off size field
//   0   2    magic            fa d4
//   2   2    N                bytes [8, 8+N): 12-byte inner header + params; datagram = N + 12
//   4   4    message id       device: its own counter; server: ff ff ff ff
//   8   1    type             0..13 known (§2.1)
//   9   1    flags            0x01 success/reply, 0x02 update/write, 0x04 "valid", 0x08 from server
//   10  2    P                params length = N - 12
//   12  1    seq              0xff for exchanges the device starts; 0x00..0xfd for server requests
//   13  3    padding          zeros from the device; junk from the real cloud (CRC-covered)
//   16  4    device id        printed as %08x of the u32 ("78 56 34 12" -> "12345678")
//   20  P    params           per (type, flags): §2
//   8+N 2    CRC              CRC-16/XMODEM (poly 0x1021, init 0) over [8, 8+N), stored LE (§1.2)
//   10+N 2   trailer          2d df
//
// Only a bad magic, length, CRC or trailer rejects a frame. Unknown types, unknown flag bits
// (0x10..0x80) and params longer than the known layout are kept (§7 gotcha 2): the frame view
// points into the datagram, so a relay forwards the original bytes.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace lc::timeguard {

using Bytes = std::vector<uint8_t>;

constexpr uint8_t kMagic[2] = {0xfa, 0xd4};
constexpr uint8_t kTrailer[2] = {0x2d, 0xdf};
constexpr size_t kHeaderSize = 20;                   // magic .. device id
constexpr size_t kFrameOverhead = 12;                // datagram size - N
constexpr size_t kInnerHeaderSize = 12;              // bytes [8, 20), counted in N
constexpr size_t kMinFrameSize = kHeaderSize + 4;    // no params
constexpr size_t kMaxParams = 0xffff - kInnerHeaderSize;
constexpr uint32_t kServerMessageId = 0xffffffff;
constexpr uint8_t kDeviceSeq = 0xff;                 // exchanges the device starts
constexpr uint8_t kMaxServerSeq = 0xfd;              // server requests use 0x00..0xfd (§4.3)

namespace flag {
constexpr uint8_t success = 0x01;
constexpr uint8_t update = 0x02;
constexpr uint8_t valid = 0x04;
constexpr uint8_t from_server = 0x08;
constexpr uint8_t known_bits = 0x0f;  // 0x10..0x80 are reserved: kept, logged, never rejected
// The values in use (§1.3).
constexpr uint8_t device_report = 0x06;   // ping, code-version report
constexpr uint8_t ping_reply = 0x0f;
constexpr uint8_t version_ack = 0x0b;     // bit 0x04 clear, unlike every other server frame
constexpr uint8_t read = 0x0c;
constexpr uint8_t read_reply = 0x05;
constexpr uint8_t write = 0x0e;
constexpr uint8_t write_ack = 0x07;
}  // namespace flag

namespace type {
constexpr uint8_t ping = 0;
constexpr uint8_t code_version = 2;
constexpr uint8_t unknown4 = 4;
constexpr uint8_t schedule = 5;
constexpr uint8_t work_mode = 8;
constexpr uint8_t holiday = 9;
constexpr uint8_t schedule_name = 10;
constexpr uint8_t active_schedule = 11;
constexpr uint8_t advance = 12;
constexpr uint8_t boost = 13;
}  // namespace type

// CRC-16/XMODEM: check value 0x31c3 for "123456789".
uint16_t crc16_xmodem(std::span<const uint8_t> bytes);

enum class FrameError {
  none,
  too_short,          // fewer bytes than a frame without params
  bad_magic,
  bad_length,         // datagram size != N + 12
  bad_params_length,  // P != N - 12
  bad_crc,
  bad_trailer,
};
// A snake_case reason for BridgeStats::drop ("bad_crc", ...).
const char* reason(FrameError error);

// A validated frame; `params` points into the datagram it was parsed from.
struct FrameView {
  uint32_t message_id = 0;
  uint8_t type = 0;
  uint8_t flags = 0;
  uint8_t seq = 0;
  std::array<uint8_t, 3> padding{};
  uint32_t device_id = 0;
  std::span<const uint8_t> params;
  uint16_t crc = 0;
};

// Validates magic, sizes, CRC and trailer; fills `out` only on FrameError::none.
FrameError parse_frame(std::span<const uint8_t> datagram, FrameView& out);

// The device id field of anything at least kHeaderSize long (used to route and to mask in
// trace lines even when the frame is otherwise invalid).
std::optional<uint32_t> peek_device_id(std::span<const uint8_t> datagram);

// What we send: message id, padding and lengths as given, CRC computed.
struct FrameHeader {
  uint8_t type = 0;
  uint8_t flags = 0;
  uint8_t seq = 0;
  uint32_t device_id = 0;
  uint32_t message_id = kServerMessageId;
  std::array<uint8_t, 3> padding{};  // zero from us (§1.1)
};
constexpr size_t frame_size(size_t params_size) { return params_size + kHeaderSize + 4; }
// Writes the frame into `out` (which must hold frame_size(params.size()) bytes); returns its
// size, or 0 when it does not fit. No allocation: used for the keepalive replies.
size_t encode_frame(const FrameHeader& header, std::span<const uint8_t> params, std::span<uint8_t> out);
Bytes encode_frame(const FrameHeader& header, std::span<const uint8_t> params);

// ---- Typed messages (§2.1: every type/flags pair of the catalogue) ----

enum class Kind : uint8_t {
  unknown,  // (type, flags) not in the catalogue: kept raw
  ping,                   // 0/06 device status
  ping_reply,             // 0/0f u32 UTC unix time
  code_version_report,    // 2/06 13 ASCII bytes
  code_version_ack,       // 2/0b the 13 bytes echoed
  code_version_read,      // 2/0c
  code_version_reply,     // 2/05
  unknown4_read,          // 4/0c
  unknown4_reply,         // 4/05 4 bytes, meaning unknown (§2.7)
  schedule_read,          // 5/0c 1 byte index
  schedule_reply,         // 5/05 87 bytes
  schedule_write,         // 5/0e
  schedule_ack,           // 5/07
  work_mode_write,        // 8/0e 1 byte
  work_mode_ack,          // 8/07
  holiday_read,           // 9/0c
  holiday_reply,          // 9/05 12 bytes
  holiday_write,          // 9/0e
  holiday_ack,            // 9/07
  schedule_name_write,    // 10/0e index + 50-byte name
  schedule_name_ack,      // 10/07 index
  active_schedule_read,   // 11/0c
  active_schedule_reply,  // 11/05 1 byte index
  active_schedule_write,  // 11/0e
  active_schedule_ack,    // 11/07
  advance_write,          // 12/0e 1 byte 0/1
  advance_ack,            // 12/07
  boost_write,            // 13/0e 1 byte kind
  boost_ack,              // 13/07 two boost words
};

struct KindInfo {
  Kind kind;
  uint8_t type;
  uint8_t flags;        // the low nibble; reserved bits are not part of the match
  uint16_t params_size; // the known layout's size (the minimum accepted)
  const char* name;     // "ping", "work_mode_write", ...
};
// The catalogue, one row per Kind except `unknown`.
std::span<const KindInfo> catalogue();
const KindInfo* info(Kind kind);
// Matches (type, flags & 0x0f); Kind::unknown when not in the catalogue.
Kind kind_of(uint8_t type, uint8_t flags);
const char* kind_name(Kind kind);

// Ping state byte (§2.2): bits 0-1 relay (1 = OFF, 2 = ON), bit 3 load now, bit 4 advance,
// bit 5 load previously; bits 2, 6, 7 unknown (kept).
enum class Relay : uint8_t { unknown0 = 0, off = 1, on = 2, unknown3 = 3 };
enum class WorkMode : uint8_t { auto_ = 0, always_off = 1, always_on = 2, holiday = 3 };
enum class BoostKind : uint8_t { off = 0, one_hour = 1, two_hours = 2, unspecified = 3 };

constexpr int kMinutesPerWeek = 7 * 24 * 60;

// u16: bits 15-14 kind, bits 13-0 boost start in minutes since Sunday 00:00 (§2.2).
struct BoostWord {
  uint16_t raw = 0;
  BoostKind kind() const { return static_cast<BoostKind>(raw >> 14); }
  int start_minute() const { return raw & 0x3fff; }
  // 60 / 120 for one / two hours, else 0 (TGM Boost.expected_finish_time).
  int duration_minutes() const;
  static BoostWord make(BoostKind kind, int start_minute);
};

struct PingStatus {
  uint8_t state = 0;
  std::array<uint8_t, 3> unknown1{};  // p+1..3 ("00 64 00" in the capture)
  uint8_t work_mode = 0;              // raw; WorkMode when <= 3
  std::array<uint8_t, 3> unknown5{};  // p+5..7
  uint32_t uptime_s = 0;
  BoostWord boost;
  uint16_t unknown14 = 0;

  Relay relay() const { return static_cast<Relay>(state & 0x03); }
  bool load_detected() const { return state & 0x08; }
  bool advance() const { return state & 0x10; }
  bool load_previously_detected() const { return state & 0x20; }
  uint8_t unknown_state_bits() const { return state & 0xc4; }
};

// 13 ASCII bytes, NUL-padded (§2.3). text() stops at the first NUL.
struct CodeVersion {
  std::array<uint8_t, 13> raw{};
  std::string text() const;
  static CodeVersion from_text(std::string_view text);
};
// "NTTWIFI" for 41917..., "FSTWIFI" for 41901..., else "" (§2.3).
std::string model_of(std::string_view code_version);

// Slot time word: bits 11-0 minutes after midnight, bit 12 enabled, bits 15-13 reserved (§2.5).
struct SlotTime {
  uint16_t raw = 0;
  bool enabled() const { return raw & 0x1000; }
  int minutes() const { return raw & 0x0fff; }
  static SlotTime make(bool enabled, int minutes);
};

struct Slot {
  SlotTime start;
  SlotTime end;
  uint8_t days = 0;     // bit 0 Sunday .. bit 6 Saturday
  uint8_t unknown = 0;  // kept and written back unchanged
};

constexpr size_t kSchedules = 6;
constexpr size_t kSlots = 6;
constexpr size_t kNameSize = 50;
constexpr size_t kScheduleSize = 1 + kSlots * 6 + kNameSize;  // 87

struct Schedule {
  uint8_t index = 0;
  std::array<Slot, kSlots> slots{};
  std::array<uint8_t, kNameSize> name_raw{};
  // The name up to the first NUL, with invalid UTF-8 replaced by U+FFFD.
  std::string name() const;
  // NUL-padded; cut at a character boundary to fit 50 bytes.
  void set_name(std::string_view utf8);
};

// 12 bytes (§2.6). Which timestamp is start and which end is not settled (Q5): TGM calls
// a (p+4) "end" and b (p+8) "start", the only capture has a < b.
struct Holiday {
  uint8_t active = 0;
  std::array<uint8_t, 3> unknown{};
  uint32_t time_a = 0;
  uint32_t time_b = 0;
};

struct ScheduleName {
  uint8_t index = 0;
  std::array<uint8_t, kNameSize> name_raw{};
  std::string name() const;
};

// Decoders for the params of each layout; nullopt when the params are too short. Longer
// params decode (the extra bytes stay in the frame).
std::optional<PingStatus> decode_ping(std::span<const uint8_t> params);
std::optional<uint32_t> decode_u32(std::span<const uint8_t> params);  // ping reply time
std::optional<CodeVersion> decode_code_version(std::span<const uint8_t> params);
std::optional<uint8_t> decode_u8(std::span<const uint8_t> params);  // index / mode / 0-1 / kind
std::optional<Schedule> decode_schedule(std::span<const uint8_t> params);
std::optional<Holiday> decode_holiday(std::span<const uint8_t> params);
std::optional<ScheduleName> decode_schedule_name(std::span<const uint8_t> params);
std::optional<std::array<BoostWord, 2>> decode_boost_ack(std::span<const uint8_t> params);

// Encoders for what we (and the simulator) send.
Bytes encode(const PingStatus& ping);
Bytes encode_u32(uint32_t value);
Bytes encode(const CodeVersion& version);
Bytes encode(const Schedule& schedule);
Bytes encode(const Holiday& holiday);
Bytes encode(const ScheduleName& name);
Bytes encode_boost_ack(BoostWord first, BoostWord second);

// How a valid frame decodes, for the trace line and the log: success (a catalogue pair whose
// params fit), unknown (not in the catalogue, or reserved flag bits set), short (a catalogue
// pair with params shorter than its layout).
enum class Parse { success, unknown, short_params };
struct Classified {
  Kind kind = Kind::unknown;
  Parse parse = Parse::unknown;
  size_t trailing = 0;        // params bytes beyond the known layout
  uint8_t reserved_flags = 0; // flags & 0xf0
};
Classified classify(const FrameView& frame);

// The frames the server side sends (message id ffffffff, zero padding).
// Ping reply: type 0, flags 0x0f, seq echoed, u32 UTC unix time. Writes into `out`.
size_t encode_ping_reply(uint32_t device_id, uint8_t seq, uint32_t unix_time, std::span<uint8_t> out);
// Code-version ack: type 2, flags 0x0b, seq echoed, the report's params echoed.
size_t encode_version_ack(uint32_t device_id, uint8_t seq, std::span<const uint8_t> version,
                          std::span<uint8_t> out);
Bytes encode_request(uint8_t frame_type, uint8_t flags, uint8_t seq, uint32_t device_id,
                     std::span<const uint8_t> params);

// "12345678" (8 lower-case hex digits) <-> u32.
std::string device_key(uint32_t device_id);
std::optional<uint32_t> parse_device_id(std::string_view text);

// Bytes from hex text as people paste it: the bytes may be separated by white space or
// colons ("fa d4 1c", "fa:d4:1c"). Nullopt for anything else or an odd number of digits.
std::optional<Bytes> bytes_from_hex_text(std::string_view text);

// A copy for log lines with the device id replaced by 0x12345678 and the CRC recomputed, so
// that neither reveals the id (TGM --mask). Datagrams shorter than the header are returned
// as they are; a frame whose size does not match its length field gets its CRC bytes zeroed.
Bytes masked_copy(std::span<const uint8_t> datagram);

// Bytes -> valid UTF-8 (invalid sequences become U+FFFD, NUL and other C0 controls a space).
std::string sanitize_utf8(std::span<const uint8_t> bytes);

}  // namespace lc::timeguard
