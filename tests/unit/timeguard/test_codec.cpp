// The timeguard codec against tests/vectors/timeguard.json (docs/protocols/timeguard.md §8):
// every vector decodes to its `decoded` fields, every frame re-encodes byte-exact from its
// typed value, and the CRC table of §1.2 holds. What the vectors do not show (corrupt input,
// unknown types and bits, field bits, ids, masking): test_codec_edges.cpp.
#include <doctest/doctest.h>

#include <cstring>
#include <string>

#include "bridges/timeguard/codec.h"
#include "core/log.h"
#include "support.h"

using namespace lc::timeguard;
using namespace lc::timeguard::test;
using Json = nlohmann::json;

namespace {

uint64_t num(const Json& value) {
  if (value.is_number()) return value.get<uint64_t>();
  return std::stoull(value.get<std::string>(), nullptr, 0);
}

std::string spaced_hex(std::span<const uint8_t> bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (uint8_t b : bytes) {
    if (!out.empty()) out.push_back(' ');
    out.push_back(digits[b >> 4]);
    out.push_back(digits[b & 15]);
  }
  return out;
}

// The params of a vector re-encoded from their typed decode, by kind.
Bytes reencode_params(Kind kind, std::span<const uint8_t> params) {
  switch (kind) {
    case Kind::ping: return encode(*decode_ping(params));
    case Kind::ping_reply: return encode_u32(*decode_u32(params));
    case Kind::code_version_report:
    case Kind::code_version_ack:
    case Kind::code_version_reply: return encode(*decode_code_version(params));
    case Kind::schedule_reply:
    case Kind::schedule_write:
    case Kind::schedule_ack: return encode(*decode_schedule(params));
    case Kind::holiday_reply:
    case Kind::holiday_write:
    case Kind::holiday_ack: return encode(*decode_holiday(params));
    case Kind::schedule_name_write: return encode(*decode_schedule_name(params));
    case Kind::boost_ack: {
      auto words = *decode_boost_ack(params);
      return encode_boost_ack(words[0], words[1]);
    }
    case Kind::schedule_read:
    case Kind::work_mode_write:
    case Kind::work_mode_ack:
    case Kind::schedule_name_ack:
    case Kind::active_schedule_reply:
    case Kind::active_schedule_write:
    case Kind::active_schedule_ack:
    case Kind::advance_write:
    case Kind::advance_ack:
    case Kind::boost_write: return Bytes{*decode_u8(params)};
    default: return Bytes(params.begin(), params.end());  // empty reads, type 4's opaque reply
  }
}

void check_ping(const PingStatus& s, const Json& p) {
  CHECK(s.state == num(p["state_byte"]));
  CHECK(static_cast<int>(s.relay()) == p["switch_state_raw"].get<int>());
  CHECK((s.relay() == Relay::on ? "ON" : "OFF") == p["switch_state"].get<std::string>());
  CHECK(((s.state >> 2) & 1) == p["state_bit2_unknown"].get<int>());
  CHECK(s.load_detected() == p["load_detected"].get<bool>());
  CHECK(s.advance() == p["advance_active"].get<bool>());
  CHECK(s.load_previously_detected() == p["load_was_detected_previously"].get<bool>());
  CHECK((s.state >> 6) == p["state_bits7_6_unknown"].get<int>());
  CHECK(spaced_hex(s.unknown1) == p["bytes_1_3_unknown"].get<std::string>());
  CHECK(s.work_mode == p["work_mode_raw"].get<int>());
  CHECK(spaced_hex(s.unknown5) == p["bytes_5_7_unknown"].get<std::string>());
  CHECK(s.uptime_s == p["uptime_s"].get<uint32_t>());
  CHECK(s.boost.raw == num(p["boost"]["raw_u16le"]));
  CHECK(static_cast<int>(s.boost.kind()) == p["boost"]["boost_type"].get<int>());
  CHECK(s.boost.start_minute() == p["boost"]["minutes_from_sunday"].get<int>());
  CHECK(s.boost.duration_minutes() == p["boost"]["duration_min_implied"].get<int>());
  CHECK(s.unknown14 == p["bytes_14_15_unknown_u16le"].get<int>());
}

void check_slot_time(SlotTime t, const Json& j) {
  CHECK(t.raw == num(j["raw_u16le"]));
  CHECK(t.enabled() == j["enabled"].get<bool>());
  CHECK((t.raw >> 13) == j["reserved_bits15_13"].get<int>());
  CHECK(t.minutes() == j["minutes_from_midnight"].get<int>());
}

void check_params(Kind kind, std::span<const uint8_t> params, const Json& p) {
  if (p.contains("empty")) {
    CHECK(params.empty());
    return;
  }
  if (p.contains("params_unknown")) {
    CHECK(spaced_hex(params) == p["params_unknown"].get<std::string>());
    return;
  }
  if (p.contains("value_u8")) {
    REQUIRE(decode_u8(params));
    CHECK(*decode_u8(params) == p["value_u8"].get<int>());
    return;
  }
  switch (kind) {
    case Kind::ping: {
      auto s = decode_ping(params);
      REQUIRE(s);
      check_ping(*s, p);
      break;
    }
    case Kind::ping_reply:
      REQUIRE(decode_u32(params));
      CHECK(*decode_u32(params) == p["now_unix"].get<uint32_t>());
      break;
    case Kind::code_version_report:
    case Kind::code_version_ack:
    case Kind::code_version_reply:
      REQUIRE(decode_code_version(params));
      CHECK(decode_code_version(params)->text() == p["code_version"].get<std::string>());
      break;
    case Kind::holiday_reply:
    case Kind::holiday_write: {
      auto h = decode_holiday(params);
      REQUIRE(h);
      CHECK((h->active != 0) == p["is_active"].get<bool>());
      CHECK(h->active == p["is_active_raw"].get<int>());
      CHECK(spaced_hex(h->unknown) == p["bytes_1_3_unknown"].get<std::string>());
      CHECK(h->time_a == p["timestamp_a_offset_4"]["unix"].get<uint32_t>());
      CHECK(h->time_b == p["timestamp_b_offset_8"]["unix"].get<uint32_t>());
      break;
    }
    case Kind::schedule_reply: {
      auto s = decode_schedule(params);
      REQUIRE(s);
      CHECK(s->index == p["schedule_index"].get<int>());
      CHECK(s->name() == p["name"].get<std::string>());
      REQUIRE(p["slots"].size() == kSlots);
      for (size_t k = 0; k < kSlots; ++k) {
        const Json& slot = p["slots"][k];
        check_slot_time(s->slots[k].start, slot["start"]);
        check_slot_time(s->slots[k].end, slot["end"]);
        CHECK(s->slots[k].days == num(slot["day_mask"]));
        CHECK(s->slots[k].unknown == slot["unknown_byte"].get<int>());
        static const char* names[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
        Json days = Json::array();
        for (int d = 0; d < 7; ++d)
          if (s->slots[k].days & (1 << d)) days.push_back(names[d]);
        CHECK(days == slot["days"]);
      }
      break;
    }
    case Kind::schedule_name_write: {
      auto n = decode_schedule_name(params);
      REQUIRE(n);
      CHECK(n->index == p["schedule_index"].get<int>());
      CHECK(n->name() == p["name"].get<std::string>());
      break;
    }
    case Kind::boost_ack: {
      auto w = decode_boost_ack(params);
      REQUIRE(w);
      CHECK((*w)[0].raw == num(p["word1_u16le"]));
      CHECK(static_cast<int>((*w)[0].kind()) == p["word1_type"].get<int>());
      CHECK((*w)[0].start_minute() == p["word1_minutes_from_sunday"].get<int>());
      CHECK((*w)[1].raw == num(p["word2_u16le"]));
      CHECK(static_cast<int>((*w)[1].kind()) == p["word2_type"].get<int>());
      CHECK((*w)[1].start_minute() == p["word2_minutes_from_sunday"].get<int>());
      break;
    }
    default:
      FAIL("vector with params the test does not know: ", p.dump());
  }
}

}  // namespace

TEST_CASE("CRC-16/XMODEM check value") {
  const char* text = "123456789";
  CHECK(crc16_xmodem(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text), 9)) == 0x31c3);
  CHECK(crc16_xmodem({}) == 0x0000);
}

