// The vesync codec, crypto, HTTP head parser and client frames against
// tests/vectors/vesync.json (docs/protocols/vesync.md §11) and hand-made bad input.
#include <doctest/doctest.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>

#include "bridges/vesync/codec.h"
#include "bridges/vesync/crypto.h"
#include "bridges/vesync/http.h"
#include "bridges/vesync/upstream.h"
#include "bridges/vesync/ws_frame.h"
#include "core/hex.h"
#include "core/http_server.h"

using namespace lc::vesync;
using lc::query_parameter;
using nlohmann::json;

namespace {

json vectors() {
  const char* root = std::getenv("LOCALCLOUD_SOURCE_DIR");
  std::ifstream in(std::string(root ? root : ".") + "/tests/vectors/vesync.json");
  REQUIRE(in.good());
  return json::parse(in);
}

const json& vector(const std::string& name) {
  static const json all = vectors();
  for (const auto& v : all) {
    if (v["name"] == name) return v;
  }
  FAIL("no vector " << name);
  static json none;
  return none;
}

std::string unhex(const std::string& hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) out += char(std::stoi(hex.substr(i, 2), nullptr, 16));
  return out;
}

std::string tohex(std::string_view bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

Message decoded(std::string_view text) {
  auto result = decode(text);
  INFO(result.detail);
  REQUIRE(result.ok());
  return *result.message;
}

}  // namespace

TEST_CASE("every websocket vector classifies as its meaning says") {
  // name -> message_uri(): the classification of docs/protocols/vesync.md §3.2 / §4.13.
  const std::map<std::string, std::string> expected = {
      {"login_fw1_89", "login"},
      {"login_fw1_89_email_account", "login"},
      {"loginReply_cloud", "/loginReply"},
      {"loginReply_hijack_style", "/loginReply"},
      {"server_ka", "/ka"},
      {"device_kr_reply", "/kr"},
      {"device_ka_rssi_39", "/ka"},
      {"device_ka_rssi_38", "/ka"},
      {"device_ka_rssi_46", "/ka"},
      {"server_kr_62482912", "/kr"},
      {"server_kr_62666011", "/kr"},
      {"server_kr_4388167", "/kr"},
      {"report_e324_tb7", "/report"},
      {"report_e320_tb6", "/report"},
      {"report_e34e_tb6", "/report"},
      {"report_eaf5_tb6", "/report"},
      {"report_eaf9_tb6", "/report"},
      {"report_e8e8_tb6", "/report"},
      {"relay_break_no_cid", "/relay"},
      {"runtimeInfo_after_break", "/runtimeInfo"},
      {"relay_open_no_cid", "/relay"},
      {"runtimeInfo_after_open", "/runtimeInfo"},
      {"relay_open_python_spacing", "/relay"},
      {"relay_open_with_cid", "/relay"},
      {"state_relay_open", "/state"},
      {"getRuntime_no_cid", "/getRuntime"},
      {"getRuntime_with_cid", "/getRuntime"},
      {"runtimeInfo_measuring_backcomputed", "/runtimeInfo"},
      {"runtimeInfo_1W_120V", "/runtimeInfo"},
      {"setCtlFlags_request", "/setCtlFlags"},
      {"timer_add", "/timer"},
      {"timer_del", "/timer"},
      {"timer_reply", "/timer"},
      {"evtimer_fired", "/evtimer"},
      {"getTriggerCnt_request", "/getTriggerCnt"},
      {"getTriggerCnt_reply", "/getTriggerCnt"},
      {"trigger_fired", "/trigger"},
      {"upgrade_cloud_style", "/upgrade"},
      {"upgrade_hijack_style", "/upgrade"},
      {"enc_loginReply", "/loginReply"},
      {"enc_server_ka", "/ka"},
      {"enc_server_kr", "/kr"},
      {"enc_relay_open", "/relay"},
      {"enc_relay_break", "/relay"},
      {"enc_getRuntime", "/getRuntime"},
      {"enc_device_kr", "/kr"},
  };
  int checked = 0;
  for (const auto& v : vectors()) {
    const std::string channel = v["channel"];
    if (channel != "websocket_text" && channel != "websocket_binary_aes") continue;
    const std::string name = v["name"];
    if (name == "encrypted_login_prefix") continue;  // a truncated login (checked below)
    CAPTURE(name);
    REQUIRE(expected.count(name) == 1);
    std::string text = v["message"];
    if (channel == "websocket_binary_aes") {
      auto plain = decrypt_frame(unhex(v["wire_hex"]));
      REQUIRE(plain);
      CHECK(*plain == text);
      text = *plain;
    }
    Message message = decoded(text);
    CHECK(message_uri(message) == expected.at(name));
    // Re-encoding keeps every member: same JSON value.
    CHECK(json::parse(encode(message)) == json::parse(text));
    ++checked;
  }
  CHECK(checked == int(expected.size()));
}

