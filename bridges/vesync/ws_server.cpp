// The only translation unit of the vesync bridge that compiles Boost.Beast (compile time).
#include "bridges/vesync/ws_server.h"

#include <unordered_set>
#include <vector>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/websocket.hpp>

namespace lc::vesync {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

namespace {

std::string peer_of(const tcp::socket& socket) {
  error_code ec;
  auto endpoint = socket.remote_endpoint(ec);
  return ec ? std::string("?") : to_string(endpoint);
}

class ServerConn;

}  // namespace

struct WsServer::State {
  State(asio::io_context& io, WsServerOptions options, Callbacks callbacks, Logger log)
      : options(std::move(options)),
        callbacks(std::move(callbacks)),
        listener(io, std::move(log),
                 TcpListenerOptions{.name = this->options.name,
                                    .max_connections = this->options.max_connections,
                                    .descriptors_per_connection = this->options.descriptors_per_connection,
                                    .budget = this->options.budget}) {}

  WsServerOptions options;
  Callbacks callbacks;
  TcpListener listener;
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
  ServerConn(std::shared_ptr<WsServer::State> state, tcp::socket socket, ConnectionSlot slot)
      : state_(std::move(state)), slot_(std::move(slot)), ws_(std::move(socket)), peer_(peer_of(ws_.next_layer())) {
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
    if (events_) events_->ws_frame(*this, message_, ws_.got_binary());
    if (finished_) return;
    // Emptied for the next message. A keepalive fits in one chunk, and its storage is reused
    // (no allocation per keepalive); what a longer message grew is given back, so that an
    // idle connection holds one chunk.
    message_.clear();
    if (message_.capacity() > kReadChunk) message_ = std::string();
    do_read();
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
  ConnectionSlot slot_;  // the descriptors this connection holds
  websocket::stream<tcp::socket, /*deflateSupported=*/false> ws_;
  std::string peer_;
  std::unique_ptr<std::string> head_;          // HTTP phase only
  std::unique_ptr<asio::steady_timer> timer_;  // HTTP phase only
  std::unique_ptr<http::Request> request_;     // during the accept only
  std::string message_;                        // the message being read
  std::vector<Out> queue_;
  WsEvents* events_ = nullptr;
  bool open_ = false, writing_ = false, closing_ = false, finished_ = false;
};

}  // namespace

WsServer::WsServer(asio::io_context& io, WsServerOptions options, Callbacks callbacks, Logger log)
    : state_(std::make_shared<State>(io, std::move(options), std::move(callbacks), std::move(log))) {}

WsServer::~WsServer() { stop(); }

void WsServer::start() {
  state_->listener.open(state_->options.listen);
  std::weak_ptr<State> weak = state_;
  state_->listener.start({
      .accepted =
          [weak](tcp::socket socket, ConnectionSlot slot) {
            auto state = weak.lock();
            if (!state || state->stopped) return;
            std::make_shared<ServerConn>(state, std::move(socket), std::move(slot))->start();
          },
      .refused =
          [weak](const tcp::endpoint& peer) {
            if (auto state = weak.lock()) state->reject("too_many_connections", to_string(peer), "");
          },
  });
}

void WsServer::stop() {
  if (state_->stopped) return;
  state_->stopped = true;
  state_->callbacks = {};
  state_->listener.close();
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
  const auto endpoint = state_->listener.local_endpoint();
  if (endpoint.port() == 0) return {};
  return Endpoint{endpoint.address().to_string(), endpoint.port()};
}

std::size_t WsServer::connections() const { return state_->conns.size(); }

}  // namespace lc::vesync
