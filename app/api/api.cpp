#include "app/api/api.h"

#include <optional>

#include "app/api/assets.h"
#include "app/mqtt/topics.h"
#include "core/hex.h"
#include "core/json_limits.h"

namespace lc {

using nlohmann::json;

namespace {

// Bodies of POST /api/request/<request>, as MQTT requests are bounded (app/hub/mqtt_routing.cpp).
constexpr JsonLimits kRequestBodyLimits{4096, 16};

std::string dump(const json& value) { return value.dump(-1, ' ', false, json::error_handler_t::replace); }

HttpResponse json_answer(unsigned status, const json& body) { return {status, "application/json", dump(body)}; }

HttpResponse api_error(unsigned status, const std::string& why) {
  return json_answer(status, {{"status", "error"}, {"error", why}});
}

HttpResponse not_found() { return {404, "application/json", R"({"error":"not found"})"}; }

HttpResponse method_not_allowed(const char* allow) {
  HttpResponse response{405, "application/json", R"({"error":"method not allowed"})"};
  response.headers.emplace_back("Allow", allow);
  return response;
}

// The page may load only itself: no CDN, no inline script, no framing by another site.
const HttpHeaders& page_headers() {
  static const HttpHeaders headers = {
      {"Content-Security-Policy",
       "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "manifest-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"},
      {"X-Content-Type-Options", "nosniff"},
      {"X-Frame-Options", "DENY"},
      {"Referrer-Policy", "no-referrer"},
      {"Cache-Control", "no-cache"},
  };
  return headers;
}

HttpResponse asset_answer(const HttpRequest& request, const api::Asset& asset) {
  HttpResponse response{200, std::string(asset.content_type), {}, page_headers()};
  response.headers.emplace_back("ETag", std::string(asset.etag));
  if (const std::string* match = request.header("If-None-Match"); match && *match == asset.etag) {
    response.status = 304;
    return response;
  }
  response.body = std::string(asset.body);
  return response;
}

// One path segment, percent-decoded; nullopt when malformed or when it holds no valid MQTT
// level (a device key never has '/', '+', '#', spaces or control characters).
std::optional<std::string> key_segment(std::string_view segment) {
  std::string out;
  for (size_t i = 0; i < segment.size(); ++i) {
    if (segment[i] != '%') {
      out.push_back(segment[i]);
      continue;
    }
    if (i + 2 >= segment.size() || hex_digit(segment[i + 1]) < 0 || hex_digit(segment[i + 2]) < 0) return std::nullopt;
    out.push_back(static_cast<char>(hex_digit(segment[i + 1]) * 16 + hex_digit(segment[i + 2])));
    i += 2;
  }
  if (!topics::valid_level(out)) return std::nullopt;
  return out;
}

// A management request's name: one or two MQTT levels ("health_check", "device/rename").
bool valid_request_name(std::string_view name) {
  const auto slash = name.find('/');
  if (!topics::valid_level(name.substr(0, slash))) return false;
  return slash == std::string_view::npos || topics::valid_level(name.substr(slash + 1));
}

bool starts_with(std::string_view text, std::string_view prefix) { return text.substr(0, prefix.size()) == prefix; }

void post_request(const HttpRequest& request, const HttpReply& reply, std::string_view name, const ApiSources& sources) {
  if (!sources.request) return reply.send(not_found());
  json payload = json::object();
  if (!request.body.empty()) {
    JsonRefusal refusal = JsonRefusal::none;
    payload = parse_json_bounded(request.body, kRequestBodyLimits, &refusal);
    if (refusal == JsonRefusal::too_large) return reply.send(api_error(413, "request larger than 4096 bytes"));
    if (refusal == JsonRefusal::too_deep) return reply.send(api_error(400, "request nested too deep"));
    if (payload.is_discarded()) payload = request.body;  // as MQTT: remove takes a bare key
  }
  const json answer = sources.request(name, payload);
  unsigned status = 200;
  if (answer.value("status", "") != "ok") {
    const std::string error = answer.contains("error") && answer["error"].is_string() ? answer["error"].get<std::string>() : "";
    status = starts_with(error, "unknown request") ? 404 : 400;
  }
  reply.send(json_answer(status, answer));
}

void post_set(const HttpRequest& request, const HttpReply& reply, const std::string& key, const ApiSources& sources) {
  if (!sources.set) return reply.send(not_found());
  sources.set(key, request.body, [reply](std::string error) {
    if (error.empty()) return reply.send(json_answer(200, {{"status", "ok"}}));
    reply.send(api_error(api::command_status(error), error));
  });
}

void get_device(const HttpReply& reply, const std::string& key, const ApiSources& sources) {
  if (!sources.api_devices) return reply.send(not_found());
  for (const auto& device : sources.api_devices())
    if (device.is_object() && device.value("key", "") == key) return reply.send(json_answer(200, device));
  reply.send(api_error(404, "no device '" + key.substr(0, 128) + "'"));
}

}  // namespace

namespace api {

unsigned command_status(std::string_view error) {
  auto has = [error](std::string_view part) { return error.find(part) != std::string_view::npos; };
  if (starts_with(error, "no device '")) return 404;
  if (has("device offline") || has("not connected")) return 409;
  if (has("bridge not running") || has("bridge stopped")) return 503;
  if (has("no acknowledgement") || has("timed out") || has("timeout") || has("no answer")) return 504;
  if (starts_with(error, "unknown property") || starts_with(error, "expected") || has("read-only") || has("out of range") ||
      has("cannot toggle") || has("payload") || has("empty command") || has("cannot be set") || has("not accepted"))
    return 400;
  return 502;
}

}  // namespace api

void answer_api(const HttpRequest& request, HttpReply reply, const ApiSources& sources, const api::Security& security) {
  const std::string_view path = target_path(request.target);
  const bool get = request.method == "GET";
  const bool post = request.method == "POST";

  // Health, metrics and the plain device list, as before the page.
  if (path == "/healthz" || path == "/readyz" || path == "/metrics" || path == "/devices") {
    if (!get) return reply.send(method_not_allowed("GET"));
    if (path == "/healthz") {
      const bool connected = sources.broker_connected();
      return reply.send(json_answer(
          200, {{"status", "ok"}, {"broker", connected ? "connected" : "disconnected"}, {"bridges", sources.bridges()}}));
    }
    if (path == "/readyz") {
      const bool connected = sources.broker_connected();
      return reply.send(json_answer(connected ? 200 : 503,
                                    {{"ready", connected}, {"broker", connected ? "connected" : "disconnected"}}));
    }
    if (path == "/metrics") return reply.send({200, "text/plain; version=0.0.4", sources.metrics()});
    return reply.send(json_answer(200, sources.devices()));
  }

  // The page.
  const api::Asset* asset = nullptr;
  if (path == "/" || path == "/index.html") asset = api::find_asset("index.html");
  else if (path == "/favicon.ico") asset = api::find_asset("favicon.svg");
  else if (starts_with(path, "/assets/")) {
    asset = api::find_asset(path.substr(8));
    if (!asset) return reply.send(not_found());
  }
  if (asset) return get ? reply.send(asset_answer(request, *asset)) : reply.send(method_not_allowed("GET"));

  // The JSON API.
  if (path == "/api/devices") {
    if (!get) return reply.send(method_not_allowed("GET"));
    return sources.api_devices ? reply.send(json_answer(200, sources.api_devices())) : reply.send(not_found());
  }
  if (path == "/api/bridge") {
    if (!get) return reply.send(method_not_allowed("GET"));
    return sources.status ? reply.send(json_answer(200, sources.status())) : reply.send(not_found());
  }
  if (path == "/api/events") {
    if (!get) return reply.send(method_not_allowed("GET"));
    if (api::cross_site(request)) return reply.send(api_error(403, "cross-site request refused"));
    return sources.events ? sources.events(request, reply) : reply.send(not_found());
  }
  if (starts_with(path, "/api/devices/")) {
    std::string_view rest = path.substr(13);
    const bool set = rest.ends_with("/set");
    if (set) rest.remove_suffix(4);
    const auto key = key_segment(rest);
    if (!key) return reply.send(api_error(404, "no such device key"));
    if (set) {
      if (!post) return reply.send(method_not_allowed("POST"));
      if (auto refused = api::refuse_change(request, security)) return reply.send(std::move(*refused));
      return post_set(request, reply, *key, sources);
    }
    if (!get) return reply.send(method_not_allowed("GET"));
    return get_device(reply, *key, sources);
  }
  if (starts_with(path, "/api/request/")) {
    const std::string_view name = path.substr(13);
    if (!valid_request_name(name)) return reply.send(api_error(404, "no such request name"));
    if (!post) return reply.send(method_not_allowed("POST"));
    if (auto refused = api::refuse_change(request, security)) return reply.send(std::move(*refused));
    return post_request(request, reply, name, sources);
  }
  reply.send(not_found());
}

}  // namespace lc
