#include "bridges/miio/cloud_endpoint.h"

#include <algorithm>
#include <cstring>
#include <ctime>
#include <stdexcept>

#include <boost/asio/write.hpp>

#include "bridges/miio/trace.h"

namespace lc::miio {

namespace asio = boost::asio;
using asio::ip::tcp;
using asio::ip::udp;
using Clock = std::chrono::steady_clock;

namespace {

// A TCP peer that does not read its pongs gets this much queued before it is closed.
constexpr size_t kMaxPendingWrite = 16 * 1024;
constexpr size_t kInitialTcpBuffer = 256;

uint32_t system_seconds() { return static_cast<uint32_t>(std::time(nullptr)); }

const char* transport_name(Transport transport) { return transport == Transport::udp ? "udp" : "tcp"; }

}  // namespace

std::string Peer::text() const {
  if (address.is_v6()) return "[" + address.to_string() + "]:" + std::to_string(port);
  return address.to_string() + ":" + std::to_string(port);
}

// One device's TCP connection (ott, §2.1): packets back to back, no extra framing.
class CloudEndpoint::TcpSession : public std::enable_shared_from_this<TcpSession> {
 public:
  TcpSession(CloudEndpoint& owner, tcp::socket socket) : owner_(&owner), socket_(std::move(socket)) {
    boost::system::error_code ec;
    const auto remote = socket_.remote_endpoint(ec);
    peer_ = Peer{remote.address(), remote.port()};
    const auto local = socket_.local_endpoint(ec);
    local_ = local.address();
    in_.resize(kInitialTcpBuffer);
    last_packet_ = Clock::now();
  }

  void start() { read(); }

  // Closes the socket; the owner forgets the session (unless it is the owner closing all).
  void close(bool tell_owner = true) {
    if (closed_) return;
    closed_ = true;
    boost::system::error_code ec;
    socket_.shutdown(tcp::socket::shutdown_both, ec);
    socket_.close(ec);
    if (tell_owner && owner_) owner_->remove(shared_from_this());
    owner_ = nullptr;
  }

  Clock::time_point last_packet() const { return last_packet_; }
  const Peer& peer() const { return peer_; }

 private:
  void read() {
    auto self = shared_from_this();
    socket_.async_read_some(asio::buffer(in_.data() + in_size_, in_.size() - in_size_),
                            [self](const boost::system::error_code& ec, size_t n) { self->on_read(ec, n); });
  }

