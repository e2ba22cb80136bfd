// The API on api.listen: /healthz, /readyz, /metrics, /devices (PRODUCT.md "API").
#pragma once

#include <functional>

#include <nlohmann/json.hpp>

#include "core/http_server.h"

namespace lc {

class HubService;
class Metrics;

struct ApiSources {
  std::function<bool()> broker_connected;
  std::function<nlohmann::json()> devices;  // with last_seen
  std::function<nlohmann::json()> bridges;  // listeners and device counts
  std::function<std::string()> metrics;     // Prometheus text
};

HttpResponse answer_api(const HttpRequest& request, const ApiSources& sources);

}  // namespace lc
