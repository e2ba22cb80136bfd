// The API's routing and security (app/api/api.cpp, security.cpp), the views of a device and
// of the bridge (views.cpp) and the embedded page (assets.cpp), without sockets.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "app/api/api.h"
#include "app/api/assets.h"
#include "app/api/views.h"
#include "app/hub/bridge_port.h"

using namespace lc;
using nlohmann::json;

namespace {

struct Calls {
  std::vector<std::pair<std::string, json>> requests;
  std::vector<std::pair<std::string, std::string>> sets;
  std::string set_error;
};

ApiSources stub_sources(Calls& calls) {
  return ApiSources{
      .broker_connected = [] { return true; },
      .devices = [] { return json::array({{{"key", "plug"}, {"online", true}}}); },
      .bridges = [] { return json::object(); },
      .metrics = [] { return std::string("localcloud_up 1\n"); },
      .api_devices = [] { return json::array({{{"key", "plug"}, {"online", true}}, {{"key", "desk:1"}}}); },
      .status = [] { return json{{"version", "x"}}; },
      .request =
          [&calls](std::string_view name, const json& payload) {
            calls.requests.emplace_back(std::string(name), payload);
            if (name == "health_check") return json{{"status", "ok"}, {"data", {{"healthy", true}}}};
            return json{{"status", "error"}, {"error", "unknown request '" + std::string(name) + "'"}};
          },
      .set =
          [&calls](std::string_view key, std::string_view payload, CommandDone done) {
            calls.sets.emplace_back(std::string(key), std::string(payload));
            done(calls.set_error);
          },
      .events = {},
  };
}

struct Request {
  std::string method = "GET";
  std::string path = "/";
  std::string body;
  std::vector<std::string> headers = {"Host: 127.0.0.1:8080"};

  std::string text() const {
    std::string out = method + " " + path + " HTTP/1.1\r\n";
    for (const auto& header : headers) out += header + "\r\n";
    if (method == "POST" || !body.empty()) out += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    return out + "\r\n" + body;
  }
};

HttpResponse ask(const Request& request, Calls& calls, const api::Security& security = {}) {
  const ApiSources sources = stub_sources(calls);
  const AsyncHttpHandler handler = [&](const HttpRequest& parsed, HttpReply reply) {
    answer_api(parsed, std::move(reply), sources, security);
  };
  return answer_raw_request(request.text(), handler, 4096);
}

std::string header(const HttpResponse& response, std::string_view name) {
  for (const auto& [key, value] : response.headers)
    if (key == name) return value;
  return "";
}

}  // namespace

TEST_CASE("the page and its assets are served from the binary, small, with a strict policy") {
  Calls calls;
  const auto page = ask({.path = "/"}, calls);
  CHECK(page.status == 200);
  CHECK(page.content_type.starts_with("text/html"));
  CHECK(page.body.find("<title>localcloud</title>") != std::string::npos);
  CHECK(page.body.find("data-panel=\"log\"") != std::string::npos);
  CHECK(header(page, "Content-Security-Policy").find("default-src 'none'") != std::string::npos);
  CHECK(header(page, "X-Frame-Options") == "DENY");
  // Nothing is loaded from anywhere else: no http(s) URL in the page's files but links to the docs.
  for (const char* name : {"index.html", "app.js", "style.css", "devices.js", "log.js", "bridge.js", "api.js",
                           "dialogs.js", "format.js", "favicon.svg"}) {
    INFO(name);
    const api::Asset* asset = api::find_asset(name);
    REQUIRE(asset);
    CHECK(asset->body.find("https://") == std::string_view::npos);
    CHECK(asset->body.find("//cdn") == std::string_view::npos);
  }
  CHECK(api::find_asset("favicon.svg")->body.find("http://www.w3.org/2000/svg") != std::string_view::npos);
  CHECK(api::assets_size() < 150 * 1024);

  const auto etag = header(page, "ETag");
  REQUIRE(!etag.empty());
  const auto again = ask({.path = "/", .headers = {"Host: 127.0.0.1", "If-None-Match: " + etag}}, calls);
  CHECK(again.status == 304);
  CHECK(again.body.empty());

  const auto script = ask({.path = "/assets/app.js"}, calls);
  CHECK(script.status == 200);
  CHECK(script.content_type.starts_with("text/javascript"));
  CHECK(ask({.path = "/assets/style.css"}, calls).content_type.starts_with("text/css"));
  CHECK(ask({.path = "/favicon.ico"}, calls).content_type == "image/svg+xml");
  CHECK(ask({.path = "/assets/../api.h"}, calls).status == 404);
  CHECK(ask({.path = "/assets/"}, calls).status == 404);
  CHECK(ask({.method = "POST", .path = "/"}, calls).status == 405);
}

