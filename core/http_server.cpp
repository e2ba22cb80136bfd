#include "core/http_server.h"

#include <array>
#include <cctype>
#include <deque>
#include <optional>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "core/hex.h"
#include "core/log.h"
#include "core/metrics.h"

namespace lc {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr auto kRequestTimeout = std::chrono::seconds(10);  // to read a request (head and body)
constexpr size_t kMaxRequestsPerConnection = 100;

using Parser = http::request_parser<http::string_body>;

void limit(Parser& parser, size_t max_body) {
  parser.header_limit(HttpServer::kMaxRequestBytes);
  parser.body_limit(max_body);
}

HttpRequest to_request(const http::request<http::string_body>& message, std::string peer) {
  HttpRequest request;
  request.method = std::string(message.method_string());
  request.target = std::string(message.target());
  for (const auto& field : message) request.headers.emplace_back(field.name_string(), field.value());
  if (auto it = message.find(http::field::authorization); it != message.end())
    request.authorization = std::string(it->value());
  request.body = message.body();
  request.peer = std::move(peer);
  return request;
}

HttpResponse refusal(const beast::error_code& ec) {
  if (ec == http::error::header_limit) return {431, "text/plain", "request head too large\n"};
  if (ec == http::error::body_limit) return {413, "text/plain", "request body too large\n"};
  return {400, "text/plain", "bad request\n"};
}

http::response<http::string_body> to_message(const HttpResponse& response, unsigned version, bool keep_alive) {
  http::response<http::string_body> message{static_cast<http::status>(response.status), version};
  message.set(http::field::server, "localcloud");
  message.set(http::field::content_type, response.content_type);
  message.set(http::field::cache_control, "no-store");
  for (const auto& [name, value] : response.headers) message.set(name, value);
  message.keep_alive(keep_alive);
  message.body() = response.body;
  message.prepare_payload();
  return message;
}

// A stream's head: no length, the body ends when the connection does.
std::string stream_head(const HttpResponse& head) {
  std::string text = "HTTP/1.1 " + std::to_string(head.status) + " " +
                     std::string(http::obsolete_reason(static_cast<http::status>(head.status))) +
                     "\r\nServer: localcloud\r\nContent-Type: " + head.content_type +
                     "\r\nCache-Control: no-store\r\nConnection: close\r\n";
  for (const auto& [name, value] : head.headers) text += name + ": " + value + "\r\n";
  return text + "\r\n";
}

std::string url_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '+') {
      out.push_back(' ');
    } else if (text[i] == '%' && i + 2 < text.size() && hex_digit(text[i + 1]) >= 0 && hex_digit(text[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hex_digit(text[i + 1]) * 16 + hex_digit(text[i + 2])));
      i += 2;
    } else {
      out.push_back(text[i]);
    }
  }
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  return true;
}

}  // namespace

const std::string* HttpRequest::header(std::string_view name) const {
  for (const auto& [key, value] : headers)
    if (iequals(key, name)) return &value;
  return nullptr;
}

// Where an answer goes: the connection, or (answer_raw_request) a local variable.
struct HttpReply::State {
  std::function<void(HttpResponse)> deliver;
  std::function<std::shared_ptr<HttpStream>(HttpResponse, size_t)> open_stream;
  bool answered = false;
  ~State() {
    if (!answered && deliver) deliver({500, "text/plain", "no answer\n"});
  }
};

void HttpReply::send(HttpResponse response) const {
  if (state_->answered) return;
  state_->answered = true;
  if (state_->deliver) state_->deliver(std::move(response));
}

std::shared_ptr<HttpStream> HttpReply::stream(HttpResponse head, size_t max_queued_bytes) const {
  if (state_->answered || !state_->open_stream) return nullptr;
  state_->answered = true;
  return state_->open_stream(std::move(head), max_queued_bytes);
}

bool HttpReply::answered() const { return state_->answered; }

std::string_view target_path(std::string_view target) { return target.substr(0, target.find('?')); }

