// A UDP socket served in batches (the hot path of the UDP cloud stand-ins): when the socket
// is readable, up to kBatch datagrams are read with one recvmmsg(2), each is handed to the
// handler, and the replies it queued leave together in one sendmmsg(2). No allocation per
// datagram: buffers are sized once.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>

#include "core/net.h"

namespace lc {

class Counter;

class UdpBatchSocket {
 public:
  static constexpr size_t kBatch = 64;
  static constexpr size_t kMaxDatagram = 4096;  // larger datagrams arrive truncated (flagged)
  static constexpr size_t kMaxReply = 1500;

  using Endpoint = boost::asio::ip::udp::endpoint;

  // Queues a reply for the batch being handled (sent right after it).
  class Replies {
   public:
    // False (and nothing queued) when `bytes` is over kMaxReply.
    bool send(std::span<const uint8_t> bytes, const Endpoint& to);

   private:
    friend class UdpBatchSocket;
    explicit Replies(UdpBatchSocket& owner) : owner_(owner) {}
    UdpBatchSocket& owner_;
  };

  // `truncated` is true when the datagram was larger than kMaxDatagram (only its start is given).
  using Handler = std::function<void(std::span<const uint8_t> datagram, bool truncated, const Endpoint& from,
                                     Replies& replies)>;

  explicit UdpBatchSocket(boost::asio::io_context& io);
  ~UdpBatchSocket();
  UdpBatchSocket(const UdpBatchSocket&) = delete;
  UdpBatchSocket& operator=(const UdpBatchSocket&) = delete;

  // Binds (SO_REUSEADDR off, receive buffer enlarged) and starts serving; throws
  // std::runtime_error naming the address on failure. `out` counts sent datagrams when given.
  void open(const lc::Endpoint& listen, Handler handler, Counter* out = nullptr);
  void close();
  bool is_open() const { return socket_.is_open(); }
  Endpoint local_endpoint() const;

  // Sends one datagram now, outside a batch (requests the bridge originates). Best effort:
  // false when the kernel would block or refuses it.
  bool send_to(std::span<const uint8_t> bytes, const Endpoint& to);

 private:
  void wait();
  void drain();
  void flush_replies();

  boost::asio::ip::udp::socket socket_;
  Handler handler_;
  Counter* out_ = nullptr;
  std::vector<uint8_t> in_buffers_;   // kBatch * kMaxDatagram
  std::vector<uint8_t> out_buffers_;  // kBatch * kMaxReply
  std::array<mmsghdr, kBatch> in_headers_{};
  std::array<iovec, kBatch> in_iov_{};
  std::array<sockaddr_storage, kBatch> in_addresses_{};
  std::array<mmsghdr, kBatch> out_headers_{};
  std::array<iovec, kBatch> out_iov_{};
  std::array<sockaddr_storage, kBatch> out_addresses_{};
  size_t queued_ = 0;
  Replies replies_{*this};
};

}  // namespace lc
