#include "bridges/miio/local_client.h"

#include <random>

#include <boost/asio/post.hpp>

#include "bridges/miio/trace.h"

namespace lc::miio {

namespace asio = boost::asio;
using asio::ip::udp;
using Clock = std::chrono::steady_clock;

namespace {

// Ids stay in 1..9998: never 0 (a bulb crashes), wrap before 9999 (python-miio#211, §3.3).
constexpr uint32_t kMaxId = 9998;

// Errors python-miio retries (§3.5): "Resp invalid json" and "user ack timeout".
bool recoverable(int code) { return code == -30001 || code == -9999; }

}  // namespace

std::string Reply::describe() const {
  switch (status) {
    case Status::ok: return "ok";
    case Status::device_error: return "device error " + std::to_string(code) + ": " + message;
    case Status::timeout: return message.empty() ? "no reply from the device" : message;
    case Status::failed: return message.empty() ? "failed" : message;
  }
  return "failed";
}

LocalClient::LocalClient(asio::io_context& io, std::string host, uint16_t port, const Token& token,
                         BridgeStats& stats, Events events, ClientOptions options)
    : host_(std::move(host)),
      port_(port),
      cipher_(token),
      stats_(stats),
      events_(std::move(events)),
      options_(options),
      socket_(io),
      resolver_(io),
      timer_(io) {
  id_ = options_.first_id;
  if (id_ == 0 || id_ > kMaxId) {
    std::random_device random;
    id_ = 1 + random() % kMaxId;
  }
  // The first request uses id_ + 1 (ids are incremented before use, as python-miio does).
  id_ = id_ == 1 ? kMaxId : id_ - 1;
}

LocalClient::~LocalClient() { stop(); }

std::string LocalClient::peer_text() const { return host_ + ":" + std::to_string(port_); }

void LocalClient::start() {
  stopped_ = false;
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(host_, ec);
  if (!ec) {
    open(udp::endpoint(address, port_));
    return;
  }
  if (resolving_) return;
  resolving_ = true;
  resolver_.async_resolve(host_, std::to_string(port_),
                          [this](const boost::system::error_code& resolve_ec, udp::resolver::results_type results) {
                            if (resolve_ec == asio::error::operation_aborted) return;
                            resolving_ = false;
                            if (stopped_) return;
                            if (resolve_ec || results.empty()) {
                              log_.warn("cannot resolve device host ", host_, ": ", resolve_ec.message());
                              // Fail what waits; the next request tries again.
                              auto jobs = std::move(queue_);
                              queue_.clear();
                              busy_ = false;
                              for (auto& job : jobs) {
                                Reply reply;
                                reply.message = "cannot resolve " + host_;
                                if (job.done) job.done(std::move(reply));
                              }
                              return;
                            }
                            open(results.begin()->endpoint());
                          });
}

void LocalClient::open(const udp::endpoint& device) {
  boost::system::error_code ec;
  socket_.open(device.protocol(), ec);
  // Connected: only this device's datagrams reach the socket.
  if (!ec) socket_.connect(device, ec);
  if (ec) {
    log_.error("cannot open a UDP socket towards ", peer_text(), ": ", ec.message());
    return;
  }
  opened_ = true;
  receive();
  pump();
}

void LocalClient::stop() {
  stopped_ = true;
  opened_ = false;
  boost::system::error_code ec;
  socket_.close(ec);
  resolver_.cancel();
  timer_.cancel();
  queue_.clear();
  busy_ = false;
  wait_ = Wait::none;
}

void LocalClient::request(std::string method, Json params, Done done) {
  if (queue_.size() >= options_.max_queued) {
    stats_.dropped("queue_full").inc();
    Reply reply;
    reply.message = "too many requests waiting for the device (it does not answer)";
    asio::post(socket_.get_executor(), [this, alive = std::weak_ptr<char>(alive_), done = std::move(done),
                                        reply = std::move(reply)]() mutable {
      if (!alive.expired() && !stopped_) done(std::move(reply));
    });
    return;
  }
  queue_.push_back(Job{false, std::move(method), std::move(params), std::move(done)});
  if (!opened_ && !stopped_) start();
  pump();
}

void LocalClient::handshake(Done done) {
  queue_.push_back(Job{true, {}, nullptr, std::move(done)});
  if (!opened_ && !stopped_) start();
  pump();
}

void LocalClient::receive() {
  socket_.async_receive_from(asio::buffer(in_), sender_, [this](const boost::system::error_code& ec, size_t n) {
    if (ec == asio::error::operation_aborted || stopped_) return;
    // Errors such as "connection refused" (an ICMP port unreachable) just mean no reply.
    if (!ec) {
      try {
        on_datagram(n);
      } catch (const std::exception& error) {
        log_.warn("local reply handler error: ", error.what());
      }
    }
    if (!stopped_ && opened_) receive();
  });
}

void LocalClient::send(std::span<const uint8_t> packet, const char* what) {
  if (log_settings::trace()) log_.trace("local out ", peer_text(), ' ', trace_hex(packet), ' ', what);
  boost::system::error_code ec;
  socket_.send(asio::buffer(packet.data(), packet.size()), 0, ec);
  if (ec) {
    stats_.dropped("udp_send_failed").inc();
    return;
  }
  stats_.packets_out.inc();
}

bool LocalClient::handshake_needed() const {
  return !have_stamp_ || force_handshake_ || Clock::now() - stamp_at_ > options_.handshake_max_age;
}

void LocalClient::advance_id(uint32_t step) {
  id_ += step;
  while (id_ > kMaxId) id_ -= kMaxId;
}

void LocalClient::pump() {
  if (busy_ || queue_.empty() || !opened_ || stopped_) return;
  busy_ = true;
  try_ = 0;
  handshakes_in_job_ = 0;
  handshake_failed_in_job_ = false;
  begin_try();
}

void LocalClient::begin_try() {
  if (queue_.front().handshake_only || handshake_needed())
    send_hello();
  else
    send_request();
}

void LocalClient::send_hello() {
  wait_ = Wait::handshake;
  const auto hello = hello_packet();
  send(hello, "hello");
  timer_.expires_after(options_.timeout);
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) on_timer(ec);  // aborted: `this` may be gone
  });
}

