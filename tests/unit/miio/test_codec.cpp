// The miio codec and crypto against tests/vectors/miio.json (docs/protocols/miio.md §7), corrupted
// copies, and the broken JSON real devices send (§3.5, §4.4).
#include <doctest/doctest.h>

#include "bridges/miio/codec.h"
#include "core/log.h"
#include "support.h"

using namespace lc::miio;
using lc::miio::test::unhex;
using lc::miio::test::vector;
using lc::miio::test::vectors;

namespace {

const Token kTokenFF = [] {
  Token t;
  t.fill(0xff);
  return t;
}();

std::string hex_of(std::span<const uint8_t> bytes) { return lc::hex(bytes); }

}  // namespace

TEST_CASE("key and iv derivation (docs/protocols/miio.md §1.4 table)") {
  const Cipher ff(kTokenFF);
  CHECK(hex_of(ff.key()) == "8d79cbc9a4ecdde112fc91ba625b13c2");
  CHECK(hex_of(ff.iv()) == "927ad18b27bdfec445e2e7ac1ed728f1");
  const Cipher zero(Token{});
  CHECK(hex_of(zero.key()) == "4ae71336e44bf9bf79d2752e234818a5");
  CHECK(hex_of(zero.iv()) == "1e38275872be38346a6f072771a7f58b");
}

TEST_CASE("tokens and cloud keys") {
  CHECK(token_from_hex("ffffffffffffffffffffffffffffffff") == kTokenFF);
  CHECK(token_from_hex("FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF") == kTokenFF);
  CHECK_FALSE(token_from_hex("fffffffffffffffffffffffffffffff"));
  CHECK_FALSE(token_from_hex("gfffffffffffffffffffffffffffffff"));
  const auto key = token_from_cloud_key("abcdefghijklmnop");
  REQUIRE(key);
  CHECK((*key)[0] == 'a');
  CHECK((*key)[15] == 'p');
  CHECK_FALSE(token_from_cloud_key("short"));
  CHECK_FALSE(token_from_cloud_key("abcdefgh ijklmno"));
}

TEST_CASE("every vector's header parses at the offsets of §1.1") {
  REQUIRE(vectors().size() == 12);
  for (const auto& v : vectors()) {
    CAPTURE(v["name"].get<std::string>());
    const auto packet = unhex(v["packet_hex"]);
    Header header;
    REQUIRE(parse_header(packet, header) == Error::none);
    CHECK(header.length == packet.size());
    std::array<uint8_t, kHeaderSize> rewritten;
    write_header(header, rewritten);
    CHECK(std::equal(rewritten.begin(), rewritten.end(), packet.begin()));
  }
  Header header;
  REQUIRE(parse_header(unhex(vector("request_get_prop_token_ff")["packet_hex"]), header) == Error::none);
  CHECK(header.length == 0x60);
  CHECK(header.unknown == 0);
  CHECK(header.did == 0x01020304);
  CHECK(header.stamp == 0x1000);
}

TEST_CASE("hello detection: both cloud hello shapes and the client hello (§2.3, §5 item 1)") {
  CHECK(is_hello(unhex(vector("hello")["packet_hex"])));
  CHECK(is_hello(unhex(vector("cloud_hello_from_device")["packet_hex"])));
  CHECK(is_hello(unhex(vector("cloud_hello_reply_echo_style")["packet_hex"])));
  CHECK(is_hello(unhex(vector("cloud_hello_reply_valetudo_style")["packet_hex"])));
  CHECK_FALSE(is_hello(unhex(vector("keepalive_ping_token_ff")["packet_hex"])));
  CHECK_FALSE(is_hello(unhex(vector("hello_reply_provisioned")["packet_hex"])));
  CHECK(kind_of(unhex(vector("keepalive_ping_token_ff")["packet_hex"])) == PacketKind::header_only);
  CHECK(kind_of(unhex(vector("request_get_prop_token_ff")["packet_hex"])) == PacketKind::encrypted);
  // A "long hello" (stamp and checksum not zero) is still a hello: only bytes 4..11 count.
  auto long_hello = unhex(vector("cloud_hello_from_device")["packet_hex"]);
  long_hello[14] = 0x12;
  long_hello[20] = 0x34;
  CHECK(is_hello(long_hello));
  CHECK(hex_of(hello_packet()) == vector("hello")["packet_hex"]);
  CHECK(hex_of(hello_reply_packet(0x01020304, 0x1000)) == vector("hello_reply_provisioned")["packet_hex"]);
}

