// The client end of a websocket: what the simulated outlets and the upstream proxy connect
// with. Plain Asio and ws_frame.h (no Beast), so that the upgrade request goes out byte for byte
// as given: the simulator sends exactly what an outlet sends (docs/protocols/vesync.md §2.2).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "bridges/vesync/transport.h"

namespace lc::vesync {

struct WsClientOptions {
  std::string host;  // resolved at every ws_connect
  uint16_t port = 0;
  // Request head lines after the request line, verbatim, without the key and version
  // headers, e.g. {"Host: server2.vesync.com:17273", "Upgrade: websocket", ...}. Empty: the
  // standard set with Host = host:port.
  std::vector<std::string> header_lines;
  std::string path = "/gnws";
  std::size_t max_message = 4096;
  std::chrono::milliseconds connect_timeout{10000};  // resolve + connect + handshake
  std::size_t max_queued = 64;
  // Called for each resolved address before connecting; a non-empty answer refuses that
  // address with that explanation (the upstream loop check).
  std::function<std::string(const boost::asio::ip::tcp::endpoint&)> refuse;
};

// Starts resolving and connecting; `events` gets ws_open or ws_closed.
std::shared_ptr<WsLink> ws_connect(boost::asio::io_context& io, const WsClientOptions& options,
                                   WsEvents* events);

}  // namespace lc::vesync
