// VeSync outlet websocket messages: JSON text <-> typed messages (pure: no sockets, clocks,
// logging). Protocol facts: docs/protocols/vesync.md. Decoding in codec.cpp, encoding in encode.cpp.
//
// Data layout (docs/protocols/vesync.md §2.2, §2.4, §3.2, §4, §5)
//
//   Transport   one JSON object per websocket frame on ws://server2.vesync.com:17273/gnws.
//               text frame   = plaintext JSON (firmware 1.x)
//               binary frame = AES-128-CBC of the JSON (firmware 2.x, crypto.h):
//                 [0 .. 16n)  ciphertext, n >= 1; plaintext = JSON + 1..16 zero bytes,
//                             cut at the first NUL after decrypting
//   Message     a flat JSON object. The device writes "{\n" and ",\n" between members
//               (login, /report, /runtimeInfo), compact JSON otherwise; both are accepted.
//               Classification (§3.2): no "uri" key   -> login (the first frame)
//                                      "uri":"/<name>" -> that message; case-sensitive
//   Numbers     "power"/"voltage"/"current" of /runtimeInfo: "HEX:HEX" (§5), each half
//                 v = int << 12 | frac   (int = v >> 12, frac = v & 0xFFF), or "NaN"
//               /report "e" (watt-seconds) and "t" (seconds): lower-case hex, no 0x (§4.4)
//   Time        /loginReply and /kr carry UTC: year, month (1..12), day, wd (Sunday = 0),
//               ms (milliseconds since UTC midnight) (§4.2)
//   Provision   TCP 41234 (§2.5): [0] length n of the JSON, [1 .. 1+n) JSON, replies may
//               end with a NUL not counted in n
//
// Every typed message keeps the members it does not know in `extra` (a JSON object), so a
// message re-encodes with nothing lost.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include <nlohmann/json.hpp>

