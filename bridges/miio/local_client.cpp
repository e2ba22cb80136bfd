// The local client of local_client.h. § are sections of docs/protocols/miio.md.
#include "bridges/miio/local_client.h"

#include <random>

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

Reply failure(std::string message, Reply::Status status = Reply::Status::failed) {
  Reply reply;
  reply.status = status;
  reply.message = std::move(message);
  return reply;
}

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
      queue_(io, {.retry = options.timeout, .tries = options.retries + 1, .max_waiting = options.max_queued},
             {.send = [this](Job& job, int attempt) { return send_try(job, attempt); },
              .failed = [this](const Job& job, RequestFailure why, int tries) { return failed(job, why, tries); }}) {
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
                            if (!resolve_ec && !results.empty()) return open(results.begin()->endpoint());
                            log_.warn("cannot resolve device host ", host_, ": ", resolve_ec.message());
                            // Fail what waits; the next request tries again.
                            resolve_failed_ = true;
                            send_when_open_ = false;
                            while (queue_.current()) queue_.complete(failure("cannot resolve " + host_));
                            resolve_failed_ = false;
                          });
}

void LocalClient::open(const udp::endpoint& device) {
  if (opened_) return;
  boost::system::error_code ec;
  socket_.open(device.protocol(), ec);
  // Connected: only this device's datagrams reach the socket.
  if (!ec) socket_.connect(device, ec);
  if (ec) {
    log_.error("cannot open a UDP socket towards ", peer_text(), ": ", ec.message());
    socket_.close(ec);
    return;
  }
  opened_ = true;
  receive();
  if (Job* job = queue_.current(); job && send_when_open_) {
    send_when_open_ = false;
    if (send_try(*job, 0)) queue_.rearm();
    else queue_.complete(failure(job->not_sent));
  }
}

void LocalClient::stop() {
  stopped_ = true;
  opened_ = false;
  send_when_open_ = false;
  boost::system::error_code ec;
  socket_.close(ec);
  resolver_.cancel();
  queue_.clear();
  wait_ = Wait::none;
}

void LocalClient::push(Job job, Done done) {
  // The queue posts every completion; one that runs after stop() or the client's end is dropped.
  queue_.push(std::move(job), [this, alive = std::weak_ptr<char>(alive_), done = std::move(done)](Reply reply) {
    if (!alive.expired() && !stopped_ && done) done(std::move(reply));
  });
}

void LocalClient::request(std::string method, Json params, Done done) {
  Job job;
  job.method = std::move(method);
  job.params = std::move(params);
  push(std::move(job), std::move(done));
}

void LocalClient::handshake(Done done) {
  Job job;
  job.handshake_only = true;
  push(std::move(job), std::move(done));
}

// Try `attempt` of `job` (0 first): a hello when a handshake is due, else the request itself.
bool LocalClient::send_try(Job& job, int attempt) {
  if (attempt > 0 && job.error_retry) {
    job.error_retry = false;
  } else if (attempt > 0) {
    // The previous try timed out. python-miio: the id jumps by 100 (devices drop ids they saw
    // recently) and the next try starts with a fresh handshake (§3.3).
    if (wait_ == Wait::handshake) job.handshake_failed = true;
    advance_id(100);
    force_handshake_ = true;
  }
  wait_ = Wait::none;
  if (stopped_) {
    job.not_sent = "stopped";
    return false;
  }
  if (!opened_) {
    if (resolve_failed_) {
      job.not_sent = "cannot resolve " + host_;
      return false;
    }
    send_when_open_ = true;  // open() sends it
    start();
    return true;
  }
  if (job.handshake_only || handshake_needed()) {
    send_hello();
    return true;
  }
  return send_request(job);
}

Reply LocalClient::failed(const Job& job, RequestFailure why, int tries) {
  if (why == RequestFailure::queue_full) {
    stats_.dropped("queue_full").inc();
    return failure("too many requests waiting for the device (it does not answer)");
  }
  if (why == RequestFailure::not_sent) return failure(job.not_sent);
  // The last try timed out as well.
  const bool handshake_failed = job.handshake_failed || wait_ == Wait::handshake;
  wait_ = Wait::none;
  advance_id(100);
  force_handshake_ = true;
  if (job.handshake_only || handshake_failed || job.handshakes == 0 || token_proven_)
    return failure("no reply from the device", Reply::Status::timeout);
  if (!suspect_reported_) {
    suspect_reported_ = true;
    if (events_.token_suspect)
      events_.token_suspect("it answers the handshake but none of " + std::to_string(tries) + " encrypted requests");
  }
  return failure("the device answers handshakes but not requests (wrong token?)", Reply::Status::timeout);
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

void LocalClient::send_hello() {
  wait_ = Wait::handshake;
  send(hello_packet(), "hello");
}

bool LocalClient::send_request(Job& job) {
  advance_id(1);
  const Json message = {{"id", id_}, {"method", job.method}, {"params", job.params}};
  // stamp = device stamp + seconds elapsed since it was received, at least + 1 (§3.2).
  const auto elapsed = std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - stamp_at_).count();
  Header header;
  header.did = did_.value_or(0);
  header.stamp = stamp_ + static_cast<uint32_t>(std::max<long long>(1, elapsed));
  const auto packet = encode_message(cipher_, header, message.dump());
  if (!packet) {
    job.not_sent = "request too large for the device (over " + std::to_string(kMaxSendPacket) + " bytes)";
    return false;
  }
  wait_ = Wait::reply;
  if (log_settings::trace()) log_.trace("local request ", peer_text(), ' ', redact(message).dump());
  send(*packet, "request");
  return true;
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
    on_handshake_reply(header);
    return;
  }
  on_reply(packet);
}

void LocalClient::on_handshake_reply(const Header& header) {
  if (wait_ != Wait::handshake) return;  // late duplicate
  wait_ = Wait::none;
  if (did_ && *did_ != header.did) log_.warn("device at ", peer_text(), " changed its device id");
  did_ = header.did;
  stamp_ = header.stamp;
  stamp_at_ = Clock::now();
  have_stamp_ = true;
  force_handshake_ = false;
  if (Job* job = queue_.current()) ++job->handshakes;
  if (events_.handshake) events_.handshake(header.did, header.stamp);
  Job* job = queue_.current();
  if (!job) return;
  if (job->handshake_only) {
    Reply reply;
    reply.status = Reply::Status::ok;
    queue_.complete(std::move(reply));
  } else if (send_request(*job)) {
    queue_.rearm();  // the request is this try's second half: a full timeout for its answer
  } else {
    queue_.complete(failure(job->not_sent));
  }
}

void LocalClient::on_reply(std::span<const uint8_t> packet) {
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
  Job* job = queue_.current();
  if (!job || wait_ != Wait::reply || id == json->end() || !id->is_number_unsigned() || id->get<uint64_t>() != id_) {
    stats_.dropped("stale_reply").inc();  // a late answer to an earlier try
    return;
  }
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
    if (recoverable(reply.code) && queue_.attempt() < options_.retries) {
      job->error_retry = true;
      queue_.retry_now();
      return;
    }
  } else {
    reply.status = Reply::Status::ok;
    const auto result = json->find("result");
    reply.result = result != json->end() ? *result : Json();
  }
  queue_.complete(std::move(reply));
}

}  // namespace lc::miio