TEST_CASE("the old routes answer as before; unknown ones 404 with JSON") {
  Calls calls;
  CHECK(ask({.path = "/healthz"}, calls).status == 200);
  CHECK(ask({.path = "/readyz"}, calls).status == 200);
  CHECK(ask({.path = "/metrics"}, calls).body == "localcloud_up 1\n");
  CHECK(json::parse(ask({.path = "/devices"}, calls).body)[0]["key"] == "plug");
  const auto missing = ask({.path = "/nope"}, calls);
  CHECK(missing.status == 404);
  CHECK(json::parse(missing.body)["error"] == "not found");
  CHECK(ask({.method = "DELETE", .path = "/healthz"}, calls).status == 405);
}

TEST_CASE("GET /api/devices, one device, /api/bridge") {
  Calls calls;
  const auto all = ask({.path = "/api/devices"}, calls);
  CHECK(all.status == 200);
  CHECK(json::parse(all.body).size() == 2);
  const auto one = ask({.path = "/api/devices/plug"}, calls);
  CHECK(one.status == 200);
  CHECK(json::parse(one.body)["key"] == "plug");
  CHECK(json::parse(ask({.path = "/api/devices/desk%3A1"}, calls).body)["key"] == "desk:1");
  CHECK(ask({.path = "/api/devices/two%20words"}, calls).status == 404);  // no key holds a space
  CHECK(ask({.path = "/api/devices/nobody"}, calls).status == 404);
  CHECK(ask({.path = "/api/devices/a%2Fb"}, calls).status == 404);  // no key holds a '/'
  CHECK(ask({.path = "/api/devices/%zz"}, calls).status == 404);
  CHECK(json::parse(ask({.path = "/api/bridge"}, calls).body)["version"] == "x");
  CHECK(ask({.path = "/api/events"}, calls).status == 404);  // no stream source here
}

TEST_CASE("POST /api/devices/<key>/set hands the body to the Hub's <key>/set and answers its outcome") {
  Calls calls;
  const auto ok = ask({.method = "POST", .path = "/api/devices/plug/set", .body = R"({"power":"OFF"})"}, calls);
  CHECK(ok.status == 200);
  CHECK(json::parse(ok.body) == json{{"status", "ok"}});
  REQUIRE(calls.sets.size() == 1);
  CHECK(calls.sets[0] == std::pair<std::string, std::string>{"plug", R"({"power":"OFF"})"});

  calls.set_error = "device offline";
  const auto offline = ask({.method = "POST", .path = "/api/devices/plug/set", .body = R"({"power":"OFF"})"}, calls);
  CHECK(offline.status == 409);
  CHECK(json::parse(offline.body) == json{{"status", "error"}, {"error", "device offline"}});
  CHECK(ask({.path = "/api/devices/plug/set"}, calls).status == 405);

  CHECK(api::command_status("no device 'x'") == 404);
  CHECK(api::command_status("device offline") == 409);
  CHECK(api::command_status("unknown property 'x'") == 400);
  CHECK(api::command_status("property 'relay' is read-only") == 400);
  CHECK(api::command_status("expected ON, OFF or TOGGLE") == 400);
  CHECK(api::command_status("no acknowledgement from the device within 5000 ms") == 504);
  CHECK(api::command_status("bridge not running") == 503);
  CHECK(api::command_status("unexpected answer: [\"error\"]") == 502);
}