  void on_read(const boost::system::error_code& ec, size_t n) {
    if (ec == asio::error::operation_aborted || !owner_) return;
    if (ec) {
      close();
      return;
    }
    try {
      in_size_ += n;
      size_t offset = 0;
      while (!closed_) {
        const std::span<const uint8_t> rest(in_.data() + offset, in_size_ - offset);
        const auto size = frame_size(rest);
        if (!size) {
          // Not miIO (e.g. an HTTP "GET /gslb", §2.1) or a broken length: never resync.
          owner_->stats_.drop(offset == 0 && !framed_ ? "tcp_not_miio" : "tcp_bad_frame", peer_.text());
          close();
          return;
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
        const size_t reply_size =
            owner_->handle(rest.first(*size), Transport::tcp, peer_, &local_, owner_->reply_);
        if (reply_size > 0) send(std::span<const uint8_t>(owner_->reply_.data(), reply_size));
        offset += *size;
      }
      if (closed_) return;
      if (offset > 0) {
        std::memmove(in_.data(), in_.data() + offset, in_size_ - offset);
        in_size_ -= offset;
      }
      read();
    } catch (const std::exception& error) {
      if (owner_) owner_->log_.warn("tcp session error: ", error.what());
      close();
    }
  }

  void send(std::span<const uint8_t> bytes) {
    if (pending_.size() + bytes.size() > kMaxPendingWrite) {
      owner_->stats_.drop("tcp_peer_not_reading", peer_.text());
      close();
      return;
    }
    pending_.insert(pending_.end(), bytes.begin(), bytes.end());
    if (!writing_now_) write();
  }

  void write() {
    writing_.swap(pending_);
    pending_.clear();
    writing_now_ = true;
    auto self = shared_from_this();
    asio::async_write(socket_, asio::buffer(writing_), [self](const boost::system::error_code& ec, size_t) {
      self->writing_now_ = false;
      self->writing_.clear();
      if (ec == asio::error::operation_aborted || !self->owner_) return;
      if (ec) {
        self->close();
        return;
      }
      if (!self->pending_.empty()) self->write();
    });
  }

  CloudEndpoint* owner_;
  tcp::socket socket_;
  Peer peer_;
  asio::ip::address local_;
  std::vector<uint8_t> in_;
  size_t in_size_ = 0;
  bool framed_ = false;  // a complete packet has been read: the stream is miIO
  std::vector<uint8_t> writing_, pending_;
  bool writing_now_ = false;
  bool closed_ = false;
  Clock::time_point last_packet_;
};

CloudEndpoint::CloudEndpoint(asio::io_context& io, Endpoint listen, BridgeStats& stats, CloudHandler& handler,
                             CloudOptions options)
    : io_(io),
      listen_(std::move(listen)),
      stats_(stats),
      handler_(handler),
      options_(std::move(options)),
      udp_(io),
      acceptor_(io),
      sweep_timer_(io),
      accept_retry_timer_(io),
      stale_pings_(stats.dropped("ping_not_newer")),
      unanswered_(stats.dropped("no_cloud_key")) {
  if (!options_.clock) options_.clock = system_seconds;
}

CloudEndpoint::~CloudEndpoint() { stop(); }

std::string CloudEndpoint::address_text() const { return Endpoint{listen_.host, port_}.text(); }

void CloudEndpoint::start() {
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(listen_.host, ec);
  if (ec) throw std::runtime_error("miio.listen: " + listen_.text() + " is not an IP address");
  auto fail = [&](const char* what) {
    stop();
    throw std::runtime_error(std::string("miio: cannot ") + what + " " + listen_.text() + ": " + ec.message());
  };

  // UDP and TCP share one port. With port 0 (tests) the kernel picks the UDP port, which may
  // be taken for TCP: then try another.
  for (int attempt = 0;; ++attempt) {
    try {
      udp_.open(listen_, [this](std::span<const uint8_t> datagram, bool truncated, const udp::endpoint& from,
                                UdpBatchSocket::Replies& replies) { on_datagram(datagram, truncated, from, replies); });
    } catch (const std::exception& error) {
      stop();
      throw std::runtime_error(std::string("miio: ") + error.what());
    }
    port_ = udp_.local_endpoint().port();
    const tcp::endpoint tcp_endpoint(address, port_);
    ec = {};
    acceptor_.open(tcp_endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(tcp_endpoint, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (!ec) break;
    if (listen_.port != 0 || attempt == 20) fail("bind TCP");
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    udp_.close();
  }

  // The cap leaves descriptors for everything else in the process (core/net.h).
  connection_cap_ = connection_cap(options_.max_connections);
  running_ = true;
  accept();
  schedule_sweep();
}

void CloudEndpoint::stop() {
  running_ = false;
  boost::system::error_code ec;
  udp_.close();
  acceptor_.close(ec);
  sweep_timer_.cancel();
  accept_retry_timer_.cancel();
  auto sessions = std::move(sessions_);
  sessions_.clear();
  for (const auto& session : sessions) session->close(false);
}

void CloudEndpoint::on_datagram(std::span<const uint8_t> datagram, bool truncated, const udp::endpoint& from,
                                UdpBatchSocket::Replies& replies) {
  try {
    const Peer peer{from.address(), from.port()};
    if (truncated) {
      stats_.packets_in.inc();
      stats_.drop(error_name(Error::too_long), peer.text(), "over " + std::to_string(kMaxReceivePacket) + " bytes");
      return;
    }
    const size_t reply_size = handle(datagram, Transport::udp, peer, nullptr, reply_);
    if (reply_size > 0 && !replies.send(std::span<const uint8_t>(reply_.data(), reply_size), from))
      stats_.dropped("udp_send_failed").inc();
  } catch (const std::exception& error) {
    log_.warn("udp packet handler error: ", error.what());
  }
}

void CloudEndpoint::accept() {
  acceptor_.async_accept([this](const boost::system::error_code& ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !running_) return;
    if (ec) {
      // Out of descriptors or similar: try again shortly instead of spinning.
      stats_.dropped("tcp_accept_failed").inc();
      accept_retry_timer_.expires_after(std::chrono::milliseconds(100));
      accept_retry_timer_.async_wait([this](const boost::system::error_code& wait_ec) {
        if (!wait_ec && running_) accept();
      });
      return;
    }
    if (sessions_.size() >= connection_cap_) {
      boost::system::error_code peer_ec;
      const auto remote = socket.remote_endpoint(peer_ec);
      stats_.drop("tcp_too_many_connections", Peer{remote.address(), remote.port()}.text());
      cap_warning_.refused(log_, "cloud endpoint (TCP)", connection_cap_);
      socket.close(peer_ec);
    } else {
      boost::system::error_code option_ec;
      socket.set_option(tcp::no_delay(true), option_ec);
      auto session = std::make_shared<TcpSession>(*this, std::move(socket));
      sessions_.insert(session);
      session->start();
    }
    accept();
  });
}

void CloudEndpoint::schedule_sweep() {
  const auto period = std::clamp(options_.idle_timeout / 5, std::chrono::milliseconds(10),
                                 std::chrono::milliseconds(5000));
  sweep_timer_.expires_after(period);
  sweep_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || !running_) return;
    try {
      sweep();
    } catch (const std::exception& error) {
      log_.error("tcp idle sweep: ", error.what());
    }
    schedule_sweep();
  });
}

