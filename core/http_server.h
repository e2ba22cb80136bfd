// The daemon's one HTTP/1.1 server (Boost.Beast) for every HTTP port it serves: bounded request
// heads (8 KB, else 431) and bodies, keep-alive, a connection cap (core/tcp_listener.h), answers
// that may come later (a command that completes when the device acknowledges), and streams
// (server-sent events) whose readers are dropped when they stop reading.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "core/net.h"
#include "core/tcp_listener.h"

namespace lc {

class Metrics;
class Counter;

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

struct HttpRequest {
  std::string method;         // "GET", "POST", ...
  std::string target;         // "/api/relay?name=x&on=1"
  std::string authorization;  // the Authorization header, if any
  HttpHeaders headers;        // every header as sent
  std::string body;
  std::string peer;           // the client's address, "127.0.0.1"

  // The first header of that name (case-insensitive), or nullptr.
  const std::string* header(std::string_view name) const;
};

struct HttpResponse {
  unsigned status = 200;
  std::string content_type = "application/json";
  std::string body;
  HttpHeaders headers = {};  // more headers (Cache-Control: no-store is always set)
};

// An open response that is written piece by piece (text/event-stream): the connection stays
// open until either side closes it.
class HttpStream {
 public:
  virtual ~HttpStream() = default;
  // Queues `data`; false (and the connection closed) when the reader has fallen further
  // behind than the stream's byte limit, or the stream is closed.
  virtual bool send(std::string data) = 0;
  virtual void close() = 0;
  virtual bool open() const = 0;
  // Runs once, on the io_context, when the stream closes for any reason.
  virtual void on_close(std::function<void()> callback) = 0;
};

// The answer to one request, given exactly once: by send(), by stream(), or (when every copy
// is dropped without either) as 500. Copies share the one answer.
class HttpReply {
 public:
  struct State;
  explicit HttpReply(std::shared_ptr<State> state) : state_(std::move(state)) {}
  void send(HttpResponse response) const;
  // Sends the head of `head` (its body is ignored) and keeps the connection for send();
  // nullptr when the request was answered already or the connection is gone.
  std::shared_ptr<HttpStream> stream(HttpResponse head, size_t max_queued_bytes = 256 * 1024) const;
  bool answered() const;

 private:
  std::shared_ptr<State> state_;
};

using HttpHandler = std::function<HttpResponse(const HttpRequest& request)>;
using AsyncHttpHandler = std::function<void(const HttpRequest& request, HttpReply reply)>;

// Parses one raw request (head and body) and answers it as the server would: 431 for a head
// over kMaxRequestBytes, 413 for a body over `max_body`, 400 for anything that is not a
// well-formed HTTP/1.x request. For the fuzz targets and tests; an answer that does not come
// during the call is 504.
HttpResponse answer_raw_request(std::string_view bytes, const HttpHandler& handler);
HttpResponse answer_raw_request(std::string_view bytes, const AsyncHttpHandler& handler, size_t max_body = 1024);

// The path of a target without its query ("/a/b?x=1" -> "/a/b").
std::string_view target_path(std::string_view target);
// One decoded query parameter ("%20" and '+' decoded); empty when absent.
std::string query_parameter(std::string_view target, std::string_view name, bool* present = nullptr);

struct HttpServerOptions {
  std::string name = "http";         // labels metrics and log lines ("api")
  size_t max_connections = 64;
  size_t max_body = 1024;            // bytes; larger bodies get 413
  std::chrono::milliseconds answer_timeout{60000};  // a handler that never answers: 504
  bool keep_alive = true;            // false: one request per connection ("Connection: close")
};

class HttpServer {
 public:
  static constexpr size_t kMaxRequestBytes = 8192;

  HttpServer(boost::asio::io_context& io, HttpServerOptions options, AsyncHttpHandler handler, Metrics& metrics);
  // A handler that answers at once; `name` labels the metrics.
  HttpServer(boost::asio::io_context& io, std::string name, HttpHandler handler, Metrics& metrics,
             size_t max_connections = 64);
  ~HttpServer();

  // Binds and starts accepting; throws std::runtime_error with a clear message on failure.
  void start(const Endpoint& listen);
  void stop();
  std::string address() const;

 private:
  class Session;
  boost::asio::io_context& io_;
  HttpServerOptions options_;
  std::shared_ptr<const AsyncHttpHandler> handler_;
  TcpListener listener_;
  Counter& requests_;
  Counter& refused_;
  std::string address_;
};

}  // namespace lc
