#include "core/net.h"

#include <ifaddrs.h>
#include <netinet/in.h>
#include <sys/resource.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <cctype>
#include <charconv>

namespace lc {

namespace asio = boost::asio;

std::string Endpoint::text() const {
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

std::optional<Endpoint> parse_endpoint(std::string_view text) {
  std::string_view host, port_text;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') return std::nullopt;
    host = text.substr(1, close - 1);
    port_text = text.substr(close + 2);
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return std::nullopt;
    host = text.substr(0, colon);
    port_text = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) return std::nullopt;  // bare IPv6 needs brackets
  }
  if (host.empty() || host.size() > 253 || port_text.empty() || port_text.size() > 5) return std::nullopt;
  for (char c : host) {
    const bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_' || c == ':';
    if (!ok) return std::nullopt;
  }
  unsigned port = 0;
  const auto [end, error] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (error != std::errc() || end != port_text.data() + port_text.size() || port == 0 || port > 65535)
    return std::nullopt;
  return Endpoint{std::string(host), static_cast<uint16_t>(port)};
}

std::vector<asio::ip::address> resolve_addresses(const std::string& host) {
  std::vector<asio::ip::address> out;
  boost::system::error_code ec;
  const auto literal = asio::ip::make_address(host, ec);
  if (!ec) return {literal};
  asio::io_context io;
  asio::ip::tcp::resolver resolver(io);
  const auto results = resolver.resolve(host, "", ec);
  if (ec) return out;
  for (const auto& entry : results) out.push_back(entry.endpoint().address());
  return out;
}

namespace {

bool is_local_address(const asio::ip::address& address) {
  if (address.is_loopback() || address.is_unspecified()) return true;
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return false;
  bool found = false;
  for (ifaddrs* entry = list; entry && !found; entry = entry->ifa_next) {
    if (!entry->ifa_addr) continue;
    if (entry->ifa_addr->sa_family == AF_INET && address.is_v4()) {
      const auto* in = reinterpret_cast<const sockaddr_in*>(entry->ifa_addr);
      found = address.to_v4().to_uint() == ntohl(in->sin_addr.s_addr);
    } else if (entry->ifa_addr->sa_family == AF_INET6 && address.is_v6()) {
      const auto* in6 = reinterpret_cast<const sockaddr_in6*>(entry->ifa_addr);
      asio::ip::address_v6::bytes_type bytes;
      std::copy(std::begin(in6->sin6_addr.s6_addr), std::end(in6->sin6_addr.s6_addr), bytes.begin());
      found = address.to_v6().to_bytes() == bytes;
    }
  }
  freeifaddrs(list);
  return found;
}

}  // namespace

bool reaches_listener(const asio::ip::address& target, uint16_t target_port, const Endpoint& listen) {
  if (target_port != listen.port) return false;
  boost::system::error_code ec;
  const auto listen_address = asio::ip::make_address(listen.host, ec);
  if (!ec && !listen_address.is_unspecified()) {
    // A socket bound to one address is reached through that address only.
    return target == listen_address;
  }
  return is_local_address(target);
}

size_t open_files_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return SIZE_MAX;
  return static_cast<size_t>(limit.rlim_cur);
}

size_t connection_cap(size_t wanted, size_t per_connection) {
  const size_t limit = open_files_limit();
  if (limit == SIZE_MAX) return wanted;
  const size_t usable = limit > kReservedDescriptors ? limit - kReservedDescriptors : 0;
  const size_t share = usable / 2 / std::max<size_t>(per_connection, 1);
  return std::min(wanted, std::max<size_t>(share, 8));
}

void CapWarning::refused(const Logger& log, std::string_view listener, size_t cap) {
  ++refused_since_;
  const auto now = std::chrono::steady_clock::now();
  if (last_ != std::chrono::steady_clock::time_point{} && now - last_ < std::chrono::minutes(1)) return;
  last_ = now;
  const size_t limit = open_files_limit();
  log.warn(listener, ": connection cap of ", cap, " reached (open files limit ",
           limit == SIZE_MAX ? std::string("unlimited") : std::to_string(limit), "); ", refused_since_,
           refused_since_ == 1 ? " connection" : " connections", " refused, more will be until some close");
  refused_since_ = 0;
}

std::string to_string(const asio::ip::udp::endpoint& endpoint) {
  return Endpoint{endpoint.address().to_string(), endpoint.port()}.text();
}
std::string to_string(const asio::ip::tcp::endpoint& endpoint) {
  return Endpoint{endpoint.address().to_string(), endpoint.port()}.text();
}

}  // namespace lc
