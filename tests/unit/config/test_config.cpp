// The config loader: every error class with its line:column, warnings, defaults, durations,
// paths, redaction, the shipped config and the examples.
#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bridges/bridge.h"
#include "bridges/miio/config.h"
#include "bridges/timeguard/config.h"
#include "bridges/vesync/config.h"
#include "config/config.h"
#include "config/daemon_sections.h"

using namespace lc::config;
using MiioDevice = lc::miio::ConfiguredDevice;
using lc::vesync::PowerDecoding;
using TimeguardMode = lc::timeguard::Mode;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

// The sections of the daemon's bridges (bridges/registry.cpp).
const std::vector<BridgeSection>& sections() {
  static const auto registered = lc::config_sections(lc::bridge_registry());
  return registered;
}
LoadResult load_string(std::string_view yaml, const std::string& path) {
  return lc::config::load_string(yaml, path, sections());
}
LoadResult load_file(const std::string& path) { return lc::config::load_file(path, sections()); }
LoadResult load(std::string_view yaml) { return load_string(yaml, "test.yaml"); }

// Each bridge's section with its vendor's type.
const lc::miio::Settings& miio(const Config& c) { return dynamic_cast<const lc::miio::Settings&>(*c.bridge("miio")); }
const lc::vesync::Settings& vesync(const Config& c) {
  return dynamic_cast<const lc::vesync::Settings&>(*c.bridge("vesync"));
}
const lc::timeguard::Settings& timeguard(const Config& c) {
  return dynamic_cast<const lc::timeguard::Settings&>(*c.bridge("timeguard"));
}

std::string all_text(const LoadResult& result) {
  std::string out;
  for (const auto& d : result.diagnostics) out += d.text() + "\n";
  return out;
}

size_t count(const LoadResult& result, bool warnings) {
  size_t n = 0;
  for (const auto& d : result.diagnostics) n += d.warning == warnings;
  return n;
}
size_t errors(const LoadResult& result) { return count(result, false); }
size_t warnings(const LoadResult& result) { return count(result, true); }

// True when there is a diagnostic of that kind at line:column whose message contains `needle`.
bool has(const LoadResult& result, int line, int column, std::string_view needle, bool warning = false) {
  for (const auto& d : result.diagnostics)
    if (d.line == line && d.column == column && d.warning == warning && d.message.find(needle) != std::string::npos)
      return true;
  return false;
}

// Exactly one error, at line:column, containing `needle`.
void check_one_error(std::string_view yaml, int line, int column, std::string_view needle) {
  auto result = load(yaml);
  INFO("yaml:\n" << yaml << "\ndiagnostics:\n" << all_text(result));
  CHECK(errors(result) == 1);
  CHECK(has(result, line, column, needle));
  CHECK_FALSE(result.ok());
}

struct TempDir {
  fs::path path;
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "lc-config-test-XXXXXX").string();
    REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    path = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    fs::permissions(path, fs::perms::owner_all, fs::perm_options::add, ec);
    fs::remove_all(path, ec);
  }
  fs::path write(const std::string& name, const std::string& content) const {
    fs::path file = path / name;
    fs::create_directories(file.parent_path());
    std::ofstream(file, std::ios::binary) << content;
    return file;
  }
};

std::string source_dir() {
  const char* dir = std::getenv("LOCALCLOUD_SOURCE_DIR");
  REQUIRE_MESSAGE(dir != nullptr, "LOCALCLOUD_SOURCE_DIR must point at the source tree");
  return dir;
}

const char* kToken = "0123456789abcdef0123456789abcdef";

}  // namespace

TEST_CASE("an empty file gives the defaults with every bridge off") {
  auto result = load("");
  CHECK(result.ok());
  const Config& c = result.config;
  CHECK(c.mqtt.url == "mqtt://127.0.0.1:1883");
  CHECK(c.mqtt.client_id == "localcloud");
  CHECK(c.mqtt.base_topic == "localcloud");
  CHECK(c.homeassistant.discovery);
  CHECK(c.homeassistant.prefix == "homeassistant");
  CHECK(c.homeassistant.status_topic == "homeassistant/status");
  CHECK(c.log.level == lc::Level::info);
  CHECK(c.log.mask_ids);
  REQUIRE(c.api.listen);
  CHECK(c.api.listen->text() == "127.0.0.1:8080");
  CHECK_FALSE(miio(c).enabled);
  CHECK_FALSE(vesync(c).enabled);
  CHECK_FALSE(timeguard(c).enabled);
  CHECK(warnings(result) == 1);
  CHECK(has(result, 1, 1, "no bridge is enabled", true));
}

TEST_CASE("a present section enables its bridge unless enabled: false") {
  auto result = load("miio:\nvesync: {}\ntimeguard:\n  enabled: false\n");
  INFO(all_text(result));
  CHECK(result.ok());
  CHECK(miio(result.config).enabled);
  CHECK(vesync(result.config).enabled);
  CHECK_FALSE(timeguard(result.config).enabled);
}