TEST_CASE("the CRC verification table of docs/protocols/timeguard.md §1.2") {
  struct Row {
    const char* input;
    uint16_t crc;
  };
  const Row rows[] = {
      {"00 06 10 00 ff 00 00 00 78 56 34 12 2a 00 64 00 00 00 00 00 5c 4d 00 00 00 00 00 00", 0x172e},
      {"00 0f 04 00 ff 5f 63 6f 78 56 34 12 0f 03 ee 60", 0xc1c2},
      {"04 0c 00 00 a1 31 37 30 78 56 34 12", 0xe512},
      {"04 0c 00 00 a1 73 74 61 78 56 34 12", 0x438e},
      {"04 05 04 00 a1 00 00 00 78 56 34 12 00 00 00 00", 0x03dd},
      {"09 0c 00 00 a2 5f 63 6f 78 56 34 12", 0xbf02},
      {"09 05 0c 00 a2 00 00 00 78 56 34 12 00 74 00 00 c8 73 ea 60 00 86 eb 60", 0xbe1e},
  };
  for (const auto& row : rows) {
    CAPTURE(row.input);
    CHECK(crc16_xmodem(from_hex(row.input)) == row.crc);
  }
  // The negative check: over [2, 8+N) (length and message id included) it is not the CRC.
  const Bytes frame1 = vector_bytes("readme_01_device_ping");
  CHECK(crc16_xmodem(std::span<const uint8_t>(frame1).subspan(2, 6 + 28)) == 0xc9f7);
}