void LocalClient::send_request() {
  Job& job = queue_.front();
  advance_id(1);
  const Json message = {{"id", id_}, {"method", job.method}, {"params", job.params}};
  // stamp = device stamp + seconds elapsed since it was received, at least + 1 (§3.2).
  const auto elapsed = std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - stamp_at_).count();
  Header header;
  header.did = did_.value_or(0);
  header.stamp = stamp_ + static_cast<uint32_t>(std::max<long long>(1, elapsed));
  const std::string text = message.dump();
  const auto packet = encode_message(cipher_, header, text);
  if (!packet) {
    Reply reply;
    reply.message = "request too large for the device (over " + std::to_string(kMaxSendPacket) + " bytes)";
    finish(std::move(reply));
    return;
  }
  wait_ = Wait::reply;
  if (log_settings::trace()) log_.trace("local request ", peer_text(), ' ', redact(message).dump());
  send(*packet, "request");
  timer_.expires_after(options_.timeout);
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) on_timer(ec);  // aborted: `this` may be gone
  });
}

void LocalClient::on_timer(const boost::system::error_code& ec) {
  if (ec || stopped_) return;
  try {
    on_timeout();
  } catch (const std::exception& error) {
    log_.error("local client ", peer_text(), ": ", error.what());
  }
}

void LocalClient::on_timeout() {
  if (!busy_) return;
  if (wait_ == Wait::handshake) handshake_failed_in_job_ = true;
  wait_ = Wait::none;
  ++try_;
  // python-miio: on a timeout the id jumps by 100 (devices drop ids they saw recently) and
  // the next try starts with a fresh handshake (§3.3).
  advance_id(100);
  force_handshake_ = true;
  if (try_ <= options_.retries) {
    begin_try();
    return;
  }
  const bool handshake_only = queue_.front().handshake_only;
  Reply reply;
  reply.status = Reply::Status::timeout;
  if (handshake_only || handshake_failed_in_job_ || handshakes_in_job_ == 0 || token_proven_) {
    reply.message = "no reply from the device";
  } else {
    reply.message = "the device answers handshakes but not requests (wrong token?)";
    if (!suspect_reported_) {
      suspect_reported_ = true;
      if (events_.token_suspect)
        events_.token_suspect("it answers the handshake but none of " + std::to_string(try_) +
                              " encrypted requests");
    }
  }
  finish(std::move(reply));
}