TEST_CASE("the full schema of docs/config.md loads into the structs") {
  auto result = load(R"(mqtt:
  url: mqtts://broker.lan:8883
  username: ha
  password: "s3cret"
  client_id: lc-attic
  base_topic: home/attic
  tls: { insecure: true }
homeassistant:
  discovery: false
  prefix: ha
  status_topic: ha/status
log:
  level: debug
  trace: true
  mask_ids: false
api:
  listen: 0.0.0.0:9090
data_dir: /var/lib/localcloud
miio:
  listen: 0.0.0.0:8053
  poll_interval: 15s
  offline_after: 2m
  devices:
    - name: living_room_strip
      host: 192.168.1.50
      port: 54322
      token: 0123456789ABCDEF0123456789abcdef
      model: qmi.powerstrip.v1
      did: 0x01020304
      cloud_key: "abcdefghijklmnop"
vesync:
  listen: 0.0.0.0:17273
  upstream: 34.204.178.244:17273
  allow_upgrade: true
  service_listen: 127.0.0.1:16522
  service_token: tok
  poll_interval: 250ms
  offline_after: 1h
  power_decoding: q12
  accept_unknown: false
  max_unknown: 0
  devices:
    - id: 443c878f-f675-4c90-98e8-2f4566914d39
      name: desk_lamp
timeguard:
  listen: 0.0.0.0:9997
  mode: fallback
  upstream: 31.193.128.139:9997
  timezone: Europe/London
  offline_after: 150s
  allow_raw_commands: true
  accept_unknown: false
  max_unknown: 5
  devices:
    - id: "12345678"
      name: immersion_heater
)");
  INFO(all_text(result));
  REQUIRE(result.ok());
  CHECK(result.diagnostics.empty());
  const Config& c = result.config;
  CHECK(c.mqtt.url == "mqtts://broker.lan:8883");
  CHECK(c.mqtt.username == "ha");
  CHECK(c.mqtt.password == "s3cret");
  CHECK(c.mqtt.client_id == "lc-attic");
  CHECK(c.mqtt.base_topic == "home/attic");
  CHECK(c.mqtt.tls.insecure);
  CHECK_FALSE(c.homeassistant.discovery);
  CHECK(c.homeassistant.prefix == "ha");
  CHECK(c.homeassistant.status_topic == "ha/status");
  CHECK(c.log.level == lc::Level::debug);
  CHECK(c.log.trace);
  CHECK_FALSE(c.log.mask_ids);
  CHECK(c.api.listen == lc::Endpoint{"0.0.0.0", 9090});
  CHECK(c.data_dir == "/var/lib/localcloud");

  CHECK(miio(c).enabled);
  CHECK(miio(c).poll_interval == 15s);
  CHECK(miio(c).offline_after == 2min);
  REQUIRE(miio(c).devices.size() == 1);
  const MiioDevice& m = miio(c).devices[0];
  CHECK(m.name == "living_room_strip");
  CHECK(m.host == "192.168.1.50");
  CHECK(m.port == 54322);
  CHECK(m.token == std::array<uint8_t, 16>{0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0x01, 0x23, 0x45, 0x67,
                                           0x89, 0xab, 0xcd, 0xef});
  CHECK(m.model == "qmi.powerstrip.v1");
  CHECK(m.did == 0x01020304u);
  CHECK(m.cloud_key == "abcdefghijklmnop");
  CHECK(m.mark.line == 24);
  CHECK(m.mark.column == 7);

  CHECK(vesync(c).enabled);
  CHECK(vesync(c).upstream == lc::Endpoint{"34.204.178.244", 17273});
  CHECK(vesync(c).allow_upgrade);
  CHECK(vesync(c).service_listen == lc::Endpoint{"127.0.0.1", 16522});
  CHECK(vesync(c).service_token == "tok");
  CHECK(vesync(c).poll_interval == 250ms);
  CHECK(vesync(c).offline_after == 1h);
  CHECK(vesync(c).power_decoding == PowerDecoding::q12);
  CHECK_FALSE(vesync(c).accept_unknown);
  CHECK(vesync(c).max_unknown == 0);
  REQUIRE(vesync(c).devices.size() == 1);
  CHECK(vesync(c).devices[0].id == "443c878f-f675-4c90-98e8-2f4566914d39");
  CHECK(vesync(c).devices[0].name == "desk_lamp");

  CHECK(timeguard(c).enabled);
  CHECK(timeguard(c).mode == TimeguardMode::fallback);
  CHECK(timeguard(c).upstream == lc::Endpoint{"31.193.128.139", 9997});
  CHECK(timeguard(c).timezone == "Europe/London");
  CHECK(timeguard(c).offline_after == 150s);
  CHECK(timeguard(c).allow_raw_commands);
  CHECK_FALSE(timeguard(c).accept_unknown);
  CHECK(timeguard(c).max_unknown == 5);
  REQUIRE(timeguard(c).devices.size() == 1);
  CHECK(timeguard(c).devices[0].id == 0x12345678u);
  CHECK(timeguard(c).devices[0].name == "immersion_heater");
}

TEST_CASE("Diagnostic::text and LoadResult::ok") {
  Diagnostic error{"a.yaml", 3, 7, "bad thing", false};
  Diagnostic warning{"a.yaml", 4, 1, "odd thing", true};
  CHECK(error.text() == "a.yaml:3:7: bad thing");
  CHECK(warning.text() == "a.yaml:4:1: warning: odd thing");
  LoadResult result;
  CHECK(result.ok());
  result.diagnostics.push_back(warning);
  CHECK(result.ok());
  result.diagnostics.push_back(error);
  CHECK_FALSE(result.ok());
}

