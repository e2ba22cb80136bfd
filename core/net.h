// Address helpers shared by the bridges: HOST:PORT endpoints and the upstream loop check.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>

namespace lc {

struct Endpoint {
  std::string host;  // a name or a literal address ("0.0.0.0", "::", "server2.vesync.com")
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

// "1.2.3.4:5678" for log lines and trace.
std::string to_string(const boost::asio::ip::udp::endpoint& endpoint);
std::string to_string(const boost::asio::ip::tcp::endpoint& endpoint);

}  // namespace lc
