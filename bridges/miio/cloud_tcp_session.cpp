// A device's TCP connection to the cloud endpoint. § are sections of docs/protocols/miio.md.
#include "bridges/miio/cloud_tcp_session.h"

#include <cstring>

#include <boost/asio/write.hpp>

#include "bridges/miio/codec.h"

namespace lc::miio {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

// A TCP peer that does not read its pongs gets this much queued before it is closed.
constexpr size_t kMaxPendingWrite = 16 * 1024;
constexpr size_t kInitialBuffer = 256;

}  // namespace

std::string Peer::text() const {
  if (address.is_v6()) return "[" + address.to_string() + "]:" + std::to_string(port);
  return address.to_string() + ":" + std::to_string(port);
}

CloudTcpSession::CloudTcpSession(Owner& owner, tcp::socket socket, ConnectionSlot slot, BridgeStats& stats)
    : owner_(&owner), socket_(std::move(socket)), slot_(std::move(slot)), stats_(stats) {
  boost::system::error_code ec;
  const auto remote = socket_.remote_endpoint(ec);
  peer_ = Peer{remote.address(), remote.port()};
  local_ = socket_.local_endpoint(ec).address();
  in_.resize(kInitialBuffer);
  last_packet_ = Clock::now();
}

void CloudTcpSession::close(bool tell_owner) {
  if (closed_) return;
  closed_ = true;
  boost::system::error_code ec;
  socket_.shutdown(tcp::socket::shutdown_both, ec);
  socket_.close(ec);
  slot_.release();
  if (tell_owner && owner_) owner_->tcp_closed(shared_from_this());
  owner_ = nullptr;
}

void CloudTcpSession::read() {
  socket_.async_read_some(asio::buffer(in_.data() + in_size_, in_.size() - in_size_),
                          [self = shared_from_this()](const boost::system::error_code& ec, size_t n) {
                            self->on_read(ec, n);
                          });
}

void CloudTcpSession::on_read(const boost::system::error_code& ec, size_t n) {
  if (ec == asio::error::operation_aborted || !owner_) return;
  if (ec) return close();
  try {
    in_size_ += n;
    if (consume()) read();
  } catch (const std::exception& error) {
    if (owner_) log_.warn("tcp session error: ", error.what());
    close();
  }
}

bool CloudTcpSession::consume() {
  size_t offset = 0;
  while (!closed_) {
    const std::span<const uint8_t> rest(in_.data() + offset, in_size_ - offset);
    const auto size = frame_size(rest);
    if (!size) {
      // Not miIO (e.g. an HTTP "GET /gslb", §2.1) or a broken length: never resync.
      stats_.drop(offset == 0 && !framed_ ? "tcp_not_miio" : "tcp_bad_frame", peer_.text());
      close();
      return false;
    }
    if (*size == 0) {
      // Incomplete: make room for the whole packet once its length is known.
      if (rest.size() >= 4) {
        const size_t needed = size_t{rest[2]} << 8 | rest[3];
        if (offset > 0) std::memmove(in_.data(), rest.data(), rest.size());
        in_size_ = rest.size();
        if (in_.size() < needed) in_.resize(needed);
        offset = 0;
      }
      break;
    }
    framed_ = true;
    last_packet_ = Clock::now();
    const auto reply = owner_->tcp_packet(rest.first(*size), peer_, local_);
    if (!reply.empty()) send(reply);
    offset += *size;
  }
  if (closed_) return false;
  if (offset > 0) {
    std::memmove(in_.data(), in_.data() + offset, in_size_ - offset);
    in_size_ -= offset;
  }
  return true;
}

void CloudTcpSession::send(std::span<const uint8_t> bytes) {
  if (pending_.size() + bytes.size() > kMaxPendingWrite) {
    stats_.drop("tcp_peer_not_reading", peer_.text());
    close();
    return;
  }
  pending_.insert(pending_.end(), bytes.begin(), bytes.end());
  if (!writing_now_) write();
}

void CloudTcpSession::write() {
  writing_.swap(pending_);
  pending_.clear();
  writing_now_ = true;
  asio::async_write(socket_, asio::buffer(writing_), [self = shared_from_this()](const boost::system::error_code& ec, size_t) {
    self->writing_now_ = false;
    self->writing_.clear();
    if (ec == asio::error::operation_aborted || !self->owner_) return;
    if (ec) return self->close();
    if (!self->pending_.empty()) self->write();
  });
}

}  // namespace lc::miio
