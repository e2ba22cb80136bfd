// The Xiaomi cloud stand-in on miio.listen, UDP and TCP on the same port
// (docs/protocols/miio.md §2). Every device id gets the keepalive answers: a hello gets the time
// sync reply, a ping is echoed when its stamp is newer than the last one seen from that id
// (Valetudo's rule against reply storms, §2.4). Encrypted messages are answered only for
// devices whose cloud key the handler knows (§2.6). Nothing here waits on MQTT, DNS or disk.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/steady_timer.hpp>

#include "bridges/miio/cloud_tcp_session.h"
#include "bridges/miio/codec.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/net.h"
#include "core/tcp_listener.h"
#include "core/udp_batch.h"

namespace lc::miio {

enum class Transport { udp, tcp };

// What the bridge tells the endpoint and learns from it. Called on the io_context thread,
// from the packet handlers: implementations must be quick and never block.
class CloudHandler {
 public:
  virtual ~CloudHandler() = default;
  // A ping or a message from this did reached us (bytes 8..11; not verified without a key).
  virtual void cloud_heard(uint32_t did) = 0;
  // The did's cloud key, when configured; nullptr otherwise.
  virtual const Cipher* cloud_cipher(uint32_t did) = 0;
  // A decrypted message from the device (props, properties_changed, event.*, _otc.info, results, ...).
  virtual void cloud_message(uint32_t did, const Json& message) = 0;
  // What the device sent and what was answered ("" = nothing), for the web page's cloud
  // conversation. Called for every ping: keep it cheap.
  virtual void cloud_exchange(uint32_t did, std::string_view received, std::string_view answered) {
    (void)did, (void)received, (void)answered;
  }
};

struct CloudOptions {
  // A TCP connection without a complete packet for this long is closed: the device pings
  // every 15 s and gives up after 3 missed pongs (§2.4), plus a margin.
  std::chrono::milliseconds idle_timeout{std::chrono::seconds(50)};
  // At most this many TCP connections (also bounded by the process's descriptor budget,
  // core/tcp_listener.h).
  size_t max_connections = 16384;
  // Devices remembered for the ping stamp rule; the table starts afresh when full.
  size_t max_tracked_devices = 65536;
  // Current UTC Unix time in seconds (the time sync reply, §2.3).
  std::function<uint32_t()> clock;
};

class CloudEndpoint : private CloudTcpSession::Owner {
 public:
  CloudEndpoint(boost::asio::io_context& io, Endpoint listen, BridgeStats& stats, CloudHandler& handler,
                CloudOptions options = {});
  ~CloudEndpoint() override;
  CloudEndpoint(const CloudEndpoint&) = delete;
  CloudEndpoint& operator=(const CloudEndpoint&) = delete;

  // Binds UDP and TCP; throws std::runtime_error with the address when either fails.
  void start();
  void stop();

  uint16_t port() const { return port_; }  // as bound (listen port 0 picks one, for tests)
  std::string address_text() const;         // "0.0.0.0:8053" as bound
  size_t connections() const { return sessions_.size(); }
  size_t tracked_devices() const { return stamps_.size(); }

  // Handles one complete packet from a device and writes the answer, if any, to `reply`
  // (kMaxSendPacket bytes); returns the answer's size, 0 for none. `local` is the address
  // the packet arrived at, when known. Public for the tests.
  size_t handle(std::span<const uint8_t> packet, Transport transport, const Peer& peer,
                const boost::asio::ip::address* local, std::span<uint8_t, kMaxSendPacket> reply);

 private:
  // CloudTcpSession::Owner
  std::span<const uint8_t> tcp_packet(std::span<const uint8_t> packet, const Peer& peer,
                                      const boost::asio::ip::address& local) override;
  void tcp_closed(const std::shared_ptr<CloudTcpSession>& session) override;

  void bind();
  void on_datagram(std::span<const uint8_t> datagram, bool truncated, const boost::asio::ip::udp::endpoint& from,
                   UdpBatchSocket::Replies& replies);
  void accepted(boost::asio::ip::tcp::socket socket, ConnectionSlot slot);
  void schedule_sweep();
  void sweep();
  bool ping_is_newer(uint32_t unknown, uint32_t did, Transport transport, uint32_t stamp);
  size_t answer_message(std::span<const uint8_t> packet, const Header& header, const Cipher& cipher,
                        Transport transport, const Peer& peer, const boost::asio::ip::address* local,
                        std::span<uint8_t, kMaxSendPacket> reply);
  boost::asio::ip::address address_towards(const Peer& peer, const boost::asio::ip::address* local);
  void trace_packet(const char* direction, Transport transport, const Peer& peer,
                    std::span<const uint8_t> packet, const char* what) const;

  boost::asio::io_context& io_;
  Endpoint listen_;
  BridgeStats& stats_;
  CloudHandler& handler_;
  CloudOptions options_;
  Logger log_{"miio"};
  uint16_t port_ = 0;

  UdpBatchSocket udp_;  // recvmmsg/sendmmsg: the keepalive hot path
  TcpListener tcp_;
  boost::asio::steady_timer sweep_timer_;
  std::array<uint8_t, kMaxSendPacket> reply_{};  // the answer being built (UDP and TCP)
  std::unordered_set<std::shared_ptr<CloudTcpSession>> sessions_;

  struct Stamps {
    uint32_t udp = 0, tcp = 0;
    bool udp_seen = false, tcp_seen = false;
  };
  std::unordered_map<uint64_t, Stamps> stamps_;  // key: unknown << 32 | did

  Counter& stale_pings_;
  Counter& unanswered_;
  bool running_ = false;
};

}  // namespace lc::miio