TEST_CASE("server messages re-encode byte for byte; device messages in the device's layout") {
  for (const char* name : {"loginReply_cloud", "loginReply_hijack_style", "server_ka", "server_kr_62482912",
                           "server_kr_4388167", "relay_break_no_cid", "relay_open_no_cid", "relay_open_with_cid",
                           "state_relay_open", "getRuntime_no_cid", "getRuntime_with_cid", "setCtlFlags_request",
                           "timer_add", "timer_del", "timer_reply", "evtimer_fired", "getTriggerCnt_request",
                           "getTriggerCnt_reply", "trigger_fired", "upgrade_cloud_style", "upgrade_hijack_style",
                           "device_kr_reply", "device_ka_rssi_39", "login_fw1_89_email_account",
                           "runtimeInfo_measuring_backcomputed"}) {
    CAPTURE(name);
    const std::string text = vector(name)["message"];
    CHECK(encode(decoded(text)) == text);
  }
  for (const char* name : {"login_fw1_89", "report_e324_tb7", "report_e8e8_tb6", "runtimeInfo_after_break",
                           "runtimeInfo_after_open"}) {
    CAPTURE(name);
    const std::string text = vector(name)["message"];
    CHECK(encode_pretty(decoded(text)) == text);
  }
  // Python's spacing decodes to the same command as the compact form.
  CHECK(encode(decoded(vector("relay_open_python_spacing")["message"].get<std::string>())) ==
        vector("relay_open_no_cid")["message"].get<std::string>());
}

TEST_CASE("login fields") {
  auto message = decoded(vector("login_fw1_89")["message"].get<std::string>());
  const auto& login = std::get<Login>(message);
  CHECK(login.id == "443c878f-f675-4c90-98e8-2f4566914d39");
  CHECK(login.account == "1234567");
  CHECK(login.device_name == "vesync_wifi_outlet");
  CHECK(login.device_version_code == 5);
  CHECK(login.firm_version == "1.89");
  CHECK(login.key == 0);
  CHECK(login.relay == Relay::open);  // open = ON
  CHECK(login.extra.empty());
  CHECK(normalise_id("443C878F-f675-4c90-98e8-2F4566914D39") == "443c878f-f675-4c90-98e8-2f4566914d39");
  CHECK_FALSE(normalise_id("../etc/passwd"));
  CHECK_FALSE(normalise_id(""));
  CHECK_FALSE(normalise_id(std::string(65, 'a')));

  auto email = std::get<Login>(decoded(vector("login_fw1_89_email_account")["message"].get<std::string>()));
  CHECK(email.account == "fancygaphtrn@gmail.com");
}

