// localcloud-sim timeguard (simulator.cpp): what its files share. Simulated time switches
// (sim_device.h, run by sim_device_mode.cpp) and a stand-in for the upstream cloud
// (sim_cloud_mode.cpp) speak the real wire protocol through the bridge's codec; behaviour
// follows docs/protocols/timeguard.md.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/udp.hpp>
#include <nlohmann/json.hpp>

#include "bridges/timeguard/codec.h"

namespace lc::timeguard::simulator {

using udp = boost::asio::ip::udp;
using Json = nlohmann::json;

struct Options {
  udp::endpoint server{boost::asio::ip::make_address("127.0.0.1"), 9997};
  int devices = 1;
  uint32_t first_id = 0x12345678;
  std::chrono::milliseconds ping_interval{30000};
  std::string code_version = "4191717051001";
  bool version_report = true;
  bool load = true;
  std::string timezone = "Europe/London";
  bool strict = false;
  bool quiet = false;  // no per-frame events
  double bench_rate = 0;
  std::chrono::milliseconds bench_duration{10000};
  bool cloud = false;
  udp::endpoint listen{boost::asio::ip::make_address("127.0.0.1"), 9997};
  bool cloud_answers = true;
};

int run_devices(const Options& options);
int run_cloud(const Options& options);

// One event per line on stdout (core/sim_harness.h), with "t": seconds since the simulator
// started, on its own steady clock.
void emit(Json event);
// A "received" event for a valid frame.
Json received_event(const FrameView& frame, const udp::endpoint& from);

// The words of a command line; a number of a "frame" command (decimal or 0x..).
std::vector<std::string> split(std::string_view line);
std::optional<long> parse_number(const std::string& text);

int64_t unix_now();

}  // namespace lc::timeguard::simulator
