// The only translation unit of the vesync bridge that compiles Boost.Beast (compile time).
#include "bridges/vesync/transport.h"

#include <random>
#include <stdexcept>
#include <unordered_set>

#include <boost/asio/connect.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/websocket.hpp>

#include "bridges/vesync/ws_frame.h"

namespace lc::vesync {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

std::string_view cause_name(CloseCause cause) {
  switch (cause) {
    case CloseCause::peer: return "closed by peer";
    case CloseCause::local: return "closed locally";
    case CloseCause::timeout: return "timeout";
    case CloseCause::too_large: return "message too large";
    case CloseCause::protocol: return "protocol error";
    case CloseCause::overflow: return "send queue overflow";
    case CloseCause::refused: return "refused";
    case CloseCause::io: return "i/o error";
  }
  return "closed";
}

namespace {

std::mt19937& prng() {
  thread_local std::mt19937 generator{std::random_device{}()};
  return generator;
}

std::string peer_of(const tcp::socket& socket) {
  error_code ec;
  auto endpoint = socket.remote_endpoint(ec);
  return ec ? std::string("?") : to_string(endpoint);
}

class ServerConn;

}  // namespace

struct WsServer::State {
  State(asio::io_context& io, WsServerOptions options, Callbacks callbacks)
      : io(io), options(std::move(options)), callbacks(std::move(callbacks)), acceptor(io), retry(io) {}

  asio::io_context& io;
  WsServerOptions options;
  Callbacks callbacks;
  tcp::acceptor acceptor;
  asio::steady_timer retry;  // after EMFILE and the like
  std::unordered_set<ServerConn*> conns;
  bool stopped = false;

  void reject(std::string_view reason, const std::string& peer, std::string_view detail) {
    if (!stopped && callbacks.rejected) callbacks.rejected(reason, peer, detail);
  }
};

namespace {

// One accepted TCP connection: the HTTP head, then (on an upgrade) a Beast websocket.
class ServerConn final : public WsLink, public std::enable_shared_from_this<ServerConn> {
 public:
  ServerConn(std::shared_ptr<WsServer::State> state, tcp::socket socket)
      : state_(std::move(state)), ws_(std::move(socket)), peer_(peer_of(ws_.next_layer())) {
    state_->conns.insert(this);
  }
  ~ServerConn() override { state_->conns.erase(this); }

  void start() {
    head_ = std::make_unique<std::string>();
    timer_ = std::make_unique<asio::steady_timer>(ws_.get_executor());
    timer_->expires_after(state_->options.handshake_timeout);
    timer_->async_wait([weak = weak_from_this()](error_code ec) {
      if (ec) return;
      if (auto self = weak.lock()) self->head_timed_out();
    });
    read_head();
  }

  void set_events(WsEvents* events) override { events_ = events; }

  void send(std::string payload, bool binary) override {
    if (finished_ || closing_ || !open_) return;
    if (queue_.size() >= state_->options.max_queued) {
      fail(CloseCause::overflow, "");
      return;
    }
    queue_.push_back({std::move(payload), binary});
    if (!writing_) do_write();
  }

  void close() override {
    if (finished_ || closing_) return;
    closing_ = true;
    if (!open_) {
      fail(CloseCause::local, "");
      return;
    }
    if (!writing_) start_close();
  }

  void abort() override { fail(CloseCause::local, ""); }

  void set_idle_timeout(std::chrono::milliseconds timeout) override {
    websocket::stream_base::timeout option{};
    option.handshake_timeout = state_->options.handshake_timeout;
    option.idle_timeout = timeout.count() > 0 ? std::chrono::steady_clock::duration(timeout)
                                              : websocket::stream_base::none();
    option.keep_alive_pings = false;
    ws_.set_option(option);
  }

  const std::string& peer() const override { return peer_; }
  bool open() const override { return open_ && !finished_ && !closing_; }

 private:
  struct Out {
    std::string payload;
    bool binary;
  };