void CloudEndpoint::sweep() {
  const auto oldest = Clock::now() - options_.idle_timeout;
  std::vector<std::shared_ptr<TcpSession>> idle;
  for (const auto& session : sessions_)
    if (session->last_packet() < oldest) idle.push_back(session);
  for (const auto& session : idle) {
    stats_.dropped("tcp_idle_closed").inc();
    if (log_settings::trace()) log_.trace("tcp ", session->peer().text(), " idle, closed");
    session->close();
  }
}

void CloudEndpoint::remove(const std::shared_ptr<TcpSession>& session) { sessions_.erase(session); }

bool CloudEndpoint::ping_is_newer(uint32_t unknown, uint32_t did, Transport transport, uint32_t stamp) {
  const uint64_t key = uint64_t{unknown} << 32 | did;
  auto it = stamps_.find(key);
  if (it == stamps_.end()) {
    if (stamps_.size() >= options_.max_tracked_devices) {
      // Bounded: a flood of made-up ids only costs the real devices one extra echo each.
      stats_.dropped("stamp_table_reset").inc();
      stamps_.clear();
    }
    it = stamps_.emplace(key, Stamps{}).first;
  }
  uint32_t& last = transport == Transport::udp ? it->second.udp : it->second.tcp;
  bool& seen = transport == Transport::udp ? it->second.udp_seen : it->second.tcp_seen;
  if (seen && stamp <= last) return false;
  seen = true;
  last = stamp;
  return true;
}

void CloudEndpoint::trace_packet(const char* direction, Transport transport, const Peer& peer,
                                 std::span<const uint8_t> packet, const char* what) const {
  log_.trace(transport_name(transport), ' ', direction, ' ', peer.text(), ' ', trace_hex(packet), ' ', what);
}

