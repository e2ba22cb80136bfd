// localcloud-sim timeguard, device mode (simulator.h): --devices simulated time switches
// (sim_device.h) with commands from stdin, or, with --bench, a load run that reports the
// round-trip times of the ping replies.
#include <algorithm>
#include <functional>
#include <memory>

#include <boost/asio/steady_timer.hpp>

#include "bridges/timeguard/sim_device.h"
#include "core/net.h"
#include "core/sim_harness.h"

namespace lc::timeguard::simulator {

namespace {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;
using Devices = std::vector<std::unique_ptr<SimDevice>>;

// RATE pings a second over all devices for the duration, then the "bench" event.
void run_bench(asio::io_context& io, const Options& options, const Devices& devices, const Json& ids) {
  for (auto& device : devices) device->enable_bench();
  for (auto& device : devices) device->start();
  emit({{"event", "started"}, {"devices", ids}, {"server", to_string(options.server)}, {"bench", options.bench_rate}});
  asio::steady_timer tick(io);
  const auto started = Clock::now();
  const auto end = started + options.bench_duration;
  double owed = 0;
  size_t next = 0;
  auto last = started;
  std::function<void()> step = [&] {
    const auto now = Clock::now();
    if (now >= end) return io.stop();
    owed += options.bench_rate * std::chrono::duration<double>(now - last).count();
    last = now;
    for (; owed >= 1; owed -= 1) devices[next++ % devices.size()]->bench_ping();
    tick.expires_after(std::chrono::milliseconds(1));
    tick.async_wait([&](const boost::system::error_code& ec) {
      if (!ec) step();
    });
  };
  step();
  io.run();
  // Let the last replies arrive.
  io.restart();
  asio::steady_timer drain(io);
  drain.expires_after(std::chrono::milliseconds(500));
  drain.async_wait([&](const boost::system::error_code&) { io.stop(); });
  io.run();
  uint64_t sent = 0, replies = 0;
  std::vector<double> rtt;
  for (auto& device : devices) {
    sent += device->bench().sent;
    replies += device->bench().replies;
    rtt.insert(rtt.end(), device->bench().rtt_us.begin(), device->bench().rtt_us.end());
  }
  std::sort(rtt.begin(), rtt.end());
  auto percentile = [&](double p) { return rtt.empty() ? 0.0 : rtt[static_cast<size_t>(p * (rtt.size() - 1))]; };
  const double seconds = std::chrono::duration<double>(options.bench_duration).count();
  emit({{"event", "bench"}, {"devices", devices.size()}, {"sent", sent}, {"replies", replies},
        {"lost", sent - std::min(sent, replies)}, {"seconds", seconds}, {"sent_per_s", sent / seconds},
        {"replies_per_s", replies / seconds},
        {"rtt_us", {{"p50", percentile(0.5)}, {"p90", percentile(0.9)}, {"p99", percentile(0.99)},
                    {"max", rtt.empty() ? 0.0 : rtt.back()}}}});
}

// One line of stdin (the commands of --help).
void command(asio::io_context& io, const Devices& devices, std::string_view line) {
  const auto words = split(line);
  if (words.empty()) return;
  // The devices a command names: one by id, or all when the id is left out.
  auto select = [&](size_t at) {
    std::vector<SimDevice*> chosen;
    for (auto& device : devices)
      if (words.size() <= at || words[at] == device->key()) chosen.push_back(device.get());
    return chosen;
  };
  const std::string& name = words[0];
  if (name == "quit") return io.stop();
  if (name == "ping") {
    for (auto* device : select(1)) device->send_ping();
  } else if (name == "report") {
    for (auto* device : select(1)) device->send_version_report();
  } else if (name == "mute" || name == "unmute") {
    for (auto* device : select(1)) device->set_muted(name == "mute");
  } else if (name == "load" && words.size() == 3) {
    for (auto* device : select(1)) device->set_load(words[2] == "on");
  } else if (name == "send" && words.size() >= 3) {
    std::string joined;
    for (size_t i = 2; i < words.size(); ++i) joined += words[i];
    const auto bytes = bytes_from_hex_text(joined);
    if (!bytes) return emit({{"event", "error"}, {"error", "bad hex"}});
    for (auto* device : select(1)) device->send_raw(*bytes);
  } else if (name == "frame" && words.size() >= 5) {
    const auto frame_type = parse_number(words[2]), flags = parse_number(words[3]), seq = parse_number(words[4]);
    const auto params = bytes_from_hex_text(words.size() > 5 ? words[5] : "");
    if (!frame_type || !flags || !seq || !params) return emit({{"event", "error"}, {"error", "bad frame command"}});
    for (auto* device : select(1))
      device->send_frame(FrameHeader{static_cast<uint8_t>(*frame_type), static_cast<uint8_t>(*flags),
                                     static_cast<uint8_t>(*seq), device->id(), 0x100},
                         *params);
  } else {
    emit({{"event", "error"}, {"error", "unknown command: " + std::string(line)}});
  }
}

}  // namespace

int run_devices(const Options& options) {
  asio::io_context io;
  std::string error;
  auto zone = TimeZone::load(options.timezone, error);
  if (!zone) {
    std::fprintf(stderr, "timeguard sim: %s\n", error.c_str());
    return 2;
  }
  Devices devices;
  for (int i = 0; i < options.devices; ++i)
    devices.push_back(std::make_unique<SimDevice>(io, options, options.first_id + static_cast<uint32_t>(i), *zone));
  Json ids = Json::array();  // listed for small runs; large (load) runs name the first only
  for (auto& device : devices)
    if (devices.size() <= 32) ids.push_back(device->key());
  if (devices.size() > 32) ids = {{"count", devices.size()}, {"first", devices.front()->key()}};

  if (options.bench_rate > 0) {
    run_bench(io, options, devices, ids);
    return 0;
  }
  emit({{"event", "started"}, {"devices", ids}, {"server", to_string(options.server)}});
  for (auto& device : devices) device->start();
  lc::sim::CommandReader commands(io, [&](std::string_view line) { command(io, devices, line); });
  lc::sim::run(io);
  return 0;
}

}  // namespace lc::timeguard::simulator