TEST_CASE("unknown keys name the closest key or list the allowed ones") {
  check_one_error("mqt:\n  url: mqtt://127.0.0.1:1883\nmiio: {}\n", 1, 1, "unknown key \"mqt\" (did you mean 'mqtt'?)");
  check_one_error("miio:\n  poll_intervall: 30s\n", 2, 3, "did you mean 'poll_interval'?");
  check_one_error("miio:\n  colour: red\n", 2, 3,
                  "unknown key \"colour\" in miio (allowed: enabled, listen, poll_interval, offline_after, devices)");
  check_one_error("vesync:\n  devices:\n    - id: abc\n      nmae: lamp\n", 4, 7, "did you mean 'name'?");
  check_one_error("mqtt:\n  tls:\n    ca: x\nmiio:\n", 3, 5, "in mqtt.tls");
  check_one_error("mqtt:\n  Password: x\nmiio:\n", 2, 3, "did you mean 'password'?");
  check_one_error("timeguard:\n  devices:\n    - x: 1\n      id: \"12345678\"\n", 3, 7,
                  "unknown key \"x\" in timeguard.devices[0] (allowed: id, name)");
}

TEST_CASE("wrong types") {
  check_one_error("miio:\n  enabled: maybe\n", 2, 12, "miio.enabled: expected a boolean (true or false), got \"maybe\"");
  check_one_error("homeassistant:\n  discovery: [1]\nmiio:\n", 2, 14, "expected a boolean");
  check_one_error("miio:\n  devices:\n    host: x\n", 3, 5, "miio.devices: expected a list");
  check_one_error("miio:\n  devices:\n    - 12\n", 3, 7, "miio.devices[0]: expected a device");
  check_one_error("miio: true\n", 1, 7, "miio: expected a mapping");
  check_one_error("mqtt:\n  username: {a: 1}\nmiio:\n", 2, 13, "mqtt.username: expected a string");
  check_one_error("vesync:\n  max_unknown: lots\n", 2, 16, "expected an integer");
  check_one_error("vesync:\n  max_unknown: -1\n", 2, 16, "max_unknown must not be negative");
  check_one_error("timeguard:\n  max_unknown: 1000000\n", 2, 16, "max_unknown must be between 0 and 10000");
  check_one_error("miio:\n  devices:\n    - host: h\n      token: 0123456789abcdef0123456789abcdef\n      model: m\n"
                  "      port: 70000\n",
                  6, 13, "the port must be between 1 and 65535");
  check_one_error("- miio\n", 1, 1, "expected a mapping of sections");
  check_one_error("log:\n  trace:\nmiio:\n", 2, 3, "log.trace: expected a boolean (true or false), got nothing");
}

TEST_CASE("bad durations, including zero where it means nothing") {
  check_one_error("miio:\n  poll_interval: 5x\n", 2, 18, "bad duration \"5x\"");
  check_one_error("miio:\n  poll_interval: 0\n", 2, 18, "must be more than zero");
  check_one_error("vesync:\n  offline_after: 0s\n", 2, 18, "must be more than zero");
  check_one_error("timeguard:\n  offline_after: -5s\n", 2, 18, "must not be negative");
  check_one_error("vesync:\n  poll_interval: 1 minute\n", 2, 18, "bad duration");
  check_one_error("vesync:\n  poll_interval: {s: 1}\n", 2, 18, "expected a duration");
}

TEST_CASE("bad addresses") {
  check_one_error("miio:\n  listen: 0.0.0.0:99999\n", 2, 11, "bad address \"0.0.0.0:99999\" (expected HOST:PORT");
  check_one_error("miio:\n  listen: 0.0.0.0\n", 2, 11, "bad address");
  check_one_error("miio:\n  listen: \"\"\n", 2, 11, "expected an address HOST:PORT, got nothing");
  check_one_error("api:\n  listen: localhost:0\nmiio:\n", 2, 11, "bad address");
  check_one_error("vesync:\n  upstream: a b:1\n", 2, 13, "bad address");
  check_one_error("mqtt:\n  url: tcp://127.0.0.1:1883\nmiio:\n", 2, 8, "bad broker URL");
  check_one_error("mqtt:\n  url: mqtt://127.0.0.1:1883/x\nmiio:\n", 2, 8, "bad broker URL");
  auto credentials = load("mqtt:\n  url: mqtt://user:hunter2@127.0.0.1:1883\nmiio:\n");
  CHECK(has(credentials, 2, 8, "must not contain credentials"));
  CHECK(all_text(credentials).find("hunter2") == std::string::npos);
}

TEST_CASE("broker URL without a port gets the scheme's port") {
  CHECK(load("mqtt: {url: mqtt://broker}\nmiio:\n").config.mqtt.url == "mqtt://broker:1883");
  CHECK(load("mqtt: {url: mqtts://broker}\nmiio:\n").config.mqtt.url == "mqtts://broker:8883");
  CHECK(load("mqtt: {url: \"mqtt://[::1]:1884\"}\nmiio:\n").config.mqtt.url == "mqtt://[::1]:1884");
}

TEST_CASE("empty strings turn api.listen, vesync.upstream and vesync.service_listen off") {
  auto result = load("api:\n  listen: \"\"\nvesync:\n  upstream: \"\"\n  service_listen: \"\"\n");
  INFO(all_text(result));
  CHECK(result.ok());
  CHECK_FALSE(result.config.api.listen);
  CHECK_FALSE(vesync(result.config).upstream);
  CHECK_FALSE(vesync(result.config).service_listen);
  auto defaults = load("vesync:\n");
  CHECK_FALSE(vesync(defaults.config).upstream);
  CHECK_FALSE(vesync(defaults.config).service_listen);
}

