#include "bridges/miio/sim_load.h"

#include <ctime>
#include <random>
#include <stdexcept>

#include "core/sim_harness.h"

namespace lc::miio {

namespace asio = boost::asio;
using asio::ip::udp;
using std::chrono::milliseconds;

SimLoad::SimLoad(asio::io_context& io, const SimOptions& options)
    : options_(options), socket_(io), timer_(io), report_(io) {
  const udp::endpoint target(asio::ip::make_address(options.cloud->host), options.cloud->port);
  if (!target.address().is_loopback()) throw std::runtime_error("load mode sends to loopback addresses only");
  socket_.open(target.protocol());
  socket_.connect(target);
  socket_.non_blocking(true);
  const uint32_t now = static_cast<uint32_t>(std::time(nullptr));
  std::mt19937 random(std::random_device{}());
  const uint32_t base = 0x10000000 + random() % 0x1000000;
  for (int i = 0; i < options.load; ++i) stamps_.push_back({base + static_cast<uint32_t>(i), now});
}

void SimLoad::final_report() { sim::emit({{"event", "load"}, {"sent", sent_}, {"received", received_}, {"final", true}}); }

void SimLoad::start() {
  started_ = std::chrono::steady_clock::now();
  tick();
  report();
  receive();
}

void SimLoad::tick() {
  // Sends what the rate allows so far, in 10 ms steps.
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  const auto due = static_cast<uint64_t>(elapsed * options_.rate);
  while (sent_ < due) {
    auto& [did, stamp] = stamps_[next_++ % stamps_.size()];
    std::array<uint8_t, kHeaderSize> packet;
    if (options_.load_hello) {
      packet = hello_packet();
    } else {
      Header header;
      header.did = did;
      header.stamp = ++stamp;
      write_header(header, packet);  // checksum left zero: the endpoint echoes without verifying
    }
    boost::system::error_code ec;
    socket_.send(asio::buffer(packet), 0, ec);
    ++sent_;
    if (ec) break;
  }
  timer_.expires_after(milliseconds(10));
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) tick();
  });
}

void SimLoad::report() {
  report_.expires_after(milliseconds(1000));
  report_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    sim::emit({{"event", "load"}, {"sent", sent_}, {"received", received_}});
    report();
  });
}

void SimLoad::receive() {
  socket_.async_receive(asio::buffer(in_), [this](const boost::system::error_code& ec, size_t) {
    if (ec == asio::error::operation_aborted) return;
    if (!ec) ++received_;
    receive();
  });
}

}  // namespace lc::miio
