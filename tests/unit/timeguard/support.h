// Helpers for the timeguard unit tests: the vectors file, hex, and a loopback UDP peer that
// runs the shared io_context while it waits (the bridge and endpoint are single-threaded).
#pragma once

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <nlohmann/json.hpp>

#include "bridges/timeguard/codec.h"

namespace lc::timeguard::test {

using udp = boost::asio::ip::udp;
using namespace std::chrono_literals;

inline std::string source_dir() {
  const char* dir = std::getenv("LOCALCLOUD_SOURCE_DIR");
  return dir ? dir : ".";
}

inline nlohmann::json vectors() {
  std::ifstream in(source_dir() + "/tests/vectors/timeguard.json");
  if (!in) throw std::runtime_error("tests/vectors/timeguard.json not found (LOCALCLOUD_SOURCE_DIR?)");
  return nlohmann::json::parse(in);
}

inline nlohmann::json vector(const std::string& name) {
  for (const auto& v : vectors())
    if (v["name"] == name) return v;
  throw std::runtime_error("no vector " + name);
}

inline Bytes from_hex(std::string_view text) {
  Bytes out;
  int high = -1;
  for (char c : text) {
    int digit;
    if (c >= '0' && c <= '9') digit = c - '0';
    else if (c >= 'a' && c <= 'f') digit = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F') digit = c - 'A' + 10;
    else continue;
    if (high < 0) high = digit;
    else out.push_back(static_cast<uint8_t>(high << 4 | digit)), high = -1;
  }
  return out;
}

inline Bytes vector_bytes(const std::string& name) { return from_hex(vector(name)["hex"].get<std::string>()); }

// Runs `io` for up to `timeout`, until `done()` is true.
template <class Predicate>
bool run_until(boost::asio::io_context& io, Predicate done, std::chrono::milliseconds timeout = 2000ms) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    if (io.stopped()) io.restart();
    io.run_for(2ms);
  }
  return true;
}

inline void run_for(boost::asio::io_context& io, std::chrono::milliseconds duration) {
  run_until(io, [] { return false; }, duration);
}

// A UDP socket on 127.0.0.1 standing in for a device or the cloud.
class Peer {
 public:
  explicit Peer(boost::asio::io_context& io) : io_(io), socket_(io, udp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0)) {
    socket_.non_blocking(true);
  }
  udp::endpoint address() const { return socket_.local_endpoint(); }
  void send(const Bytes& bytes, const udp::endpoint& to) { socket_.send_to(boost::asio::buffer(bytes), to); }

  // The next datagram within `timeout` (running the io_context meanwhile), or nullopt.
  std::optional<Bytes> receive(std::chrono::milliseconds timeout = 2000ms) {
    std::optional<Bytes> got;
    run_until(io_, [&] {
      std::array<uint8_t, 65536> buffer;
      udp::endpoint from;
      boost::system::error_code ec;
      const size_t size = socket_.receive_from(boost::asio::buffer(buffer), from, 0, ec);
      if (ec) return false;
      got = Bytes(buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(size));
      last_from_ = from;
      return true;
    }, timeout);
    return got;
  }
  // Every datagram that arrives within `duration`.
  std::vector<Bytes> collect(std::chrono::milliseconds duration) {
    std::vector<Bytes> all;
    const auto end = std::chrono::steady_clock::now() + duration;
    while (std::chrono::steady_clock::now() < end) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now());
      if (auto bytes = receive(std::max(left, 1ms))) all.push_back(*bytes);
    }
    return all;
  }
  udp::endpoint last_from() const { return last_from_; }

 private:
  boost::asio::io_context& io_;
  udp::socket socket_;
  udp::endpoint last_from_;
};

// A frame as a device would send it.
inline Bytes device_frame(uint32_t id, uint8_t frame_type, uint8_t flags, uint8_t seq, const Bytes& params,
                          uint32_t message_id = 0x300) {
  return encode_frame(FrameHeader{frame_type, flags, seq, id, message_id}, params);
}

inline FrameView parsed(const Bytes& bytes) {
  FrameView frame;
  if (parse_frame(bytes, frame) != FrameError::none) throw std::runtime_error("not a valid frame");
  return frame;
}

}  // namespace lc::timeguard::test
