// Fuzz target: raw HTTP requests to the API's routing (/healthz, /readyz, /metrics, /devices,
// the page's assets, the JSON API with stub sources), parsed by the same bounded parser the
// server uses. tests/fuzz/api_json.cpp drives the JSON API against a real Hub.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include <nlohmann/json.hpp>

#include "app/api/api.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const lc::ApiSources sources{
      .broker_connected = [] { return true; },
      .devices = [] { return nlohmann::json::array({{{"key", "plug"}, {"online", true}}}); },
      .bridges = [] { return nlohmann::json::object(); },
      .metrics = [] { return std::string("localcloud_up 1\n"); },
      .api_devices = [] { return nlohmann::json::array({{{"key", "plug"}, {"online", true}}}); },
      .status = [] { return nlohmann::json::object(); },
      .request = [](std::string_view, const nlohmann::json&) { return nlohmann::json{{"status", "ok"}}; },
      .set = [](std::string_view, std::string_view, lc::CommandDone done) { done(""); },
      .events = {},
  };
  const lc::AsyncHttpHandler handler = [](const lc::HttpRequest& request, lc::HttpReply reply) {
    lc::answer_api(request, std::move(reply), sources);
  };
  const auto answer = lc::answer_raw_request(std::string_view(reinterpret_cast<const char*>(data), size), handler, 4096);
  if (answer.status == 500) std::abort();
  return 0;
}