TEST_CASE("miio tokens and cloud keys are checked and never echoed") {
  const std::string head = "miio:\n  devices:\n    - host: 10.0.0.2\n      model: m\n";
  check_one_error(head + "      token: 0123456789abcdef0123456789abcde\n", 5, 14,
                  "a miio token is 32 hex digits (got 31 characters)");
  auto not_hex = load(head + "      token: 0123456789abcdef0123456789abcdeg\n");
  CHECK(has(not_hex, 5, 14, "not all hex digits"));
  CHECK(all_text(not_hex).find("0123456789abcdef") == std::string::npos);
  check_one_error(head + "      token: " + kToken + "\n      cloud_key: short\n", 6, 18,
                  "a cloud_key is 16 printable ASCII characters (got 5 bytes)");
  auto spaced = load(head + "      token: " + kToken + "\n      cloud_key: \"abcdefgh ijklmno\"\n");
  CHECK(has(spaced, 6, 18, "not all printable ASCII"));
  CHECK(all_text(spaced).find("abcdefgh") == std::string::npos);
  auto empty_key = load(head + "      token: " + kToken + "\n      cloud_key: \"\"\n");
  CHECK(empty_key.ok());
  check_one_error(head + "      token: " + kToken + "\n      did: 0\n", 6, 12, "bad did \"0\"");
  check_one_error(head + "      token: " + kToken + "\n      did: 0x100000000\n", 6, 12, "bad did");
  CHECK(miio(load(head + "      token: " + kToken + "\n      did: 16909060\n").config).devices.at(0).did == 0x01020304u);
  check_one_error(head + "      token: " + kToken + "\n      host: 10.0.0.2:54321\n", 6, 7, "duplicate key \"host\"");
}

TEST_CASE("miio device fields that are required, and bad hosts") {
  check_one_error("miio:\n  devices:\n    - host: 10.0.0.2\n      model: m\n", 3, 7, "miio.devices[0]: missing 'token'");
  auto both = load("miio:\n  devices:\n    - name: x\n      model: m\n");
  CHECK(errors(both) == 2);
  CHECK(has(both, 3, 7, "missing 'host'"));
  CHECK(has(both, 3, 7, "missing 'token'"));
  check_one_error(std::string("miio:\n  devices:\n    - host: 10.0.0.2:54321\n      model: m\n      token: ") + kToken + "\n",
                  3, 13, "write the port as port:");
}

TEST_CASE("Timeguard device ids are 8 hex digits, quoted or not") {
  auto unquoted = load("timeguard:\n  devices:\n    - id: 12345678\n    - id: \"0000abcd\"\n    - id: DEADBEEF\n");
  INFO(all_text(unquoted));
  REQUIRE(unquoted.ok());
  REQUIRE(timeguard(unquoted.config).devices.size() == 3);
  CHECK(timeguard(unquoted.config).devices[0].id == 0x12345678u);
  CHECK(timeguard(unquoted.config).devices[1].id == 0x0000abcdu);
  CHECK(timeguard(unquoted.config).devices[2].id == 0xdeadbeefu);
  check_one_error("timeguard:\n  devices:\n    - id: 1234567\n", 3, 11, "bad Timeguard device id \"1234567\" (expected 8 hex digits");
  check_one_error("timeguard:\n  devices:\n    - id: 0x123456\n", 3, 11, "expected 8 hex digits");
  check_one_error("timeguard:\n  devices:\n    - id: 1234567g\n", 3, 11, "expected 8 hex digits");
  check_one_error("timeguard:\n  devices:\n    - name: x\n", 3, 7, "missing 'id'");
}

TEST_CASE("duplicate devices within a bridge and duplicate names across bridges") {
  std::string miio = std::string("miio:\n  devices:\n") +
                     "    - {host: 10.0.0.2, token: " + kToken + ", model: m}\n" +
                     "    - {host: 10.0.0.2, token: ffffffffffffffffffffffffffffffff, model: m}\n" +
                     "    - {host: 10.0.0.3, token: " + kToken + ", model: m}\n" +
                     "    - {host: 10.0.0.2, port: 54322, token: eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee, model: m}\n";
  auto result = load(miio);
  INFO(all_text(result));
  CHECK(errors(result) == 2);
  CHECK(has(result, 4, 14, "duplicate device: host 10.0.0.2:54321 is already configured at line 3"));
  CHECK(has(result, 5, 31, "duplicate device: the same token is already configured at line 3"));

  check_one_error("vesync:\n  devices:\n    - id: 443C878F-f675-4c90-98e8-2f4566914d39\n"
                  "    - id: 443c878f-f675-4c90-98e8-2f4566914d39\n",
                  4, 11, "duplicate device: id 443c878f-f675-4c90-98e8-2f4566914d39 is already configured at line 3");
  check_one_error("timeguard:\n  devices:\n    - id: 0000ABCD\n    - id: \"0000abcd\"\n", 4, 11,
                  "duplicate device: id 0000abcd is already configured at line 3");
  check_one_error(std::string("miio:\n  devices:\n    - {name: heater, host: 10.0.0.2, token: ") + kToken +
                      ", model: m}\ntimeguard:\n  devices:\n    - {id: \"12345678\", name: heater}\n",
                  6, 30, "duplicate device name \"heater\" (first at line 3)");
  check_one_error(std::string("miio:\n  devices:\n    - {did: 5, host: 10.0.0.2, token: ") + kToken +
                      ", model: m}\n    - {did: 5, host: 10.0.0.3, token: eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee, model: m}\n",
                  4, 7, "duplicate device: did 5");
}