  void read_head() {
    const size_t used = head_->size();
    const size_t room = std::min<size_t>(1024, http::kMaxHeadBytes + 1 - used);
    head_->resize(used + room);
    ws_.next_layer().async_read_some(
        asio::buffer(head_->data() + used, room),
        [self = shared_from_this(), used](error_code ec, size_t n) { self->on_head_bytes(ec, used, n); });
  }

  void on_head_bytes(error_code ec, size_t used, size_t n) {
    if (finished_) return;
    if (ec) return fail(ec == asio::error::operation_aborted ? CloseCause::local : CloseCause::io, "");
    head_->resize(used + n);
    const size_t size = http::head_size(*head_);
    if (size == 0) {
      if (head_->size() > http::kMaxHeadBytes) return respond(431, "bad_http", "request head too large");
      return read_head();
    }
    auto request = http::parse_request(std::string_view(*head_).substr(0, size));
    if (!request) return respond(400, "bad_http", "malformed request head");
    if (!http::is_websocket_upgrade(*request)) {
      std::string what = request->method + " " + std::string(request->path().substr(0, 100));
      return respond(404, "not_websocket", what);
    }
    accept(std::move(*request));
  }

  void respond(int status, std::string_view reason, std::string_view detail) {
    state_->reject(reason, peer_, detail);
    *head_ = http::response(status, "text/plain", std::string(http::reason_phrase(status)) + "\n");
    asio::async_write(ws_.next_layer(), asio::buffer(*head_), [self = shared_from_this()](error_code, size_t) {
      error_code ignored;
      self->ws_.next_layer().shutdown(tcp::socket::shutdown_both, ignored);
      self->fail(CloseCause::protocol, "");
    });
  }

  void head_timed_out() {
    if (finished_ || open_) return;
    state_->reject("handshake_timeout", peer_, "");
    fail(CloseCause::timeout, "");
  }

  void accept(http::Request request) {
    timer_.reset();  // Beast's handshake timeout takes over
    set_idle_timeout(state_->options.first_frame_timeout);
    ws_.read_message_max(state_->options.max_message);
    ws_.auto_fragment(false);
    request_ = std::make_unique<http::Request>(std::move(request));
    // The whole head (and anything after it) goes to Beast, which re-parses it and keeps
    // the bytes that follow as websocket data; it copies them before returning.
    ws_.async_accept(asio::buffer(*head_), [self = shared_from_this()](error_code ec) { self->on_accept(ec); });
    head_.reset();
  }

  void on_accept(error_code ec) {
    if (finished_) return;
    if (ec) {
      state_->reject("bad_upgrade", peer_, ec.message());
      return fail(CloseCause::protocol, ec.message());
    }
    open_ = true;
    auto request = std::move(request_);
    if (state_->stopped || !state_->callbacks.upgraded) return fail(CloseCause::local, "");
    state_->callbacks.upgraded(shared_from_this(), *request);
    if (!events_) return close();
    do_read();
  }

  // Messages are read in small pieces into message_: a pending read holds kReadChunk bytes,
  // not the 1536 that Beast prepares in a dynamic buffer, and that is what each of thousands
  // of idle outlets costs. Beast still enforces read_message_max over the whole message.
  static constexpr size_t kReadChunk = 128;

  void do_read() {
    const size_t used = message_.size();
    message_.resize(used + kReadChunk);
    ws_.async_read_some(asio::buffer(message_.data() + used, kReadChunk),
                        [self = shared_from_this(), used](error_code ec, size_t n) { self->on_read(ec, used, n); });
  }

  void on_read(error_code ec, size_t used, size_t n) {
    if (finished_) return;
    message_.resize(used + n);
    if (ec) return fail(cause_of(ec), ec.message());
    if (!ws_.is_message_done()) return do_read();
    const std::string message = std::move(message_);
    message_ = std::string();
    if (events_) events_->ws_frame(*this, message, ws_.got_binary());
    if (!finished_) do_read();
  }

