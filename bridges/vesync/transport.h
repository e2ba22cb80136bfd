// Websocket links for the vesync bridge, its upstream proxy and the simulator, behind a small
// interface so that only transport.cpp compiles Boost.Beast.
//
// Server side (WsServer, Boost.Beast): reads the HTTP head itself with the bounded parser of
// http.h (so the outlet's "deviceVersion:5" and a cloud Host are fine, and the path can be
// logged), answers anything that is not a websocket upgrade with 404, and hands every
// upgraded connection to its owner. Client side (ws_connect): plain Asio and ws_frame.h, so
// that the upgrade request goes out byte for byte as given (the simulator sends exactly what
// an outlet sends, protocols/vesync.md §2.2).
//
// All on one io_context; every event runs on it. One outstanding write per socket: sends
// are queued (homeassistant-mqtt.md §4.5).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "bridges/vesync/http.h"
#include "core/net.h"

namespace lc::vesync {

class WsLink;

enum class CloseCause {
  peer,        // the peer closed (close frame or TCP end)
  local,       // close() or abort() was called
  timeout,     // idle / handshake / connect deadline
  too_large,   // a message over the size limit
  protocol,    // a websocket protocol violation, or a refused handshake
  overflow,    // the send queue overflowed: the peer does not read
  refused,     // client: the address was refused (see WsClientOptions::refuse)
  io,          // resolve / connect / socket error
};
std::string_view cause_name(CloseCause cause);

// What a link reports to its owner.
class WsEvents {
 public:
  virtual ~WsEvents() = default;
  // Client links: the handshake succeeded.
  virtual void ws_open(WsLink& link) { (void)link; }
  virtual void ws_frame(WsLink& link, std::string_view payload, bool binary) = 0;
  // The last event of a link.
  virtual void ws_closed(WsLink& link, CloseCause cause, std::string_view detail) = 0;
};

class WsLink {
 public:
  virtual ~WsLink() = default;
  // nullptr stops all further events (the owner is going away).
  virtual void set_events(WsEvents* events) = 0;
  // Queued; ignored once the link is closing. Text frame unless `binary`.
  virtual void send(std::string payload, bool binary) = 0;
  // Graceful close (close frame); ws_closed(local) follows.
  virtual void close() = 0;
  // Closes the TCP connection at once, without a close frame; ws_closed(local) follows.
  virtual void abort() = 0;
  // Closes the link when nothing arrives for this long (0 = never); from the next read on.
  virtual void set_idle_timeout(std::chrono::milliseconds timeout) = 0;
  virtual const std::string& peer() const = 0;  // "1.2.3.4:5678"
  virtual bool open() const = 0;
};

struct WsServerOptions {
  Endpoint listen;
  std::size_t max_connections = 20000;
  std::size_t max_message = 4096;
  std::chrono::milliseconds handshake_timeout{10000};  // TCP accept to websocket open
  // Websocket open to the first frame, then between frames; 0 = none (the owner watches:
  // an armed Beast timer costs every idle connection a pending wait).
  std::chrono::milliseconds first_frame_timeout{0};
  std::size_t max_queued = 64;                           // sends waiting per connection
};

class WsServer {
 public:
  struct Callbacks {
    // A connection completed the websocket upgrade. The owner calls set_events() before
    // returning, else the link is closed.
    std::function<void(std::shared_ptr<WsLink> link, const http::Request& request)> upgraded;
    // Not a websocket connection, or refused before the upgrade completed: `reason` is a
    // snake_case drop reason ("not_websocket", "bad_http", "too_many_connections", ...).
    std::function<void(std::string_view reason, const std::string& peer, std::string_view detail)> rejected;
  };

  WsServer(boost::asio::io_context& io, WsServerOptions options, Callbacks callbacks);
  ~WsServer();
  WsServer(const WsServer&) = delete;
  WsServer& operator=(const WsServer&) = delete;

  // Binds and starts accepting; throws std::runtime_error when the address cannot be bound.
  void start();
  // Stops accepting, closes every connection; no callback runs afterwards.
  void stop();
  Endpoint local_endpoint() const;
  std::size_t connections() const;

  struct State;

 private:
  std::shared_ptr<State> state_;
};

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
