#include "bridges/miio/config.h"

#include <algorithm>
#include <charconv>
#include <map>
#include <set>

#include <boost/asio/ip/address.hpp>
#include <nlohmann/json.hpp>

#include "bridges/miio/catalog.h"
#include "bridges/miio/model_loader.h"
#include "bridges/miio/trace.h"
#include "config/reader.h"
#include "config/text.h"
#include "core/hex.h"

namespace lc::miio {
namespace {

using config::Field;
using config::quote_value;
using config::Reader;

constexpr std::string_view kKeys[] = {"enabled", "listen", "poll_interval", "offline_after", "devices", "models"};

// Devices configured twice: by address, by token, by did.
struct SeenDevices {
  std::map<std::string, config::Mark> hosts, tokens, dids;
};

void read_host(Reader& reader, const Field& f, std::string& out) {
  auto text = reader.string_value(f);
  if (!text) return;
  boost::system::error_code ec;
  boost::asio::ip::make_address(*text, ec);
  bool name_ok = !text->empty() && text->size() <= 253 &&
                 std::all_of(text->begin(), text->end(), [](char c) {
                   return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                          c == '-' || c == '_';
                 });
  if (ec && !name_ok) {
    std::string hint = text->find(':') != std::string::npos ? " (write the port as port:, not in host)" : "";
    reader.error(f, "bad host " + quote_value(*text) + ": expected an IP address or a host name" + hint);
    return;
  }
  out = std::move(*text);
}

void read_token(Reader& reader, const Field& f, Token& out) {
  auto text = reader.string_value(f);
  if (!text) return;
  auto token = token_from_hex(*text);
  if (!token) {
    // Never echo a token, even a malformed one.
    // An empty token is "0 characters", not "not all hex digits" (core's all_hex("") is false).
    reader.error(f, "a miio token is 32 hex digits (got " + std::to_string(text->size()) + " characters" +
                        (text->empty() || all_hex(*text) ? "" : ", not all hex digits") + ")");
    return;
  }
  out = *token;
}

void read_model(Reader& reader, const Field& f, std::string& out) {
  auto text = reader.string_value(f);
  if (!text) return;
  if (text->size() > 64 || std::any_of(text->begin(), text->end(), [](char c) { return c <= ' ' || c > '~'; })) {
    reader.error(f, "bad model " + quote_value(*text) + " (expected e.g. qmi.powerstrip.v1)");
    return;
  }
  out = std::move(*text);
}

void read_did(Reader& reader, const Field& f, std::optional<uint32_t>& out) {
  if (!f.node.IsScalar()) {
    reader.error(f, "expected a device id (decimal or 0x hex), got " + Reader::describe(f.node));
    return;
  }
  const std::string& text = f.node.Scalar();
  std::string_view digits = text;
  int base = 10;
  if (digits.size() > 2 && digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X')) {
    digits.remove_prefix(2);
    base = 16;
  }
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value, base);
  if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size() || value == 0 ||
      value > 0xffffffffULL) {
    reader.error(f, "bad did " + quote_value(text) + " (expected a device id 1..4294967295, decimal or 0x hex)");
    return;
  }
  out = static_cast<uint32_t>(value);
}

void read_cloud_key(Reader& reader, const Field& f, std::string& out) {
  auto text = reader.string_value(f);
  if (!text) return;
  if (text->empty()) {
    out.clear();
    return;
  }
  // Never echo a key, even a malformed one.
  bool printable = std::all_of(text->begin(), text->end(), [](char c) { return c > ' ' && c <= '~'; });
  if (text->size() != 16 || !printable) {
    reader.error(f, "a cloud_key is 16 printable ASCII characters (got " + std::to_string(text->size()) + " bytes" +
                        (printable ? "" : ", not all printable ASCII") + ")");
    return;
  }
  out = std::move(*text);
}

void read_device(Reader& reader, const Field& item, SeenDevices& seen, std::vector<ConfiguredDevice>& devices) {
  if (!item.node.IsMap()) {
    reader.error(item, "expected a device (host:, token:, ...), got " + Reader::describe(item.node));
    return;
  }
  ConfiguredDevice d;
  d.mark = item.at;
  std::set<std::string> present;
  bool valid = true;
  Field host_at, token_at;
  reader.for_each_key(item, {"name", "host", "port", "token", "model", "did", "cloud_key"},
                      [&](const std::string& key, const Field& f) {
                        present.insert(key);
                        size_t errors_before = reader.error_count();
                        if (key == "name") reader.device_name(f, d.name);
                        else if (key == "host") read_host(reader, f, d.host), host_at = f;
                        else if (key == "port") reader.read_port(f, d.port);
                        else if (key == "token") read_token(reader, f, d.token), token_at = f;
                        else if (key == "model") read_model(reader, f, d.model);
                        else if (key == "did") read_did(reader, f, d.did);
                        else if (key == "cloud_key") read_cloud_key(reader, f, d.cloud_key);
                        if (reader.error_count() != errors_before) valid = false;
                      });
  reader.missing(item, present, {"host", "token"});
  if (!present.count("host") || !present.count("token")) valid = false;
  if (d.model.empty()) {
    reader.warn(item, std::string(d.name.empty() ? "" : "device " + quote_value(d.name) + ": ") +
                          "no model given; model will be guessed: asked with miIO.info once the device's cloud session is up");
  }
  if (valid && d.name.empty() && d.did) reader.unnamed_device("miio_" + did_text(*d.did), item.at);
  if (valid) {
    reader.duplicate(host_at, seen.hosts, config::lower(d.host) + "#" + std::to_string(d.port),
                     "host " + Endpoint{d.host, d.port}.text());
    std::string token_key(reinterpret_cast<const char*>(d.token.data()), d.token.size());
    reader.duplicate(token_at, seen.tokens, token_key, "the same token");
    if (d.did) reader.duplicate(item, seen.dids, std::to_string(*d.did), "did " + std::to_string(*d.did));
  }
  devices.push_back(std::move(d));
}

}  // namespace

std::shared_ptr<config::BridgeSettings> parse_settings(Reader& reader, const Field& section) {
  auto settings = std::make_shared<Settings>();
  SeenDevices seen;
  config::read_bridge_section(
      reader, section, kKeys, *settings,
      [&](const std::string& key, const Field& f) {
        if (key == "poll_interval") reader.read_duration(f, settings->poll_interval, true);
        else if (key == "models") settings->models = load_model_list(reader, f);
      },
      [&](const Field& item) { read_device(reader, item, seen, settings->devices); });
  return settings;
}

nlohmann::json Settings::redacted_json() const {
  using nlohmann::json;
  json devices_json = json::array();
  for (const auto& d : devices) {
    bool token_set = std::any_of(d.token.begin(), d.token.end(), [](uint8_t b) { return b != 0; });
    devices_json.push_back({{"name", d.name},
                            {"host", d.host},
                            {"port", d.port},
                            {"token", config::secret_json(token_set)},
                            {"model", d.model},
                            {"did", d.did ? json(*d.did) : json(nullptr)},
                            {"cloud_key", config::secret_json(!d.cloud_key.empty())}});
  }
  json out = config::shared_json(*this, kKeys);
  out["poll_interval"] = format_duration(poll_interval);
  out["devices"] = std::move(devices_json);
  json model_names = json::array();
  for (const auto& model : models) model_names.push_back(model.model);
  out["models"] = std::move(model_names);
  return out;
}

std::string Settings::models_listing() const { return lc::miio::models_listing(models); }

}  // namespace lc::miio