TEST_CASE("time fields: UTC, Sunday = 0, milliseconds since midnight") {
  using namespace std::chrono;
  // 2017-11-01 17:15:25.134 UTC (a Wednesday): the cloud's loginReply (vector loginReply_cloud).
  const auto t1 = sys_days{year{2017} / 11 / 1} + hours{17} + minutes{15} + seconds{25} + milliseconds{134};
  const TimeFields f1 = utc_time_fields(t1);
  CHECK(f1 == TimeFields{2017, 11, 1, 3, 62125134});
  CHECK(encode_login_reply(f1) == vector("loginReply_cloud")["message"].get<std::string>());
  // 2017-11-03 01:13:08.167 UTC (a Friday): vector server_kr_4388167.
  const auto t2 = sys_days{year{2017} / 11 / 3} + milliseconds{4388167};
  CHECK(encode_keepalive_reply(utc_time_fields(t2)) == vector("server_kr_4388167")["message"].get<std::string>());
  CHECK(utc_time_fields(sys_days{year{2023} / 1 / 1}).wd == 0);  // a Sunday

  auto reply = std::get<LoginReply>(decoded(vector("loginReply_cloud")["message"].get<std::string>()));
  CHECK(reply.time == f1);
  CHECK(reply.error == 0);
  auto kr = std::get<KeepAliveReply>(decoded(vector("server_kr_62482912")["message"].get<std::string>()));
  REQUIRE(kr.time);
  CHECK(kr.time->ms == 62482912);
  CHECK_FALSE(std::get<KeepAliveReply>(decoded("{\"uri\":\"/kr\"}")).time);
}

TEST_CASE("keepalive rssi and reports in hex") {
  CHECK(std::get<KeepAlive>(decoded(vector("device_ka_rssi_39")["message"].get<std::string>())).rssi == -39);
  CHECK_FALSE(std::get<KeepAlive>(decoded(vector("server_ka")["message"].get<std::string>())).rssi);
  for (const char* name : {"report_e324_tb7", "report_e320_tb6", "report_e34e_tb6", "report_eaf5_tb6",
                           "report_eaf9_tb6", "report_e8e8_tb6"}) {
    CAPTURE(name);
    const auto& v = vector(name);
    auto report = std::get<Report>(decoded(v["message"].get<std::string>()));
    CHECK(report.energy_ws == v["decoded"]["e_int"].get<uint64_t>());
    CHECK(report.seconds == v["decoded"]["t_seconds"].get<uint64_t>());
    const double wh = double(report.energy_ws) / 3600.0;
    CHECK(wh == doctest::Approx(v["decoded"]["watt_hours_if_e_is_watt_seconds"].get<double>()).epsilon(0.001));
  }
}

TEST_CASE("HEX:HEX decodings on the documented samples (§5)") {
  const auto& v = vector("runtimeInfo_measuring_backcomputed");
  auto info = std::get<RuntimeInfo>(decoded(v["message"].get<std::string>()));
  REQUIRE(info.power);
  auto power = parse_pair(*info.power);
  auto voltage = parse_pair(*info.voltage);
  REQUIRE(power);
  REQUIRE(voltage);
  const auto& d = v["decoded"];
  CHECK(decode_half(power->a, PowerDecoding::q12) == doctest::Approx(d["power_q12_first_second"][0].get<double>()));
  CHECK(decode_half(power->b, PowerDecoding::q12) == doctest::Approx(d["power_q12_first_second"][1].get<double>()));
  CHECK(decode_half(voltage->a, PowerDecoding::q12) == doctest::Approx(d["voltage_q12_first_second"][0].get<double>()));
  CHECK(decode_half(voltage->b, PowerDecoding::q12) == doctest::Approx(d["voltage_q12_first_second"][1].get<double>()));
  CHECK(decode_half(power->a, PowerDecoding::app) == doctest::Approx(d["power_int_plus_milli_first_second"][0].get<double>()));
  CHECK(decode_half(power->b, PowerDecoding::app) == doctest::Approx(d["power_int_plus_milli_first_second"][1].get<double>()));
  CHECK(decode_half(voltage->a, PowerDecoding::app) == doctest::Approx(d["voltage_int_plus_milli_first_second"][0].get<double>()));
  CHECK(decode_half(voltage->b, PowerDecoding::app) == doctest::Approx(d["voltage_int_plus_milli_first_second"][1].get<double>()));
  CHECK(decode_pair(*power, PowerDecoding::mean) == doctest::Approx(d["power_pyvesync_mean"].get<double>()));
  CHECK(decode_pair(*voltage, PowerDecoding::mean) == doctest::Approx(d["voltage_pyvesync_mean"].get<double>()));
  // The published value is the first half (app, q12).
  CHECK(decode_pair(*power, PowerDecoding::app) == doctest::Approx(9.403));
  CHECK(decode_pair(*voltage, PowerDecoding::q12) == doctest::Approx(121.09814453125));

  auto one = std::get<RuntimeInfo>(decoded(vector("runtimeInfo_1W_120V")["message"].get<std::string>()));
  for (auto decoding : {PowerDecoding::app, PowerDecoding::q12, PowerDecoding::mean}) {
    CHECK(decode_pair(*parse_pair(*one.power), decoding) == doctest::Approx(1.0));
    CHECK(decode_pair(*parse_pair(*one.voltage), decoding) == doctest::Approx(120.0));
  }
  CHECK(decode_pair(*parse_pair("0:0"), PowerDecoding::app) == 0.0);
  CHECK_FALSE(parse_pair("NaN"));
  CHECK_FALSE(parse_pair(""));
  CHECK_FALSE(parse_pair("1:2:3"));
  CHECK_FALSE(parse_pair("123456789:1"));
  CHECK_FALSE(parse_pair(":1"));
  CHECK_FALSE(parse_pair("-1:1"));
  CHECK(lc::number_from_hex("af5") == 2805);
  CHECK_FALSE(lc::number_from_hex("0x1f"));
  CHECK_FALSE(lc::number_from_hex("12345678901234567"));
}