TEST_CASE("every vector decodes to its decoded fields") {
  const Json all = vectors();
  REQUIRE(all.size() == 25);
  for (const Json& v : all) {
    const std::string name = v["name"];
    CAPTURE(name);
    const Bytes bytes = from_hex(v["hex"].get<std::string>());
    const Json& d = v["decoded"];
    FrameView frame;
    REQUIRE(parse_frame(bytes, frame) == FrameError::none);
    CHECK(bytes.size() == d["total_len"].get<size_t>());
    CHECK(bytes.size() - kFrameOverhead == d["payload_len"].get<size_t>());
    CHECK(frame.message_id == num(d["message_id"]));
    CHECK(frame.type == d["type"].get<int>());
    CHECK(frame.flags == num(d["flags"]));
    CHECK(frame.params.size() == d["params_len"].get<size_t>());
    CHECK(frame.seq == num(d["seq"]));
    CHECK(spaced_hex(frame.padding) == d["hdr_bytes_13_15"].get<std::string>());
    CHECK(frame.device_id == num(d["device_id_u32le"]));
    CHECK(frame.crc == num(d["crc_stored_u16le"]));
    CHECK(((frame.flags << 4) | frame.type) == num(d["type_id (type + flags<<4)"].get<std::string>().substr(0, 4)));
    const Classified c = classify(frame);
    CHECK(c.kind != Kind::unknown);  // type 4 included: we name the pair the capture shows
    CHECK(c.parse == Parse::success);
    CHECK(c.trailing == 0);
    check_params(c.kind, frame.params, d["params"]);
  }
}

TEST_CASE("every vector re-encodes byte-exact from its typed value") {
  for (const Json& v : vectors()) {
    const std::string name = v["name"];
    CAPTURE(name);
    const Bytes bytes = from_hex(v["hex"].get<std::string>());
    const FrameView frame = parsed(bytes);
    const Kind kind = kind_of(frame.type, frame.flags);
    const FrameHeader header{frame.type, frame.flags, frame.seq, frame.device_id, frame.message_id, frame.padding};
    CHECK(encode_frame(header, reencode_params(kind, frame.params)) == bytes);
  }
}