  void do_write() {
    writing_ = true;
    ws_.binary(queue_.front().binary);
    ws_.async_write(asio::buffer(queue_.front().payload),
                    [self = shared_from_this()](error_code ec, size_t) { self->on_write(ec); });
  }

  void on_write(error_code ec) {
    writing_ = false;
    if (finished_ || ec) return;  // the read side reports the failure
    queue_.erase(queue_.begin());
    if (closing_) return start_close();
    if (!queue_.empty()) do_write();
  }

  void start_close() {
    ws_.async_close(websocket::close_code::normal, [self = shared_from_this()](error_code) {
      // The pending read completes too (closed or aborted) and reports.
      if (!self->finished_) self->fail(CloseCause::local, "");
    });
  }

  static CloseCause cause_of(error_code ec) {
    if (ec == websocket::error::closed || ec == asio::error::eof || ec == asio::error::connection_reset)
      return CloseCause::peer;
    if (ec == beast::error::timeout) return CloseCause::timeout;
    if (ec == websocket::error::message_too_big || ec == websocket::error::buffer_overflow)
      return CloseCause::too_large;
    if (ec == asio::error::operation_aborted) return CloseCause::local;
    if (ec.category() == make_error_code(websocket::error::closed).category() || ec == websocket::condition::protocol_violation)
      return CloseCause::protocol;
    return CloseCause::io;
  }

  void fail(CloseCause cause, std::string_view detail) {
    if (finished_) return;
    finished_ = true;
    open_ = false;
    queue_.clear();
    timer_.reset();
    error_code ignored;
    ws_.next_layer().close(ignored);
    WsEvents* events = events_;
    events_ = nullptr;
    if (events) events->ws_closed(*this, cause, detail);
  }

  std::shared_ptr<WsServer::State> state_;
  websocket::stream<tcp::socket, /*deflateSupported=*/false> ws_;
  std::string peer_;
  std::unique_ptr<std::string> head_;               // HTTP phase only
  std::unique_ptr<asio::steady_timer> timer_;       // HTTP phase only
  std::unique_ptr<http::Request> request_;          // during the accept only
  std::string message_;  // the message being read
  std::vector<Out> queue_;
  WsEvents* events_ = nullptr;
  bool open_ = false, writing_ = false, closing_ = false, finished_ = false;
};

void accept_next(const std::shared_ptr<WsServer::State>& state) {
  state->acceptor.async_accept([state](error_code ec, tcp::socket socket) {
    if (state->stopped) return;
    if (ec) {
      if (ec == asio::error::operation_aborted) return;
      // Out of descriptors and the like: breathe, then go on.
      state->retry.expires_after(std::chrono::milliseconds(100));
      state->retry.async_wait([state](error_code wait_ec) {
        if (!wait_ec && !state->stopped) accept_next(state);
      });
      return;
    }
    if (state->conns.size() >= state->options.max_connections) {
      state->reject("too_many_connections", peer_of(socket), "");
      error_code ignored;
      socket.close(ignored);
    } else {
      std::make_shared<ServerConn>(state, std::move(socket))->start();
    }
    accept_next(state);
  });
}

}  // namespace

WsServer::WsServer(asio::io_context& io, WsServerOptions options, Callbacks callbacks)
    : state_(std::make_shared<State>(io, std::move(options), std::move(callbacks))) {}

WsServer::~WsServer() { stop(); }

void WsServer::start() {
  const auto& listen = state_->options.listen;
  error_code ec;
  auto address = asio::ip::make_address(listen.host, ec);
  if (ec) throw std::runtime_error("cannot listen on " + listen.text() + ": not an IP address");
  tcp::endpoint endpoint(address, listen.port);
  auto& acceptor = state_->acceptor;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    error_code ignored;
    acceptor.close(ignored);
    throw std::runtime_error("cannot listen on " + listen.text() + ": " + ec.message());
  }
  accept_next(state_);
}