TEST_CASE("scan_keepalive: the outlet's own keepalive without a JSON value, as decode() reads it") {
  for (const std::string text : {R"({"uri":"/ka","rssi":-39})", R"({"uri":"/ka","rssi":0})",
                                 R"({"uri":"/ka","rssi":7})", R"({"uri":"/ka"})"}) {
    CAPTURE(text);
    const auto scanned = scan_keepalive(text);
    REQUIRE(scanned);
    const Decoded decoded = decode(text);
    REQUIRE(decoded.ok());
    const auto* keepalive = std::get_if<KeepAlive>(&*decoded.message);
    REQUIRE(keepalive);
    CHECK(keepalive->rssi == scanned->rssi);
    CHECK(keepalive->extra.empty());
  }
  CHECK(scan_keepalive(R"({"uri":"/ka","rssi":-39})")->rssi == -39);
  CHECK_FALSE(scan_keepalive(R"({"uri":"/ka"})")->rssi);
  // Every other spelling is left to decode().
  for (const std::string text :
       {R"({"uri": "/ka","rssi":-39})", R"({"rssi":-39,"uri":"/ka"})", R"({"uri":"/ka","rssi":-39,"x":1})",
        R"({"uri":"/ka","rssi":-0})", R"({"uri":"/ka","rssi":05})", R"({"uri":"/ka","rssi":-})",
        R"({"uri":"/ka","rssi":1.5})", R"({"uri":"/ka","rssi":1234567890})", R"({"uri":"/ka","rssi":"-39"})",
        R"({"uri":"/ka","rssi":})", R"({"uri":"/kr"})", R"({"uri":"/ka"} )", ""}) {
    CAPTURE(text);
    CHECK_FALSE(scan_keepalive(text));
  }
}

TEST_CASE("AES frames: decrypt to the plaintext and re-encrypt byte for byte") {
  int checked = 0;
  for (const auto& v : vectors()) {
    if (v["channel"] != "websocket_binary_aes") continue;
    const std::string name = v["name"];
    CAPTURE(name);
    const std::string wire = unhex(v["wire_hex"]);
    auto plain = decrypt_frame(wire);
    REQUIRE(plain);
    CHECK(*plain == v["message"].get<std::string>());
    if (name != "encrypted_login_prefix") CHECK(tohex(encrypt_frame(*plain)) == v["wire_hex"].get<std::string>());
    ++checked;
  }
  CHECK(checked == 8);
  // A 32-byte JSON gets a whole block of zero padding (vector enc_relay_open: 48 bytes).
  CHECK(encrypt_frame(R"({"uri":"/relay","action":"open"})").size() == 48);
  // The truncated login of voltlet#5 is the firmware 1.89 layout.
  CHECK(vector("encrypted_login_prefix")["message"].get<std::string>().rfind("{\n\"account\":\"1237645\",\n", 0) == 0);
}

