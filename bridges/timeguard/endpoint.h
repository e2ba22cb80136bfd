// The UDP endpoint that stands in for www.cloudwarm.net:9997 (docs/protocols/timeguard.md §1, §4, §5.1).
//
// One socket on timeguard.listen serves the devices and, in fallback and relay modes, talks
// to the upstream cloud (the devices' frames carry their id, so one socket suffices, as in
// timeguard-mqtt). Datagrams from the upstream address are the cloud's; all others are
// devices'. Modes:
//   local     answer pings (type 0 flags 0x0f, UTC time) and code-version reports (type 2
//             flags 0x0b, echo); everything else from devices goes to the bridge only.
//   fallback  as local, and every device datagram is forwarded to upstream unchanged;
//             upstream frames go to the device unchanged, except the cloud's ping replies
//             and version acks (already answered here).
//   relay     forward both ways untouched (invalid frames too); nothing answered here.
// Datagrams arrive in batches (core/udp_batch.h, recvmmsg); replies and forwarded copies
// leave with the batch (sendmmsg), with no allocation when trace is off. They never wait on
// the bridge, MQTT or the upstream.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/steady_timer.hpp>

#include "bridges/timeguard/codec.h"
#include "bridges/timeguard/mode.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/udp_batch.h"

namespace lc::timeguard {

class CloudEndpoint {
 public:
  using udp = boost::asio::ip::udp;
  using Clock = std::chrono::steady_clock;

  // Receives every valid frame that came from a device (in every mode), after the endpoint
  // has answered or forwarded it.
  class Handler {
   public:
    virtual ~Handler() = default;
    virtual void device_frame(const FrameView& frame, const Classified& classified) = 0;
  };

  struct Options {
    lc::Endpoint listen{"0.0.0.0", 9997};
    Mode mode = Mode::local;
    std::optional<lc::Endpoint> upstream;
    size_t max_devices = 4096;  // device address table; the least recently heard one goes
    std::chrono::seconds resolve_interval{300};
  };

  CloudEndpoint(boost::asio::io_context& io, Options options, Metrics& metrics, BridgeStats& stats,
                Handler& handler);

  // Binds the socket; throws std::runtime_error when it cannot, when fallback/relay has no
  // upstream, or when a literal upstream reaches our own listener. A host name is resolved
  // in the background (and again every resolve_interval).
  void start();
  void stop();

  // Sends a frame we built to the device's latest address; false when none is known (or the
  // socket refused it).
  bool send_to_device(uint32_t device_id, std::span<const uint8_t> frame);
  std::optional<udp::endpoint> device_address(uint32_t device_id) const;
  size_t device_count() const { return devices_.size(); }

  std::string bound_address() const;  // "0.0.0.0:9997" as bound (the real port when 0 was asked)
  udp::endpoint local_endpoint() const;
  std::optional<udp::endpoint> upstream() const { return upstream_; }

 private:
  struct DeviceAddress {
    udp::endpoint address;
    Clock::time_point last_heard;
  };

  using Replies = UdpBatchSocket::Replies;
  void process(std::span<const uint8_t> datagram, bool truncated, const udp::endpoint& from, Replies& replies);
  void from_device(std::span<const uint8_t> datagram, const udp::endpoint& from, Replies& replies);
  void from_upstream(std::span<const uint8_t> datagram, const udp::endpoint& from, Replies& replies);
  void remember(uint32_t device_id, const udp::endpoint& from);
  // With the batch when it fits a reply slot, else at once.
  bool send(std::span<const uint8_t> datagram, const udp::endpoint& to, Replies& replies);
  void resolve_upstream();
  bool accept_upstream(const boost::asio::ip::address& address, uint16_t port, bool fatal);
  std::string drop_detail(std::span<const uint8_t> datagram) const;
  void trace(std::string_view src, std::string_view dst, std::string_view parsing,
             std::span<const uint8_t> datagram) const;

  Options options_;
  BridgeStats& stats_;
  Handler& handler_;
  Logger log_{"timeguard"};
  UdpBatchSocket socket_;
  udp::resolver resolver_;
  boost::asio::steady_timer resolve_timer_;
  std::optional<udp::endpoint> upstream_;
  bool running_ = false;
  Replies* batch_ = nullptr;  // the batch being handled, if any
  std::array<uint8_t, 64> reply_{};  // ping replies and version acks are built here
  std::unordered_map<uint32_t, DeviceAddress> devices_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);  // guards queued handlers
  Counter& forwarded_up_;
  Counter& forwarded_down_;
  Counter& suppressed_;
};

}  // namespace lc::timeguard