void WsServer::stop() {
  if (state_->stopped) return;
  state_->stopped = true;
  state_->callbacks = {};
  error_code ignored;
  state_->acceptor.close(ignored);
  state_->retry.cancel();
  // Collect first: a close may end a connection (and erase it from the set) at once.
  std::vector<std::weak_ptr<ServerConn>> conns;
  conns.reserve(state_->conns.size());
  for (ServerConn* conn : state_->conns) conns.push_back(conn->weak_from_this());
  for (auto& weak : conns) {
    if (auto conn = weak.lock()) {
      conn->set_events(nullptr);
      conn->close();
    }
  }
}

Endpoint WsServer::local_endpoint() const {
  error_code ec;
  auto endpoint = state_->acceptor.local_endpoint(ec);
  if (ec) return {};
  return Endpoint{endpoint.address().to_string(), endpoint.port()};
}

std::size_t WsServer::connections() const { return state_->conns.size(); }

// ---------------------------------------------------------------------------------------
// Client

namespace {

class ClientConn final : public WsLink, public std::enable_shared_from_this<ClientConn> {
 public:
  ClientConn(asio::io_context& io, WsClientOptions options, WsEvents* events)
      : options_(std::move(options)), resolver_(io), socket_(io), timer_(io), events_(events) {}

  void start() {
    timer_.expires_after(options_.connect_timeout);
    timer_.async_wait([weak = weak_from_this()](error_code ec) {
      if (ec) return;
      if (auto self = weak.lock()) self->fail(CloseCause::timeout, "connect timeout");
    });
    resolver_.async_resolve(options_.host, std::to_string(options_.port),
                            [self = shared_from_this()](error_code ec, tcp::resolver::results_type results) {
                              self->on_resolve(ec, std::move(results));
                            });
  }

  void set_events(WsEvents* events) override { events_ = events; }

  void send(std::string payload, bool binary) override {
    if (!open_ || closing_ || finished_) return;
    queue_frame(wsframe::Opcode(binary ? wsframe::Opcode::binary : wsframe::Opcode::text), payload);
  }

  void close() override {
    if (finished_ || closing_) return;
    if (!open_) return fail(CloseCause::local, "");
    queue_frame(wsframe::Opcode::close, std::string("\x03\xe8", 2));  // 1000 normal
    closing_ = true;
  }

  void abort() override { fail(CloseCause::local, ""); }

  void set_idle_timeout(std::chrono::milliseconds timeout) override {
    idle_ = timeout;
    if (open_) arm_idle();
  }

  const std::string& peer() const override { return peer_; }
  bool open() const override { return open_ && !closing_ && !finished_; }

 private:
  void on_resolve(error_code ec, tcp::resolver::results_type results) {
    if (finished_) return;
    if (ec) return fail(CloseCause::io, "cannot resolve " + options_.host + ": " + ec.message());
    std::vector<tcp::endpoint> candidates;
    std::string refused;
    for (const auto& entry : results) {
      std::string why = options_.refuse ? options_.refuse(entry.endpoint()) : std::string();
      if (why.empty()) candidates.push_back(entry.endpoint());
      else if (refused.empty()) refused = why;
    }
    if (candidates.empty()) return fail(CloseCause::refused, refused.empty() ? "no address" : refused);
    asio::async_connect(socket_, candidates, [self = shared_from_this()](error_code ec, const tcp::endpoint& ep) {
      self->on_connect(ec, ep);
    });
  }