TEST_CASE("a name may not take the generated key of an unnamed device") {
  check_one_error("timeguard:\n  devices:\n    - id: 0A0B0C0D\nvesync:\n  devices:\n    - {id: a, name: timeguard_0a0b0c0d}\n",
                  6, 21, "the device name \"timeguard_0a0b0c0d\" is the MQTT key of the unnamed device at line 3");
  check_one_error(std::string("miio:\n  devices:\n    - {host: h, token: ") + kToken +
                      ", model: m, did: 0x0102}\n    - {host: i, token: eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee, model: m, "
                      "name: miio_00000102}\n",
                  4, 74, "is the MQTT key of the unnamed device at line 3");
  check_one_error("vesync:\n  devices:\n    - id: ABC\ntimeguard:\n  devices:\n    - {id: \"12345678\", name: vesync_abc}\n",
                  6, 30, "at line 3");
}

TEST_CASE("device names must be MQTT topic levels") {
  check_one_error("vesync:\n  devices:\n    - {id: a, name: \"a/b\"}\n", 3, 21, "must not contain '/', '+' or '#'");
  check_one_error("vesync:\n  devices:\n    - {id: a, name: \"a+\"}\n", 3, 21, "must not contain");
  check_one_error("vesync:\n  devices:\n    - {id: a, name: \"#\"}\n", 3, 21, "must not contain");
  check_one_error("vesync:\n  devices:\n    - {id: a, name: \"\"}\n", 3, 21, "must not be empty");
  check_one_error("vesync:\n  devices:\n    - {id: a, name: bridge}\n", 3, 21, "reserved");
  check_one_error("vesync:\n  devices:\n    - {id: a/b}\n", 3, 12, "bad VeSync device id");
  check_one_error("mqtt:\n  base_topic: home/+/x\nmiio:\n", 2, 15, "must not contain the wildcards");
  check_one_error("homeassistant:\n  prefix: /ha\nmiio:\n", 2, 11, "must not start or end with '/'");
}

TEST_CASE("bad enum values") {
  check_one_error("log:\n  level: verbose\nmiio:\n", 2, 10, "bad log level \"verbose\" (expected debug, info, warn or error)");
  check_one_error("timeguard:\n  mode: proxy\n", 2, 9, "bad mode \"proxy\" (expected local, fallback or relay)");
  check_one_error("vesync:\n  power_decoding: watts\n", 2, 19, "bad power_decoding \"watts\" (expected app, q12 or mean)");
  check_one_error("timeguard:\n  timezone: Mars/Olympus\n", 2, 13, "unknown timezone");
  check_one_error("timeguard:\n  timezone: ../../etc/passwd\n", 2, 13, "unknown timezone");
  check_one_error("timeguard:\n  timezone: Europe\n", 2, 13, "unknown timezone");  // a directory
  for (const char* zone : {"Europe/London", "UTC", "America/New_York", "GMT0BST,M3.5.0/1,M10.5.0", "<+01>-1", "CET-1"}) {
    if (std::string_view(zone) == "America/New_York" && !fs::exists("/usr/share/zoneinfo/America/New_York")) continue;
    auto result = load(std::string("timeguard:\n  timezone: \"") + zone + "\"\n");
    INFO(zone << "\n" << all_text(result));
    CHECK(result.ok());
    CHECK(timeguard(result.config).timezone == zone);
  }
}

TEST_CASE("timeguard upstream: needed by fallback and relay, fine in local mode") {
  check_one_error("timeguard:\n  mode: relay\n  upstream: \"\"\n", 3, 13, "mode relay needs an upstream");
  auto local = load("timeguard:\n  mode: local\n  upstream: 31.193.128.139:9997\n");
  CHECK(local.ok());
  CHECK(local.diagnostics.empty());
  auto local_off = load("timeguard:\n  mode: local\n  upstream: \"\"\n");
  CHECK(local_off.ok());
  CHECK_FALSE(timeguard(local_off.config).upstream);
}

TEST_CASE("YAML syntax errors carry their line and column") {
  check_one_error("miio:\n  listen: [0.0.0.0:8053\n", 3, 1, "YAML syntax error: end of sequence flow not found");
  check_one_error("miio:\n  listen: a: b\n", 2, 12, "YAML syntax error");
  check_one_error("miio:\n---\nvesync:\n", 2, 1, "only one YAML document");
  check_one_error("miio:\nmiio:\n", 2, 1, "duplicate key \"miio\" (first at line 1)");
  auto deep = load(std::string(600, '[') + std::string(600, ']') + "\n");  // yaml-cpp's limit is 500
  REQUIRE(deep.diagnostics.size() == 1);
  CHECK(deep.diagnostics[0].message == "YAML nesting is too deep");
  // yaml-cpp 0.7 alone would loop forever on these (yaml-cpp#1040).
  check_one_error(",\n", 1, 1, "YAML syntax error: unexpected \",\"");
  check_one_error("miio:\n  enabled: true\n,\n", 3, 1, "YAML syntax error");
}