std::string query_parameter(std::string_view target, std::string_view name, bool* present) {
  if (present) *present = false;
  const auto question = target.find('?');
  if (question == std::string_view::npos) return {};
  std::string_view query = target.substr(question + 1);
  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    const auto eq = pair.find('=');
    if (url_decode(pair.substr(0, eq)) == name) {
      if (present) *present = true;
      return eq == std::string_view::npos ? std::string() : url_decode(pair.substr(eq + 1));
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return {};
}

HttpResponse answer_raw_request(std::string_view bytes, const AsyncHttpHandler& handler, size_t max_body) {
  if (bytes.size() > HttpServer::kMaxRequestBytes + max_body) return {431, "text/plain", "request too large\n"};
  Parser parser;
  limit(parser, max_body);
  parser.eager(true);
  beast::error_code ec;
  parser.put(asio::buffer(bytes.data(), bytes.size()), ec);
  if (!ec && !parser.is_done()) parser.put_eof(ec);
  if (ec || !parser.is_done()) return ec ? refusal(ec) : HttpResponse{400, "text/plain", "bad request\n"};
  std::optional<HttpResponse> answer;
  {
    auto state = std::make_shared<HttpReply::State>();
    state->deliver = [&answer](HttpResponse response) { answer = std::move(response); };
    try {
      handler(to_request(parser.get(), "127.0.0.1"), HttpReply(state));
    } catch (const std::exception&) {
      HttpReply(state).send({500, "text/plain", "internal error\n"});
    }
    if (!state->answered) {  // an answer that would come later: not for this caller
      state->answered = true;
      answer = HttpResponse{504, "text/plain", "no answer yet\n"};
    }
  }
  return *answer;
}

HttpResponse answer_raw_request(std::string_view bytes, const HttpHandler& handler) {
  return answer_raw_request(bytes, [&handler](const HttpRequest& request, HttpReply reply) {
    reply.send(handler(request));
  });
}

class HttpServer::Session final : public std::enable_shared_from_this<HttpServer::Session>, public HttpStream {
 public:
  Session(tcp::socket socket, ConnectionSlot slot, std::shared_ptr<const AsyncHttpHandler> handler,
          HttpServerOptions options, Counter& requests)
      : stream_(std::move(socket)),
        slot_(std::move(slot)),
        handler_(std::move(handler)),
        options_(std::move(options)),
        requests_(requests),
        answer_timer_(stream_.get_executor()) {
    beast::error_code ec;
    const auto remote = stream_.socket().remote_endpoint(ec);
    peer_ = ec ? "?" : remote.address().to_string();
  }

  void run() { read_request(); }

  // HttpStream
  bool send(std::string data) override {
    if (!streaming_ || closed_) return false;
    if (queued_bytes_ + data.size() > max_queued_bytes_) {
      close();
      return false;
    }
    queued_bytes_ += data.size();
    out_.push_back(std::move(data));
    if (out_.size() == 1) write_next();
    return true;
  }
  void close() override {
    if (closed_) return;
    closed_ = true;
    answer_timer_.cancel();
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.socket().close(ignored);
    auto callbacks = std::move(on_close_);
    for (auto& callback : callbacks) asio::post(stream_.get_executor(), std::move(callback));
  }
  bool open() const override { return !closed_; }
  void on_close(std::function<void()> callback) override {
    if (closed_) asio::post(stream_.get_executor(), std::move(callback));
    else on_close_.push_back(std::move(callback));
  }

 private:
  void read_request() {
    parser_.emplace();
    limit(*parser_, options_.max_body);
    stream_.expires_after(kRequestTimeout);
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, size_t) { self->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    if (closed_) return;
    if (ec == http::error::end_of_stream || ec == beast::error::timeout || ec == asio::error::operation_aborted ||
        ec == asio::error::connection_reset || ec == asio::error::eof)
      return close();
    stream_.expires_never();
    if (ec) {
      keep_alive_ = false;
      return respond(refusal(ec), 11);
    }
    requests_.inc();
    const auto& message = parser_->get();
    const unsigned version = message.version();
    keep_alive_ = options_.keep_alive && message.keep_alive() && ++served_ < kMaxRequestsPerConnection;
    auto state = std::make_shared<HttpReply::State>();
    // The answer keeps the connection alive until it is given (no read is pending meanwhile).
    state->deliver = [self = shared_from_this(), version](HttpResponse response) {
      self->respond(std::move(response), version);
    };
    state->open_stream = [self = shared_from_this()](HttpResponse head, size_t max_bytes) -> std::shared_ptr<HttpStream> {
      if (self->closed_) return nullptr;
      self->begin_stream(head, max_bytes);
      return self;
    };
    answer_timer_.expires_after(options_.answer_timeout);
    answer_timer_.async_wait([state_weak = std::weak_ptr<HttpReply::State>(state)](beast::error_code wait_ec) {
      if (wait_ec) return;
      if (auto pending = state_weak.lock()) HttpReply(pending).send({504, "text/plain", "no answer in time\n"});
    });
    const HttpReply reply(state);
    try {
      (*handler_)(to_request(message, peer_), reply);
    } catch (const std::exception&) {
      reply.send({500, "text/plain", "internal error\n"});
    }
  }

  void respond(HttpResponse response, unsigned version) {
    if (closed_ || streaming_) return;
    answer_timer_.cancel();
    response_ = to_message(response, version, keep_alive_);
    stream_.expires_after(kRequestTimeout);
    http::async_write(stream_, response_, [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec || !self->keep_alive_) return self->close();
      self->read_request();
    });
  }

  void begin_stream(const HttpResponse& head, size_t max_bytes) {
    answer_timer_.cancel();
    streaming_ = true;
    max_queued_bytes_ = max_bytes;
    send(stream_head(head));
    watch_for_close();
  }

  // A stream's reader sends nothing more; a completed read means it went away.
  void watch_for_close() {
    stream_.socket().async_read_some(asio::buffer(discard_),
                                     [self = shared_from_this()](beast::error_code ec, size_t) {
                                       if (ec) return self->close();
                                       self->watch_for_close();
                                     });
  }

  void write_next() {
    asio::async_write(stream_.socket(), asio::buffer(out_.front()),
                      [self = shared_from_this()](beast::error_code ec, size_t) {
                        if (ec) return self->close();
                        self->queued_bytes_ -= self->out_.front().size();
                        self->out_.pop_front();
                        if (!self->out_.empty() && !self->closed_) self->write_next();
                      });
  }

  beast::tcp_stream stream_;
  ConnectionSlot slot_;
  std::shared_ptr<const AsyncHttpHandler> handler_;
  const HttpServerOptions options_;
  Counter& requests_;
  asio::steady_timer answer_timer_;
  std::string peer_;
  beast::flat_buffer buffer_{HttpServer::kMaxRequestBytes + 64 * 1024};
  std::optional<Parser> parser_;
  http::response<http::string_body> response_;
  bool keep_alive_ = false;
  size_t served_ = 0;
  bool closed_ = false;
  bool streaming_ = false;
  std::deque<std::string> out_;
  size_t queued_bytes_ = 0;
  size_t max_queued_bytes_ = 0;
  std::array<char, 256> discard_{};
  std::vector<std::function<void()>> on_close_;
};