TEST_CASE("bad input is rejected without a crash") {
  CHECK(decode("{\"uri\":\"/ka\"").error == DecodeError::bad_json);
  CHECK(decode("").error == DecodeError::bad_json);
  CHECK(decode("[1,2]").error == DecodeError::bad_json);
  CHECK(decode("{\"uri\":\"/ka\"} trailing").error == DecodeError::bad_json);
  CHECK(decode("\xff\xfe{}").error == DecodeError::bad_json);
  const std::string mib(1 << 20, ' ');
  CHECK(decode(mib).error == DecodeError::too_large);
  std::string big = "{\"uri\":\"/ka\",\"x\":\"" + std::string(kMaxFrameBytes, 'a') + "\"}";
  CHECK(decode(big).error == DecodeError::too_large);
  std::string deep(kMaxFrameBytes / 2, '[');
  CHECK_FALSE(decode(deep).ok());
  // A login without its id, or with an id of the wrong type.
  auto no_id = decode(R"({"account":"1","deviceName":"vesync_wifi_outlet","relay":"open"})");
  CHECK(no_id.error == DecodeError::missing_field);
  CHECK(no_id.detail.find("id") != std::string::npos);
  CHECK(decode(R"({"id":5})").error == DecodeError::bad_field);
  CHECK(decode(R"({"id":""})").error == DecodeError::bad_field);
  CHECK(decode(R"({"id":"x","relay":"on"})").error == DecodeError::bad_field);
  CHECK(decode(R"({"uri":5})").error == DecodeError::bad_uri);
  CHECK(decode(R"({"uri":"ka"})").error == DecodeError::bad_uri);
  CHECK(decode(R"({"uri":"/relay"})").error == DecodeError::missing_field);
  CHECK(decode(R"({"uri":"/relay","action":"close"})").error == DecodeError::bad_field);
  CHECK(decode(R"({"uri":"/report","e":"zz","t":"b7"})").error == DecodeError::bad_field);
  CHECK(decode(R"({"uri":"/report","e":"1"})").error == DecodeError::missing_field);
  CHECK(decode(R"({"uri":"/ka","rssi":"-39"})").error == DecodeError::bad_field);
  CHECK(decode(R"({"uri":"/ka","rssi":1.5})").error == DecodeError::bad_field);
  CHECK(decode(R"({"uri":"/ka","rssi":18446744073709551615})").error == DecodeError::bad_field);
  // Binary frames that are not whole AES blocks.
  CHECK_FALSE(decrypt_frame(""));
  CHECK_FALSE(decrypt_frame(std::string(15, 'x')));
  CHECK_FALSE(decrypt_frame(std::string(33, 'x')));
  // Garbage of the right length decrypts to garbage that the JSON parser refuses.
  auto garbage = decrypt_frame(std::string(32, '\x55'));
  REQUIRE(garbage);
  CHECK_FALSE(decode(*garbage).ok());
}

TEST_CASE("URIs are case-sensitive; unknown members are kept") {
  auto upper = decoded(R"({"uri":"/KA","rssi":-3})");
  REQUIRE(std::holds_alternative<OtherMessage>(upper));
  CHECK(std::get<OtherMessage>(upper).uri == "/KA");
  CHECK(encode(upper) == R"({"uri":"/KA","rssi":-3})");

  auto ka = decoded(R"({"uri":"/ka","rssi":-39,"future":{"a":[1,2]},"z":true})");
  const auto& keep = std::get<KeepAlive>(ka);
  CHECK(keep.extra.size() == 2);
  CHECK(encode(ka) == R"({"uri":"/ka","rssi":-39,"future":{"a":[1,2]},"z":true})");

  auto login = decoded(R"({"id":"ABC","newField":"x"})");
  CHECK(std::get<Login>(login).extra["newField"] == "x");
  CHECK(message_uri(decoded(R"({"uri":"\/beginConfigRequest"})")) == "/beginConfigRequest");
  // Non-ASCII goes out escaped (compact ASCII JSON).
  CHECK(encode(decoded(R"({"uri":"/x","n":"é"})")) == R"({"uri":"/x","n":"\u00e9"})");
}

