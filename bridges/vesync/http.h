// A bounded HTTP/1.x head parser (pure) for the websocket upgrade the outlets send
// (docs/protocols/vesync.md §2.2) and for the upgrade response the websocket client reads, and
// the helpers around it. (The service API runs on core/http_server.h.)
//
// The outlet's request, as captured (travissinnott/outlet README):
//   GET /gnws HTTP/1.1\r\n
//   Host: server2.vesync.com:17273\r\n            <- the cloud's name: never validated
//   Upgrade: websocket\r\n  Connection: Upgrade\r\n
//   Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n  Sec-WebSocket-Version: 13\r\n
//   deviceVersion:5\r\n                           <- no space after the colon
//   \r\n
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lc::vesync::http {

// A request or response head larger than this is refused.
inline constexpr std::size_t kMaxHeadBytes = 4096;
inline constexpr std::size_t kMaxHeaders = 64;

struct Header {
  std::string name;
  std::string value;  // without surrounding spaces or tabs
};

struct Request {
  std::string method;
  std::string target;  // as sent: path and query
  std::vector<Header> headers;

  // The first header of that name (case-insensitive), or nullptr.
  const std::string* header(std::string_view name) const;
  std::string_view path() const;  // target up to '?'
};

struct Response {
  int status = 0;
  std::vector<Header> headers;
  const std::string* header(std::string_view name) const;
};

// Bytes up to and including the blank line that ends the head ("\r\n\r\n", or "\n\n"
// from lenient clients); 0 when the buffer holds no complete head yet.
std::size_t head_size(std::string_view buffer);

// Parse a complete head (as delimited by head_size); nullopt when malformed or too large.
std::optional<Request> parse_request(std::string_view head);
std::optional<Response> parse_response(std::string_view head);

// GET with "Upgrade: websocket", a "Connection" with the upgrade token and a key.
bool is_websocket_upgrade(const Request& request);

// Sec-WebSocket-Accept for a Sec-WebSocket-Key (RFC 6455 §4.2.2).
std::string websocket_accept(std::string_view key);

// A complete response with Content-Length and "Connection: close" (the server's refusals).
std::string response(int status, std::string_view content_type, std::string_view body);
std::string_view reason_phrase(int status);

bool iequals(std::string_view a, std::string_view b);

}  // namespace lc::vesync::http