TEST_CASE("what we send is byte-exact with the vectors (message id ffffffff, zero padding)") {
  const uint32_t id = 0x12345678;
  SUBCASE("ping reply (local mode)") {
    uint8_t out[64];
    const size_t size = encode_ping_reply(id, 0xff, 1626211087, out);
    CHECK(Bytes(out, out + size) == vector_bytes("syn_local_ping_reply"));
  }
  SUBCASE("code-version ack, flags 0x0b") {
    uint8_t out[64];
    const Bytes version = encode(CodeVersion::from_text("4190117051001"));
    const size_t size = encode_version_ack(id, 0xff, version, out);
    CHECK(Bytes(out, out + size) == vector_bytes("syn_server_code_version_ack"));
  }
  SUBCASE("server requests") {
    CHECK(encode_request(type::code_version, flag::read, 0x10, id, {}) == vector_bytes("syn_server_get_code_version"));
    CHECK(encode_request(type::work_mode, flag::write, 0x11, id, Bytes{2}) ==
          vector_bytes("syn_server_set_work_mode_always_on"));
    CHECK(encode_request(type::boost, flag::write, 0x12, id, Bytes{1}) == vector_bytes("syn_server_set_boost_1h"));
    CHECK(encode_request(type::advance, flag::write, 0x13, id, Bytes{1}) == vector_bytes("syn_server_set_advance_on"));
    CHECK(encode_request(type::active_schedule, flag::read, 0x14, id, {}) ==
          vector_bytes("syn_server_get_active_schedule"));
    CHECK(encode_request(type::active_schedule, flag::write, 0x15, id, Bytes{1}) ==
          vector_bytes("syn_server_set_active_schedule_2"));
    CHECK(encode_request(type::schedule, flag::read, 0x16, id, Bytes{0}) == vector_bytes("syn_server_get_schedule_0"));
    Schedule named;
    named.set_name("My Program");
    ScheduleName rename{2, named.name_raw};
    CHECK(encode_request(type::schedule_name, flag::write, 0x17, id, encode(rename)) ==
          vector_bytes("syn_server_set_schedule_name"));
    Holiday holiday{1, {0, 0, 0}, 1626048000, 1625977800};
    CHECK(encode_request(type::holiday, flag::write, 0x18, id, encode(holiday)) ==
          vector_bytes("syn_server_set_holiday"));
  }
  SUBCASE("what the simulator sends: a device schedule reply") {
    Schedule s;
    s.slots[0] = Slot{SlotTime::make(true, 270), SlotTime::make(true, 300), 0x7d, 0};
    s.slots[1] = Slot{SlotTime::make(true, 210), SlotTime::make(true, 240), 0x7f, 0};
    s.slots[2] = Slot{SlotTime::make(true, 420), SlotTime::make(true, 450), 0x7f, 0};
    s.set_name("Default");
    CHECK(encode_frame(FrameHeader{type::schedule, flag::read_reply, 0x16, id, 6}, encode(s)) ==
          vector_bytes("syn_device_schedule_0_reply"));
    CHECK(encode_frame(FrameHeader{type::boost, flag::write_ack, 0x12, id, 4},
                       encode_boost_ack(BoostWord::make(BoostKind::one_hour, 4920),
                                        BoostWord::make(BoostKind::one_hour, 4920))) ==
          vector_bytes("syn_device_set_boost_reply"));
  }
}

TEST_CASE("the differential pair: the cloud's ping reply and ours differ only in padding and CRC") {
  const Bytes cloud_bytes = vector_bytes("readme_02_server_ping_reply");
  const Bytes our_bytes = vector_bytes("syn_local_ping_reply");
  const FrameView cloud = parsed(cloud_bytes);
  const FrameView ours = parsed(our_bytes);
  CHECK(cloud.crc == 0xc1c2);
  CHECK(ours.crc == 0xc1b0);
  CHECK(*decode_u32(cloud.params) == *decode_u32(ours.params));
  CHECK(cloud.padding != ours.padding);
}
