#include "app/api/security.h"

#include <cctype>

#include <boost/asio/ip/address.hpp>
#include <nlohmann/json.hpp>

namespace lc::api {

namespace {

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  return true;
}

HttpResponse refusal(unsigned status, const std::string& why) {
  HttpResponse response{status, "application/json", nlohmann::json{{"status", "error"}, {"error", why}}.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)};
  if (status == 401) response.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"localcloud\"");
  return response;
}

}  // namespace

std::string_view host_name(std::string_view host) {
  if (host.starts_with('[')) {
    const auto close = host.find(']');
    return close == std::string_view::npos ? host : host.substr(1, close - 1);
  }
  const auto colon = host.find(':');
  return colon == std::string_view::npos ? host : host.substr(0, colon);
}

bool loopback_name(std::string_view name) {
  if (iequals(name, "localhost")) return true;
  boost::system::error_code ec;
  const auto address = boost::asio::ip::make_address(std::string(name), ec);
  return !ec && address.is_loopback();
}

bool cross_site(const HttpRequest& request) {
  if (const std::string* site = request.header("Sec-Fetch-Site"); site && iequals(*site, "cross-site")) return true;
  const std::string* origin = request.header("Origin");
  if (!origin) return false;  // not a browser's cross-origin request (curl, scripts, same-origin GET)
  // The page's own origin is this server as the browser addressed it: scheme://<Host>.
  const auto scheme_end = origin->find("://");
  if (scheme_end == std::string::npos) return true;  // "null" (a sandboxed or file: page) and the like
  const std::string_view authority = std::string_view(*origin).substr(scheme_end + 3);
  const std::string* host = request.header("Host");
  return !host || !iequals(authority, *host);
}

bool bearer_matches(std::string_view authorization, std::string_view token) {
  if (token.empty() || authorization.size() < 7 || !iequals(authorization.substr(0, 7), "Bearer ")) return false;
  std::string_view given = authorization.substr(7);
  while (!given.empty() && given.front() == ' ') given.remove_prefix(1);
  while (!given.empty() && given.back() == ' ') given.remove_suffix(1);
  // Constant time for a given token length.
  unsigned char difference = given.size() == token.size() ? 0 : 1;
  for (size_t i = 0; i < token.size(); ++i)
    difference |= static_cast<unsigned char>(token[i] ^ (i < given.size() ? given[i] : 0));
  return difference == 0;
}

const char* changes(const Security& security) {
  if (!security.token.empty()) return "token";
  return security.loopback ? "open" : "refused";
}

std::optional<HttpResponse> refuse_change(const HttpRequest& request, const Security& security) {
  if (cross_site(request)) return refusal(403, "cross-site request refused: the Origin is not this page's");
  if (!security.token.empty()) {
    if (!bearer_matches(request.authorization, security.token))
      return refusal(401, "this API needs \"Authorization: Bearer <api.token>\" for changes");
    return std::nullopt;
  }
  if (!security.loopback)
    return refusal(403, "changes are refused: api.listen is reachable beyond loopback and no api.token is set");
  const std::string* host = request.header("Host");
  if (host && !loopback_name(host_name(*host)))
    return refusal(403, "changes are only taken for a loopback address (Host " +
                            std::string(host_name(*host).substr(0, 64)) + "): set api.token to allow others");
  return std::nullopt;
}

}  // namespace lc::api