TEST_CASE("a config with three errors reports three, in file order") {
  auto result = load("mqtt:\n  ur: mqtt://x:1\nmiio:\n  poll_interval: soon\n  listen: nowhere\n");
  INFO(all_text(result));
  REQUIRE(result.diagnostics.size() == 3);
  CHECK(result.diagnostics[0].text() == "test.yaml:2:3: unknown key \"ur\" in mqtt (did you mean 'url'?)");
  CHECK(result.diagnostics[1].text().rfind("test.yaml:4:18: miio.poll_interval: bad duration \"soon\"", 0) == 0);
  CHECK(result.diagnostics[2].text().rfind("test.yaml:5:11: miio.listen: bad address \"nowhere\"", 0) == 0);
}

TEST_CASE("warnings: miio device without model, open service API") {
  auto no_model = load(std::string("miio:\n  devices:\n    - name: strip\n      host: 10.0.0.2\n      token: ") + kToken + "\n");
  CHECK(no_model.ok());
  CHECK(warnings(no_model) == 1);
  CHECK(has(no_model, 3, 7, "model will be guessed: asked with miIO.info once the device's cloud session is up", true));
  CHECK(no_model.diagnostics.at(0).text().rfind("test.yaml:3:7: warning: miio.devices[0]: ", 0) == 0);

  auto open = load("vesync:\n  service_listen: 0.0.0.0:16522\n");
  CHECK(open.ok());
  CHECK(warnings(open) == 1);
  CHECK(has(open, 2, 19, "reachable beyond loopback and no service_token", true));
  CHECK(load("vesync:\n  service_listen: 127.0.0.1:16522\n").diagnostics.empty());
  CHECK(load("vesync:\n  service_listen: localhost:16522\n").diagnostics.empty());
  CHECK(load("vesync:\n  service_listen: 0.0.0.0:16522\n  service_token: t\n").diagnostics.empty());
}

TEST_CASE("limits: huge files, too many devices, alias cycles") {
  std::string big = "miio:\n" + std::string(1 << 20, '#');
  check_one_error(big, 1, 1, "larger than 1 MiB");

  std::string many = "timeguard:\n  devices:\n";
  for (int i = 0; i <= 10000; ++i) many += "    - id: \"00000000\"\n";
  check_one_error(many, 3, 5, "more than 10000 entries");

  auto cycle = load("miio: &a\n  devices: [*a]\n");
  CHECK_FALSE(cycle.ok());
  auto seq_cycle = load("vesync:\n  devices: &d [*d]\n");
  CHECK_FALSE(seq_cycle.ok());
  auto key_cycle = load("? &k [*k]\n: 1\n");
  CHECK_FALSE(key_cycle.ok());
}

TEST_CASE("too many problems are cut at 1000, keeping ok() honest") {
  std::string text = "miio:\n  devices:\n";
  for (int i = 0; i < 1200; ++i)
    text += "    - {host: 10.0.0." + std::to_string(i % 250) + ", port: " + std::to_string(1000 + i) + ", token: " + kToken + "}\n";
  auto result = load(text);
  CHECK(result.diagnostics.size() == 1001);
  CHECK(result.diagnostics.back().message.find("more not shown") != std::string::npos);
  CHECK_FALSE(result.ok());
}

TEST_CASE("load_file: a missing file, and relative paths against the file's directory") {
  auto missing = load_file("/nonexistent/dir/localcloud.yaml");
  REQUIRE(missing.diagnostics.size() == 1);
  CHECK(missing.diagnostics[0].text() ==
        "/nonexistent/dir/localcloud.yaml:1:1: cannot read the config file: No such file or directory");
  CHECK_FALSE(missing.ok());

  TempDir tmp;
  tmp.write("site/certs/ca.pem", "ca");
  auto path = tmp.write("site/localcloud.yaml",
                        "mqtt:\n  tls:\n    ca_file: certs/ca.pem\n    cert_file: " + (tmp.path / "site/certs/ca.pem").string() +
                            "\ndata_dir: state/../data\nmiio:\n");
  auto result = load_file(path.string());
  INFO(all_text(result));
  REQUIRE(result.ok());
  CHECK(result.config.path == path.string());
  CHECK(result.config.base_dir == (tmp.path / "site").string());
  CHECK(result.config.data_dir == (tmp.path / "site/data").string());
  CHECK(result.config.mqtt.tls.ca_file == (tmp.path / "site/certs/ca.pem").string());
  CHECK(result.config.mqtt.tls.cert_file == (tmp.path / "site/certs/ca.pem").string());
  CHECK(result.config.mqtt.tls.key_file.empty());

  auto defaults = load_file(tmp.write("other/c.yaml", "vesync:\n").string());
  CHECK(defaults.config.data_dir == (tmp.path / "other/data").string());

  auto absolute = load_file(tmp.write("abs.yaml", "data_dir: /srv/lc\nvesync:\n").string());
  CHECK(absolute.config.data_dir == "/srv/lc");

  auto missing_ca = load_file(tmp.write("site/bad.yaml", "mqtt:\n  tls:\n    key_file: nope.pem\nmiio:\n").string());
  CHECK(has(missing_ca, 3, 15, "mqtt.tls.key_file: cannot read \"" + (tmp.path / "site/nope.pem").string() + "\": No such file"));
}

