// A small HTTP/1.1 server (Boost.Beast) for the API and a bridge's own HTTP API: GET only,
// bounded request size, one request per connection, a cap on concurrent connections.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include "core/net.h"

namespace lc {

class Metrics;
class Counter;

struct HttpRequest {
  std::string method;         // "GET"
  std::string target;         // "/api/relay?name=x&on=1"
  std::string authorization;  // the Authorization header, if any
};

struct HttpResponse {
  unsigned status = 200;
  std::string content_type = "application/json";
  std::string body;
};

using HttpHandler = std::function<HttpResponse(const HttpRequest& request)>;

// Parses one raw request (at most kMaxRequestBytes) and answers it: 400 for anything that is
// not a well-formed HTTP/1.x request. The same path as the server's, for the fuzz targets.
HttpResponse answer_raw_request(std::string_view bytes, const HttpHandler& handler);

// The path of a target without its query ("/a/b?x=1" -> "/a/b").
std::string_view target_path(std::string_view target);
// One decoded query parameter ("%20" and '+' decoded); empty when absent.
std::string query_parameter(std::string_view target, std::string_view name, bool* present = nullptr);

class HttpServer {
 public:
  static constexpr size_t kMaxRequestBytes = 8192;

  // `name` labels the metrics ("api", or the bridge's, e.g. "<bridge>_service").
  HttpServer(boost::asio::io_context& io, std::string name, HttpHandler handler, Metrics& metrics,
             size_t max_connections = 64);
  ~HttpServer();

  // Binds and starts accepting; throws std::runtime_error with a clear message on failure.
  void start(const Endpoint& listen);
  void stop();
  std::string address() const;

 private:
  class Session;
  void accept();

  std::string name_;
  HttpHandler handler_;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::steady_timer retry_timer_;
  size_t max_connections_;
  std::shared_ptr<size_t> active_ = std::make_shared<size_t>(0);
  Counter& requests_;
  Counter& refused_;
  std::string address_;
};

}  // namespace lc