TEST_CASE("time sync reply: the hello with bytes 12..15 = now (vector cloud_hello_reply_echo_style)") {
  const auto hello = unhex(vector("cloud_hello_from_device")["packet_hex"]);
  std::array<uint8_t, kHeaderSize> reply;
  make_time_sync_reply(std::span<const uint8_t, kHeaderSize>(hello.data(), kHeaderSize), 0x1000, reply);
  CHECK(hex_of(reply) == vector("cloud_hello_reply_echo_style")["packet_hex"]);
}

TEST_CASE("ping checksum = MD5(header16 || token) (vector keepalive_ping_token_ff)") {
  const Cipher cipher(kTokenFF);
  const auto ping = ping_packet(cipher, 0x01020304, 0x1000);
  CHECK(hex_of(ping) == vector("keepalive_ping_token_ff")["packet_hex"]);
  CHECK(checksum_ok(ping, cipher));
  auto other = ping;
  other[31] ^= 1;
  CHECK_FALSE(checksum_ok(other, cipher));
}

TEST_CASE("every encrypted vector decrypts and re-encodes byte-exact") {
  int encrypted = 0;
  for (const auto& v : vectors()) {
    if (v["plaintext_hex"].is_null()) continue;
    CAPTURE(v["name"].get<std::string>());
    ++encrypted;
    const auto token = token_from_hex(v["token_hex"].get<std::string>());
    REQUIRE(token);
    const Cipher cipher(*token);
    const auto packet = unhex(v["packet_hex"]);
    const auto plaintext = unhex(v["plaintext_hex"]);

    Message message;
    REQUIRE(decode_message(packet, cipher, message) == Error::none);
    CHECK(message.plaintext == plaintext);
    const auto json = parse_json(message.plaintext);
    REQUIRE(json);
    CHECK(*json == Json::parse(v["decoded_json"].get<std::string>()));

    // Re-encode the exact plaintext: identical bytes.
    const auto encoded = encode_plaintext(cipher, message.header, plaintext);
    REQUIRE(encoded);
    CHECK(hex_of(*encoded) == v["packet_hex"]);
    // And from the JSON text (encode_message adds the one NUL).
    const auto from_json = encode_message(cipher, message.header, v["decoded_json"].get<std::string>());
    REQUIRE(from_json);
    CHECK(hex_of(*from_json) == v["packet_hex"]);
  }
  CHECK(encrypted == 5);
}

