// Who may change things through the API (docs/web.md "Who may change things"). Reading stays
// open, as /devices always was; every POST passes refuse_change() first:
//   * a request from another site's page (an Origin that is not the page's own, or
//     Sec-Fetch-Site: cross-site) is refused (403), token or not;
//   * with api.token set, a POST without "Authorization: Bearer <token>" gets 401;
//   * without a token, a listener beyond loopback refuses every POST (403), and a loopback
//     one only takes POSTs addressed to a loopback name (Host 127.0.0.1, [::1], localhost):
//     another name reaching a loopback port is a DNS-rebinding page, not the user.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/http_server.h"

namespace lc::api {

struct Security {
  std::string token;         // api.token; empty: none
  bool loopback = true;      // api.listen is a loopback address
};

// 401 or 403 with {"status":"error","error":...}, or nullopt when the POST may go on.
std::optional<HttpResponse> refuse_change(const HttpRequest& request, const Security& security);
// True when a browser sent this from a page of another origin.
bool cross_site(const HttpRequest& request);
// "Bearer <token>" (scheme case-insensitive), compared in constant time.
bool bearer_matches(std::string_view authorization, std::string_view token);
// Whether the page may change things: "open" (loopback, no token), "token" (a token is
// needed), "refused" (beyond loopback without a token).
const char* changes(const Security& security);
// A Host header's name without the port: "[::1]:8080" -> "::1".
std::string_view host_name(std::string_view host);
bool loopback_name(std::string_view name);

}  // namespace lc::api