void LocalClient::on_datagram(size_t size) {
  stats_.packets_in.inc();
  const std::span<const uint8_t> packet(in_.data(), size);
  Header header;
  const Error error = parse_header(packet, header);
  if (error != Error::none) {
    stats_.drop(error_name(error), peer_text(), "local reply");
    return;
  }
  if (packet.size() == kHeaderSize) {
    // A handshake reply; its checksum field may be the token in clear (§1.2).
    if (log_settings::trace()) log_.trace("local in ", peer_text(), ' ', trace_hex(packet, true), " handshake reply");
    if (is_hello(packet)) return;  // our own hello reflected, not a reply
    if (wait_ != Wait::handshake) return;  // late duplicate
    timer_.cancel();
    wait_ = Wait::none;
    if (did_ && *did_ != header.did) log_.warn("device at ", peer_text(), " changed its device id");
    did_ = header.did;
    stamp_ = header.stamp;
    stamp_at_ = Clock::now();
    have_stamp_ = true;
    force_handshake_ = false;
    ++handshakes_in_job_;
    if (events_.handshake) events_.handshake(header.did, header.stamp);
    if (!busy_ || queue_.empty()) return;
    if (queue_.front().handshake_only) {
      Reply reply;
      reply.status = Reply::Status::ok;
      finish(std::move(reply));
    } else {
      send_request();
    }
    return;
  }

  Message message;
  const Error decode_error = decode_message(packet, cipher_, message);
  if (decode_error != Error::none) {
    stats_.drop(error_name(decode_error), peer_text(), "local reply");
    if (decode_error == Error::bad_checksum && !suspect_reported_) {
      suspect_reported_ = true;
      if (events_.token_suspect) events_.token_suspect("its replies carry a checksum our token does not produce");
    }
    return;
  }
  const auto json = parse_json(message.plaintext);
  if (log_settings::trace())
    log_.trace("local in ", peer_text(), ' ', trace_hex(packet.first(kHeaderSize)), "... ",
               json ? redact(*json).dump() : std::string("(not JSON)"));
  if (!json || !json->is_object()) {
    stats_.drop("bad_json", peer_text(), "local reply");
    return;
  }
  suspect_reported_ = false;
  token_proven_ = true;
  // The device's clock moves on; later requests count from this stamp.
  stamp_ = message.header.stamp;
  stamp_at_ = Clock::now();
  have_stamp_ = true;
  const auto id = json->find("id");
  if (wait_ != Wait::reply || id == json->end() || !id->is_number_unsigned() || id->get<uint64_t>() != id_) {
    stats_.dropped("stale_reply").inc();  // a late answer to an earlier try
    return;
  }
  timer_.cancel();
  wait_ = Wait::none;
  Reply reply;
  if (const auto error_member = json->find("error"); error_member != json->end()) {
    reply.status = Reply::Status::device_error;
    if (error_member->is_object()) {
      const auto code = error_member->find("code");
      if (code != error_member->end() && code->is_number_integer()) reply.code = code->get<int>();
      const auto text = error_member->find("message");
      if (text != error_member->end() && text->is_string()) reply.message = text->get<std::string>();
    } else if (error_member->is_string()) {
      reply.message = error_member->get<std::string>();
    }
    if (recoverable(reply.code) && try_ < options_.retries) {
      ++try_;
      begin_try();
      return;
    }
  } else {
    reply.status = Reply::Status::ok;
    const auto result = json->find("result");
    reply.result = result != json->end() ? *result : Json();
  }
  finish(std::move(reply));
}

void LocalClient::finish(Reply reply) {
  timer_.cancel();
  wait_ = Wait::none;
  busy_ = false;
  if (queue_.empty()) return;
  Done done = std::move(queue_.front().done);
  queue_.pop_front();
  if (done) done(std::move(reply));
  pump();  // the next job (the callback may already have started one)
}

}  // namespace lc::miio
