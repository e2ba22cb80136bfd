// miIO packets: bytes <-> typed messages. Pure: no sockets, clocks or logging.
//
// Data layout (docs/protocols/miio.md §1.1; all integers big-endian)
//
//   offset size field     meaning
//   0      2    magic     21 31
//   2      2    length    whole packet including this header (0x0020 when header-only)
//   4      4    unknown   0; ff ff ff ff in a hello (upper half of a 64-bit did, §1.1)
//   8      4    did       device id; ff ff ff ff in a hello
//   12     4    stamp     device seconds (Unix time once time-synced); hello reply: now
//   16     16   checksum  MD5(packet[0:16] || token || payload) (§1.3); hello: ff.. or 00..;
//                         a device's hello reply: ff.. or, unprovisioned, the token in clear
//   32     n    payload   AES-128-CBC(PKCS#7(JSON || 00)), n = length - 32 (§1.4)
//
// Kinds (§1.2, §2.3, §2.4): a 32-byte packet with bytes 4..11 all ff is a hello (never
// checksum-verified); any other 32-byte packet is a ping/pong or a handshake reply;
// longer packets carry an encrypted JSON message.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "bridges/miio/crypto.h"

namespace lc::miio {

using Json = nlohmann::json;

constexpr size_t kHeaderSize = 32;
// Received packets (UDP datagrams and TCP packets) larger than this are refused (§1.5).
constexpr size_t kMaxReceivePacket = 4096;
// Module firmware drops packets over 1000 bytes (OT_PACKET_SIZE_MAX, §1.5): nothing we
// send is larger.
constexpr size_t kMaxSendPacket = 1000;
constexpr uint8_t kMagic[2] = {0x21, 0x31};

struct Header {
  uint16_t length = kHeaderSize;
  uint32_t unknown = 0;
  uint32_t did = 0;
  uint32_t stamp = 0;
  Digest checksum{};
};

enum class Error {
  none,
  too_short,       // fewer than 32 bytes
  too_long,        // over kMaxReceivePacket
  bad_magic,       // not 21 31
  bad_length,      // length field differs from the packet's size, or < 32
  bad_checksum,    // MD5 mismatch: wrong token (or cloud key), or corrupt
  bad_ciphertext,  // not a multiple of 16, or bad PKCS#7 padding
  bad_json,        // plaintext not JSON even after the repairs
};
const char* error_name(Error error);

enum class PacketKind { hello, header_only, encrypted };

// Checks size, magic and that the length field equals packet.size(); reads only inside
// `packet`.
Error parse_header(std::span<const uint8_t> packet, Header& out);
void write_header(const Header& header, std::span<uint8_t, kHeaderSize> out);

// A 32-byte packet with bytes 4..11 all ff (§2.3, §5 item 1).
bool is_hello(std::span<const uint8_t> packet);
// Kind of a packet that passed parse_header.
PacketKind kind_of(std::span<const uint8_t> packet);

// TCP framing (§2.1, §5 item 12): the size of the packet at the start of `stream`, 0 when
// more bytes are needed to know or to complete it, or nullopt when the stream is not miIO
// (bad magic, length < 32 or > max). Reads at most the first 4 bytes to decide.
std::optional<size_t> frame_size(std::span<const uint8_t> stream, size_t max = kMaxReceivePacket);

// Client -> device handshake: 21 31 00 20 and 28 bytes ff (§1.2).
std::array<uint8_t, kHeaderSize> hello_packet();
// A device's handshake reply (provisioned: checksum field ff..ff).
std::array<uint8_t, kHeaderSize> hello_reply_packet(uint32_t did, uint32_t stamp);
// The cloud's answer to a device hello: the hello with bytes 12..15 set to `now` (the
// micloudfaker/dustcloud shape that made qmi.powerstrip.v1 work, §2.3, §2.5).
void make_time_sync_reply(std::span<const uint8_t, kHeaderSize> hello, uint32_t now,
                          std::span<uint8_t, kHeaderSize> out);
// A header-only packet with a valid checksum (a device's keepalive ping, §2.4).
std::array<uint8_t, kHeaderSize> ping_packet(const Cipher& cipher, uint32_t did, uint32_t stamp,
                                             uint32_t unknown = 0);

// An encrypted message: header (unknown, did, stamp) and `json` followed by one NUL byte.
// nullopt when the packet would exceed `limit` bytes.
std::optional<std::vector<uint8_t>> encode_message(const Cipher& cipher, const Header& header,
                                                   std::string_view json,
                                                   size_t limit = kMaxSendPacket);
// The same with the bytes encrypted exactly as given (no NUL added): for the vectors.
std::optional<std::vector<uint8_t>> encode_plaintext(const Cipher& cipher, const Header& header,
                                                     std::span<const uint8_t> plaintext,
                                                     size_t limit = kMaxSendPacket);

// True when packet's checksum is MD5(packet[0:16] || token || packet[32:]).
bool checksum_ok(std::span<const uint8_t> packet, const Cipher& cipher);

struct Message {
  Header header;
  std::vector<uint8_t> plaintext;  // decrypted, padding removed (NUL and anything after kept)
};
// parse_header + checksum + decryption of an encrypted packet (length > 32).
Error decode_message(std::span<const uint8_t> packet, const Cipher& cipher, Message& out);

// The broken-JSON repairs real devices need (§3.5, §4.4, §5 item 9), on a decrypted payload:
// cut at the first NUL and after the first complete value; empty array slots ("[,,]",
// "[1,,2]", ",]") become null; empty object members (",,\"otu_stat\"") are dropped; a missing
// value ("\"result\":,") becomes null; leading zeros ("\"value\":00", "06") are removed; a
// missing comma between objects in a list ("}{", python-miio#1933) is put back.
std::string repair_json(std::string_view text);
// repair_json + parse; nullopt when it still is not JSON (or nests deeper than 32).
std::optional<Json> parse_json(std::string_view text);
std::optional<Json> parse_json(std::span<const uint8_t> plaintext);

// The string member `key` of a JSON object, or "" when absent or not a string.
std::string string_member(const Json& object, const char* key);

}  // namespace lc::miio
