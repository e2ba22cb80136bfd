// CloudEndpoint (endpoint.h). Section numbers (§N) are those of docs/protocols/timeguard.md.
#include "bridges/timeguard/endpoint.h"

#include <stdexcept>

#include "core/coarse_clock.h"

namespace lc::timeguard {
namespace {

uint32_t unix_now() {
  using namespace std::chrono;
  return static_cast<uint32_t>(duration_cast<seconds>(system_clock::now().time_since_epoch()).count());
}

const char* parsing_name(Parse parse) {
  switch (parse) {
    case Parse::success: return "success";
    case Parse::unknown: return "unknown";
    case Parse::short_params: return "failed";
  }
  return "failed";
}

}  // namespace

CloudEndpoint::CloudEndpoint(boost::asio::io_context& io, Options options, Metrics& metrics, BridgeStats& stats,
                             Handler& handler)
    : options_(std::move(options)),
      stats_(stats),
      handler_(handler),
      socket_(io),
      resolver_(io),
      resolve_timer_(io),
      forwarded_up_(metrics.counter("localcloud_timeguard_forwarded_total",
                                    "Datagrams forwarded between devices and the upstream cloud",
                                    {{"direction", "upstream"}})),
      forwarded_down_(metrics.counter("localcloud_timeguard_forwarded_total",
                                      "Datagrams forwarded between devices and the upstream cloud",
                                      {{"direction", "device"}})),
      suppressed_(metrics.counter("localcloud_timeguard_suppressed_total",
                                  "Upstream ping replies and version acks not delivered (fallback mode)")) {}

void CloudEndpoint::start() {
  using boost::asio::ip::make_address;
  boost::system::error_code ec;
  if (options_.mode != Mode::local) {
    if (!options_.upstream || options_.upstream->empty())
      throw std::runtime_error("timeguard.mode fallback/relay needs timeguard.upstream");
    const auto literal = make_address(options_.upstream->host, ec);
    if (!ec) accept_upstream(literal, options_.upstream->port, true);  // a name: resolved below
  }
  socket_.open(options_.listen,
               [this](std::span<const uint8_t> datagram, bool truncated, const udp::endpoint& from, Replies& replies) {
                 try {
                   process(datagram, truncated, from, replies);
                 } catch (const std::exception& error) {
                   log_.error("handling a datagram from ", to_string(from), ": ", error.what());
                 }
               },
               &stats_.packets_out);
  running_ = true;
  if (options_.mode != Mode::local && !upstream_) resolve_upstream();
}

void CloudEndpoint::stop() {
  running_ = false;
  socket_.close();
  resolver_.cancel();
  resolve_timer_.cancel();
}

bool CloudEndpoint::accept_upstream(const boost::asio::ip::address& address, uint16_t port, bool fatal) {
  if (reaches_listener(address, port, options_.listen)) {
    const std::string message = "timeguard.upstream " + options_.upstream->text() + " (" +
                                to_string(udp::endpoint(address, port)) + ") reaches our own listener " +
                                options_.listen.text() + ": refusing to forward to ourselves";
    if (fatal) throw std::runtime_error(message);
    log_.error(message);
    return false;
  }
  upstream_ = udp::endpoint(address, port);
  return true;
}

void CloudEndpoint::resolve_upstream() {
  if (!running_) return;
  resolver_.async_resolve(
      options_.upstream->host, std::to_string(options_.upstream->port),
      [this, alive = std::weak_ptr<bool>(alive_)](const boost::system::error_code& ec,
                                                  udp::resolver::results_type results) {
        if (ec == boost::asio::error::operation_aborted || alive.expired() || !running_) return;
        try {
          bool found = false;
          if (!ec) {
            for (const auto& entry : results) {
              if (entry.endpoint().protocol() != socket_.local_endpoint().protocol()) continue;
              if (accept_upstream(entry.endpoint().address(), entry.endpoint().port(), false)) {
                found = true;
                break;
              }
            }
          }
          if (!found && !ec) log_.warn("timeguard.upstream ", options_.upstream->text(), ": no usable address");
          if (ec) log_.warn("timeguard.upstream ", options_.upstream->text(), ": cannot resolve: ", ec.message());
          resolve_timer_.expires_after(found ? options_.resolve_interval : std::chrono::seconds(30));
          resolve_timer_.async_wait([this, alive](const boost::system::error_code& wait_ec) {
            if (!wait_ec && !alive.expired()) resolve_upstream();
          });
        } catch (const std::exception& error) {
          log_.error("upstream resolution: ", error.what());
        }
      });
}

std::string CloudEndpoint::bound_address() const {
  if (!socket_.is_open()) return options_.listen.text();
  return to_string(socket_.local_endpoint());
}

CloudEndpoint::udp::endpoint CloudEndpoint::local_endpoint() const { return socket_.local_endpoint(); }

void CloudEndpoint::process(std::span<const uint8_t> datagram, bool truncated, const udp::endpoint& from,
                            Replies& replies) {
  if (!running_) return;
  stats_.packets_in.inc();
  if (truncated) {
    // Over UdpBatchSocket::kMaxDatagram: no Timeguard frame is anywhere near that (the largest
    // known is 99 bytes), and a cut datagram cannot be forwarded faithfully either.
    if (log_settings::trace()) trace(to_string(from), "void", "failed", datagram);
    stats_.drop("oversized", to_string(from), std::to_string(datagram.size()) + "+ bytes");
    return;
  }
  // Frames the bridge sends while it handles this datagram leave after our replies (a first-
  // sight read never overtakes the ping reply).
  batch_ = &replies;
  struct Reset {
    Replies*& batch;
    ~Reset() { batch = nullptr; }
  } reset{batch_};
  if (upstream_ && from == *upstream_)
    from_upstream(datagram, from, replies);
  else
    from_device(datagram, from, replies);
}

void CloudEndpoint::from_device(std::span<const uint8_t> datagram, const udp::endpoint& from, Replies& replies) {
  const bool relay = options_.mode == Mode::relay;
  FrameView frame;
  const FrameError error = parse_frame(datagram, frame);
  if (error != FrameError::none) {
    if (relay && upstream_) {
      if (log_settings::trace()) trace(to_string(from), to_string(*upstream_), "failed", datagram);
      if (auto id = peek_device_id(datagram)) remember(*id, from);
      if (send(datagram, *upstream_, replies)) forwarded_up_.inc();
      return;
    }
    if (log_settings::trace()) trace(to_string(from), "void", "failed", datagram);
    stats_.drop(reason(error), to_string(from), drop_detail(datagram));
    return;
  }
  if (frame.flags & flag::from_server) {
    // A server-style frame from a device address: nobody should send these to us.
    if (log_settings::trace()) trace(to_string(from), "void", "unknown", datagram);
    stats_.drop("server_frame_from_device", to_string(from));
    return;
  }
  const Classified classified = classify(frame);
  remember(frame.device_id, from);

  if (log_settings::trace()) {
    const std::string dst = options_.mode == Mode::local || !upstream_ ? "local" : to_string(*upstream_);
    trace(to_string(from), dst, parsing_name(classified.parse), datagram);
  }

  if (!relay) {
    // The two mandatory replies (§4.2), before anything else happens.
    size_t size = 0;
    if (classified.kind == Kind::ping) {
      size = encode_ping_reply(frame.device_id, frame.seq, unix_now(), reply_);
    } else if (classified.kind == Kind::code_version_report) {
      auto version = frame.params;
      if (frame_size(version.size()) > reply_.size()) version = version.first(13);
      size = encode_version_ack(frame.device_id, frame.seq, version, reply_);
    }
    if (size) {
      const auto reply = std::span<const uint8_t>(reply_.data(), size);
      if (log_settings::trace()) trace("internal", to_string(from), "success", reply);
      send(reply, from, replies);
    }
  }
  if (options_.mode != Mode::local) {
    if (upstream_) {
      if (send(datagram, *upstream_, replies)) forwarded_up_.inc();
    } else {
      stats_.dropped("upstream_unresolved").inc();
    }
  }
  handler_.device_frame(frame, classified);
}

void CloudEndpoint::from_upstream(std::span<const uint8_t> datagram, const udp::endpoint& from, Replies& replies) {
  const bool relay = options_.mode == Mode::relay;
  FrameView frame;
  const FrameError error = parse_frame(datagram, frame);
  std::optional<uint32_t> device_id;
  const char* parsing = "failed";
  if (error == FrameError::none) {
    device_id = frame.device_id;
    parsing = parsing_name(classify(frame).parse);
  } else if (relay) {
    device_id = peek_device_id(datagram);
  } else {
    if (log_settings::trace()) trace(to_string(from), "void", "failed", datagram);
    stats_.drop(reason(error), to_string(from), "from upstream");
    return;
  }
  const auto device = device_id ? devices_.find(*device_id) : devices_.end();
  if (device == devices_.end()) {
    if (log_settings::trace()) trace(to_string(from), "void", parsing, datagram);
    stats_.drop("unknown_device", to_string(from), "upstream frame for a device never heard");
    return;
  }
  if (!relay && error == FrameError::none) {
    // Fallback: we already answered these two (§5.1, TGM should_discard_server_query_in_fallback_mode).
    const Kind kind = kind_of(frame.type, frame.flags);
    if (kind == Kind::ping_reply || kind == Kind::code_version_ack) {
      if (log_settings::trace())
        trace(to_string(from), "void(" + device->second.address.address().to_string() + ")", parsing, datagram);
      suppressed_.inc();
      return;
    }
  }
  if (log_settings::trace()) trace(to_string(from), to_string(device->second.address), parsing, datagram);
  if (send(datagram, device->second.address, replies)) forwarded_down_.inc();
}

void CloudEndpoint::remember(uint32_t device_id, const udp::endpoint& from) {
  const auto now = coarse_steady_now();
  auto it = devices_.find(device_id);
  if (it != devices_.end()) {
    it->second.address = from;  // the latest source address wins (§7 gotcha 4)
    it->second.last_heard = now;
    return;
  }
  if (devices_.size() >= options_.max_devices) {
    auto oldest = devices_.begin();
    for (auto candidate = devices_.begin(); candidate != devices_.end(); ++candidate)
      if (candidate->second.last_heard < oldest->second.last_heard) oldest = candidate;
    devices_.erase(oldest);
    stats_.dropped("device_table_full").inc();
  }
  devices_.emplace(device_id, DeviceAddress{from, now});
}

bool CloudEndpoint::send(std::span<const uint8_t> datagram, const udp::endpoint& to, Replies& replies) {
  if (replies.send(datagram, to)) return true;
  if (socket_.send_to(datagram, to)) return true;
  stats_.drop("send_failed", to_string(to), std::to_string(datagram.size()) + " bytes");
  return false;
}

bool CloudEndpoint::send_to_device(uint32_t device_id, std::span<const uint8_t> frame) {
  const auto it = devices_.find(device_id);
  if (it == devices_.end() || !running_) return false;
  if (log_settings::trace()) trace("internal", to_string(it->second.address), "success", frame);
  if (batch_) return send(frame, it->second.address, *batch_);
  if (socket_.send_to(frame, it->second.address)) return true;
  stats_.drop("send_failed", to_string(it->second.address), std::to_string(frame.size()) + " bytes");
  return false;
}

std::optional<CloudEndpoint::udp::endpoint> CloudEndpoint::device_address(uint32_t device_id) const {
  const auto it = devices_.find(device_id);
  if (it == devices_.end()) return std::nullopt;
  return it->second.address;
}

std::string CloudEndpoint::drop_detail(std::span<const uint8_t> datagram) const {
  // The bytes only at debug level (formatting them for every bad datagram of a flood costs),
  // with the device id masked like in trace lines.
  std::string detail = std::to_string(datagram.size()) + " bytes";
  if (Logger::enabled(Level::debug) && datagram.size() <= 256)
    detail += ": " + hex(log_settings::mask_ids() ? masked_copy(datagram) : Bytes(datagram.begin(), datagram.end()));
  return detail;
}

void CloudEndpoint::trace(std::string_view src, std::string_view dst, std::string_view parsing,
                          std::span<const uint8_t> datagram) const {
  // timeguard-mqtt --debug format; with mask_ids the id is replaced in the printed copy and
  // the CRC recomputed (TGM --mask), never on the wire.
  const auto device_id = peek_device_id(datagram);
  std::string suffix;
  if (device_id) suffix = " (device " + mask_id(device_key(*device_id)) + ")";
  if (log_settings::mask_ids())
    log_.trace("[", src, " -> ", dst, "] [parsing:", parsing, "] ", hex(masked_copy(datagram)), suffix);
  else
    log_.trace("[", src, " -> ", dst, "] [parsing:", parsing, "] ", hex(datagram), suffix);
}

}  // namespace lc::timeguard
