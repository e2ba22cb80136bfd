// One simulated Timeguard time switch (localcloud-sim timeguard, simulator.h): it pings on its
// period, keeps relay, mode, boost, advance, schedules and holiday, runs its schedule in the
// configured time zone, and answers reads and writes as docs/protocols/timeguard.md §2
// describes. Where the reference does not know (what a device does when its pings go
// unanswered, Q1), --strict picks one plausible behaviour.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/steady_timer.hpp>

#include "bridges/timeguard/codec.h"
#include "bridges/timeguard/simulator.h"
#include "bridges/timeguard/timezone.h"

namespace lc::timeguard::simulator {

class SimDevice {
 public:
  using Clock = std::chrono::steady_clock;

  SimDevice(boost::asio::io_context& io, const Options& options, uint32_t id, const TimeZone& zone);

  // Receives; unless in load mode, sends the version report and pings on its period.
  void start();

  const std::string& key() const { return key_; }
  uint32_t id() const { return id_; }
  void set_muted(bool muted) { muted_ = muted; }
  void set_load(bool load);
  void send_version_report();
  void send_ping();
  void send_raw(const Bytes& bytes);
  void send_frame(const FrameHeader& header, const Bytes& params);

  // Load mode: pings without events; the replies' round trip times are collected.
  struct Bench {
    bool on = false;
    uint64_t sent = 0;
    uint64_t replies = 0;
    std::vector<double> rtt_us;
  };
  void enable_bench() { bench_.on = true; }
  const Bench& bench() const { return bench_; }
  void bench_ping();

 private:
  uint32_t next_message_id() { return message_id_++; }
  PingStatus status() const;
  int local_minute_of_week() const;
  bool boost_active() const;
  bool compute_relay();
  void update_relay();
  void tick();
  void schedule_ping();
  void receive();
  void handle(std::span<const uint8_t> datagram);
  void applied(const char* what, Json value);
  void answer(const FrameView& frame, Kind kind);

  const Options& options_;
  uint32_t id_;
  std::string key_;
  const TimeZone& zone_;
  udp::socket socket_;
  boost::asio::steady_timer ping_timer_;
  boost::asio::steady_timer tick_timer_;
  Clock::time_point boot_;
  udp::endpoint from_;
  std::array<uint8_t, 65536> buffer_{};
  uint32_t message_id_ = 0;
  bool muted_ = false;
  bool load_ = true;
  bool load_previously_ = false;
  bool relay_on_ = false;
  bool last_scheduled_ = false;
  bool advance_ = false;
  uint8_t work_mode_ = 0;
  BoostWord boost_;
  uint8_t active_ = 0;
  std::array<Schedule, kSchedules> schedules_{};
  Holiday holiday_;
  int unanswered_ = 0;
  bool cloud_lost_ = false;
  std::vector<Clock::time_point> pending_pings_;
  Bench bench_;
};

}  // namespace lc::timeguard::simulator
