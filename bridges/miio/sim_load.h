// localcloud-sim miio --load: N device ids sending keepalives (pings or hellos) to the cloud
// endpoint over UDP at a fixed total rate, for the benchmarks; loopback targets only.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <utility>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/steady_timer.hpp>

#include "bridges/miio/sim_device.h"

namespace lc::miio {

class SimLoad {
 public:
  SimLoad(boost::asio::io_context& io, const SimOptions& options);
  void start();
  // {"event":"load","sent":N,"received":N,"final":true}
  void final_report();

 private:
  void tick();
  void report();
  void receive();

  const SimOptions& options_;
  boost::asio::ip::udp::socket socket_;
  boost::asio::steady_timer timer_, report_;
  std::vector<std::pair<uint32_t, uint32_t>> stamps_;  // did, last stamp
  std::array<uint8_t, 2048> in_{};
  std::chrono::steady_clock::time_point started_;
  uint64_t sent_ = 0, received_ = 0;
  size_t next_ = 0;
};

}  // namespace lc::miio