TEST_CASE("provisioning frames on TCP 41234 (§2.5)") {
  auto reply = vector("beginConfigReply_fw1");
  auto json_text = decode_provisioning_frame(unhex(reply["wire_hex"]));
  REQUIRE(json_text);
  CHECK("%" + *json_text == reply["message"].get<std::string>());
  auto info = vector("connectInfo_fw2_123");
  auto connect_info = decode_provisioning_frame(unhex(info["wire_hex"]));  // with its trailing NUL
  REQUIRE(connect_info);
  CHECK(*connect_info == info["message"].get<std::string>());
  CHECK(json::parse(*connect_info)["url"] == "/connectInfo");
  CHECK_FALSE(decode_provisioning_frame(""));
  CHECK_FALSE(decode_provisioning_frame("\x05{}"));
  const std::string request = vector("beginConfigRequest_hijack")["message"];
  auto framed = encode_provisioning_frame(request);
  REQUIRE(framed);
  CHECK(decode_provisioning_frame(*framed) == request);
  CHECK_FALSE(encode_provisioning_frame(std::string(256, 'x')));
}

TEST_CASE("the outlet's upgrade request parses; the accept key is RFC 6455's") {
  const std::string request_text = vector("ws_upgrade_request")["message"];
  const size_t size = http::head_size(request_text);
  CHECK(size == request_text.size());
  auto request = http::parse_request(request_text);
  REQUIRE(request);
  CHECK(request->method == "GET");
  CHECK(request->path() == "/gnws");
  CHECK(http::is_websocket_upgrade(*request));
  REQUIRE(request->header("deviceversion"));
  CHECK(*request->header("deviceVersion") == "5");
  CHECK(*request->header("host") == "server2.vesync.com:17273");

  const std::string response_text = vector("ws_upgrade_response")["message"];
  auto response = http::parse_response(response_text);
  REQUIRE(response);
  CHECK(response->status == 101);
  CHECK(http::websocket_accept(*request->header("Sec-WebSocket-Key")) == *response->header("Sec-WebSocket-Accept"));

  // Not upgrades, and malformed heads.
  CHECK_FALSE(http::is_websocket_upgrade(*http::parse_request("GET /gnws HTTP/1.1\r\nHost: x\r\n\r\n")));
  CHECK_FALSE(http::parse_request("GET /gnws\r\n\r\n"));
  CHECK_FALSE(http::parse_request("GET /a b HTTP/1.1\r\n\r\n"));
  CHECK_FALSE(http::parse_request("GET / HTTP/1.1\r\n folded\r\n\r\n"));
  CHECK_FALSE(http::parse_request("GET / HTTP/1.1\r\nbad header\r\n\r\n"));
  CHECK_FALSE(http::parse_request("GET / HTTP/1.1\r\nX: a\x01z\r\n\r\n"));
  CHECK_FALSE(http::parse_request(std::string(http::kMaxHeadBytes + 1, 'G')));
  CHECK(http::head_size("GET / HTTP/1.1\r\nHost: x\r\n") == 0);
  CHECK(http::head_size("GET / HTTP/1.1\nHost: x\n\n") == 24);
  std::string many = "GET / HTTP/1.1\r\n";
  for (int i = 0; i < 65; ++i) many += "X" + std::to_string(i) + ": y\r\n";
  CHECK_FALSE(http::parse_request(many + "\r\n"));
}

