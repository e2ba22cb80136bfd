// The cloud stand-in of cloud_endpoint.h. § are sections of docs/protocols/miio.md.
#include "bridges/miio/cloud_endpoint.h"

#include <algorithm>
#include <cstring>
#include <ctime>
#include <stdexcept>

#include "bridges/miio/trace.h"

namespace lc::miio {

namespace asio = boost::asio;
using asio::ip::tcp;
using asio::ip::udp;
using Clock = std::chrono::steady_clock;

namespace {

// With listen port 0 (tests) the kernel picks the UDP port, which may be taken for TCP.
constexpr int kBindAttempts = 20;

uint32_t system_seconds() { return static_cast<uint32_t>(std::time(nullptr)); }

const char* transport_name(Transport transport) { return transport == Transport::udp ? "udp" : "tcp"; }

TcpListenerOptions listener_options(const CloudOptions& options) {
  TcpListenerOptions out;
  out.name = "cloud endpoint (TCP)";
  out.max_connections = options.max_connections;
  out.budget = &DescriptorBudget::process();  // one device connection per descriptor
  return out;
}

}  // namespace

CloudEndpoint::CloudEndpoint(asio::io_context& io, Endpoint listen, BridgeStats& stats, CloudHandler& handler,
                             CloudOptions options)
    : io_(io),
      listen_(std::move(listen)),
      stats_(stats),
      handler_(handler),
      options_(std::move(options)),
      udp_(io),
      tcp_(io, log_, listener_options(options_)),
      sweep_timer_(io),
      stale_pings_(stats.dropped("ping_not_newer")),
      unanswered_(stats.dropped("no_cloud_key")) {
  if (!options_.clock) options_.clock = system_seconds;
}

CloudEndpoint::~CloudEndpoint() { stop(); }

std::string CloudEndpoint::address_text() const { return Endpoint{listen_.host, port_}.text(); }

void CloudEndpoint::start() {
  bind();
  running_ = true;
  tcp_.start({.accepted = [this](tcp::socket socket, ConnectionSlot slot) { accepted(std::move(socket), std::move(slot)); },
              .refused =
                  [this](const tcp::endpoint& peer) {
                    stats_.drop("tcp_too_many_connections", Peer{peer.address(), peer.port()}.text());
                  },
              .accept_failed = [this](const boost::system::error_code&) { stats_.dropped("tcp_accept_failed").inc(); }});
  schedule_sweep();
}

// UDP and TCP on one port; throws with the address when either cannot be bound.
void CloudEndpoint::bind() {
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(listen_.host, ec);
  if (ec) throw std::runtime_error("miio.listen: " + listen_.text() + " is not an IP address");
  for (int attempt = 0;; ++attempt) {
    try {
      udp_.open(listen_, [this](std::span<const uint8_t> datagram, bool truncated, const udp::endpoint& from,
                                UdpBatchSocket::Replies& replies) { on_datagram(datagram, truncated, from, replies); });
    } catch (const std::exception& error) {
      stop();
      throw std::runtime_error(std::string("miio: ") + error.what());
    }
    port_ = udp_.local_endpoint().port();
    ec = tcp_.open(tcp::endpoint(address, port_));
    if (!ec) return;
    if (listen_.port != 0 || attempt == kBindAttempts) {
      stop();
      throw std::runtime_error("miio: cannot bind TCP " + listen_.text() + ": " + ec.message());
    }
    udp_.close();  // the kernel's UDP port is taken for TCP: try another
  }
}

void CloudEndpoint::stop() {
  running_ = false;
  udp_.close();
  tcp_.close();
  sweep_timer_.cancel();
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

void CloudEndpoint::accepted(tcp::socket socket, ConnectionSlot slot) {
  if (!running_) return;
  boost::system::error_code ec;
  socket.set_option(tcp::no_delay(true), ec);
  CloudTcpSession::Owner& owner = *this;
  auto session = std::make_shared<CloudTcpSession>(owner, std::move(socket), std::move(slot), stats_);
  sessions_.insert(session);
  session->start();
}

std::span<const uint8_t> CloudEndpoint::tcp_packet(std::span<const uint8_t> packet, const Peer& peer,
                                                   const asio::ip::address& local) {
  const size_t size = handle(packet, Transport::tcp, peer, &local, reply_);
  return std::span<const uint8_t>(reply_.data(), size);
}

void CloudEndpoint::tcp_closed(const std::shared_ptr<CloudTcpSession>& session) { sessions_.erase(session); }

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
  std::vector<std::shared_ptr<CloudTcpSession>> idle;
  for (const auto& session : sessions_)
    if (session->last_packet() < oldest) idle.push_back(session);
  for (const auto& session : idle) {
    stats_.dropped("tcp_idle_closed").inc();
    if (log_settings::trace()) log_.trace("tcp ", session->peer().text(), " idle, closed");
    session->close();
  }
}

namespace {
constexpr uint32_t kStampRestartGap = 600;  // seconds; ping-pong stamps differ by one
}  // namespace

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
  // Valetudo echoes only newer stamps so that two clocks cannot ping-pong (34→33→34…, see
  // docs/protocols/miio.md §2.4). A stamp far behind the last one is a restart of a device
  // whose stamp counts from boot, not a ping-pong: start again from it, or the device would get
  // no echo until its new stamps passed the old ones.
  if (seen && stamp <= last && last - stamp <= kStampRestartGap) return false;
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
    case PacketKind::hello: {
      // Time sync (§2.3): the hello with bytes 12..15 = now. Never checksum-verified.
      make_time_sync_reply(packet.first<kHeaderSize>(), options_.clock(), reply.first<kHeaderSize>());
      if (log_settings::trace()) {
        trace_packet("in", transport, peer, packet, "hello");
        trace_packet("out", transport, peer, reply.first(kHeaderSize), "time sync");
      }
      stats_.packets_out.inc();
      return kHeaderSize;
    }
    case PacketKind::header_only: {
      // The keepalive hot path: no allocation, no lookup by string.
      handler_.cloud_heard(header.did);
      // Echo byte for byte (§2.4); a time sync here would restart miio_client (§2.3).
      const bool newer = ping_is_newer(header.unknown, header.did, transport, header.stamp);
      handler_.cloud_exchange(header.did, "ping", newer ? "pong" : "");
      if (!newer) {
        stale_pings_.inc();
        if (log_settings::trace()) trace_packet("in", transport, peer, packet, "ping, stamp not newer: no echo");
        return 0;
      }
      if (log_settings::trace()) trace_packet("in", transport, peer, packet, "ping, echoed");
      std::memcpy(reply.data(), packet.data(), kHeaderSize);
      stats_.packets_out.inc();
      return kHeaderSize;
    }
    case PacketKind::encrypted: {
      handler_.cloud_heard(header.did);
      const Cipher* cipher = handler_.cloud_cipher(header.did);
      if (!cipher) {
        // Readable only with the device's cloud key (§2.7): counted, traced, not answered.
        unanswered_.inc();
        handler_.cloud_exchange(header.did, "encrypted message", "");
        if (log_settings::trace())
          trace_packet("in", transport, peer, packet.first(kHeaderSize), "encrypted message, no cloud key: not answered");
        return 0;
      }
      return answer_message(packet, header, *cipher, transport, peer, local, reply);
    }
  }
  return 0;
}