TEST_CASE("POST /api/request/<request>: the Hub's answer, bounded bodies, valid names") {
  Calls calls;
  const auto ok = ask({.method = "POST", .path = "/api/request/health_check", .body = R"({"transaction":3})"}, calls);
  CHECK(ok.status == 200);
  CHECK(json::parse(ok.body)["data"]["healthy"] == true);
  REQUIRE(calls.requests.size() == 1);
  CHECK(calls.requests[0].second["transaction"] == 3);

  const auto unknown = ask({.method = "POST", .path = "/api/request/device/rename", .body = "{}"}, calls);
  CHECK(unknown.status == 404);
  CHECK(json::parse(unknown.body)["error"] == "unknown request 'device/rename'");
  CHECK(calls.requests.back().first == "device/rename");

  ask({.method = "POST", .path = "/api/request/remove", .body = "plug"}, calls);  // a bare key, as over MQTT
  CHECK(calls.requests.back().second == "plug");
  ask({.method = "POST", .path = "/api/request/health_check"}, calls);  // no body: {}
  CHECK(calls.requests.back().second == json::object());

  const size_t asked = calls.requests.size();
  CHECK(ask({.method = "POST", .path = "/api/request/options", .body = std::string(40, '[') + std::string(40, ']')},
            calls)
            .status == 400);
  CHECK(ask({.method = "POST", .path = "/api/request/a/b/c", .body = "{}"}, calls).status == 404);
  CHECK(ask({.method = "POST", .path = "/api/request/", .body = "{}"}, calls).status == 404);
  CHECK(ask({.method = "POST", .path = "/api/request/a+b", .body = "{}"}, calls).status == 404);
  CHECK(ask({.method = "POST", .path = "/api/request/health_check", .body = std::string(5000, ' ')}, calls).status ==
        413);  // over the server's max_body
  CHECK(calls.requests.size() == asked);
  CHECK(ask({.path = "/api/request/health_check"}, calls).status == 405);
}

