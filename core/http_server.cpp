#include "core/http_server.h"

#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cctype>

#include "core/log.h"
#include "core/metrics.h"

namespace lc {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr auto kRequestTimeout = std::chrono::seconds(10);
constexpr size_t kMaxBodyBytes = 1024;

using Parser = http::request_parser<http::string_body>;

void limit(Parser& parser) {
  parser.header_limit(HttpServer::kMaxRequestBytes);
  parser.body_limit(kMaxBodyBytes);
}

HttpRequest to_request(const http::request<http::string_body>& message) {
  HttpRequest request;
  request.method = std::string(message.method_string());
  request.target = std::string(message.target());
  if (auto it = message.find(http::field::authorization); it != message.end())
    request.authorization = std::string(it->value());
  return request;
}

HttpResponse answer(const HttpHandler& handler, const HttpRequest& request) {
  try {
    return handler(request);
  } catch (const std::exception&) {
    return {500, "text/plain", "internal error\n"};
  }
}

http::response<http::string_body> to_message(const HttpResponse& response, unsigned version) {
  http::response<http::string_body> message{static_cast<http::status>(response.status), version};
  message.set(http::field::server, "localcloud");
  message.set(http::field::content_type, response.content_type);
  message.set(http::field::cache_control, "no-store");
  message.keep_alive(false);
  message.body() = response.body;
  message.prepare_payload();
  return message;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string url_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '+') {
      out.push_back(' ');
    } else if (text[i] == '%' && i + 2 < text.size() && hex_digit(text[i + 1]) >= 0 &&
               hex_digit(text[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hex_digit(text[i + 1]) * 16 + hex_digit(text[i + 2])));
      i += 2;
    } else {
      out.push_back(text[i]);
    }
  }
  return out;
}

}  // namespace

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

HttpResponse answer_raw_request(std::string_view bytes, const HttpHandler& handler) {
  if (bytes.size() > HttpServer::kMaxRequestBytes) return {431, "text/plain", "request too large\n"};
  Parser parser;
  limit(parser);
  parser.eager(true);
  beast::error_code ec;
  parser.put(asio::buffer(bytes.data(), bytes.size()), ec);
  if (!ec && !parser.is_done()) parser.put_eof(ec);
  if (ec || !parser.is_done()) return {400, "text/plain", "bad request\n"};
  return answer(handler, to_request(parser.get()));
}

class HttpServer::Session : public std::enable_shared_from_this<HttpServer::Session> {
 public:
  Session(tcp::socket socket, const HttpHandler& handler, std::shared_ptr<size_t> active)
      : stream_(std::move(socket)), handler_(handler), active_(std::move(active)) {
    ++*active_;
    limit(parser_);
  }
  ~Session() { --*active_; }

  void run() {
    stream_.expires_after(kRequestTimeout);
    http::async_read(stream_, buffer_, parser_,
                     [self = shared_from_this()](beast::error_code ec, size_t) { self->on_read(ec); });
  }

 private:
  void on_read(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == beast::error::timeout || ec == asio::error::operation_aborted) {
      close();
      return;
    }
    HttpResponse response;
    unsigned version = 11;
    if (ec) {
      response = {ec == http::error::header_limit || ec == http::error::body_limit ? 431u : 400u, "text/plain",
                  "bad request\n"};
    } else {
      version = parser_.get().version();
      response = answer(handler_, to_request(parser_.get()));
    }
    response_ = to_message(response, version);
    http::async_write(stream_, response_, [self = shared_from_this()](beast::error_code, size_t) { self->close(); });
  }

  void close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.socket().close(ignored);
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_{HttpServer::kMaxRequestBytes + kMaxBodyBytes};
  Parser parser_;
  http::response<http::string_body> response_;
  const HttpHandler& handler_;
  std::shared_ptr<size_t> active_;
};

HttpServer::HttpServer(asio::io_context& io, std::string name, HttpHandler handler, Metrics& metrics,
                       size_t max_connections)
    : name_(std::move(name)),
      handler_(std::move(handler)),
      acceptor_(io),
      retry_timer_(io),
      max_connections_(max_connections),
      requests_(metrics.counter("localcloud_http_requests_total", "HTTP requests answered", {{"server", name_}})),
      refused_(metrics.counter("localcloud_http_connections_refused_total", "HTTP connections over the cap",
                               {{"server", name_}})) {}

HttpServer::~HttpServer() { stop(); }

void HttpServer::start(const Endpoint& listen) {
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(listen.host, ec);
  if (ec) throw std::runtime_error(name_ + ": cannot listen on " + listen.text() + ": not an IP address");
  const tcp::endpoint endpoint(address, listen.port);
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) throw std::runtime_error(name_ + ": cannot listen on " + listen.text() + "/tcp: " + ec.message());
  address_ = to_string(acceptor_.local_endpoint());
  accept();
}

void HttpServer::stop() {
  boost::system::error_code ignored;
  acceptor_.close(ignored);
  retry_timer_.cancel();
}

std::string HttpServer::address() const { return address_; }

void HttpServer::accept() {
  acceptor_.async_accept([this](boost::system::error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;
    if (ec) {
      // Out of descriptors (EMFILE) and the like: back off instead of spinning.
      Logger(name_).warn("accept failed: ", ec.message());
      retry_timer_.expires_after(std::chrono::milliseconds(200));
      retry_timer_.async_wait([this](boost::system::error_code wait_ec) {
        if (!wait_ec) accept();
      });
      return;
    }
    {
      if (*active_ >= max_connections_) {
        refused_.inc();
        boost::system::error_code ignored;
        socket.close(ignored);
      } else {
        requests_.inc();
        std::make_shared<Session>(std::move(socket), handler_, active_)->run();
      }
    }
    accept();
  });
}

}  // namespace lc