// The address the device reaches us at, for _otc.info's server list.
asio::ip::address CloudEndpoint::address_towards(const Peer& peer, const asio::ip::address* local) {
  if (local) return *local;
  const auto bound = udp_.local_endpoint().address();
  if (!bound.is_unspecified()) return bound;
  // Bound to every address: the one of the route towards the device.
  boost::system::error_code ec;
  udp::socket probe(io_);
  probe.connect(udp::endpoint(peer.address, peer.port ? peer.port : 8053), ec);
  return ec ? asio::ip::address() : probe.local_endpoint(ec).address();
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
    if (method->get_ref<const std::string&>() == "_otc.info") {
      // Point the device's cloud lists at us (§2.6, dummycloud/Valetudo shape).
      const Json server = {{"ip", address_towards(peer, local).to_string()}, {"port", port_}};
      answer = {{"id", *id},
                {"result",
                 {{"otc_list", Json::array({server})},
                  {"otc_test", {{"list", Json::array({server})}, {"interval", 1800}, {"firsttest", 1193}}}}}};
    } else {
      // props, properties_changed, event.*, _async.*, and whatever else: acknowledged as the
      // cloud does (§2.6).
      answer = {{"id", *id}, {"result", "ok"}};
    }
  }
  handler_.cloud_message(header.did, *json);
  handler_.cloud_exchange(header.did, method != json->end() && method->is_string() ? method->get_ref<const std::string&>() : "message",
                          answer.is_null() ? "" : (answer["result"].is_object() ? "otc list" : "ok"));
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
