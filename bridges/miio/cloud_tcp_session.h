// One device's TCP connection to the cloud endpoint (ott, docs/protocols/miio.md §2.1):
// miIO packets back to back with no extra framing, each handed to the endpoint and its answer
// written back. A stream that is not miIO, or whose length field is out of bounds, is closed
// (never resynchronised); a peer that does not read its answers is closed too.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <boost/asio/ip/tcp.hpp>

#include "core/log.h"
#include "core/metrics.h"
#include "core/tcp_listener.h"

namespace lc::miio {

// Where a packet came from; text() (for drops and trace) is only built when needed.
struct Peer {
  boost::asio::ip::address address;
  uint16_t port = 0;
  std::string text() const;
};

class CloudTcpSession : public std::enable_shared_from_this<CloudTcpSession> {
 public:
  using Clock = std::chrono::steady_clock;
  // What the session asks of the endpoint that accepted it.
  class Owner {
   public:
    virtual ~Owner() = default;
    // The answer to one complete packet (empty for none); valid until the next call.
    virtual std::span<const uint8_t> tcp_packet(std::span<const uint8_t> packet, const Peer& peer,
                                                const boost::asio::ip::address& local) = 0;
    // The session closed itself: forget it.
    virtual void tcp_closed(const std::shared_ptr<CloudTcpSession>& session) = 0;
  };

  CloudTcpSession(Owner& owner, boost::asio::ip::tcp::socket socket, ConnectionSlot slot, BridgeStats& stats);

  void start() { read(); }
  // Closes the socket and gives the slot back; the owner is told unless it is closing all.
  void close(bool tell_owner = true);

  Clock::time_point last_packet() const { return last_packet_; }
  const Peer& peer() const { return peer_; }

 private:
  void read();
  void on_read(const boost::system::error_code& ec, size_t n);
  // Hands every complete packet in the buffer to the owner; false when the stream was closed.
  bool consume();
  void send(std::span<const uint8_t> bytes);
  void write();

  Owner* owner_;
  boost::asio::ip::tcp::socket socket_;
  ConnectionSlot slot_;
  BridgeStats& stats_;
  Logger log_{"miio"};
  Peer peer_;
  boost::asio::ip::address local_;
  std::vector<uint8_t> in_;
  size_t in_size_ = 0;
  bool framed_ = false;  // a complete packet has been read: the stream is miIO
  std::vector<uint8_t> writing_, pending_;
  bool writing_now_ = false;
  bool closed_ = false;
  Clock::time_point last_packet_;
};

}  // namespace lc::miio