namespace lc::vesync {

// Members of a message in their original order.
using Members = nlohmann::ordered_json;

// Frames larger than this are refused before parsing (the device sends < 400 bytes).
inline constexpr std::size_t kMaxFrameBytes = 4096;
// and so are frames nested deeper than this (the device's are 2 levels deep).
inline constexpr int kMaxJsonDepth = 16;

enum class Relay { open, break_ };  // "open" = ON (power flows), "break" = OFF (§4.1)
std::string_view relay_text(Relay relay);
std::optional<Relay> parse_relay(std::string_view text);

struct TimeFields {
  int year = 1970;
  int month = 1;   // 1..12
  int day = 1;     // 1..31
  int wd = 4;      // day of week, Sunday = 0
  int64_t ms = 0;  // milliseconds since UTC midnight
  bool operator==(const TimeFields&) const = default;
};
TimeFields utc_time_fields(std::chrono::system_clock::time_point now);

// Login: the first frame, no "uri" (§4.1). Only `id` is required.
struct Login {
  std::string id;  // the device's cid as sent (a UUID)
  std::optional<std::string> account, device_name, device_version, type, apptype, firm_name,
      firm_version;
  std::optional<int64_t> device_version_code, firm_version_code, key;
  std::optional<Relay> relay;
  Members extra = Members::object();
};

struct LoginReply {  // srv -> dev (§4.2)
  int64_t error = 0;
  TimeFields time;
  int64_t hh = 0, hl = 0, lh = 0, ll = 0;
  Members extra = Members::object();
};

struct KeepAlive {  // "/ka", both directions; the device adds rssi (§4.3)
  std::optional<int64_t> rssi;
  Members extra = Members::object();
};

struct KeepAliveReply {  // "/kr": bare from the device, with error and time from the server
  std::optional<int64_t> error;
  std::optional<TimeFields> time;
  Members extra = Members::object();
};

struct Report {  // dev -> srv energy report (§4.4)
  uint64_t energy_ws = 0;  // "e"
  uint64_t seconds = 0;    // "t"
  Members extra = Members::object();
};

struct RelayCommand {  // srv -> dev (§4.5)
  std::optional<std::string> cid;
  Relay action = Relay::open;
  Members extra = Members::object();
};

struct GetRuntime {  // srv -> dev (§4.6)
  std::optional<std::string> cid;
  Members extra = Members::object();
};

struct RuntimeInfo {  // dev -> srv (§4.6); measurements kept raw, see decode_pair()
  std::optional<Relay> relay;
  std::optional<std::string> meastate, power, voltage, current;
  Members extra = Members::object();
};

struct StateReport {  // "/state", dev -> srv after a button press (§4.7)
  Relay relay = Relay::open;
  Members extra = Members::object();
};

struct SetCtlFlags {  // both directions (§4.8)
  std::optional<int64_t> flag, set;
  Members extra = Members::object();
};

struct EvTimer {  // dev -> srv, a stored timer fired (§4.10)
  std::optional<std::string> aname;
  std::optional<Relay> relay;
  std::optional<int64_t> timer_id;  // "id"
  Members extra = Members::object();
};

struct Trigger {  // dev -> srv (§4.9)
  std::optional<int64_t> type;
  Members extra = Members::object();
};

struct Timer {  // both directions (§4.10); units unknown, so members stay in `extra`
  std::optional<std::string> action;  // "add" / "del" (srv -> dev)
  std::optional<int64_t> error;       // dev -> srv
  Members extra = Members::object();
};

struct Upgrade {  // srv -> dev, dangerous (§4.11)
  std::optional<std::string> url, new_version;
  Members extra = Members::object();
};

struct OtherMessage {  // any other uri (/getTriggerCnt, /delDevice, ...): kept whole
  std::string uri;
  Members extra = Members::object();  // every member except "uri"
};

using Message = std::variant<Login, LoginReply, KeepAlive, KeepAliveReply, Report, RelayCommand,
                             GetRuntime, RuntimeInfo, StateReport, SetCtlFlags, EvTimer, Trigger,
                             Timer, Upgrade, OtherMessage>;

// "login" for the login, else the uri ("/ka").
std::string message_uri(const Message& message);

enum class DecodeError {
  too_large,     // more than kMaxFrameBytes
  bad_json,      // not JSON, or not an object, or trailing bytes
  bad_uri,       // "uri" is not a string starting with '/'
  bad_field,     // a known member with the wrong type or an impossible value
  missing_field  // a required member is absent (login "id", /relay "action", ...)
};
std::string_view error_name(DecodeError error);  // snake_case, for drop counters

struct Decoded {
  std::optional<Message> message;
  DecodeError error = DecodeError::bad_json;
  std::string detail;  // what was wrong (never contains member values)
  bool ok() const { return message.has_value(); }
};

// Parses one frame's JSON text (plaintext or already decrypted). Accepts the device's pretty
// layout, compact JSON and escaped slashes.
Decoded decode(std::string_view text);

// The keepalive exactly as the outlet writes it (compact, §3.2, §4.3): {"uri":"/ka","rssi":N}
// or {"uri":"/ka"}, recognised without building a JSON value (the hot path). Anything else,
// other spellings of a keepalive included, is nullopt and goes to decode(); what this accepts,
// decode() decodes to a KeepAlive with the same rssi and nothing else.
struct ScannedKeepAlive {
  std::optional<int64_t> rssi;
};
std::optional<ScannedKeepAlive> scan_keepalive(std::string_view text);

// Compact ASCII JSON. Member order follows the cloud's (captures, vesync-wsproxy), then the
// kept unknown members in key order.
std::string encode(const Message& message);
// The device's own layout: "{\n" and ",\n" between members, "\n}" at the end (§3.2).
std::string encode_pretty(const Message& message);

// The server's replies, formatted without a JSON library (the keepalive hot path).
std::string encode_login_reply(const TimeFields& time);
std::string encode_keepalive_reply(const TimeFields& time);

// "HEX:HEX" measurement halves (§5).
struct RawPair {
  uint32_t a = 0, b = 0;
};
enum class PowerDecoding { app, q12, mean };
// Its name in the config file (vesync.power_decoding) and in the attributes: "app", "q12", "mean".
const char* power_decoding_name(PowerDecoding decoding);
std::optional<PowerDecoding> parse_power_decoding(std::string_view name);
// nullopt for "NaN" and anything malformed; values beyond 32 bits are malformed.
std::optional<RawPair> parse_pair(std::string_view text);
// One half decoded: app = (v >> 12) + (v & 0xFFF) / 1000; q12 = v / 4096; mean is
// per pair only, a half alone decodes as q12.
double decode_half(uint32_t v, PowerDecoding decoding);
// The value published for a pair: the first half (app, q12), or (a + b) / 8192 (mean).
double decode_pair(const RawPair& pair, PowerDecoding decoding);

// Device id as a DeviceInfo::id: lower-case; nullopt unless 1..64 of [A-Za-z0-9-].
std::optional<std::string> normalise_id(std::string_view id);

// TCP 41234 provisioning frames (§2.5): length byte + JSON (+ optional NUL).
std::optional<std::string> decode_provisioning_frame(std::string_view bytes);
std::optional<std::string> encode_provisioning_frame(std::string_view json);  // <= 255 bytes

}  // namespace lc::vesync
