#include <doctest/doctest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <atomic>
#include <future>
#include <thread>

#include "core/http_server.h"
#include "core/metrics.h"

using namespace lc;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

namespace {

// A server on its own thread; requests are made with blocking sockets from the test.
struct Served {
  asio::io_context io;
  Metrics metrics;
  HttpServer server;
  asio::executor_work_guard<asio::io_context::executor_type> work{io.get_executor()};
  std::thread thread;
  uint16_t port = 0;

  Served(HttpServerOptions options, AsyncHttpHandler handler) : server(io, std::move(options), std::move(handler), metrics) {
    server.start({"127.0.0.1", 0});
    port = static_cast<uint16_t>(std::stoi(server.address().substr(server.address().rfind(':') + 1)));
    thread = std::thread([this] { io.run(); });
  }
  ~Served() {
    asio::post(io, [this] { server.stop(); });
    work.reset();
    io.stop();
    thread.join();
  }
};

tcp::socket connect(asio::io_context& io, uint16_t port) {
  tcp::socket socket(io);
  socket.connect({asio::ip::make_address("127.0.0.1"), port});
  return socket;
}

// Everything the server sends until it closes (or `until` appears).
std::string round_trip(tcp::socket& socket, const std::string& request, const std::string& until = "") {
  asio::write(socket, asio::buffer(request));
  std::string answer;
  std::array<char, 4096> buffer{};
  boost::system::error_code ec;
  while (until.empty() || answer.find(until) == std::string::npos) {
    const size_t n = socket.read_some(asio::buffer(buffer), ec);
    if (ec) break;
    answer.append(buffer.data(), n);
  }
  return answer;
}

}  // namespace

TEST_CASE("requests with bodies, headers, keep-alive and answers that come later") {
  Served served({.name = "test", .max_body = 64}, [&](const HttpRequest& request, HttpReply reply) {
    if (request.target == "/later") {
      auto timer = std::make_shared<asio::steady_timer>(served.io, 30ms);
      timer->async_wait([timer, reply](const boost::system::error_code&) { reply.send({202, "text/plain", "done"}); });
      return;
    }
    if (request.target == "/never") return;  // every copy dropped: 500
    const std::string* origin = request.header("origin");
    reply.send({200, "text/plain", request.method + " " + request.body + " " + (origin ? *origin : "-") + " " + request.peer});
  });
  asio::io_context client;
  auto socket = connect(client, served.port);
  auto answer = round_trip(socket, "POST /x HTTP/1.1\r\nHost: a\r\nOrigin: http://a\r\nContent-Length: 5\r\n\r\nhello", "127.0.0.1");
  CHECK(answer.find("HTTP/1.1 200") == 0);
  CHECK(answer.find("POST hello http://a 127.0.0.1") != std::string::npos);
  // The same connection, again (keep-alive), then an answer that comes later.
  answer = round_trip(socket, "GET /later HTTP/1.1\r\nHost: a\r\n\r\n", "done");
  CHECK(answer.find("HTTP/1.1 202") == 0);
  answer = round_trip(socket, "GET /never HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
  CHECK(answer.find("HTTP/1.1 500") == 0);
  auto big = connect(client, served.port);
  answer = round_trip(big, "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n" + std::string(100, 'b'));
  CHECK(answer.find("HTTP/1.1 413") == 0);
}

TEST_CASE("keep_alive false: one request per connection, closed after the answer") {
  Served served({.name = "test", .keep_alive = false}, [&](const HttpRequest&, HttpReply reply) {
    reply.send({200, "text/plain", "one"});
  });
  asio::io_context client;
  auto socket = connect(client, served.port);
  // An HTTP/1.1 request that would keep the connection: answered, then the server closes.
  const auto answer = round_trip(socket, "GET /x HTTP/1.1\r\nHost: a\r\n\r\n");
  CHECK(answer.find("HTTP/1.1 200") == 0);
  CHECK(answer.find("Connection: close") != std::string::npos);
  CHECK(answer.substr(answer.size() - 3) == "one");
}

TEST_CASE("a stream: events as they come; a reader that stops reading is dropped") {
  std::shared_ptr<HttpStream> stream;
  std::atomic<int> closed{0};
  Served served({.name = "test"}, [&](const HttpRequest&, HttpReply reply) {
    stream = reply.stream({200, "text/event-stream"}, 64 * 1024);
    stream->on_close([&] { ++closed; });
    stream->send("data: first\n\n");
  });
  asio::io_context client;
  auto socket = connect(client, served.port);
  auto answer = round_trip(socket, "GET /events HTTP/1.1\r\nHost: a\r\n\r\n", "data: first\n\n");
  CHECK(answer.find("HTTP/1.1 200") == 0);
  CHECK(answer.find("Content-Type: text/event-stream") != std::string::npos);
  // Nobody reads now: the queue grows past its limit and the stream is closed.
  std::promise<bool> last;
  asio::post(served.io, [&] {
    bool ok = true;
    for (int i = 0; i < 10000 && ok; ++i) ok = stream->send(std::string(1000, 'x'));
    last.set_value(ok);
  });
  CHECK_FALSE(last.get_future().get());
  for (int i = 0; i < 100 && closed == 0; ++i) std::this_thread::sleep_for(10ms);
  CHECK(closed == 1);
  std::promise<void> released;  // the stream goes before the io_context it lives on
  asio::post(served.io, [&] {
    stream.reset();
    released.set_value();
  });
  released.get_future().wait();
}

TEST_CASE("a stream's reader going away closes it") {
  std::atomic<int> closed{0};
  Served served({.name = "test"}, [&](const HttpRequest&, HttpReply reply) {
    auto stream = reply.stream({200, "text/event-stream"});
    stream->on_close([&closed, stream] { ++closed; });
    stream->send(": hello\n\n");
  });
  {
    asio::io_context client;
    auto socket = connect(client, served.port);
    round_trip(socket, "GET / HTTP/1.1\r\nHost: a\r\n\r\n", ": hello");
  }
  for (int i = 0; i < 100 && closed == 0; ++i) std::this_thread::sleep_for(10ms);
  CHECK(closed == 1);
}

TEST_CASE("answer_raw_request: the server's limits without a socket") {
  const AsyncHttpHandler echo = [](const HttpRequest& r, HttpReply reply) { reply.send({200, "text/plain", r.body}); };
  CHECK(answer_raw_request("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi", echo).body == "hi");
  CHECK(answer_raw_request("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2000\r\n\r\n" + std::string(2000, 'a'), echo).status == 413);
  const AsyncHttpHandler later = [](const HttpRequest&, HttpReply) {};
  CHECK(answer_raw_request("GET / HTTP/1.1\r\nHost: x\r\n\r\n", later).status == 504);  // not during the call
}
