#include "app/api/api.h"

namespace lc {

HttpResponse answer_api(const HttpRequest& request, const ApiSources& sources) {
  using nlohmann::json;
  const auto path = target_path(request.target);
  if (request.method != "GET") return {404, "application/json", R"({"error":"not found"})"};
  if (path == "/healthz") {
    const bool connected = sources.broker_connected();
    return {200, "application/json",
            json{{"status", "ok"}, {"broker", connected ? "connected" : "disconnected"}, {"bridges", sources.bridges()}}
                .dump()};
  }
  if (path == "/readyz") {
    const bool connected = sources.broker_connected();
    return {connected ? 200u : 503u, "application/json",
            json{{"ready", connected}, {"broker", connected ? "connected" : "disconnected"}}.dump()};
  }
  if (path == "/metrics") return {200, "text/plain; version=0.0.4", sources.metrics()};
  if (path == "/devices") return {200, "application/json", sources.devices().dump()};
  return {404, "application/json", R"({"error":"not found"})"};
}

}  // namespace lc
