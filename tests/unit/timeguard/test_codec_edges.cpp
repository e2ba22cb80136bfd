// The timeguard codec beyond the vectors (test_codec.cpp): corrupt datagrams are rejected with
// a reason and never crash; unknown types, reserved flag bits and trailing bytes are kept
// (docs/protocols/timeguard.md §7 gotcha 2); the catalogue of §2.1; field bits; device ids and
// hex text; masked copies for trace lines.
#include <doctest/doctest.h>

#include <cstring>
#include <string>

#include "bridges/timeguard/codec.h"
#include "core/hex.h"
#include "support.h"

using namespace lc::timeguard;
using namespace lc::timeguard::test;

TEST_CASE("corrupt datagrams are rejected with a reason, never a crash") {
  const Bytes good = vector_bytes("readme_01_device_ping");
  FrameView frame;
  REQUIRE(parse_frame(good, frame) == FrameError::none);

  SUBCASE("corrupted CRC") {
    Bytes bad = good;
    bad[bad.size() - 4] ^= 0x01;
    CHECK(parse_frame(bad, frame) == FrameError::bad_crc);
    Bytes params_flipped = good;
    params_flipped[20] ^= 0x80;
    CHECK(parse_frame(params_flipped, frame) == FrameError::bad_crc);
    Bytes padding_flipped = good;  // the padding is covered by the CRC (§1.2)
    padding_flipped[14] = 0x41;
    CHECK(parse_frame(padding_flipped, frame) == FrameError::bad_crc);
  }
  SUBCASE("wrong trailer") {
    Bytes bad = good;
    bad.back() = 0xde;
    CHECK(parse_frame(bad, frame) == FrameError::bad_trailer);
  }
  SUBCASE("wrong magic") {
    Bytes bad = good;
    bad[0] = 0xd4;
    bad[1] = 0xfa;
    CHECK(parse_frame(bad, frame) == FrameError::bad_magic);
  }
  SUBCASE("length larger than the datagram") {
    Bytes bad = good;
    bad[2] = 0x40;
    CHECK(parse_frame(bad, frame) == FrameError::bad_length);
    bad[2] = 0xff;
    bad[3] = 0xff;
    CHECK(parse_frame(bad, frame) == FrameError::bad_length);
  }
  SUBCASE("length smaller than the datagram, and below the inner header") {
    Bytes bad = good;
    bad[2] = 0x1b;
    CHECK(parse_frame(bad, frame) == FrameError::bad_length);
    bad[2] = 0x04;
    CHECK(parse_frame(bad, frame) == FrameError::bad_length);
    Bytes extra = good;
    extra.push_back(0);
    CHECK(parse_frame(extra, frame) == FrameError::bad_length);
  }
  SUBCASE("params length that disagrees with N") {
    Bytes bad = good;
    bad[10] = 0x0f;
    CHECK(parse_frame(bad, frame) == FrameError::bad_params_length);
  }
  SUBCASE("a 2-byte datagram and other short ones") {
    CHECK(parse_frame(Bytes{0xfa, 0xd4}, frame) == FrameError::too_short);
    CHECK(parse_frame(Bytes{}, frame) == FrameError::too_short);
    CHECK(parse_frame(std::span<const uint8_t>(good).first(23), frame) == FrameError::too_short);
    CHECK(!peek_device_id(Bytes{0xfa, 0xd4}));
  }
  SUBCASE("a 64 KiB datagram") {
    Bytes big(65536, 0);
    CHECK(parse_frame(big, frame) == FrameError::bad_magic);
    big[0] = 0xfa;
    big[1] = 0xd4;
    big[2] = 0xff;
    big[3] = 0xff;
    CHECK(parse_frame(big, frame) == FrameError::bad_length);
    for (size_t i = 4; i < big.size(); ++i) big[i] = static_cast<uint8_t>(i * 7);
    CHECK(parse_frame(big, frame) == FrameError::bad_length);
    masked_copy(big);  // the trace path copes too
  }
  SUBCASE("the largest frame the length field allows is accepted") {
    const Bytes params(kMaxParams, 0x55);
    const Bytes max = encode_request(type::ping, flag::device_report, 0xff, 1, params);
    REQUIRE(max.size() == 0xffff + kFrameOverhead);
    CHECK(parse_frame(max, frame) == FrameError::none);
    CHECK(encode_request(type::ping, flag::device_report, 0xff, 1, Bytes(kMaxParams + 1, 0)).empty());
  }
}