TEST_CASE("corrupted packets are rejected without a crash") {
  const Cipher cipher(kTokenFF);
  const auto good = unhex(vector("request_get_prop_token_ff")["packet_hex"]);
  Message message;

  SUBCASE("a flipped bit in the checksum") {
    for (size_t byte = 16; byte < 32; ++byte) {
      auto bad = good;
      bad[byte] ^= 0x01;
      CHECK(decode_message(bad, cipher, message) == Error::bad_checksum);
    }
  }
  SUBCASE("a flipped bit anywhere in the header or payload") {
    for (size_t byte = 4; byte < good.size(); ++byte) {
      auto bad = good;
      bad[byte] ^= 0x80;
      CHECK(decode_message(bad, cipher, message) != Error::none);
    }
  }
  SUBCASE("a wrong token") {
    const Cipher wrong(Token{});
    CHECK(decode_message(good, wrong, message) == Error::bad_checksum);
  }
  SUBCASE("truncated packets") {
    for (size_t size = 0; size < good.size(); ++size) {
      const std::span<const uint8_t> cut(good.data(), size);
      CHECK(decode_message(cut, cipher, message) != Error::none);
    }
    Header header;
    CHECK(parse_header(std::span<const uint8_t>(good.data(), 31), header) == Error::too_short);
    CHECK(parse_header(std::span<const uint8_t>(good.data(), 0), header) == Error::too_short);
  }
  SUBCASE("a length field larger than the datagram") {
    auto bad = good;
    bad[2] = 0x01;  // 0x0160 > 0x60
    Header header;
    CHECK(parse_header(bad, header) == Error::bad_length);
    bad[2] = 0xff;
    bad[3] = 0xff;
    CHECK(parse_header(bad, header) == Error::bad_length);
  }
  SUBCASE("a length field smaller than the datagram") {
    auto bad = good;
    bad[3] = 0x20;
    Header header;
    CHECK(parse_header(bad, header) == Error::bad_length);
  }
  SUBCASE("a 64 KiB datagram") {
    std::vector<uint8_t> huge(65536, 0);
    std::copy(good.begin(), good.end(), huge.begin());
    Header header;
    CHECK(parse_header(huge, header) == Error::too_long);
    CHECK(decode_message(huge, cipher, message) == Error::too_long);
    std::vector<uint8_t> just_over(kMaxReceivePacket + 1, 0);
    CHECK(parse_header(just_over, header) == Error::too_long);
  }
  SUBCASE("bad magic") {
    auto bad = good;
    bad[1] = 0x30;  // 21 30: OT_PROTO_VER_V3U, refused (§1.1)
    Header header;
    CHECK(parse_header(bad, header) == Error::bad_magic);
  }
  SUBCASE("a valid checksum over garbage ciphertext") {
    Header header;
    header.did = 1;
    std::vector<uint8_t> packet(kHeaderSize + 17, 0x55);  // not a multiple of 16
    header.length = static_cast<uint16_t>(packet.size());
    write_header(header, std::span<uint8_t, kHeaderSize>(packet.data(), kHeaderSize));
    const auto sum = cipher.checksum(std::span(packet).first(16), std::span(packet).subspan(kHeaderSize));
    std::copy(sum.begin(), sum.end(), packet.begin() + 16);
    CHECK(decode_message(packet, cipher, message) == Error::bad_ciphertext);
    packet.resize(kHeaderSize + 16);  // aligned but the padding will be wrong (almost surely)
    header.length = static_cast<uint16_t>(packet.size());
    write_header(header, std::span<uint8_t, kHeaderSize>(packet.data(), kHeaderSize));
    const auto sum2 = cipher.checksum(std::span(packet).first(16), std::span(packet).subspan(kHeaderSize));
    std::copy(sum2.begin(), sum2.end(), packet.begin() + 16);
    CHECK(decode_message(packet, cipher, message) == Error::bad_ciphertext);
  }
}

TEST_CASE("nothing over 1000 bytes is encoded for a device (§1.5)") {
  const Cipher cipher(kTokenFF);
  Header header;
  // 959 bytes of plaintext (958 of JSON + NUL) pad to 960: a 992-byte packet.
  const std::string fits = "\"" + std::string(956, 'a') + "\"";
  REQUIRE(fits.size() == 958);
  const auto ok = encode_message(cipher, header, fits);
  REQUIRE(ok);
  CHECK(ok->size() == 992);
  const std::string too_long = "\"" + std::string(957, 'a') + "\"";
  CHECK_FALSE(encode_message(cipher, header, too_long));
}

