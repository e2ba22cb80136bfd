// Address helpers shared by the bridges: HOST:PORT endpoints and the upstream loop check.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>

#include "core/log.h"

namespace lc {

struct Endpoint {
  std::string host;  // a name or a literal address ("0.0.0.0", "::", "cloud.example.com")
  uint16_t port = 0;

  bool empty() const { return host.empty() && port == 0; }
  std::string text() const;  // "host:port", IPv6 literals in brackets
  bool operator==(const Endpoint&) const = default;
};

// Parses "HOST:PORT" or "[V6]:PORT"; nullopt on anything else (port 1..65535).
std::optional<Endpoint> parse_endpoint(std::string_view text);

// Resolves synchronously (start-up or a reconnect off the hot path); empty on failure.
std::vector<boost::asio::ip::address> resolve_addresses(const std::string& host);

// True when `target` (a resolved address and port) would reach a socket of ours that listens
// on `listen` (possibly 0.0.0.0 / ::): same port and an address of this host (loopback, any
// interface address) or the listen address itself. Used to refuse an upstream that the DNS
// override loops back to us.
bool reaches_listener(const boost::asio::ip::address& target, uint16_t target_port,
                      const Endpoint& listen);

// The open-files soft limit (RLIMIT_NOFILE) now; SIZE_MAX when unlimited or unknown.
size_t open_files_limit();

// Descriptors kept out of the device listeners' caps: the broker connection, data_dir writes,
// UDP sockets, the API (32) and the service API (64) at their own caps, and the rest of the
// process.
inline constexpr size_t kReservedDescriptors = 192;

// How many connections one of the two bridge listeners that may hold thousands (a TCP
// listener, a websocket server) may keep open: `wanted`, or half of what the open-files limit
// leaves after kReservedDescriptors, so that both at their caps never starve the broker or
// data_dir (at least 8). `per_connection`: descriptors one connection costs (2 for a
// connection proxied upstream).
size_t connection_cap(size_t wanted, size_t per_connection = 1);

// The warning when a listener refuses a connection at its cap: the first time, then at most
// once a minute (with how many were refused meanwhile), so that a flood is one clear line.
class CapWarning {
 public:
  void refused(const Logger& log, std::string_view listener, size_t cap);

 private:
  std::chrono::steady_clock::time_point last_{};
  uint64_t refused_since_ = 0;
};

// "1.2.3.4:5678" for log lines and trace.
std::string to_string(const boost::asio::ip::udp::endpoint& endpoint);
std::string to_string(const boost::asio::ip::tcp::endpoint& endpoint);

}  // namespace lc