TEST_CASE("unknown types, reserved flag bits and trailing bytes decode, they are not errors") {
  FrameView frame;
  SUBCASE("an unknown type") {
    const Bytes bytes = device_frame(0x12345678, 7, flag::device_report, 0xff, Bytes{1, 2, 3});
    REQUIRE(parse_frame(bytes, frame) == FrameError::none);
    const Classified c = classify(frame);
    CHECK(c.kind == Kind::unknown);
    CHECK(c.parse == Parse::unknown);
    CHECK(frame.params.size() == 3);
    const Bytes type_200 = device_frame(0x12345678, 200, flag::device_report, 0xff, {});
    REQUIRE(parse_frame(type_200, frame) == FrameError::none);
    CHECK(classify(frame).kind == Kind::unknown);
  }
  SUBCASE("flags 0x10") {
    const Bytes bytes = device_frame(0x12345678, type::ping, 0x10, 0xff, Bytes(16, 0));
    REQUIRE(parse_frame(bytes, frame) == FrameError::none);
    const Classified c = classify(frame);
    CHECK(c.kind == Kind::unknown);
    CHECK(c.parse == Parse::unknown);
    CHECK(c.reserved_flags == 0x10);
    CHECK(std::string(kind_name(c.kind)) == "unknown");
  }
  SUBCASE("a ping with a reserved flag bit is still a ping, marked unknown") {
    const Bytes bytes = device_frame(0x12345678, type::ping, 0x26, 0xff, Bytes(16, 0));
    REQUIRE(parse_frame(bytes, frame) == FrameError::none);
    const Classified c = classify(frame);
    CHECK(c.kind == Kind::ping);
    CHECK(c.parse == Parse::unknown);
    CHECK(c.reserved_flags == 0x20);
  }
  SUBCASE("params longer than the layout are kept") {
    const Bytes captured = vector_bytes("readme_01_device_ping");
    Bytes params = encode(*decode_ping(parsed(captured).params));
    params.push_back(0xaa);
    params.push_back(0xbb);
    const Bytes bytes = device_frame(0x12345678, type::ping, flag::device_report, 0xff, params);
    REQUIRE(parse_frame(bytes, frame) == FrameError::none);
    const Classified c = classify(frame);
    CHECK(c.kind == Kind::ping);
    CHECK(c.parse == Parse::success);
    CHECK(c.trailing == 2);
    CHECK(frame.params.size() == 18);
    CHECK(frame.params[17] == 0xbb);
    CHECK(decode_ping(frame.params)->uptime_s == 19804);
  }
  SUBCASE("params shorter than the layout: short, and no typed decode") {
    const Bytes bytes = device_frame(0x12345678, type::work_mode, flag::write_ack, 0x11, {});
    REQUIRE(parse_frame(bytes, frame) == FrameError::none);
    CHECK(classify(frame).parse == Parse::short_params);
    CHECK(!decode_u8(frame.params));
    CHECK(!decode_ping(Bytes(15, 0)));
    CHECK(!decode_schedule(Bytes(86, 0)));
    CHECK(!decode_holiday(Bytes(11, 0)));
    CHECK(!decode_code_version(Bytes(12, 0)));
    CHECK(!decode_schedule_name(Bytes(50, 0)));
    CHECK(!decode_boost_ack(Bytes(3, 0)));
  }
}

TEST_CASE("the catalogue has every type/flags pair of §2.1 once") {
  CHECK(catalogue().size() == 28);
  for (const auto& row : catalogue()) {
    CAPTURE(row.name);
    CHECK(kind_of(row.type, row.flags) == row.kind);
    CHECK(info(row.kind) == &row);
  }
  CHECK(kind_of(type::ping, 0x06) == Kind::ping);
  CHECK(kind_of(type::code_version, 0x0b) == Kind::code_version_ack);
  CHECK(kind_of(1, 0x06) == Kind::unknown);
  CHECK(kind_of(3, 0x0c) == Kind::unknown);
  CHECK(kind_of(type::ping, 0x0c) == Kind::unknown);
}