size_t CloudEndpoint::handle(std::span<const uint8_t> packet, Transport transport, const Peer& peer,
                             const asio::ip::address* local, std::span<uint8_t, kMaxSendPacket> reply) {
  stats_.packets_in.inc();
  Header header;
  const Error error = parse_header(packet, header);
  if (error != Error::none) {
    if (log_settings::trace()) trace_packet("in", transport, peer, packet.first(std::min<size_t>(packet.size(), 64)), error_name(error));
    stats_.drop(error_name(error), peer.text(), std::to_string(packet.size()) + " bytes");
    return 0;
  }
  switch (kind_of(packet)) {
    case Kind::hello: {
      // Time sync (§2.3): the hello with bytes 12..15 = now. Never checksum-verified.
      make_time_sync_reply(packet.first<kHeaderSize>(), options_.clock(), reply.first<kHeaderSize>());
      if (log_settings::trace()) {
        trace_packet("in", transport, peer, packet, "hello");
        trace_packet("out", transport, peer, reply.first(kHeaderSize), "time sync");
      }
      stats_.packets_out.inc();
      return kHeaderSize;
    }
    case Kind::header_only: {
      handler_.cloud_heard(header.did);
      // Echo byte for byte (§2.4); a time sync here would restart miio_client (§2.3).
      if (!ping_is_newer(header.unknown, header.did, transport, header.stamp)) {
        stale_pings_.inc();
        if (log_settings::trace()) trace_packet("in", transport, peer, packet, "ping, stamp not newer: no echo");
        return 0;
      }
      if (log_settings::trace()) trace_packet("in", transport, peer, packet, "ping, echoed");
      std::memcpy(reply.data(), packet.data(), kHeaderSize);
      stats_.packets_out.inc();
      return kHeaderSize;
    }
    case Kind::encrypted: {
      handler_.cloud_heard(header.did);
      const Cipher* cipher = handler_.cloud_cipher(header.did);
      if (!cipher) {
        // Readable only with the device's cloud key (§2.7): counted, traced, not answered.
        unanswered_.inc();
        if (log_settings::trace())
          trace_packet("in", transport, peer, packet.first(kHeaderSize), "encrypted message, no cloud key: not answered");
        return 0;
      }
      return answer_message(packet, header, *cipher, transport, peer, local, reply);
    }
  }
  return 0;
}

size_t CloudEndpoint::answer_message(std::span<const uint8_t> packet, const Header& header, const Cipher& cipher,
                                     Transport transport, const Peer& peer, const asio::ip::address* local,
                                     std::span<uint8_t, kMaxSendPacket> reply) {
  Message message;
  const Error error = decode_message(packet, cipher, message);
  if (error != Error::none) {
    stats_.drop(error_name(error), peer.text(), "cloud message");
    return 0;
  }
  const auto json = parse_json(message.plaintext);
  if (!json || !json->is_object()) {
    stats_.drop("bad_json", peer.text(), "cloud message");
    return 0;
  }
  if (log_settings::trace())
    log_.trace(transport_name(transport), " in ", peer.text(), ' ', trace_hex(packet.first(kHeaderSize)), "... ",
               redact(*json).dump());

  Json answer;
  const auto id = json->find("id");
  const auto method = json->find("method");
  if (method != json->end() && method->is_string() && id != json->end() && id->is_number_integer()) {
    const auto& name = method->get_ref<const std::string&>();
    if (name == "_otc.info") {
      // Point the device's cloud lists at us (§2.6, dummycloud/Valetudo shape).
      asio::ip::address ours = local ? *local : asio::ip::address();
      if (!local) {
        const auto bound = udp_.local_endpoint().address();
        if (!bound.is_unspecified()) {
          ours = bound;
        } else {
          // The address the device reaches us at: the route towards it.
          boost::system::error_code ec;
          udp::socket probe(io_);
          probe.connect(udp::endpoint(peer.address, peer.port ? peer.port : 8053), ec);
          if (!ec) ours = probe.local_endpoint(ec).address();
        }
      }
      const Json server = {{"ip", ours.to_string()}, {"port", port_}};
      answer = {{"id", *id},
                {"result",
                 {{"otc_list", Json::array({server})},
                  {"otc_test", {{"list", Json::array({server})}, {"interval", 1800}, {"firsttest", 1193}}}}}};
    } else {
      // props, event.*, _async.*, and whatever else: acknowledged as the cloud does (§2.6).
      answer = {{"id", *id}, {"result", "ok"}};
    }
  }
  handler_.cloud_message(header.did, *json);
  if (answer.is_null()) return 0;  // results/errors of cloud commands get no answer

  Header reply_header;
  reply_header.unknown = header.unknown;
  reply_header.did = header.did;
  reply_header.stamp = header.stamp;  // dummycloud copies the request's header (§2.6)
  const auto encoded = encode_message(cipher, reply_header, answer.dump());
  if (!encoded) {
    stats_.dropped("reply_too_large").inc();
    return 0;
  }
  if (log_settings::trace())
    log_.trace(transport_name(transport), " out ", peer.text(), ' ', trace_hex(std::span(*encoded).first(kHeaderSize)),
               "... ", redact(answer).dump());
  std::memcpy(reply.data(), encoded->data(), encoded->size());
  stats_.packets_out.inc();
  return encoded->size();
}

}  // namespace lc::miio