TEST_CASE("password_file: the first line, relative to the config file") {
  TempDir tmp;
  tmp.write("secrets/mqtt", "hunter2\r\nsecond line\n");
  auto result = load_file(tmp.write("c.yaml", "mqtt:\n  password_file: secrets/mqtt\nmiio:\n").string());
  INFO(all_text(result));
  REQUIRE(result.ok());
  CHECK(result.config.mqtt.password == "hunter2");
  CHECK(result.config.mqtt.password_file == (tmp.path / "secrets/mqtt").string());

  tmp.write("one", "no-newline");
  CHECK(load_file(tmp.write("d.yaml", "mqtt: {password_file: one}\nmiio:\n").string()).config.mqtt.password == "no-newline");

  auto missing = load_file(tmp.write("e.yaml", "mqtt:\n  password_file: nothing-here\nmiio:\n").string());
  CHECK(errors(missing) == 1);
  CHECK(has(missing, 2, 18, "cannot read password_file"));

  tmp.write("empty", "\n");
  auto empty = load_file(tmp.write("f.yaml", "mqtt:\n  password_file: empty\nmiio:\n").string());
  CHECK(has(empty, 2, 18, "is empty"));

  auto both = load_file(tmp.write("g.yaml", "mqtt:\n  password: x\n  password_file: one\nmiio:\n").string());
  CHECK(errors(both) == 1);
  CHECK(has(both, 2, 13, "either password or password_file, not both"));

  auto directory = load_file(tmp.write("h.yaml", "mqtt:\n  password_file: secrets\nmiio:\n").string());
  CHECK(has(directory, 2, 18, "not a regular file"));

  if (::geteuid() != 0) {
    fs::permissions(tmp.path / "one", fs::perms::none);
    auto unreadable = load_file(tmp.write("i.yaml", "mqtt:\n  password_file: one\nmiio:\n").string());
    CHECK(has(unreadable, 2, 18, "Permission denied"));
  }
}

TEST_CASE("default_path honours LOCALCLOUD_CONFIG") {
  const char* saved = std::getenv("LOCALCLOUD_CONFIG");
  std::string saved_value = saved ? saved : "";
  ::unsetenv("LOCALCLOUD_CONFIG");
  CHECK(default_path() == "config/localcloud.yaml");
  ::setenv("LOCALCLOUD_CONFIG", "/etc/localcloud/site.yaml", 1);
  CHECK(default_path() == "/etc/localcloud/site.yaml");
  ::setenv("LOCALCLOUD_CONFIG", "", 1);
  CHECK(default_path() == "config/localcloud.yaml");
  if (saved) ::setenv("LOCALCLOUD_CONFIG", saved_value.c_str(), 1);
  else ::unsetenv("LOCALCLOUD_CONFIG");
}

TEST_CASE("prepare_data_dir creates the directory and its parents with mode 0700") {
  TempDir tmp;
  Config config;
  config.data_dir = (tmp.path / "a/b/data").string();
  mode_t old_mask = ::umask(0);
  std::string problem = prepare_data_dir(config);
  ::umask(old_mask);
  CHECK(problem == "");
  struct stat st {};
  REQUIRE(::stat(config.data_dir.c_str(), &st) == 0);
  CHECK(S_ISDIR(st.st_mode));
  CHECK((st.st_mode & 0777) == 0700);
  CHECK(prepare_data_dir(config) == "");  // already there

  tmp.write("file", "x");
  config.data_dir = (tmp.path / "file/data").string();
  CHECK(prepare_data_dir(config).find("cannot create data_dir") == 0);
  config.data_dir = (tmp.path / "file").string();
  CHECK(prepare_data_dir(config).find("is not a directory") != std::string::npos);
}