TEST_CASE("query parameters (the service API reads them with core/http_server.h's decoder)") {
  bool present = false;
  CHECK(query_parameter("/api/relay?name=desk%20lamp&on=1", "name") == "desk lamp");
  CHECK(query_parameter("/api/relay?name=desk+lamp", "name") == "desk lamp");
  CHECK(query_parameter("/api/relay?on=1", "on") == "1");
  CHECK(query_parameter("/api/relay?on", "on", &present) == "");
  CHECK(present);
  CHECK(query_parameter("/api/relay?name=x", "id", &present).empty());
  CHECK_FALSE(present);
  // A malformed escape is kept as written (the bridge's own decoder refused the parameter).
  CHECK(query_parameter("/api/relay?name=%zz", "name") == "%zz");
  CHECK(query_parameter("/api/relay?name=%4", "name") == "%4");
  CHECK(http::response(404, "text/plain", "no\n") ==
        "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 3\r\nConnection: close\r\n\r\nno\n");
}

TEST_CASE("client websocket frames") {
  using namespace wsframe;
  for (size_t size : {0u, 5u, 125u, 126u, 65535u, 65536u}) {
    CAPTURE(size);
    const std::string payload(size, 'p');
    for (bool masked : {false, true}) {
      std::optional<Mask> mask;
      if (masked) mask = Mask{1, 2, 3, 4};
      const std::string bytes = encode(Opcode::binary, payload, mask);
      Frame frame;
      size_t consumed = 0;
      REQUIRE(parse(bytes, 1 << 20, frame, consumed) == Parse::ok);
      CHECK(consumed == bytes.size());
      CHECK(frame.payload == payload);
      CHECK(frame.opcode == Opcode::binary);
      CHECK(frame.fin);
      CHECK(parse(std::string_view(bytes).substr(0, bytes.size() - 1), 1 << 20, frame, consumed) ==
            (bytes.size() > 0 ? Parse::incomplete : Parse::ok));
    }
  }
  Frame frame;
  size_t consumed = 0;
  CHECK(parse(encode(Opcode::text, std::string(100, 'x'), std::nullopt), 99, frame, consumed) == Parse::error);
  CHECK(parse(std::string("\x81\x7f\xff\xff\xff\xff\xff\xff\xff\xff", 10), 4096, frame, consumed) == Parse::error);
  CHECK(parse(std::string("\xc1\x00", 2), 4096, frame, consumed) == Parse::error);  // RSV1
  CHECK(parse(std::string("\x83\x00", 2), 4096, frame, consumed) == Parse::error);  // opcode 3
  CHECK(parse(std::string("\x09\x00", 2), 4096, frame, consumed) == Parse::error);  // fragmented ping
}

TEST_CASE("proxy whitelists (§7)") {
  for (const char* uri : {"login", "/ka", "/kr", "/report", "/runtimeInfo", "/state", "/evtimer", "/timer",
                          "/setCtlFlags", "/trigger", "/getTriggerCnt"})
    CHECK(forwarded_to_cloud(uri));
  for (const char* uri : {"/delDevice", "/unknown", "/loginReply", "/upgrade"}) CHECK_FALSE(forwarded_to_cloud(uri));
  CHECK(cloud_verdict("/relay", false) == CloudVerdict::deliver);
  CHECK(cloud_verdict("/getRuntime", false) == CloudVerdict::deliver);
  CHECK(cloud_verdict("/ka", false) == CloudVerdict::deliver);
  CHECK(cloud_verdict("/loginReply", false) == CloudVerdict::served_locally);
  CHECK(cloud_verdict("/kr", false) == CloudVerdict::served_locally);
  for (const char* uri : {"/upgrade", "/delDevice", "/resetID", "/softRestore", "/calibration", "/setManufactureFlag",
                          "/resetManufactureFlag"}) {
    CHECK(cloud_verdict(uri, false) == CloudVerdict::block);
    CHECK(cloud_verdict(uri, true) == CloudVerdict::deliver);
  }
  CHECK(cloud_verdict("/Relay", true) == CloudVerdict::block);
  CHECK(cloud_verdict("/whatever", true) == CloudVerdict::block);
}
