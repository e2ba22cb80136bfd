#include "core/udp_batch.h"

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "core/log.h"
#include "core/metrics.h"

namespace lc {

namespace asio = boost::asio;

namespace {

constexpr int kReceiveBuffer = 4 << 20;  // room for bursts of small keepalives
constexpr int kBatchesPerWakeup = 8;     // then yield to the other sockets on the io_context

size_t to_sockaddr(const asio::ip::udp::endpoint& endpoint, sockaddr_storage& out) {
  const auto size = endpoint.size();
  std::memcpy(&out, endpoint.data(), size);
  return size;
}

asio::ip::udp::endpoint from_sockaddr(const sockaddr_storage& address, socklen_t length) {
  asio::ip::udp::endpoint endpoint;
  const size_t size = std::min<size_t>(length, endpoint.capacity());
  std::memcpy(endpoint.data(), &address, size);
  endpoint.resize(size);
  return endpoint;
}

}  // namespace

bool UdpBatchSocket::Replies::send(std::span<const uint8_t> bytes, const Endpoint& to) {
  auto& o = owner_;
  if (bytes.size() > kMaxReply) return false;
  if (o.queued_ == kBatch) o.flush_replies();
  const size_t slot = o.queued_++;
  uint8_t* buffer = o.out_buffers_.data() + slot * kMaxReply;
  std::memcpy(buffer, bytes.data(), bytes.size());
  o.out_iov_[slot] = {buffer, bytes.size()};
  auto& header = o.out_headers_[slot].msg_hdr;
  header = {};
  header.msg_name = &o.out_addresses_[slot];
  header.msg_namelen = static_cast<socklen_t>(to_sockaddr(to, o.out_addresses_[slot]));
  header.msg_iov = &o.out_iov_[slot];
  header.msg_iovlen = 1;
  return true;
}

UdpBatchSocket::UdpBatchSocket(asio::io_context& io)
    : socket_(io), in_buffers_(kBatch * kMaxDatagram), out_buffers_(kBatch * kMaxReply) {}

UdpBatchSocket::~UdpBatchSocket() { close(); }

void UdpBatchSocket::open(const lc::Endpoint& listen, Handler handler, Counter* out) {
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(listen.host, ec);
  if (ec) throw std::runtime_error("cannot listen on " + listen.text() + "/udp: not an IP address");
  const Endpoint endpoint(address, listen.port);
  socket_.open(endpoint.protocol(), ec);
  if (!ec) socket_.bind(endpoint, ec);
  if (ec) {
    socket_.close();
    throw std::runtime_error("cannot listen on " + listen.text() + "/udp: " + ec.message());
  }
  socket_.non_blocking(true, ec);
  socket_.set_option(asio::socket_base::receive_buffer_size(kReceiveBuffer), ec);  // best effort
  handler_ = std::move(handler);
  out_ = out;
  for (size_t i = 0; i < kBatch; ++i) {
    in_iov_[i] = {in_buffers_.data() + i * kMaxDatagram, kMaxDatagram};
  }
  wait();
}

void UdpBatchSocket::close() {
  boost::system::error_code ignored;
  socket_.close(ignored);
}

UdpBatchSocket::Endpoint UdpBatchSocket::local_endpoint() const {
  boost::system::error_code ec;
  return socket_.local_endpoint(ec);
}

bool UdpBatchSocket::send_to(std::span<const uint8_t> bytes, const Endpoint& to) {
  if (!socket_.is_open()) return false;
  boost::system::error_code ec;
  socket_.send_to(asio::buffer(bytes.data(), bytes.size()), to, 0, ec);
  if (ec) return false;
  if (out_) out_->inc();
  return true;
}

void UdpBatchSocket::wait() {
  socket_.async_wait(asio::ip::udp::socket::wait_read, [this](const boost::system::error_code& ec) {
    if (ec) return;  // closed
    drain();
    if (socket_.is_open()) wait();
  });
}

void UdpBatchSocket::drain() {
  const int fd = socket_.native_handle();
  for (int round = 0; round < kBatchesPerWakeup; ++round) {
    for (size_t i = 0; i < kBatch; ++i) {
      auto& header = in_headers_[i].msg_hdr;
      header = {};
      header.msg_name = &in_addresses_[i];
      header.msg_namelen = sizeof(sockaddr_storage);
      header.msg_iov = &in_iov_[i];
      header.msg_iovlen = 1;
    }
    const int received = ::recvmmsg(fd, in_headers_.data(), kBatch, MSG_DONTWAIT, nullptr);
    if (received <= 0) break;  // EAGAIN: drained (errors such as ECONNREFUSED are per datagram)
    for (int i = 0; i < received; ++i) {
      const auto& header = in_headers_[i].msg_hdr;
      const bool truncated = (header.msg_flags & MSG_TRUNC) != 0;
      const size_t length = std::min<size_t>(in_headers_[i].msg_len, kMaxDatagram);
      const auto from = from_sockaddr(in_addresses_[i], header.msg_namelen);
      try {
        handler_(std::span<const uint8_t>(in_buffers_.data() + i * kMaxDatagram, length), truncated, from, replies_);
      } catch (const std::exception& error) {  // one bad datagram must not stop the others
        Logger("udp").error("datagram from ", to_string(from), " not handled: ", error.what());
      }
      if (!socket_.is_open()) return;
    }
    flush_replies();
    if (static_cast<size_t>(received) < kBatch) break;
  }
}

void UdpBatchSocket::flush_replies() {
  size_t sent = 0;
  while (sent < queued_) {
    const int n = ::sendmmsg(socket_.native_handle(), out_headers_.data() + sent, static_cast<unsigned>(queued_ - sent),
                             MSG_DONTWAIT);
    if (n <= 0) {
      if (n < 0 && errno == EINTR) continue;
      ++sent;  // this reply cannot go (buffer full, unreachable peer): skip it, keep the rest
      continue;
    }
    if (out_) out_->inc(static_cast<uint64_t>(n));
    sent += static_cast<size_t>(n);
  }
  queued_ = 0;
}

}  // namespace lc
