#include "app/healthcheck.h"

#include <iostream>
#include <string>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

namespace lc {

namespace asio = boost::asio;
using asio::ip::tcp;

int run_healthcheck(const config::Config& config, std::chrono::milliseconds timeout) {
  if (!config.api.listen) {
    std::cerr << "healthcheck: api.listen is off in the config\n";
    return 1;
  }
  std::string host = config.api.listen->host;
  if (host == "0.0.0.0" || host.empty()) host = "127.0.0.1";
  if (host == "::") host = "::1";
  const std::string port = std::to_string(config.api.listen->port);

  asio::io_context io;
  tcp::resolver resolver(io);
  tcp::socket socket(io);
  const std::string request = "GET /healthz HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n";
  std::string response;
  std::string failure = "timed out after " + std::to_string(timeout.count()) + " ms";
  bool complete = false;

  resolver.async_resolve(host, port, [&](boost::system::error_code ec, tcp::resolver::results_type results) {
    if (ec) return void(failure = "cannot resolve " + host + ": " + ec.message());
    asio::async_connect(socket, results, [&](boost::system::error_code ec, const tcp::endpoint&) {
      if (ec) return void(failure = "cannot connect to " + host + ":" + port + ": " + ec.message());
      asio::async_write(socket, asio::buffer(request), [&](boost::system::error_code ec, size_t) {
        if (ec) return void(failure = "cannot send the request: " + ec.message());
        // The API closes the connection after its answer; 64 KiB is far more than /healthz says.
        asio::async_read(socket, asio::dynamic_buffer(response, 65536), [&](boost::system::error_code ec, size_t) {
          if (ec && ec != asio::error::eof) return void(failure = "cannot read the answer: " + ec.message());
          complete = true;
        });
      });
    });
  });
  io.run_for(timeout);

  if (!complete) {
    std::cerr << "healthcheck: " << failure << "\n";
    return 1;
  }
  const auto line_end = response.find("\r\n");
  const std::string status = response.substr(0, line_end);
  const auto body_start = response.find("\r\n\r\n");
  const std::string body = body_start == std::string::npos ? "" : response.substr(body_start + 4);
  if (status.rfind("HTTP/1.", 0) != 0 || status.size() < 12 || status.compare(9, 3, "200") != 0) {
    std::cerr << "healthcheck: /healthz answered '" << status << "'\n";
    return 1;
  }
  std::cout << body << "\n";
  return 0;
}

}  // namespace lc