TEST_CASE("plaintext with and without the NUL, and garbage after it (§1.4, §5 item 8)") {
  const Cipher cipher(kTokenFF);
  Header header;
  header.did = 7;
  for (const std::string& text : {std::string("{\"id\":5,\"result\":[\"ok\"]}"),
                                 std::string("{\"id\":5,\"result\":[\"ok\"]}\0", 26),
                                 std::string("{\"id\":5,\"result\":[\"ok\"]}\0\x01\xff garbage}", 37)}) {
    const auto packet = encode_plaintext(cipher, header, std::span(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
    REQUIRE(packet);
    Message message;
    REQUIRE(decode_message(*packet, cipher, message) == Error::none);
    const auto json = parse_json(message.plaintext);
    REQUIRE(json);
    CHECK((*json)["id"] == 5);
    CHECK((*json)["result"] == Json::array({"ok"}));
  }
}

TEST_CASE("broken JSON from real devices parses (§3.5, §4.4)") {
  SUBCASE("all empty slots: qmi.powerstrip.v1 without a cloud session (python-miio#334)") {
    const auto json = parse_json(std::string_view("{\"result\":[,,,,,,,],\"id\":1}"));
    REQUIRE(json);
    REQUIRE((*json)["result"].size() == 8);
    for (const auto& slot : (*json)["result"]) CHECK(slot.is_null());
    CHECK((*json)["id"] == 1);
  }
  SUBCASE("trailing empty slots (home-assistant/core#13749)") {
    const auto json = parse_json(std::string_view("{\"result\":[\"on\",50,215,\"normal\",29,,],\"id\":1}"));
    REQUIRE(json);
    CHECK((*json)["result"] == Json::parse("[\"on\",50,215,\"normal\",29,null,null]"));
  }
  SUBCASE("empty slots in the middle (python-miio#302)") {
    const auto json = parse_json(std::string_view("[\"off\",50,1,\"normal\",0,,,23057,12,8]"));
    REQUIRE(json);
    CHECK(*json == Json::parse("[\"off\",50,1,\"normal\",0,null,null,23057,12,8]"));
  }
  SUBCASE("a leading empty slot and an empty list") {
    CHECK(parse_json(std::string_view("[,1]")) == Json::parse("[null,1]"));
    CHECK(parse_json(std::string_view("[]")) == Json::array());
    CHECK(parse_json(std::string_view("[ ]")) == Json::array());
    CHECK(parse_json(std::string_view("[,]")) == Json::parse("[null,null]"));
  }
  SUBCASE(",,\"otu_stat\" in miIO.info (python-miio#121)") {
    const auto json = parse_json(std::string_view(
        "{\"id\":2,\"result\":{\"model\":\"qmi.powerstrip.v1\",\"fw_ver\":\"3.4.2_71\",\"ot\":\"otu\","
        "\"ott_stat\":[0,0,0,0],,\"otu_stat\":[320,267,3,0,3,742]}}"));
    REQUIRE(json);
    CHECK((*json)["result"]["model"] == "qmi.powerstrip.v1");
    CHECK((*json)["result"]["otu_stat"].size() == 6);
  }
  SUBCASE("\"value\":00 and other leading zeros") {
    const auto json = parse_json(std::string_view("{\"value\":00,\"b\":06,\"c\":-007,\"d\":0.5,\"e\":00.25,\"f\":0}"));
    REQUIRE(json);
    CHECK((*json)["value"] == 0);
    CHECK((*json)["b"] == 6);
    CHECK((*json)["c"] == -7);
    CHECK((*json)["d"] == 0.5);
    CHECK((*json)["e"] == 0.25);
    CHECK((*json)["f"] == 0);
  }
  SUBCASE("\"result\":, (an empty value)") {
    const auto json = parse_json(std::string_view("{\"result\":,\"id\":3}"));
    REQUIRE(json);
    CHECK((*json)["result"].is_null());
    CHECK((*json)["id"] == 3);
    CHECK(parse_json(std::string_view("{\"id\":3,\"result\":}")) == Json::parse("{\"id\":3,\"result\":null}"));
  }
  SUBCASE("garbage after the NUL, and after the value") {
    const std::string text("{\"id\":4,\"result\":\"ok\"}\0\x13\x88garbage{[", 31);
    const auto json = parse_json(std::string_view(text));
    REQUIRE(json);
    CHECK((*json)["id"] == 4);
    CHECK(parse_json(std::string_view("{\"id\":4}xyz")) == Json::parse("{\"id\":4}"));
  }
  SUBCASE("strings keep commas, brackets, zeros and escapes") {
    const auto json = parse_json(std::string_view("{\"a\":\",,[,]00\",\"b\":\"x\\\"y,,\"}"));
    REQUIRE(json);
    CHECK((*json)["a"] == ",,[,]00");
    CHECK((*json)["b"] == "x\"y,,");
  }
  SUBCASE("entries without the comma between them (cuco.plug.cp1, python-miio#1933)") {
    const auto json = parse_json(std::string_view(
        "{\"result\":[{\"did\":\"power\",\"siid\":2,\"piid\":1,\"code\":0,\"value\":true}"
        "{\"did\":\"indicator_light\",\"siid\":3,\"piid\":1,\"code\":0,\"value\":false}],\"id\":9}"));
    REQUIRE(json);
    REQUIRE((*json)["result"].size() == 2);
    CHECK((*json)["result"][1]["did"] == "indicator_light");
    CHECK(parse_json(std::string_view("[{} {}]")) == Json::parse("[{},{}]"));
    // Only inside a list: at the top level what follows the first value is cut as before.
    CHECK(parse_json(std::string_view("{\"a\":1}{\"b\":2}")) == Json::parse("{\"a\":1}"));
  }
  SUBCASE("not JSON stays rejected, deep nesting is refused") {
    CHECK_FALSE(parse_json(std::string_view("")));
    CHECK_FALSE(parse_json(std::string_view("{\"a\"")));
    CHECK_FALSE(parse_json(std::string_view("{\"a\":tru}")));
    CHECK_FALSE(parse_json(std::string_view("\"unterminated")));
    CHECK_FALSE(parse_json(std::string_view("{'a':1}")));
    CHECK_FALSE(parse_json(std::string(100, '[') + std::string(100, ']')));
    CHECK(parse_json(std::string(20, '[') + std::string(20, ']')));
  }
}

TEST_CASE("TCP framing (§2.1, §5 item 12)") {
  const auto ping = unhex(vector("keepalive_ping_token_ff")["packet_hex"]);
  const auto request = unhex(vector("request_get_prop_token_ff")["packet_hex"]);
  CHECK(frame_size(std::span<const uint8_t>()) == 0u);
  CHECK(frame_size(std::span<const uint8_t>(ping.data(), 3)) == 0u);
  CHECK(frame_size(std::span<const uint8_t>(ping.data(), 31)) == 0u);
  CHECK(frame_size(ping) == 32u);
  CHECK(frame_size(std::span<const uint8_t>(request.data(), 40)) == 0u);
  CHECK(frame_size(request) == 96u);
  std::vector<uint8_t> both = ping;
  both.insert(both.end(), request.begin(), request.end());
  CHECK(frame_size(both) == 32u);
  const std::string http = "GET /gslb?tver=2&id=1 HTTP/1.1\r\n";
  CHECK_FALSE(frame_size(std::span(reinterpret_cast<const uint8_t*>(http.data()), 1)));
  CHECK_FALSE(frame_size(std::span(reinterpret_cast<const uint8_t*>(http.data()), http.size())));
  std::vector<uint8_t> short_length = {0x21, 0x31, 0x00, 0x1f};
  CHECK_FALSE(frame_size(short_length));
  std::vector<uint8_t> long_length = {0x21, 0x31, 0x10, 0x01};
  CHECK_FALSE(frame_size(long_length));
  std::vector<uint8_t> max_length = {0x21, 0x31, 0x10, 0x00};
  CHECK(frame_size(max_length) == 0u);
  std::vector<uint8_t> wrong_second = {0x21, 0x30};
  CHECK_FALSE(frame_size(wrong_second));
}
