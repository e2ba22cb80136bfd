// The daemon keys of issue 13: log.mqtt, api.public_url and api.token (parsed, checked with
// FILE:LINE:COL errors, the token redacted and never echoed).
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "config/config.h"

using namespace lc::config;

namespace {

LoadResult load(std::string_view yaml) { return load_string(yaml, "test.yaml", {}); }

// The errors (a config without bridges also has a warning that says so).
std::string all_text(const LoadResult& result) {
  std::string out;
  for (const auto& d : result.diagnostics)
    if (!d.warning) out += d.text() + "\n";
  return out;
}

}  // namespace

TEST_CASE("log.mqtt: off, error, warn, info or debug; warn by default") {
  CHECK(load("log:\n  level: info\n").config.log.mqtt == lc::Level::warn);
  const std::vector<std::pair<std::string, lc::Level>> levels = {
      {"off", lc::kLogOff}, {"error", lc::Level::error}, {"warn", lc::Level::warn}, {"info", lc::Level::info},
      {"debug", lc::Level::debug}};
  for (const auto& [text, level] : levels) {
    const auto result = load("log:\n  mqtt: " + text + "\n");
    CHECK_MESSAGE(result.ok(), all_text(result));
    CHECK(result.config.log.mqtt == level);
    CHECK(mqtt_log_level_name(result.config.log.mqtt) == text);
    CHECK(redacted_json(result.config)["log"]["mqtt"] == text);
  }
  const auto bad = load("log:\n  level: info\n  mqtt: loud\n");
  CHECK_FALSE(bad.ok());
  CHECK(all_text(bad) == "test.yaml:3:9: log.mqtt: bad MQTT log level \"loud\" (expected off, error, warn, info or debug)\n");
  // The keys of log are listed when one is wrong.
  CHECK(all_text(load("log:\n  mqqt: warn\n")).find("mqtt") != std::string::npos);
}

TEST_CASE("api.public_url: empty or an http(s) URL, never echoing credentials") {
  CHECK(load("api:\n  listen: 127.0.0.1:8080\n").config.api.public_url.empty());
  for (const char* good : {"http://192.168.1.10:8080", "https://lc.example.net/", "http://[::1]:8080/path?x=1",
                           "HTTP://host", ""}) {
    const auto result = load(std::string("api:\n  public_url: \"") + good + "\"\n");
    CHECK_MESSAGE(result.ok(), good, all_text(result));
    CHECK(result.config.api.public_url == good);
    CHECK(redacted_json(result.config)["api"]["public_url"] == good);
  }
  for (const char* bad : {"192.168.1.10:8080", "ftp://host", "http://", "http://:8080", "http://a b", "mqtt://host"}) {
    const auto result = load(std::string("api:\n  public_url: \"") + bad + "\"\n");
    CHECK_MESSAGE(!result.ok(), bad);
    CHECK_MESSAGE(all_text(result).rfind("test.yaml:2:15: api.public_url: bad public URL", 0) == 0, all_text(result));
  }
  const auto credentials = load("api:\n  public_url: http://admin:hunter2@host:8080\n");
  CHECK(all_text(credentials) == "test.yaml:2:15: api.public_url: the public URL must not contain credentials\n");
}

TEST_CASE("api.token: a secret, redacted, never echoed") {
  const auto result = load("api:\n  token: s3cret-T0ken\n");
  CHECK(result.ok());
  CHECK(result.config.api.token == "s3cret-T0ken");
  const auto shown = redacted_json(result.config).dump();
  CHECK(shown.find("s3cret-T0ken") == std::string::npos);
  CHECK(redacted_json(result.config)["api"]["token"] == "<redacted>");
  CHECK(redacted_json(load("api:\n  listen: \"\"\n").config)["api"]["token"] == "");
  const auto spaced = load("api:\n  token: \"two s3cret words\"\n");
  CHECK(all_text(spaced) ==
        "test.yaml:2:10: api.token: the API token must be printable ASCII without spaces (it is sent in an HTTP header)\n");
  CHECK(all_text(spaced).find("s3cret") == std::string::npos);
  const auto long_token = load("api:\n  token: " + std::string(600, 'x') + "\n");
  CHECK(all_text(long_token) == "test.yaml:2:10: api.token: the API token is longer than 512 bytes\n");
  CHECK(all_text(load("api:\n  tokn: x\n")).find("token") != std::string::npos);
}
