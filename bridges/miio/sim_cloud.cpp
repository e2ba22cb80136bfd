// The simulated device's conversation with the cloud endpoint (docs/protocols/miio.md §2):
// hello until time-synced, a ping every --ping-interval, and with its cloud key the
// encrypted messages (_otc.info, props pushes), over UDP or TCP.
#include <cstring>

#include <boost/asio/write.hpp>

#include "bridges/miio/sim_device.h"
#include "core/hex.h"
#include "core/sim_harness.h"

namespace lc::miio {

namespace asio = boost::asio;
using asio::ip::tcp;
using asio::ip::udp;
using std::chrono::milliseconds;

void SimDevice::restart_cloud() {
  ++cloud_generation_;
  time_synced_ = false;
  hello_timer_.cancel();
  ping_timer_.cancel();
  boost::system::error_code ec;
  cloud_udp_.close(ec);
  cloud_tcp_.close(ec);
  cloud_in_size_ = 0;
  if (options_.tcp) {
    connect_tcp();
    return;
  }
  const udp::endpoint target(asio::ip::make_address(options_.cloud->host), options_.cloud->port);
  cloud_udp_.open(target.protocol());
  cloud_udp_.connect(target);
  receive_cloud_udp();
  send_hello();
}

void SimDevice::connect_tcp() {
  const tcp::endpoint target(asio::ip::make_address(options_.cloud->host), options_.cloud->port);
  const uint64_t generation = cloud_generation_;
  cloud_tcp_.async_connect(target, [this, generation](const boost::system::error_code& ec) {
    if (ec == asio::error::operation_aborted || generation != cloud_generation_) return;
    if (ec) return reconnect_later(generation);
    receive_cloud_tcp();
    send_hello();
  });
}

void SimDevice::reconnect_later(uint64_t generation) {
  hello_timer_.expires_after(milliseconds(1000));
  hello_timer_.async_wait([this, generation](const boost::system::error_code& ec) {
    if (!ec && generation == cloud_generation_ && !silent_) restart_cloud();
  });
}

void SimDevice::send_cloud(std::span<const uint8_t> packet) {
  boost::system::error_code ec;
  if (options_.tcp) {
    // Small packets on loopback: a blocking write is fine in the simulator.
    asio::write(cloud_tcp_, asio::buffer(packet.data(), packet.size()), ec);
  } else {
    cloud_udp_.send(asio::buffer(packet.data(), packet.size()), 0, ec);
  }
}

void SimDevice::send_hello() {
  if (silent_) return;
  // The device->cloud hello of miio_client (§2.3, vector cloud_hello_from_device).
  std::array<uint8_t, kHeaderSize> hello{};
  hello[0] = kMagic[0];
  hello[1] = kMagic[1];
  hello[3] = 0x20;
  std::fill(hello.begin() + 4, hello.begin() + 12, 0xff);
  send_cloud(hello);
  const uint64_t generation = cloud_generation_;
  hello_timer_.expires_after(options_.hello_retry);
  hello_timer_.async_wait([this, generation](const boost::system::error_code& ec) {
    if (ec || generation != cloud_generation_ || time_synced_) return;
    if (options_.tcp) restart_cloud();  // a silent TCP server: reconnect
    else send_hello();
  });
}

void SimDevice::send_ping() {
  if (silent_) return;
  last_ping_ = ping_packet(cloud_cipher_, did_, stamp());
  send_cloud(last_ping_);
  const uint64_t generation = cloud_generation_;
  ping_timer_.expires_after(options_.ping_interval);
  ping_timer_.async_wait([this, generation](const boost::system::error_code& ec) {
    if (!ec && generation == cloud_generation_) send_ping();
  });
}

void SimDevice::send_cloud_message(const std::string& method, const Json& params) {
  if (silent_ || !options_.cloud) return;
  Header header;
  header.did = did_;
  header.stamp = stamp();
  const Json message = {{"id", cloud_message_id_++}, {"method", method}, {"params", params}};
  const auto packet = encode_message(cloud_cipher_, header, message.dump(), kMaxSendPacket);
  if (packet) send_cloud(*packet);
}

void SimDevice::receive_cloud_udp() {
  const uint64_t generation = cloud_generation_;
  cloud_udp_.async_receive(asio::buffer(cloud_in_), [this, generation](const boost::system::error_code& ec, size_t n) {
    if (ec == asio::error::operation_aborted || generation != cloud_generation_) return;
    if (!ec && !silent_) on_cloud_packet(std::span<const uint8_t>(cloud_in_.data(), n));
    receive_cloud_udp();
  });
}

void SimDevice::receive_cloud_tcp() {
  const uint64_t generation = cloud_generation_;
  cloud_tcp_.async_read_some(
      asio::buffer(cloud_in_.data() + cloud_in_size_, cloud_in_.size() - cloud_in_size_),
      [this, generation](const boost::system::error_code& ec, size_t n) {
        if (ec == asio::error::operation_aborted || generation != cloud_generation_) return;
        if (ec) {
          sim::emit({{"event", "cloud_closed"}, {"device", did_hex_}});
          return reconnect_later(generation);
        }
        cloud_in_size_ += n;
        size_t offset = 0;
        while (true) {
          const auto size = frame_size(std::span<const uint8_t>(cloud_in_.data() + offset, cloud_in_size_ - offset));
          if (!size || *size == 0) break;
          if (!silent_) on_cloud_packet(std::span<const uint8_t>(cloud_in_.data() + offset, *size));
          offset += *size;
        }
        std::memmove(cloud_in_.data(), cloud_in_.data() + offset, cloud_in_size_ - offset);
        cloud_in_size_ -= offset;
        receive_cloud_tcp();
      });
}

void SimDevice::on_cloud_packet(std::span<const uint8_t> packet) {
  Header header;
  if (parse_header(packet, header) != Error::none) return;
  if (packet.size() == kHeaderSize && is_hello(packet)) {
    // Time sync: the device adopts the cloud's clock (§2.3).
    if (time_synced_) return;
    time_synced_ = true;
    synced_time_ = header.stamp;
    synced_at_ = Clock::now();
    hello_timer_.cancel();
    sim::emit({{"event", "time_sync"}, {"device", did_hex_}, {"time", header.stamp}});
    if (options_.otc_info)
      send_cloud_message("_otc.info", {{"life", 1000}, {"model", model_}, {"token", hex(cipher_.token())},
                                       {"fw_ver", "3.4.2_71"}, {"hw_ver", "RTL8711AF"}});
    send_ping();
    return;
  }
  if (packet.size() == kHeaderSize) {
    if (std::memcmp(packet.data(), last_ping_.data(), kHeaderSize) != 0) return;
    sim::emit({{"event", "pong"}, {"device", did_hex_}, {"stamp", header.stamp}});
    if (!synced_ && time_synced_) {
      synced_ = true;
      sim::emit({{"event", "cloud_synced"}, {"device", did_hex_}});
    }
    return;
  }
  Message message;
  if (decode_message(packet, cloud_cipher_, message) != Error::none) {
    sim::emit({{"event", "cloud_undecodable"}, {"device", did_hex_}});
    return;
  }
  const auto json = parse_json(message.plaintext);
  sim::emit({{"event", "cloud_reply"}, {"device", did_hex_}, {"message", json ? *json : Json()}});
}

}  // namespace lc::miio
