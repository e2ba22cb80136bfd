// The miIO codec of codec.h. § are sections of docs/protocols/miio.md.
#include "bridges/miio/codec.h"

#include <algorithm>
#include <cstring>

namespace lc::miio {
namespace {

uint16_t read_u16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
uint32_t read_u32(const uint8_t* p) {
  return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | uint32_t{p[3]};
}
void write_u16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
void write_u32(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 24);
  p[1] = static_cast<uint8_t>(v >> 16);
  p[2] = static_cast<uint8_t>(v >> 8);
  p[3] = static_cast<uint8_t>(v);
}

constexpr size_t kMaxJsonDepth = 32;

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool is_word(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '_'; }

// The repair pass of repair_json; sets too_deep when nesting exceeds kMaxJsonDepth.
std::string repair(std::string_view text, bool& too_deep) {
  too_deep = false;
  if (const auto nul = text.find('\0'); nul != std::string_view::npos) text = text.substr(0, nul);
  std::string out;
  out.reserve(text.size() + 64);
  // What the previous significant token was, inside the innermost container.
  enum class Last { open, comma, colon, value } last = Last::open;
  char stack[kMaxJsonDepth];
  size_t depth = 0;
  bool started = false;  // a top-level value has begun
  size_t i = 0;
  while (i < text.size()) {
    const char c = text[i];
    if (is_space(c)) {
      out.push_back(c);
      ++i;
      continue;
    }
    const bool in_array = depth > 0 && stack[depth - 1] == '[';
    const bool in_object = depth > 0 && stack[depth - 1] == '{';
    if (started && depth == 0) break;  // anything after the first complete value is garbage
    started = true;
    switch (c) {
      case '"': {
        size_t end = i + 1;
        while (end < text.size() && text[end] != '"') end += text[end] == '\\' ? 2 : 1;
        end = std::min(end + 1, text.size());
        out.append(text.substr(i, end - i));
        i = end;
        last = Last::value;
        break;
      }
      case '[':
      case '{':
        if (depth == kMaxJsonDepth) {
          too_deep = true;
          return out;
        }
        if (c == '{' && in_array && last == Last::value) {
          // "}{": cuco.plug.cp1 firmware leaves out the comma between get_properties entries
          // (python-miio#1933).
          const auto previous = out.find_last_not_of(" \t\r\n");
          if (previous != std::string::npos && out[previous] == '}') out.push_back(',');
        }
        stack[depth++] = c;
        out.push_back(c);
        last = Last::open;
        ++i;
        break;
      case ',':
        ++i;
        if (in_array && (last == Last::open || last == Last::comma)) {
          out.append("null");  // "[,": an empty slot
        } else if (in_object && (last == Last::open || last == Last::comma)) {
          continue;  // ",,\"otu_stat\"": an empty member, dropped (python-miio#121)
        } else if (last == Last::colon) {
          out.append("null");  // "\"result\":,"
        }
        out.push_back(',');
        last = Last::comma;
        break;
      case ']':
      case '}':
        ++i;
        if (c == ']' && in_array && last == Last::comma) out.append("null");  // ",]": a last empty slot
        if (c == '}' && last == Last::colon) out.append("null");
        if (c == '}' && in_object && last == Last::comma) {
          // a trailing comma before '}': remove it
          auto comma = out.find_last_not_of(" \t\r\n");
          if (comma != std::string::npos && out[comma] == ',') out.erase(comma, 1);
        }
        out.push_back(c);
        if (depth > 0) --depth;
        last = Last::value;
        break;
      case ':':
        out.push_back(c);
        last = Last::colon;
        ++i;
        break;
      default:
        if (c == '-' || is_digit(c)) {
          // A number token; leading zeros removed ("\"value\":00", "06": §3.5).
          if (c == '-') {
            out.push_back('-');
            ++i;
          }
          while (i + 1 < text.size() && text[i] == '0' && is_digit(text[i + 1])) ++i;
          while (i < text.size() && (is_digit(text[i]) || text[i] == '.' || text[i] == 'e' || text[i] == 'E' ||
                                     text[i] == '+' || text[i] == '-'))
            out.push_back(text[i++]);
        } else if (is_word(c)) {
          while (i < text.size() && is_word(text[i])) out.push_back(text[i++]);
        } else {
          out.push_back(c);  // left for the parser to reject
          ++i;
        }
        last = Last::value;
        break;
    }
  }
  return out;
}

}  // namespace

const char* error_name(Error error) {
  switch (error) {
    case Error::none: return "none";
    case Error::too_short: return "too_short";
    case Error::too_long: return "too_long";
    case Error::bad_magic: return "bad_magic";
    case Error::bad_length: return "bad_length";
    case Error::bad_checksum: return "bad_checksum";
    case Error::bad_ciphertext: return "bad_ciphertext";
    case Error::bad_json: return "bad_json";
  }
  return "unknown";
}

Error parse_header(std::span<const uint8_t> packet, Header& out) {
  if (packet.size() > kMaxReceivePacket) return Error::too_long;
  if (packet.size() < kHeaderSize) return Error::too_short;
  const uint8_t* p = packet.data();
  if (p[0] != kMagic[0] || p[1] != kMagic[1]) return Error::bad_magic;
  out.length = read_u16(p + 2);
  if (out.length != packet.size()) return Error::bad_length;
  out.unknown = read_u32(p + 4);
  out.did = read_u32(p + 8);
  out.stamp = read_u32(p + 12);
  std::memcpy(out.checksum.data(), p + 16, 16);
  return Error::none;
}

