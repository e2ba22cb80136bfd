// A websocket as the vesync bridge, its upstream proxy and the simulator see it, whichever end
// opened it: frames in through WsEvents, frames out through WsLink. ws_server.h accepts the
// outlets' connections (Boost.Beast), ws_client.h opens connections the way an outlet does.
//
// All on one io_context; every event runs on it. One outstanding write per socket: sends are
// queued (docs/protocols/homeassistant-mqtt.md §4 item 5).
#pragma once

#include <chrono>
#include <string>
#include <string_view>

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

inline std::string_view cause_name(CloseCause cause) {
  switch (cause) {
    case CloseCause::peer: return "closed by peer";
    case CloseCause::local: return "closed locally";
    case CloseCause::timeout: return "timeout";
    case CloseCause::too_large: return "message too large";
    case CloseCause::protocol: return "protocol error";
    case CloseCause::overflow: return "send queue overflow";
    case CloseCause::refused: return "refused";
    case CloseCause::io: return "i/o error";
  }
  return "closed";
}

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

}  // namespace lc::vesync