  void on_connect(error_code ec, const tcp::endpoint& endpoint) {
    if (finished_) return;
    if (ec) return fail(CloseCause::io, "cannot connect: " + ec.message());
    peer_ = to_string(endpoint);
    socket_.set_option(tcp::no_delay(true), ec);
    std::string request = "GET " + options_.path + " HTTP/1.1\r\n";
    bool has_key = false;
    for (const auto& line : options_.header_lines) {
      if (line.size() > 18 && http::iequals(std::string_view(line).substr(0, 18), "sec-websocket-key:")) {
        has_key = true;
        key_ = std::string(line.substr(18));
        while (!key_.empty() && key_.front() == ' ') key_.erase(0, 1);
      }
    }
    if (options_.header_lines.empty()) {
      request += "Host: " + options_.host + ":" + std::to_string(options_.port) +
                 "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n";
    }
    for (const auto& line : options_.header_lines) request += line + "\r\n";
    if (!has_key) {
      unsigned char raw[16];
      for (auto& byte : raw) byte = static_cast<unsigned char>(prng()());
      static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
      key_.clear();
      for (int i = 0; i < 16; i += 3) {
        uint32_t chunk = uint32_t(raw[i]) << 16 | (i + 1 < 16 ? uint32_t(raw[i + 1]) << 8 : 0) |
                         (i + 2 < 16 ? uint32_t(raw[i + 2]) : 0);
        key_ += kAlphabet[(chunk >> 18) & 63];
        key_ += kAlphabet[(chunk >> 12) & 63];
        key_ += i + 1 < 16 ? kAlphabet[(chunk >> 6) & 63] : '=';
        key_ += i + 2 < 16 ? kAlphabet[chunk & 63] : '=';
      }
      request += "Sec-WebSocket-Key: " + key_ + "\r\nSec-WebSocket-Version: 13\r\n";
    }
    request += "\r\n";
    write_raw(std::move(request));
    read_more();
  }

  void read_more() {
    const size_t used = rbuf_.size();
    rbuf_.resize(used + 2048);
    socket_.async_read_some(asio::buffer(rbuf_.data() + used, 2048),
                            [self = shared_from_this(), used](error_code ec, size_t n) { self->on_read(ec, used, n); });
  }

  void on_read(error_code ec, size_t used, size_t n) {
    if (finished_) return;
    rbuf_.resize(used + n);
    if (ec) {
      if (ec == asio::error::eof || ec == asio::error::connection_reset)
        return fail(CloseCause::peer, open_ ? "" : "connection closed during the handshake");
      return fail(ec == asio::error::operation_aborted ? CloseCause::local : CloseCause::io, ec.message());
    }
    if (!open_) {
      const size_t size = http::head_size(rbuf_);
      if (size == 0) {
        if (rbuf_.size() > http::kMaxHeadBytes) return fail(CloseCause::protocol, "response head too large");
        return read_more();
      }
      auto response = http::parse_response(std::string_view(rbuf_).substr(0, size));
      if (!response || response->status != 101)
        return fail(CloseCause::protocol, "handshake refused (status " +
                                              std::to_string(response ? response->status : 0) + ")");
      const std::string* accept = response->header("Sec-WebSocket-Accept");
      if (!accept || *accept != http::websocket_accept(key_))
        return fail(CloseCause::protocol, "bad Sec-WebSocket-Accept");
      rbuf_.erase(0, size);
      open_ = true;
      arm_idle();
      if (events_) events_->ws_open(*this);
      if (finished_) return;
    } else {
      arm_idle();
    }
    if (!process_frames()) return;
    read_more();
  }

  // Delivers every complete frame in rbuf_; false when the link ended.
  bool process_frames() {
    size_t offset = 0;
    while (!finished_) {
      wsframe::Frame frame;
      size_t consumed = 0;
      auto result = wsframe::parse(std::string_view(rbuf_).substr(offset), options_.max_message, frame, consumed);
      if (result == wsframe::Parse::incomplete) break;
      if (result == wsframe::Parse::error) {
        fail(rbuf_.size() - offset > options_.max_message ? CloseCause::too_large : CloseCause::protocol, "bad frame");
        return false;
      }
      offset += consumed;
      handle(std::move(frame));
    }
    if (finished_) return false;
    rbuf_.erase(0, offset);
    return true;
  }

