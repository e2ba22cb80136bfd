// The websocket server the outlets connect to (and the simulator's stand-in cloud), on
// Boost.Beast behind the link interface of transport.h.
//
// Accepts through core/tcp_listener.h (accept errors, connection cap, the shared descriptor
// budget and its warning at the cap). Reads the HTTP head itself with the bounded parser of
// http.h, so that the outlet's "deviceVersion:5" and a cloud Host are fine and the path can be
// logged (docs/protocols/vesync.md §2.2), answers anything that is not a websocket upgrade with
// 404, and hands every upgraded connection to its owner.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include <boost/asio/io_context.hpp>

#include "bridges/vesync/http.h"
#include "bridges/vesync/transport.h"
#include "core/log.h"
#include "core/net.h"
#include "core/tcp_listener.h"

namespace lc::vesync {

struct WsServerOptions {
  Endpoint listen;
  std::string name = "websocket server";  // in log lines ("<name>: connection cap of N reached ...")
  std::size_t max_connections = 20000;
  std::size_t descriptors_per_connection = 1;  // 2 when each connection opens one of its own
  DescriptorBudget* budget = nullptr;          // device listeners: DescriptorBudget::process()
  std::size_t max_message = 4096;
  std::chrono::milliseconds handshake_timeout{10000};  // TCP accept to websocket open
  // Websocket open to the first frame, then between frames; 0 = none (the owner watches:
  // an armed Beast timer costs every idle connection a pending wait).
  std::chrono::milliseconds first_frame_timeout{0};
  std::size_t max_queued = 64;  // sends waiting per connection
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

  // `log` gets the listener's lines (the warning at the connection cap).
  WsServer(boost::asio::io_context& io, WsServerOptions options, Callbacks callbacks, Logger log = Logger("vesync"));
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

}  // namespace lc::vesync
