#include "bridges/vesync/ws_client.h"

#include <random>

#include <boost/asio/connect.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

#include "bridges/vesync/http.h"
#include "bridges/vesync/ws_frame.h"
#include "core/net.h"

namespace lc::vesync {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

namespace {

std::mt19937& prng() {
  thread_local std::mt19937 generator{std::random_device{}()};
  return generator;
}

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