  void handle(wsframe::Frame frame) {
    using wsframe::Opcode;
    switch (frame.opcode) {
      case Opcode::text:
      case Opcode::binary:
        if (assembling_) return fail(CloseCause::protocol, "new message inside a fragmented one");
        if (!frame.fin) {
          assembling_ = true;
          message_binary_ = frame.opcode == Opcode::binary;
          message_ = std::move(frame.payload);
          return;
        }
        if (events_) events_->ws_frame(*this, frame.payload, frame.opcode == Opcode::binary);
        return;
      case Opcode::continuation:
        if (!assembling_) return fail(CloseCause::protocol, "continuation without a message");
        if (message_.size() + frame.payload.size() > options_.max_message)
          return fail(CloseCause::too_large, "");
        message_ += frame.payload;
        if (frame.fin) {
          assembling_ = false;
          std::string message = std::move(message_);
          message_.clear();
          if (events_) events_->ws_frame(*this, message, message_binary_);
        }
        return;
      case Opcode::ping:
        queue_frame(Opcode::pong, frame.payload);
        return;
      case Opcode::pong:
        return;
      case Opcode::close:
        if (!closing_) queue_frame(Opcode::close, frame.payload.substr(0, 2));
        closing_ = true;
        peer_closed_ = true;
        return;
    }
  }

  void queue_frame(wsframe::Opcode opcode, std::string_view payload) {
    if (queue_.size() >= options_.max_queued) return fail(CloseCause::overflow, "");
    wsframe::Mask mask;
    uint32_t bits = prng()();
    for (int i = 0; i < 4; ++i) mask[i] = uint8_t(bits >> (8 * i));
    write_raw(wsframe::encode(opcode, payload, mask), opcode == wsframe::Opcode::close);
  }

  void write_raw(std::string bytes, bool last = false) {
    queue_.push_back(std::move(bytes));
    if (last) close_queued_ = true;
    if (!writing_) do_write();
  }

  void do_write() {
    writing_ = true;
    asio::async_write(socket_, asio::buffer(queue_.front()), [self = shared_from_this()](error_code ec, size_t) {
      self->on_write(ec);
    });
  }

  void on_write(error_code ec) {
    writing_ = false;
    if (finished_) return;
    if (ec) return fail(CloseCause::io, ec.message());
    queue_.erase(queue_.begin());
    if (!queue_.empty()) return do_write();
    if (close_queued_) fail(peer_closed_ ? CloseCause::peer : CloseCause::local, "");
  }

  void arm_idle() {
    if (idle_.count() <= 0) {
      timer_.cancel();
      return;
    }
    timer_.expires_after(idle_);
    timer_.async_wait([weak = weak_from_this()](error_code ec) {
      if (ec) return;
      if (auto self = weak.lock()) self->fail(CloseCause::timeout, "idle timeout");
    });
  }

  void fail(CloseCause cause, std::string_view detail) {
    if (finished_) return;
    finished_ = true;
    open_ = false;
    queue_.clear();
    error_code ignored;
    timer_.cancel();
    resolver_.cancel();
    socket_.close(ignored);
    WsEvents* events = events_;
    events_ = nullptr;
    if (events) events->ws_closed(*this, cause, detail);
  }

  WsClientOptions options_;
  tcp::resolver resolver_;
  tcp::socket socket_;
  asio::steady_timer timer_;
  WsEvents* events_;
  std::string peer_;
  std::string key_;
  std::string rbuf_;
  std::string message_;
  bool message_binary_ = false, assembling_ = false;
  std::vector<std::string> queue_;
  std::chrono::milliseconds idle_{0};
  bool open_ = false, writing_ = false, closing_ = false, close_queued_ = false, peer_closed_ = false,
       finished_ = false;
};

}  // namespace

std::shared_ptr<WsLink> ws_connect(asio::io_context& io, const WsClientOptions& options, WsEvents* events) {
  auto conn = std::make_shared<ClientConn>(io, options, events);
  conn->start();
  return conn;
}

}  // namespace lc::vesync