TEST_CASE("redacted_json hides every secret and shows the rest") {
  TempDir tmp;
  tmp.write("pw", "pw-from-file-XYZ\n");
  auto result = load_file(tmp.write("c.yaml", std::string(R"(mqtt:
  username: alice
  password_file: pw
miio:
  devices:
    - host: 10.0.0.2
      token: 00112233445566778899aabbccddeeff
      cloud_key: KEY0123456789abc
      model: m
    - host: 10.0.0.3
      token: ffeeddccbbaa99887766554433221100
      model: m
vesync:
  service_listen: 127.0.0.1:16522
  service_token: svc-token-QRS
  devices:
    - {id: 443c878f-f675-4c90-98e8-2f4566914d39, name: lamp}
timeguard:
  devices:
    - id: 0A0B0C0D
)")).string());
  INFO(all_text(result));
  REQUIRE(result.ok());
  auto json = redacted_json(result.config);
  std::string dump = json.dump();
  for (const char* secret : {"pw-from-file-XYZ", "00112233445566778899aabbccddeeff", "ffeeddccbbaa99887766554433221100",
                             "KEY0123456789abc", "svc-token-QRS"}) {
    INFO("secret " << secret);
    CHECK(dump.find(secret) == std::string::npos);
  }
  // Nor any recognisable part of a token or key.
  CHECK(dump.find("0011223344") == std::string::npos);
  CHECK(dump.find("KEY0123") == std::string::npos);
  CHECK(json["mqtt"]["password"] == "<redacted>");
  CHECK(json["mqtt"]["password_file"] == (tmp.path / "pw").string());
  CHECK(json["mqtt"]["username"] == "alice");
  CHECK(json["miio"]["devices"][0]["token"] == "<redacted>");
  CHECK(json["miio"]["devices"][0]["cloud_key"] == "<redacted>");
  CHECK(json["miio"]["devices"][1]["cloud_key"] == "");
  CHECK(json["miio"]["devices"][0]["host"] == "10.0.0.2");
  CHECK(json["vesync"]["service_token"] == "<redacted>");
  CHECK(json["vesync"]["service_listen"] == "127.0.0.1:16522");
  CHECK(json["vesync"]["upstream"] == "");
  CHECK(json["vesync"]["devices"][0]["name"] == "lamp");
  CHECK(json["timeguard"]["devices"][0]["id"] == "0a0b0c0d");
  CHECK(json["timeguard"]["offline_after"] == "150s");
  CHECK(json["vesync"]["offline_after"] == "10m");
  CHECK(json["api"]["listen"] == "127.0.0.1:8080");

  const Config empty = load("").config;
  auto empty_json = redacted_json(empty);
  CHECK(empty_json["mqtt"]["password"] == "");
  CHECK(empty_json["vesync"]["service_token"] == "");
}

TEST_CASE("summary") {
  auto result = load_string(std::string("miio:\n  devices:\n    - {host: 10.0.0.2, token: ") + kToken +
                                ", model: m}\n    - {host: 10.0.0.3, token: ffffffffffffffffffffffffffffffff, model: m}\n"
                                "vesync:\n  devices:\n    - id: abc\n",
                            "config/localcloud.yaml");
  REQUIRE(result.ok());
  CHECK(summary(result.config) ==
        "config/localcloud.yaml: ok (miio: 2 devices, vesync: 1 device, timeguard: off; broker mqtt://127.0.0.1:1883)");
}

TEST_CASE("the shipped config runs all three bridges on their standard ports") {
  auto path = source_dir() + "/config/localcloud.yaml";
  auto result = load_file(path);
  INFO(all_text(result));
  REQUIRE(result.ok());
  CHECK(result.diagnostics.empty());
  const Config& c = result.config;
  CHECK(c.mqtt.url == "mqtt://127.0.0.1:1883");
  CHECK(c.api.listen == lc::Endpoint{"127.0.0.1", 8080});
  CHECK(miio(c).enabled);
  CHECK(miio(c).listen == lc::Endpoint{"0.0.0.0", 8053});
  CHECK(vesync(c).enabled);
  CHECK(vesync(c).listen == lc::Endpoint{"0.0.0.0", 17273});
  CHECK(timeguard(c).enabled);
  CHECK(timeguard(c).listen == lc::Endpoint{"0.0.0.0", 9997});
  CHECK(timeguard(c).mode == TimeguardMode::local);
  CHECK(miio(c).devices.empty());
  CHECK(vesync(c).devices.empty());
  CHECK(timeguard(c).devices.empty());
  CHECK(vesync(c).accept_unknown);
  CHECK(timeguard(c).accept_unknown);
  CHECK(c.data_dir == (fs::path(source_dir()) / "config/data").lexically_normal().string());
}

TEST_CASE("every example loads without errors or warnings") {
  size_t examples = 0;
  for (const auto& entry : fs::directory_iterator(source_dir() + "/config/examples")) {
    if (entry.path().extension() != ".yaml") continue;
    ++examples;
    auto result = load_file(entry.path().string());
    INFO(entry.path().string() << "\n" << all_text(result));
    CHECK(result.ok());
    CHECK(result.diagnostics.empty());
  }
  CHECK(examples >= 5);
}

TEST_CASE("strings must be UTF-8 without NUL, so that bridge/info can always be serialised") {
  auto surrogate = load("mqtt:\n  client_id: \"\\ud800\"\nmiio:\n");
  CHECK(has(surrogate, 2, 21, "YAML syntax error: invalid unicode"));
  auto raw = load(std::string("mqtt:\n  username: a\xc3\x28\nmiio:\n"));
  CHECK(has(raw, 2, 13, "expected text (valid UTF-8 without NUL characters), got \"a\\xc3(\""));
  CHECK(all_text(raw).find("\\xc3") != std::string::npos);
  auto nul = load("mqtt:\n  password: \"a\\0b\"\nmiio:\n");
  CHECK(has(nul, 2, 13, "expected text"));
  auto fine = load("mqtt:\n  username: \"Jürgen ☃\"\nmiio:\n");
  CHECK(fine.ok());
  CHECK(redacted_json(fine.config).dump().find("J\xc3\xbcrgen") != std::string::npos);
}

TEST_CASE("api.token: read and redacted; a non-loopback api.listen without it is valid") {
  auto with_token = load("api:\n  listen: 0.0.0.0:8080\n  token: tok-SECRET-123\nmiio:\n");
  INFO(all_text(with_token));
  REQUIRE(with_token.ok());
  CHECK(with_token.config.api.token == "tok-SECRET-123");
  CHECK(warnings(with_token) == 0);
  const auto json = redacted_json(with_token.config);
  CHECK(json["api"]["token"] == "<redacted>");
  CHECK(json.dump().find("tok-SECRET") == std::string::npos);

  auto open = load("api:\n  listen: 0.0.0.0:8080\nmiio:\n");
  CHECK(open.ok());
  CHECK(warnings(open) == 0);  // the start-up log warns (the page is read-only then)
  CHECK(load("api:\n  token: 12\nmiio:\n").config.api.token == "12");
  auto loopback = load("api:\n  listen: 127.0.0.1:8080\nmiio:\n");
  CHECK(warnings(loopback) == 0);
  CHECK(redacted_json(loopback.config)["api"]["token"] == "");
  CHECK(lc::config::is_loopback_host("localhost"));
  CHECK(lc::config::is_loopback_host("::1"));
  CHECK_FALSE(lc::config::is_loopback_host("0.0.0.0"));
  CHECK_FALSE(lc::config::is_loopback_host("192.168.1.10"));
}