TEST_CASE("ping state bits (§2.2)") {
  PingStatus s;
  s.state = 0x01;
  CHECK(s.relay() == Relay::off);
  s.state = 0x02 | 0x08 | 0x10 | 0x20 | 0x04 | 0x80;
  CHECK(s.relay() == Relay::on);
  CHECK(s.load_detected());
  CHECK(s.advance());
  CHECK(s.load_previously_detected());
  CHECK(s.unknown_state_bits() == 0x84);
  const BoostWord boost = BoostWord::make(BoostKind::two_hours, 4920);
  CHECK(boost.raw == 0x9338);
  CHECK(boost.kind() == BoostKind::two_hours);
  CHECK(boost.start_minute() == 4920);
  CHECK(boost.duration_minutes() == 120);
  CHECK(BoostWord{0xc000}.kind() == BoostKind::unspecified);
  CHECK(BoostWord{0xc000}.duration_minutes() == 0);
}

TEST_CASE("schedule slots and names (§2.5)") {
  CHECK(SlotTime{0x110e}.enabled());
  CHECK(SlotTime{0x110e}.minutes() == 270);
  CHECK(SlotTime::make(false, 1439).raw == 0x059f);
  Schedule s;
  s.set_name("Caf\xc3\xa9");
  CHECK(s.name() == "Caf\xc3\xa9");
  // 49 ASCII bytes and a 2-byte character: the character does not fit and is left out whole.
  s.set_name(std::string(49, 'a') + "\xc3\xa9");
  CHECK(s.name() == std::string(49, 'a'));
  CHECK(s.name_raw[49] == 0);
  s.set_name(std::string(60, 'b'));
  CHECK(s.name() == std::string(50, 'b'));
  // Invalid UTF-8 from a device is replaced, never passed on.
  s.name_raw.fill(0);
  s.name_raw[0] = 'x';
  s.name_raw[1] = 0xff;
  s.name_raw[2] = '\n';
  CHECK(s.name() == "x\xef\xbf\xbd ");
}

TEST_CASE("code version and model (§2.3)") {
  const CodeVersion v = CodeVersion::from_text("4191717051001");
  CHECK(v.text() == "4191717051001");
  CHECK(model_of(v.text()) == "NTTWIFI");
  CHECK(model_of("4190117051001") == "FSTWIFI");
  CHECK(model_of("12345") == "");
  CHECK(model_of("419") == "");
  CHECK(CodeVersion::from_text("41917").text() == "41917");  // NUL-padded
}

TEST_CASE("device ids as 8 hex digits") {
  CHECK(device_key(0x12345678) == "12345678");
  CHECK(device_key(0xabcdef01) == "abcdef01");
  CHECK(device_key(1) == "00000001");
  CHECK(parse_device_id("ABCDEF01") == 0xabcdef01u);
  CHECK(!parse_device_id("1234567"));
  CHECK(!parse_device_id("1234567g"));
  CHECK(!parse_device_id("+2345678"));
}

TEST_CASE("hex text as people paste it: spaces or colons between bytes") {
  CHECK(bytes_from_hex_text("fad4") == Bytes{0xfa, 0xd4});
  CHECK(bytes_from_hex_text("FA d4\t1c") == Bytes{0xfa, 0xd4, 0x1c});
  CHECK(bytes_from_hex_text("fa:d4:1c") == Bytes{0xfa, 0xd4, 0x1c});
  CHECK(bytes_from_hex_text("") == Bytes{});
  CHECK(!bytes_from_hex_text("fad"));
  CHECK(!bytes_from_hex_text("fa d"));
  CHECK(!bytes_from_hex_text("fa-d4"));
  CHECK(!bytes_from_hex_text("0x12"));
}

TEST_CASE("masked copies for trace lines hide the id and its CRC") {
  const Bytes original = device_frame(0xcafebabe, type::ping, flag::device_report, 0xff, Bytes(16, 0));
  const Bytes masked = masked_copy(original);
  const FrameView frame = parsed(masked);  // CRC recomputed: still a valid frame
  CHECK(frame.device_id == 0x12345678);
  CHECK(lc::hex(masked).find("bebafeca") == std::string::npos);
  // The README frames were logged masked already: masking them changes nothing.
  const Bytes readme = vector_bytes("readme_07_device_holiday_reply");
  CHECK(masked_copy(readme) == readme);
  // An invalid frame keeps no CRC that could reveal the id.
  Bytes broken = original;
  broken.push_back(0);
  const Bytes masked_broken = masked_copy(broken);
  CHECK(peek_device_id(masked_broken) == 0x12345678u);
  CHECK(masked_broken[masked_broken.size() - 4] == 0);
  CHECK(masked_copy(Bytes{1, 2}) == Bytes{1, 2});
}
