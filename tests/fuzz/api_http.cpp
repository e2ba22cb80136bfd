// Fuzz target: raw HTTP requests to the API (/healthz, /readyz, /metrics, /devices),
// parsed by the same bounded parser the server uses.
#include <cstdint>
#include <string_view>

#include <nlohmann/json.hpp>

#include "app/api/api.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const lc::ApiSources sources{
      [] { return true; },
      [] { return nlohmann::json::array({{{"key", "plug"}, {"online", true}}}); },
      [] { return nlohmann::json::object(); },
      [] { return std::string("localcloud_up 1\n"); },
  };
  const lc::HttpHandler handler = [](const lc::HttpRequest& request) { return lc::answer_api(request, sources); };
  (void)lc::answer_raw_request(std::string_view(reinterpret_cast<const char*>(data), size), handler);
  return 0;
}
