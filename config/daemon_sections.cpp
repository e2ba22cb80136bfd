#include "config/daemon_sections.h"

#include <algorithm>
#include <cstring>

#include <boost/asio/ip/address.hpp>

#include "config/files.h"
#include "config/text.h"

namespace lc::config {
namespace {

constexpr size_t kMaxPasswordFileBytes = 4096;
constexpr size_t kMaxTokenBytes = 512;

void read_url(Reader& reader, const Field& f, std::string& url) {
  auto text = reader.string_value(f);
  if (!text) return;
  const std::string expected = " (expected mqtt://HOST:PORT or mqtts://HOST:PORT)";
  std::string_view rest = *text;
  std::string scheme;
  for (const char* s : {"mqtt://", "mqtts://"}) {
    if (rest.substr(0, std::strlen(s)) == s) {
      scheme = s;
      rest.remove_prefix(std::strlen(s));
      break;
    }
  }
  if (scheme.empty()) {
    reader.error(f, "bad broker URL " + quote_value(*text) + expected);
    return;
  }
  if (rest.find('@') != std::string_view::npos) {
    // Do not echo it: the part before '@' is probably a password.
    reader.error(f, "the broker URL must not contain credentials; use mqtt.username and mqtt.password");
    return;
  }
  auto endpoint = parse_endpoint(rest);
  if (!endpoint && !rest.empty() && rest.find('/') == std::string_view::npos &&
      rest.find(':') == std::string_view::npos && !has_control(rest)) {
    // No port: the scheme's standard one.
    endpoint = Endpoint{std::string(rest), static_cast<uint16_t>(scheme == "mqtts://" ? 8883 : 1883)};
  }
  if (!endpoint || endpoint->host.empty() || endpoint->port == 0) {
    reader.error(f, "bad broker URL " + quote_value(*text) + expected);
    return;
  }
  url = scheme + endpoint->text();
}

void read_client_id(Reader& reader, const Field& f, std::string& client_id) {
  auto text = reader.string_value(f);
  if (!text) return;
  if (text->empty() || text->size() > kMaxTopicBytes || has_control(*text) || !valid_utf8(*text)) {
    reader.error(f, "client_id must be 1 to " + std::to_string(kMaxTopicBytes) + " bytes of printable UTF-8, got " +
                        quote_value(*text));
    return;
  }
  client_id = std::move(*text);
}

// The password is the file's first line. Given with `password` as well, that is an error.
void read_password_file(Reader& reader, const Field& f, const Field& password_at, Mqtt& mqtt) {
  auto text = reader.string_value(f);
  if (!text || text->empty()) return;
  if (!mqtt.password.empty()) {
    reader.error(password_at.at, "mqtt: set either password or password_file, not both");
    return;
  }
  std::string path = reader.resolve(*text);
  mqtt.password_file = path;
  if (auto problem = unreadable(path); !problem.empty()) {
    reader.error(f, "cannot read password_file " + quote_value(path) + ": " + problem);
    return;
  }
  std::string content;
  bool truncated = false;
  if (auto problem = read_bounded(path, kMaxPasswordFileBytes, content, truncated); !problem.empty()) {
    reader.error(f, "cannot read password_file " + quote_value(path) + ": " + problem);
    return;
  }
  auto newline = content.find('\n');
  if (newline == std::string::npos && truncated) {
    reader.error(f, "password_file " + quote_value(path) + ": the first line is longer than 4096 bytes");
    return;
  }
  content.resize(std::min(newline, content.size()));
  if (!content.empty() && content.back() == '\r') content.pop_back();
  if (content.empty()) {
    reader.error(f, "password_file " + quote_value(path) + " is empty (the password is its first line)");
    return;
  }
  mqtt.password = std::move(content);
}

void read_tls(Reader& reader, const Field& section, Tls& t) {
  if (!reader.is_section(section)) return;
  reader.for_each_key(section, {"ca_file", "cert_file", "key_file", "insecure"}, [&](const std::string& key, const Field& f) {
    if (key == "ca_file") reader.read_file_path(f, t.ca_file);
    else if (key == "cert_file") reader.read_file_path(f, t.cert_file);
    else if (key == "key_file") reader.read_file_path(f, t.key_file);
    else if (key == "insecure") reader.read_bool(f, t.insecure);
  });
}

// api.token: a secret, so no message ever quotes it. It travels in an HTTP header: printable
// ASCII without spaces.
void read_api_token(Reader& reader, const Field& f, std::string& token) {
  auto text = reader.string_value(f);
  if (!text) return;
  if (text->size() > kMaxTokenBytes) {
    reader.error(f, "the API token is longer than " + std::to_string(kMaxTokenBytes) + " bytes");
    return;
  }
  const bool printable = std::all_of(text->begin(), text->end(), [](char c) { return c > ' ' && c < 0x7f; });
  if (!printable) {
    reader.error(f, "the API token must be printable ASCII without spaces (it is sent in an HTTP header)");
    return;
  }
  token = std::move(*text);
}

// api.public_url: "" or http(s)://HOST[:PORT][/PATH], Home Assistant's configuration_url.
void read_public_url(Reader& reader, const Field& f, std::string& url) {
  auto text = reader.string_value(f);
  if (!text) return;
  if (text->empty()) {
    url.clear();
    return;
  }
  const std::string expected = " (expected http://HOST[:PORT][/PATH] or https://..., e.g. http://192.168.1.10:8080)";
  std::string_view rest = *text;
  bool scheme = false;
  for (const char* s : {"http://", "https://"}) {
    if (rest.size() > std::strlen(s) && lower(rest.substr(0, std::strlen(s))) == s) {
      rest.remove_prefix(std::strlen(s));
      scheme = true;
      break;
    }
  }
  const bool printable =
      std::all_of(text->begin(), text->end(), [](char c) { return c > ' ' && c < 0x7f; }) && text->size() <= 2048;
  const std::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
  if (authority.find('@') != std::string_view::npos) {
    reader.error(f, "the public URL must not contain credentials");  // not echoed: it may hold a password
    return;
  }
  if (!scheme || !printable || authority.empty() || authority.front() == ':') {
    reader.error(f, "bad public URL " + quote_value(*text) + expected);
    return;
  }
  url = std::move(*text);
}

}  // namespace

void read_mqtt(Reader& reader, const Field& section, Mqtt& m) {
  if (!reader.is_section(section)) return;
  Field password_at, password_file_at;
  reader.for_each_key(section, {"url", "username", "password", "password_file", "client_id", "base_topic", "tls"},
                      [&](const std::string& key, const Field& f) {
                        if (key == "url") read_url(reader, f, m.url);
                        else if (key == "username") reader.read_string(f, m.username);
                        else if (key == "password") reader.read_string(f, m.password), password_at = f;
                        else if (key == "password_file") password_file_at = f;
                        else if (key == "client_id") read_client_id(reader, f, m.client_id);
                        else if (key == "base_topic") reader.read_topic(f, m.base_topic);
                        else if (key == "tls") read_tls(reader, f, m.tls);
                      });
  if (!password_file_at.path.empty()) read_password_file(reader, password_file_at, password_at, m);
}

void read_homeassistant(Reader& reader, const Field& section, HomeAssistant& h) {
  if (!reader.is_section(section)) return;
  reader.for_each_key(section, {"discovery", "prefix", "status_topic"}, [&](const std::string& key, const Field& f) {
    if (key == "discovery") reader.read_bool(f, h.discovery);
    else if (key == "prefix") reader.read_topic(f, h.prefix);
    else if (key == "status_topic") reader.read_topic(f, h.status_topic);
  });
}

void read_log(Reader& reader, const Field& section, Log& l) {
  if (!reader.is_section(section)) return;
  reader.for_each_key(section, {"level", "trace", "mask_ids", "mqtt"}, [&](const std::string& key, const Field& f) {
    if (key == "level") {
      auto text = reader.string_value(f);
      if (!text) return;
      Level level;
      if (!parse_level(*text, level)) {
        reader.error(f, "bad log level " + quote_value(*text) + " (expected debug, info, warn or error)");
        return;
      }
      l.level = level;
    } else if (key == "trace") {
      reader.read_bool(f, l.trace);
    } else if (key == "mask_ids") {
      reader.read_bool(f, l.mask_ids);
    } else if (key == "mqtt") {
      auto text = reader.string_value(f);
      if (!text) return;
      Level level;
      if (!parse_mqtt_log_level(*text, level)) {
        reader.error(f, "bad MQTT log level " + quote_value(*text) + " (expected off, error, warn, info or debug)");
        return;
      }
      l.mqtt = level;
    }
  });
}

bool is_loopback_host(std::string_view host) {
  if (host == "localhost") return true;
  boost::system::error_code ec;
  const auto address = boost::asio::ip::make_address(std::string(host), ec);
  return !ec && address.is_loopback();
}

void read_api(Reader& reader, const Field& section, Api& api) {
  if (!reader.is_section(section)) return;
  reader.for_each_key(section, {"listen", "token", "public_url"}, [&](const std::string& key, const Field& f) {
    if (key == "listen") reader.read_optional_endpoint(f, api.listen);
    else if (key == "token") read_api_token(reader, f, api.token);
    else if (key == "public_url") read_public_url(reader, f, api.public_url);
  });
}

void read_data_dir(Reader& reader, const Field& f, std::string& data_dir) {
  auto text = reader.string_value(f);
  if (!text) return;
  if (text->empty() || text->find('\0') != std::string::npos) {
    reader.error(f, "data_dir must name a directory");
    return;
  }
  data_dir = std::move(*text);
}

}  // namespace lc::config
