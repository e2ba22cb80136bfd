// Driving an io_context from a single-threaded test while plain sockets talk to it.
#pragma once

#include <chrono>
#include <optional>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>

namespace lc::miio::test {

using namespace std::chrono_literals;

// Runs the io_context until pred() holds or the timeout passes; returns pred().
template <class Pred>
bool run_until(boost::asio::io_context& io, Pred pred, std::chrono::milliseconds timeout = 3000ms) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= deadline) return pred();
    io.restart();
    io.run_for(2ms);
  }
  return true;
}

inline void run_for(boost::asio::io_context& io, std::chrono::milliseconds duration) {
  run_until(io, [] { return false; }, duration);
}

// A datagram for `socket` (non-blocking), while the io_context runs.
inline std::optional<std::vector<uint8_t>> receive(boost::asio::io_context& io, boost::asio::ip::udp::socket& socket,
                                                   std::chrono::milliseconds timeout = 2000ms) {
  socket.non_blocking(true);
  std::vector<uint8_t> buffer(70000);
  std::optional<std::vector<uint8_t>> got;
  run_until(io, [&] {
    boost::system::error_code ec;
    const size_t n = socket.receive(boost::asio::buffer(buffer), 0, ec);
    if (!ec) got = std::vector<uint8_t>(buffer.begin(), buffer.begin() + n);
    return got.has_value();
  }, timeout);
  return got;
}

// Reads until `size` bytes arrived, EOF, or the timeout; `closed` tells whether EOF was seen.
inline std::vector<uint8_t> read_tcp(boost::asio::io_context& io, boost::asio::ip::tcp::socket& socket, size_t size,
                                     bool& closed, std::chrono::milliseconds timeout = 2000ms) {
  socket.non_blocking(true);
  std::vector<uint8_t> out;
  closed = false;
  run_until(io, [&] {
    uint8_t buffer[4096];
    boost::system::error_code ec;
    const size_t n = socket.read_some(boost::asio::buffer(buffer), ec);
    if (!ec) out.insert(out.end(), buffer, buffer + n);
    else if (ec != boost::asio::error::would_block && ec != boost::asio::error::try_again) closed = true;
    return closed || out.size() >= size;
  }, timeout);
  return out;
}

}  // namespace lc::miio::test