void write_header(const Header& header, std::span<uint8_t, kHeaderSize> out) {
  uint8_t* p = out.data();
  p[0] = kMagic[0];
  p[1] = kMagic[1];
  write_u16(p + 2, header.length);
  write_u32(p + 4, header.unknown);
  write_u32(p + 8, header.did);
  write_u32(p + 12, header.stamp);
  std::memcpy(p + 16, header.checksum.data(), 16);
}

bool is_hello(std::span<const uint8_t> packet) {
  if (packet.size() != kHeaderSize) return false;
  return std::all_of(packet.begin() + 4, packet.begin() + 12, [](uint8_t b) { return b == 0xff; });
}

PacketKind kind_of(std::span<const uint8_t> packet) {
  if (packet.size() > kHeaderSize) return PacketKind::encrypted;
  return is_hello(packet) ? PacketKind::hello : PacketKind::header_only;
}

std::optional<size_t> frame_size(std::span<const uint8_t> stream, size_t max) {
  if (stream.size() >= 1 && stream[0] != kMagic[0]) return std::nullopt;
  if (stream.size() >= 2 && stream[1] != kMagic[1]) return std::nullopt;
  if (stream.size() < 4) return 0;
  const size_t length = read_u16(stream.data() + 2);
  if (length < kHeaderSize || length > max) return std::nullopt;
  return stream.size() >= length ? length : 0;
}

std::array<uint8_t, kHeaderSize> hello_packet() {
  std::array<uint8_t, kHeaderSize> packet;
  packet.fill(0xff);
  packet[0] = kMagic[0];
  packet[1] = kMagic[1];
  packet[2] = 0x00;
  packet[3] = 0x20;
  return packet;
}

std::array<uint8_t, kHeaderSize> hello_reply_packet(uint32_t did, uint32_t stamp) {
  Header header;
  header.did = did;
  header.stamp = stamp;
  header.checksum.fill(0xff);
  std::array<uint8_t, kHeaderSize> packet;
  write_header(header, packet);
  return packet;
}

void make_time_sync_reply(std::span<const uint8_t, kHeaderSize> hello, uint32_t now,
                          std::span<uint8_t, kHeaderSize> out) {
  std::memcpy(out.data(), hello.data(), kHeaderSize);
  write_u32(out.data() + 12, now);
}

std::array<uint8_t, kHeaderSize> ping_packet(const Cipher& cipher, uint32_t did, uint32_t stamp, uint32_t unknown) {
  Header header;
  header.unknown = unknown;
  header.did = did;
  header.stamp = stamp;
  std::array<uint8_t, kHeaderSize> packet;
  write_header(header, packet);
  const Digest sum = cipher.checksum(std::span(packet).first(16), {});
  std::memcpy(packet.data() + 16, sum.data(), 16);
  return packet;
}

std::optional<std::vector<uint8_t>> encode_plaintext(const Cipher& cipher, const Header& header,
                                                     std::span<const uint8_t> plaintext, size_t limit) {
  // PKCS#7 always adds 1..16 bytes.
  const size_t size = kHeaderSize + (plaintext.size() / 16 + 1) * 16;
  if (size > limit || size > 0xffff) return std::nullopt;
  std::vector<uint8_t> packet(kHeaderSize);
  packet.reserve(size);
  const std::vector<uint8_t> ciphertext = cipher.encrypt(plaintext);
  Header final_header = header;
  final_header.length = static_cast<uint16_t>(kHeaderSize + ciphertext.size());
  write_header(final_header, std::span<uint8_t, kHeaderSize>(packet.data(), kHeaderSize));
  packet.insert(packet.end(), ciphertext.begin(), ciphertext.end());
  const Digest sum = cipher.checksum(std::span(packet).first(16), ciphertext);
  std::memcpy(packet.data() + 16, sum.data(), 16);
  return packet;
}

std::optional<std::vector<uint8_t>> encode_message(const Cipher& cipher, const Header& header,
                                                   std::string_view json, size_t limit) {
  std::vector<uint8_t> plaintext(json.begin(), json.end());
  plaintext.push_back(0);  // JSON + one NUL, as python-miio and dummycloud send it (§1.4)
  return encode_plaintext(cipher, header, plaintext, limit);
}

bool checksum_ok(std::span<const uint8_t> packet, const Cipher& cipher) {
  if (packet.size() < kHeaderSize) return false;
  const Digest sum = cipher.checksum(packet.first(16), packet.subspan(kHeaderSize));
  return std::equal(sum.begin(), sum.end(), packet.begin() + 16);
}

Error decode_message(std::span<const uint8_t> packet, const Cipher& cipher, Message& out) {
  if (const Error error = parse_header(packet, out.header); error != Error::none) return error;
  if (packet.size() == kHeaderSize) return Error::bad_ciphertext;  // nothing to decrypt
  if (!checksum_ok(packet, cipher)) return Error::bad_checksum;
  auto plaintext = cipher.decrypt(packet.subspan(kHeaderSize));
  if (!plaintext) return Error::bad_ciphertext;
  out.plaintext = std::move(*plaintext);
  return Error::none;
}

std::string repair_json(std::string_view text) {
  bool too_deep = false;
  return repair(text, too_deep);
}

std::optional<Json> parse_json(std::string_view text) {
  bool too_deep = false;
  const std::string repaired = repair(text, too_deep);
  if (too_deep) return std::nullopt;
  Json value = Json::parse(repaired, nullptr, false);
  if (value.is_discarded()) return std::nullopt;
  return value;
}

std::optional<Json> parse_json(std::span<const uint8_t> plaintext) {
  return parse_json(std::string_view(reinterpret_cast<const char*>(plaintext.data()), plaintext.size()));
}

std::string string_member(const Json& object, const char* key) {
  if (!object.is_object()) return {};
  const auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace lc::miio
