// The HTTP API on api.listen (docs/web.md; README "API" and "Web page"):
//
//   GET  /healthz /readyz /metrics /devices        health, Prometheus text, the device list
//   GET  /  /assets/<file>                          the web page (embedded at build time)
//   GET  /api/devices  /api/devices/<key>           devices with state, availability, last_seen
//   GET  /api/bridge                                the bridge's status
//   GET  /api/events                                the page's live stream (app/api/live.h)
//   POST /api/devices/<key>/set                     a <key>/set payload; answered once done
//   POST /api/request/<request>                     a management request; bridge/response's answer
//
// Commands and requests go through the Hub's own paths (HubService::set, ::request): the same
// checks, events and read-back as MQTT. Every POST passes security() first (app/api/security.h).
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "app/api/security.h"
#include "bridges/bridge.h"
#include "core/http_server.h"

namespace lc {

class HubService;
class Metrics;

struct ApiSources {
  std::function<bool()> broker_connected;
  std::function<nlohmann::json()> devices;  // /devices: with last_seen
  std::function<nlohmann::json()> bridges;  // listeners and device counts
  std::function<std::string()> metrics;     // Prometheus text
  // The JSON API and the page. Unset: the route answers 404.
  std::function<nlohmann::json()> api_devices;  // every device as app/api/views.h shows it
  std::function<nlohmann::json()> status;       // the bridge's status
  std::function<nlohmann::json(std::string_view name, const nlohmann::json& payload)> request;
  std::function<void(std::string_view key, std::string_view payload, CommandDone done)> set;
  std::function<void(const HttpRequest& request, HttpReply reply)> events;
};

// Answers one request, at once or (a command) when it completes.
void answer_api(const HttpRequest& request, HttpReply reply, const ApiSources& sources,
                const api::Security& security = {});

namespace api {
// The HTTP status for a command's error: 404 no such device, 409 offline, 400 a bad command,
// 503 no bridge, 504 no answer from the device, 502 the device refused.
unsigned command_status(std::string_view error);
}  // namespace api

}  // namespace lc