HttpServer::HttpServer(asio::io_context& io, HttpServerOptions options, AsyncHttpHandler handler, Metrics& metrics)
    : io_(io),
      options_(std::move(options)),
      handler_(std::make_shared<const AsyncHttpHandler>(std::move(handler))),
      listener_(io, Logger(options_.name), {.name = options_.name, .max_connections = options_.max_connections}),
      requests_(metrics.counter("localcloud_http_requests_total", "HTTP requests answered", {{"server", options_.name}})),
      refused_(metrics.counter("localcloud_http_connections_refused_total", "HTTP connections over the cap",
                               {{"server", options_.name}})) {}

HttpServer::HttpServer(asio::io_context& io, std::string name, HttpHandler handler, Metrics& metrics,
                       size_t max_connections)
    : HttpServer(io, HttpServerOptions{.name = std::move(name), .max_connections = max_connections},
                 [handler = std::move(handler)](const HttpRequest& request, HttpReply reply) {
                   reply.send(handler(request));
                 },
                 metrics) {}

HttpServer::~HttpServer() { stop(); }

void HttpServer::start(const Endpoint& listen) {
  listener_.open(listen);
  address_ = to_string(listener_.local_endpoint());
  listener_.start({
      .accepted =
          [this](tcp::socket socket, ConnectionSlot slot) {
            std::make_shared<Session>(std::move(socket), std::move(slot), handler_, options_, requests_)->run();
          },
      .refused = [this](const tcp::endpoint&) { refused_.inc(); },
      .accept_failed =
          [this](const boost::system::error_code& ec) { Logger(options_.name).warn("accept failed: ", ec.message()); },
  });
}

void HttpServer::stop() { listener_.close(); }

std::string HttpServer::address() const { return address_; }

}  // namespace lc
