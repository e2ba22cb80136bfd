#include "config/daemon_sections.h"

#include <algorithm>
#include <cstring>

#include <boost/asio/ip/address.hpp>

#include "config/files.h"
#include "config/text.h"

namespace lc::config {
namespace {

constexpr size_t kMaxPasswordFileBytes = 4096;

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
  reader.for_each_key(section, {"level", "trace", "mask_ids"}, [&](const std::string& key, const Field& f) {
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
  // A listener beyond loopback without a token is valid (the page and the API are read-only
  // then): the daemon says so in its start-up log (app/service.cpp).
  reader.for_each_key(section, {"listen", "token"}, [&](const std::string& key, const Field& f) {
    if (key == "listen") reader.read_optional_endpoint(f, api.listen);
    else if (key == "token") reader.read_string(f, api.token);
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