TEST_CASE("security: token, loopback, Origin and Host") {
  Calls calls;
  const Request set{.method = "POST", .path = "/api/devices/plug/set", .body = R"({"power":"ON"})"};
  auto with = [&](std::vector<std::string> headers) {
    Request request = set;
    request.headers.insert(request.headers.end(), headers.begin(), headers.end());
    return request;
  };

  SUBCASE("a token: 401 without, 200 with") {
    const api::Security security{.token = "s3cret-T0ken", .loopback = true};
    const auto refused = ask(set, calls, security);
    CHECK(refused.status == 401);
    CHECK(header(refused, "WWW-Authenticate").starts_with("Bearer"));
    CHECK(refused.body.find("s3cret") == std::string::npos);
    CHECK(ask(with({"Authorization: Bearer wrong"}), calls, security).status == 401);
    CHECK(ask(with({"Authorization: Bearer s3cret-T0ke"}), calls, security).status == 401);
    CHECK(ask(with({"Authorization: Basic s3cret-T0ken"}), calls, security).status == 401);
    CHECK(calls.sets.empty());
    CHECK(ask(with({"Authorization: Bearer s3cret-T0ken"}), calls, security).status == 200);
    CHECK(ask(with({"Authorization: bearer s3cret-T0ken"}), calls, security).status == 200);
    CHECK(calls.sets.size() == 2);
    // With a token, another Host name is fine (a reverse proxy); reading needs no token.
    Request proxied = set;
    proxied.headers = {"Host: plugs.example", "Authorization: Bearer s3cret-T0ken"};
    CHECK(ask(proxied, calls, security).status == 200);
    CHECK(ask({.path = "/api/devices"}, calls, security).status == 200);
  }
  SUBCASE("beyond loopback without a token every POST is 403, GETs stay open") {
    const api::Security security{.token = "", .loopback = false};
    const auto refused = ask(set, calls, security);
    CHECK(refused.status == 403);
    CHECK(json::parse(refused.body)["error"].get<std::string>().find("api.token") != std::string::npos);
    CHECK(ask({.method = "POST", .path = "/api/request/health_check", .body = "{}"}, calls, security).status == 403);
    CHECK(calls.sets.empty());
    CHECK(calls.requests.empty());
    CHECK(ask({.path = "/api/devices"}, calls, security).status == 200);
    CHECK(std::string(api::changes(security)) == "refused");
  }
  SUBCASE("another site's page is refused, token or not; the page's own origin is not") {
    const api::Security token{.token = "tok", .loopback = true};
    CHECK(ask(with({"Origin: http://evil.example"}), calls).status == 403);
    CHECK(ask(with({"Origin: http://evil.example", "Authorization: Bearer tok"}), calls, token).status == 403);
    CHECK(ask(with({"Origin: null"}), calls).status == 403);
    CHECK(ask(with({"Origin: http://127.0.0.1:8081"}), calls).status == 403);  // another port: another origin
    CHECK(ask(with({"Sec-Fetch-Site: cross-site"}), calls).status == 403);
    CHECK(calls.sets.empty());
    CHECK(ask(with({"Origin: http://127.0.0.1:8080"}), calls).status == 200);
    CHECK(ask(with({"Origin: http://127.0.0.1:8080", "Sec-Fetch-Site: same-origin"}), calls).status == 200);
    CHECK(ask({.path = "/api/events", .headers = {"Host: 127.0.0.1:8080", "Origin: http://evil.example"}}, calls)
              .status == 403);
  }
  SUBCASE("on loopback without a token, only loopback names: a rebound DNS name is refused") {
    Request rebound = set;
    rebound.headers = {"Host: attacker.example:8080", "Origin: http://attacker.example:8080"};
    CHECK(ask(rebound, calls).status == 403);
    rebound.headers = {"Host: localhost:8080"};
    CHECK(ask(rebound, calls).status == 200);
    rebound.headers = {"Host: [::1]:8080"};
    CHECK(ask(rebound, calls).status == 200);
  }
  CHECK(api::bearer_matches("Bearer abc", "abc"));
  CHECK_FALSE(api::bearer_matches("Bearer abc", ""));
  CHECK_FALSE(api::bearer_matches("Bearer ", "abc"));
  CHECK(api::host_name("[::1]:80") == "::1");
  CHECK(api::host_name("localhost:80") == "localhost");
  CHECK(api::loopback_name("127.0.0.5"));
  CHECK_FALSE(api::loopback_name("10.0.0.1"));
}

TEST_CASE("views: packet totals from the metrics text, a device, the status") {
  const std::string text =
      "# TYPE localcloud_packets_total counter\n"
      "localcloud_packets_total{bridge=\"miio\",direction=\"in\"} 12\n"
      "localcloud_packets_total{bridge=\"miio\",direction=\"out\"} 10\n"
      "localcloud_packets_dropped_total{bridge=\"miio\",reason=\"bad_checksum\"} 2\n"
      "localcloud_packets_dropped_total{bridge=\"miio\",reason=\"too_short\"} 1\n"
      "localcloud_packets_total{bridge=\"vesync\",direction=\"in\"} 5\n"
      "localcloud_packets_total{direction=\"in\"} 99\n"
      "localcloud_packets_total{bridge=\"x\",direction=\"in\"} garbage\n";
  const auto totals = api::packet_totals(text);
  CHECK(totals.at("miio").in == 12);
  CHECK(totals.at("miio").out == 10);
  CHECK(totals.at("miio").dropped == 3);
  CHECK(totals.at("vesync").in == 5);
  CHECK(totals.count("x") == 0);

  const auto status = api::status_json({true, json{{"miio", {{"devices", 1}, {"online", 1}}}}, text,
                                        std::chrono::steady_clock::now() - std::chrono::seconds(65), "open", "lc"});
  CHECK(status["uptime"] >= 65);
  CHECK(status["broker"]["connected"] == true);
  CHECK(status["bridges"]["miio"]["packets"]["dropped"] == 3);
  CHECK(status["changes"] == "open");
  CHECK(status["version"] == LOCALCLOUD_VERSION);

  CHECK(api::iso_time(std::chrono::system_clock::time_point{} + std::chrono::milliseconds(1500), true) ==
        "1970-01-01T00:00:01.500Z");
}
