#include "bridges/vesync/service_api.h"

#include <nlohmann/json.hpp>

#include "bridges/vesync/http.h"
#include "core/metrics.h"

namespace lc::vesync {

using namespace std::chrono_literals;

namespace {

constexpr size_t kMaxConnections = 64;  // within kReservedDescriptors (core/net.h)
constexpr auto kDeviceTimeout = 5s;     // for /api/power's answer
// A safety net only: every answer comes within the outlet's acknowledgement or kDeviceTimeout.
constexpr auto kAnswerTimeout = 30s;

// Compares without stopping at the first difference (the token is a secret).
bool same_secret(std::string_view given, std::string_view secret) {
  if (secret.empty() || given.size() != secret.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < given.size(); ++i) diff |= static_cast<unsigned char>(given[i] ^ secret[i]);
  return diff == 0;
}

nlohmann::json or_null(const std::optional<double>& value) { return value ? nlohmann::json(*value) : nlohmann::json(); }

}  // namespace

ServiceApi::ServiceApi(boost::asio::io_context& io, Metrics& metrics, std::string token, OutletControl& outlets)
    : io_(io), metrics_(metrics), token_(std::move(token)), outlets_(outlets) {}

ServiceApi::~ServiceApi() { stop(); }

void ServiceApi::start(const Endpoint& listen) {
  HttpServerOptions options{.name = "vesync_service",
                            .max_connections = kMaxConnections,
                            .answer_timeout = kAnswerTimeout,
                            .keep_alive = false};
  server_ = std::make_unique<HttpServer>(
      io_, std::move(options), [this](const HttpRequest& request, HttpReply reply) { answer(request, std::move(reply)); },
      metrics_);
  server_->start(listen);
}

void ServiceApi::stop() {
  if (server_) server_->stop();
}

Endpoint ServiceApi::local_endpoint() const {
  if (!server_) return {};
  return parse_endpoint(server_->address()).value_or(Endpoint{});
}

bool ServiceApi::authorised(const HttpRequest& request) const {
  const std::string_view header = request.authorization;
  if (header.size() > 7 && http::iequals(header.substr(0, 7), "Bearer ") && same_secret(header.substr(7), token_))
    return true;
  bool present = false;
  const std::string token = query_parameter(request.target, "token", &present);
  return present && same_secret(token, token_);
}

void ServiceApi::answer(const HttpRequest& request, HttpReply reply) {
  const std::string_view path = target_path(request.target);
  // Every answer is logged at debug with the path and the status (never the query: the token).
  auto respond = [reply, log = log_, path = std::string(path.substr(0, 100)), peer = request.peer](
                     unsigned status, std::string body, std::string type = "text/plain") {
    log.debug("service API: ", path.empty() ? "?" : path, " from ", peer, " -> ", status);
    reply.send({status, std::move(type), std::move(body)});
  };
  if (!token_.empty() && !authorised(request))
    return respond(401, "missing or wrong service token (Authorization: Bearer TOKEN or ?token=TOKEN)\n");
  const bool relay = path == "/api/relay" || path == "/relay";
  const bool power = path == "/api/power" || path == "/power";
  if (!relay && !power) return respond(404, "unknown path; try /api/relay?name=NAME&on=1 or /api/power?name=NAME\n");

  const std::string name = query_parameter(request.target, "name");
  const std::string id = query_parameter(request.target, "id");
  if (name.empty() && id.empty())
    return respond(400, "missing parameter: name (a configured device name) or id (a device id)\n");
  const auto outlet = outlets_.find_outlet(name.empty() ? id : name);
  if (!outlet) return respond(404, name.empty() ? "unknown device id\n" : "unknown device name\n");

  if (relay) {
    bool present = false;
    const std::string on = query_parameter(request.target, "on", &present);
    if (!present) return respond(400, "missing parameter: on (1 = on, 0 = off)\n");
    Relay target;
    if (on == "1" || on == "true" || on == "on") target = Relay::open;
    else if (on == "0" || on == "false" || on == "off") target = Relay::break_;
    else return respond(400, "bad parameter: on takes 1 or 0\n");
    if (!outlets_.connected(*outlet)) return respond(503, "device not connected\n");
    // The answer waits for the outlet's acknowledgement (or its deadline).
    outlets_.switch_relay(*outlet, target, [respond, target](std::string error) {
      if (error.empty()) return respond(200, "OK. relay=" + std::string(relay_text(target)));
      respond(error.find("acknowledgement") != std::string::npos ? 504 : 503, error + "\n");
    });
    return;
  }
  if (!outlets_.connected(*outlet)) return respond(503, "device not connected\n");
  outlets_.request_power(*outlet, kDeviceTimeout, [respond](std::optional<PowerReading> reading) {
    if (!reading) return respond(504, "no answer from the device\n");
    const nlohmann::json body = {
        {"relay", reading->relay ? nlohmann::json(relay_text(*reading->relay)) : nlohmann::json()},
        {"watts", or_null(reading->watts)},
        {"volts", or_null(reading->volts)}};
    respond(200, body.dump(), "application/json");
  });
}

}  // namespace lc::vesync
