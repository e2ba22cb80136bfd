// localcloud-sim timeguard: simulated Timeguard time switches (and, with --cloud, a stand-in
// for the upstream cloud) speaking the real wire protocol through the bridge's codec.
// Behaviour follows protocols/timeguard.md; where the reference does not know (what a device
// does when its pings go unanswered, Q1), --strict picks one plausible behaviour.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <nlohmann/json.hpp>

#include "bridges/timeguard/codec.h"
#include "bridges/timeguard/timezone.h"
#include "core/duration.h"
#include "core/log.h"
#include "core/net.h"

namespace lc::timeguard {
namespace {

namespace asio = boost::asio;
using udp = asio::ip::udp;
using Json = nlohmann::json;
using Clock = std::chrono::steady_clock;

const char* kHelp = R"(usage: localcloud-sim timeguard [options]

Simulated Timeguard NTTWIFI/FSTWIFI time switches (UDP, protocols/timeguard.md).

Device mode (default):
  --server HOST:PORT     where the devices send (default 127.0.0.1:9997)
  --devices N            number of devices (default 1), each with its own socket
  --id HEX               first device id, 8 hex digits (default 12345678); the others count up
  --ping-interval DUR    e.g. 500ms, 2s (default 30s)
  --code-version TEXT    13 characters (default 4191717051001, an NTTWIFI)
  --no-version-report    do not send the code-version report at start
  --load on|off          a load is connected (default on)
  --timezone NAME        the devices' local time for schedules and boost (default Europe/London)
  --strict               when 3 pings in a row go unanswered: stop applying the schedule
                         (relay off) and keep pinging; back to normal on the next ping reply
  --quiet                no per-frame events
  --bench RATE           load mode: RATE pings per second over all devices for --duration,
                         then one "bench" summary event (round trip times of the ping replies)
  --duration DUR         load mode duration (default 10s)

Cloud mode (--cloud): a stand-in for www.cloudwarm.net for fallback/relay tests.
  --listen HOST:PORT     where to listen (default 127.0.0.1:9997)
  --no-answer            do not answer pings and version reports
  Answers pings (type 0 flags 0x0f, junk padding "_co" like the real cloud) and version
  reports (type 2 flags 0x0b); remembers the latest address per device id.

Events (stdout, one JSON object per line; each has "t", seconds since the start):
  {"event":"started",...}
  {"event":"sent","device":ID,"kind":K,"hex":H}            every frame a device/the cloud sends
  {"event":"received","device":ID,"from":ADDR,"kind":K,"type":T,"flags":F,"seq":S,
   "params":HEX,"hex":H[,"time":UNIX]}                       every valid frame received
  {"event":"invalid","device":ID|null,"from":ADDR,"reason":R,"hex":H}
  {"event":"applied","device":ID,"what":W,"value":V}        a write changed the device
  {"event":"relay","device":ID,"state":"ON"|"OFF"}
  {"event":"cloud_lost"|"cloud_restored","device":ID}       (--strict)
  {"event":"bench",...}                                     (--bench)

Commands (stdin, one per line; ID may be omitted for "all devices"):
  ping [ID]              send a ping now
  report [ID]            send the code-version report
  mute [ID] / unmute [ID]  stop / resume answering server requests (pings continue)
  load ID on|off         connect / disconnect the load
  frame ID TYPE FLAGS SEQ [PARAMS_HEX]   build and send a frame (numbers decimal or 0x..)
  send ID HEX            send raw bytes (device mode: from the device's socket;
                         cloud mode: to the device's latest address)
  quit
)";

std::optional<std::chrono::milliseconds> duration_arg(const std::string& text) {
  auto value = parse_duration(text);
  if (!value || value->count() <= 0) return std::nullopt;
  return *value;
}

std::optional<Bytes> parse_hex(std::string_view text) {
  Bytes out;
  int high = -1;
  for (char c : text) {
    if (c == ' ' || c == ':' || c == '\t') continue;
    int digit;
    if (c >= '0' && c <= '9') digit = c - '0';
    else if (c >= 'a' && c <= 'f') digit = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F') digit = c - 'A' + 10;
    else return std::nullopt;
    if (high < 0) high = digit;
    else out.push_back(static_cast<uint8_t>(high << 4 | digit)), high = -1;
  }
  if (high >= 0) return std::nullopt;
  return out;
}

std::optional<long> parse_number(const std::string& text) {
  try {
    size_t used = 0;
    const long value = std::stol(text, &used, 0);
    if (used != text.size()) return std::nullopt;
    return value;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

int64_t unix_now() {
  using namespace std::chrono;
  return duration_cast<seconds>(system_clock::now().time_since_epoch()).count();
}

bool g_quiet = false;
const Clock::time_point g_started = Clock::now();

// One event per line; "t" is seconds since the simulator started (its own steady clock).
void emit(Json event) {
  event["t"] = std::chrono::duration<double>(Clock::now() - g_started).count();
  const std::string line = event.dump(-1, ' ', false, Json::error_handler_t::replace) + "\n";
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fflush(stdout);
}

Json received_event(const FrameView& frame, const udp::endpoint& from) {
  const Classified c = classify(frame);
  Json event = {{"event", "received"},
                {"device", device_key(frame.device_id)},
                {"from", to_string(from)},
                {"kind", kind_name(c.kind)},
                {"type", frame.type},
                {"flags", frame.flags},
                {"seq", frame.seq},
                {"message_id", frame.message_id},
                {"padding", hex(frame.padding)},
                {"params", hex(frame.params)}};
  if (c.kind == Kind::ping_reply)
    if (auto time = decode_u32(frame.params)) event["time"] = *time;
  return event;
}

// ---- a device ---------------------------------------------------------------------------

struct Options {
  udp::endpoint server{asio::ip::make_address("127.0.0.1"), 9997};
  int devices = 1;
  uint32_t first_id = 0x12345678;
  std::chrono::milliseconds ping_interval{30000};
  std::string code_version = "4191717051001";
  bool version_report = true;
  bool load = true;
  std::string timezone = "Europe/London";
  bool strict = false;
  double bench_rate = 0;
  std::chrono::milliseconds bench_duration{10000};
  bool cloud = false;
  udp::endpoint listen{asio::ip::make_address("127.0.0.1"), 9997};
  bool cloud_answers = true;
};

class SimDevice {
 public:
  SimDevice(asio::io_context& io, const Options& options, uint32_t id, const TimeZone& zone)
      : options_(options), id_(id), key_(device_key(id)), zone_(zone), socket_(io), ping_timer_(io),
        tick_timer_(io), boot_(Clock::now()) {
    socket_.open(udp::v4());
    socket_.bind(udp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    message_id_ = 0x200 + (id & 0xff);
    load_ = options.load;
    // Schedule 0 is the "Get Program" example of the timeguard-supplymaster README (the
    // syn_device_schedule_0_reply vector); the others are empty and unnamed.
    for (uint8_t i = 0; i < kSchedules; ++i) schedules_[i].index = i;
    auto& s = schedules_[0];
    s.slots[0] = Slot{SlotTime::make(true, 270), SlotTime::make(true, 300), 0x7d, 0};
    s.slots[1] = Slot{SlotTime::make(true, 210), SlotTime::make(true, 240), 0x7f, 0};
    s.slots[2] = Slot{SlotTime::make(true, 420), SlotTime::make(true, 450), 0x7f, 0};
    s.set_name("Default");
    holiday_ = Holiday{0, {0x74, 0, 0}, 1625977800, 1626048000};
    relay_on_ = compute_relay();
  }

  void start() {
    receive();
    if (bench_.on) return;
    if (options_.version_report) send_version_report();
    send_ping();
    schedule_ping();
    tick();
  }

  const std::string& key() const { return key_; }
  uint32_t id() const { return id_; }
  void set_muted(bool muted) { muted_ = muted; }
  void set_load(bool load) {
    load_ = load;
    update_relay();
  }
  void send_version_report() {
    send_frame(FrameHeader{type::code_version, flag::device_report, kDeviceSeq, id_, next_message_id()},
               encode(CodeVersion::from_text(options_.code_version)));
  }
  void send_ping() {
    if (++unanswered_ > 3 && options_.strict && !cloud_lost_) {
      cloud_lost_ = true;
      emit({{"event", "cloud_lost"}, {"device", key_}});
      update_relay();
    }
    send_frame(FrameHeader{type::ping, flag::device_report, kDeviceSeq, id_, next_message_id()}, encode(status()));
  }
  void send_raw(const Bytes& bytes) {
    if (!g_quiet) emit({{"event", "sent"}, {"device", key_}, {"kind", "raw"}, {"hex", hex(bytes)}});
    boost::system::error_code ec;
    socket_.send_to(asio::buffer(bytes), options_.server, 0, ec);
  }
  void send_frame(const FrameHeader& header, const Bytes& params) {
    const Bytes frame = encode_frame(header, params);
    if (!g_quiet)
      emit({{"event", "sent"}, {"device", key_}, {"kind", kind_name(kind_of(header.type, header.flags))},
            {"hex", hex(frame)}});
    boost::system::error_code ec;
    socket_.send_to(asio::buffer(frame), options_.server, 0, ec);
  }

  // Load mode: pings without events; the replies' round trip times are collected.
  struct Bench {
    bool on = false;
    uint64_t sent = 0;
    uint64_t replies = 0;
    std::vector<double> rtt_us;
  };
  void enable_bench() { bench_.on = true; }
  const Bench& bench() const { return bench_; }
  void bench_ping() {
    const Bytes frame = encode_frame(FrameHeader{type::ping, flag::device_report, kDeviceSeq, id_, next_message_id()},
                                     encode(status()));
    boost::system::error_code ec;
    socket_.send_to(asio::buffer(frame), options_.server, 0, ec);
    if (ec) return;
    ++bench_.sent;
    pending_pings_.push_back(Clock::now());
    if (pending_pings_.size() > 64) pending_pings_.erase(pending_pings_.begin());
  }

 private:
  uint32_t next_message_id() { return message_id_++; }

  PingStatus status() const {
    PingStatus s;
    s.state = static_cast<uint8_t>((relay_on_ ? 2 : 1) | (relay_on_ && load_ ? 0x08 : 0) | (advance_ ? 0x10 : 0) |
                                   (load_previously_ ? 0x20 : 0));
    s.unknown1 = {0x00, 0x64, 0x00};  // as captured (meaning unknown)
    s.work_mode = work_mode_;
    s.uptime_s = static_cast<uint32_t>(std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - boot_).count());
    s.boost = boost_active() ? boost_ : BoostWord{};
    return s;
  }

  int local_minute_of_week() const { return minute_of_week(zone_.to_local(unix_now())); }

  bool boost_active() const {
    const auto remaining = boost_remaining_minutes(boost_, unix_now(), zone_);
    return remaining && *remaining > 0;
  }

  bool schedule_on(const Schedule& schedule, int minute_of_week_now) const {
    const int day = minute_of_week_now / 1440;
    const int minute = minute_of_week_now % 1440;
    for (const Slot& slot : schedule.slots) {
      if (!slot.start.enabled() || !slot.end.enabled() || !(slot.days & (1 << day))) continue;
      const int start = slot.start.minutes(), end = slot.end.minutes();
      const bool on = start <= end ? (minute >= start && minute < end) : (minute >= start || minute < end);
      if (on) return true;
    }
    return false;
  }

  bool compute_relay() {
    if (cloud_lost_) return false;  // --strict: the schedule is no longer applied
    if (boost_active()) return true;
    switch (static_cast<WorkMode>(work_mode_)) {
      case WorkMode::always_on: return true;
      case WorkMode::always_off:
      case WorkMode::holiday: return false;
      case WorkMode::auto_: break;
    }
    const bool scheduled = active_ < kSchedules && schedule_on(schedules_[active_], local_minute_of_week());
    if (scheduled != last_scheduled_) {
      advance_ = false;  // advance lasts until the next scheduled switching point (§2.4)
      last_scheduled_ = scheduled;
    }
    return scheduled != advance_;
  }

  void update_relay() {
    const bool on = compute_relay();
    if (on && load_) load_previously_ = true;
    if (on != relay_on_) {
      relay_on_ = on;
      if (!bench_.on) emit({{"event", "relay"}, {"device", key_}, {"state", on ? "ON" : "OFF"}});
    }
  }

  void tick() {
    tick_timer_.expires_after(std::chrono::seconds(1));
    tick_timer_.async_wait([this](const boost::system::error_code& ec) {
      if (ec) return;
      update_relay();
      tick();
    });
  }

  void schedule_ping() {
    ping_timer_.expires_after(options_.ping_interval);
    ping_timer_.async_wait([this](const boost::system::error_code& ec) {
      if (ec) return;
      send_ping();
      schedule_ping();
    });
  }

  void receive() {
    socket_.async_receive_from(asio::buffer(buffer_), from_, [this](const boost::system::error_code& ec, size_t size) {
      if (ec == asio::error::operation_aborted) return;
      if (!ec) handle(std::span<const uint8_t>(buffer_.data(), size));
      receive();
    });
  }

  void handle(std::span<const uint8_t> datagram) {
    FrameView frame;
    const FrameError error = parse_frame(datagram, frame);
    if (error != FrameError::none) {
      if (!g_quiet)
        emit({{"event", "invalid"}, {"device", key_}, {"from", to_string(from_)}, {"reason", reason(error)},
              {"hex", hex(datagram)}});
      return;
    }
    const Kind kind = kind_of(frame.type, frame.flags);
    if (bench_.on) {
      if (kind == Kind::ping_reply && !pending_pings_.empty()) {
        const auto rtt = Clock::now() - pending_pings_.front();
        pending_pings_.erase(pending_pings_.begin());
        bench_.rtt_us.push_back(std::chrono::duration<double, std::micro>(rtt).count());
        ++bench_.replies;
      }
      return;
    }
    if (!g_quiet) {
      Json event = received_event(frame, from_);
      event["hex"] = hex(datagram);
      emit(event);
    }
    if (frame.device_id != id_) return;
    if (kind == Kind::ping_reply) {
      unanswered_ = 0;
      if (cloud_lost_) {
        cloud_lost_ = false;
        emit({{"event", "cloud_restored"}, {"device", key_}});
        update_relay();
      }
      return;
    }
    if (kind == Kind::code_version_ack || muted_) return;
    if (classify(frame).parse == Parse::short_params) return;
    answer(frame, kind);
  }

  void applied(const char* what, Json value) {
    emit({{"event", "applied"}, {"device", key_}, {"what", what}, {"value", std::move(value)}});
  }

  // Answers server reads and writes as the reference describes (§2): flags 0x05 / 0x07, seq echoed.
  void answer(const FrameView& frame, Kind kind) {
    auto reply = [&](uint8_t flags, const Bytes& params) {
      send_frame(FrameHeader{frame.type, flags, frame.seq, id_, next_message_id()}, params);
    };
    switch (kind) {
      case Kind::code_version_read:
        reply(flag::read_reply, encode(CodeVersion::from_text(options_.code_version)));
        break;
      case Kind::unknown4_read:
        reply(flag::read_reply, Bytes{0, 0, 0, 0});
        break;
      case Kind::schedule_read:
        if (frame.params[0] < kSchedules) reply(flag::read_reply, encode(schedules_[frame.params[0]]));
        break;
      case Kind::schedule_write:
        if (auto schedule = decode_schedule(frame.params); schedule && schedule->index < kSchedules) {
          schedules_[schedule->index] = *schedule;
          applied("schedule", schedule->index);
          reply(flag::write_ack, encode(*schedule));
          update_relay();
        }
        break;
      case Kind::work_mode_write:
        if (frame.params[0] <= 3) {
          work_mode_ = frame.params[0];
          applied("work_mode", work_mode_);
          update_relay();
          reply(flag::write_ack, Bytes{work_mode_});
        }
        break;
      case Kind::holiday_read:
        reply(flag::read_reply, encode(holiday_));
        break;
      case Kind::holiday_write:
        if (auto holiday = decode_holiday(frame.params)) {
          holiday_ = *holiday;
          applied("holiday", hex(frame.params));
          reply(flag::write_ack, encode(holiday_));
        }
        break;
      case Kind::schedule_name_write:
        if (auto name = decode_schedule_name(frame.params); name && name->index < kSchedules) {
          schedules_[name->index].name_raw = name->name_raw;
          applied("schedule_name", Json::array({name->index, name->name()}));
          reply(flag::write_ack, Bytes{name->index});
        }
        break;
      case Kind::active_schedule_read:
        reply(flag::read_reply, Bytes{active_});
        break;
      case Kind::active_schedule_write:
        if (frame.params[0] < kSchedules) {
          active_ = frame.params[0];
          applied("active_schedule", active_);
          update_relay();
          reply(flag::write_ack, Bytes{active_});
        }
        break;
      case Kind::advance_write:
        advance_ = frame.params[0] != 0;
        applied("advance", advance_);
        update_relay();
        reply(flag::write_ack, Bytes{static_cast<uint8_t>(advance_ ? 1 : 0)});
        break;
      case Kind::boost_write:
        if (frame.params[0] <= 2) {
          boost_ = frame.params[0] ? BoostWord::make(static_cast<BoostKind>(frame.params[0]), local_minute_of_week())
                                   : BoostWord{};
          applied("boost", frame.params[0]);
          update_relay();
          reply(flag::write_ack, encode_boost_ack(boost_, boost_));
        }
        break;
      default:
        break;  // unknown requests stay unanswered (the event above shows them)
    }
  }

  const Options& options_;
  uint32_t id_;
  std::string key_;
  const TimeZone& zone_;
  udp::socket socket_;
  asio::steady_timer ping_timer_;
  asio::steady_timer tick_timer_;
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

// ---- the devices' process ---------------------------------------------------------------

std::vector<std::string> split(const std::string& line) {
  std::istringstream in(line);
  std::vector<std::string> words;
  for (std::string word; in >> word;) words.push_back(word);
  return words;
}

// Reads stdin on a thread and posts each line to the io_context.
void read_stdin(asio::io_context& io, std::function<void(std::string)> handle) {
  std::thread([&io, handle = std::move(handle)] {
    std::string line;
    // End of input is not a reason to stop (a background run has /dev/null): quit or a signal is.
    while (std::getline(std::cin, line)) asio::post(io, [handle, line] { handle(line); });
  }).detach();
}

int run_devices(const Options& options) {
  asio::io_context io;
  std::string error;
  auto zone = TimeZone::load(options.timezone, error);
  if (!zone) {
    std::fprintf(stderr, "timeguard sim: %s\n", error.c_str());
    return 2;
  }
  std::vector<std::unique_ptr<SimDevice>> devices;
  for (int i = 0; i < options.devices; ++i)
    devices.push_back(std::make_unique<SimDevice>(io, options, options.first_id + static_cast<uint32_t>(i), *zone));
  auto select = [&](const std::vector<std::string>& words, size_t at) {
    std::vector<SimDevice*> chosen;
    for (auto& device : devices)
      if (words.size() <= at || words[at] == device->key()) chosen.push_back(device.get());
    return chosen;
  };
  Json ids = Json::array();  // listed for small runs; large (load) runs name the first only
  for (auto& device : devices)
    if (devices.size() <= 32) ids.push_back(device->key());
  if (devices.size() > 32) ids = {{"count", devices.size()}, {"first", devices.front()->key()}};

  if (options.bench_rate > 0) {
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
    return 0;
  }

  emit({{"event", "started"}, {"devices", ids}, {"server", to_string(options.server)}});
  for (auto& device : devices) device->start();

  read_stdin(io, [&](const std::string& line) {
    const auto words = split(line);
    if (words.empty()) return;
    const std::string& command = words[0];
    if (command == "quit") return io.stop();
    if (command == "ping") {
      for (auto* device : select(words, 1)) device->send_ping();
    } else if (command == "report") {
      for (auto* device : select(words, 1)) device->send_version_report();
    } else if (command == "mute" || command == "unmute") {
      for (auto* device : select(words, 1)) device->set_muted(command == "mute");
    } else if (command == "load" && words.size() == 3) {
      for (auto* device : select(words, 1)) device->set_load(words[2] == "on");
    } else if (command == "send" && words.size() >= 3) {
      std::string joined;
      for (size_t i = 2; i < words.size(); ++i) joined += words[i];
      const auto bytes = parse_hex(joined);
      if (!bytes) return emit({{"event", "error"}, {"error", "bad hex"}});
      for (auto* device : select(words, 1)) device->send_raw(*bytes);
    } else if (command == "frame" && words.size() >= 5) {
      const auto frame_type = parse_number(words[2]), flags = parse_number(words[3]), seq = parse_number(words[4]);
      const auto params = parse_hex(words.size() > 5 ? words[5] : "");
      if (!frame_type || !flags || !seq || !params) return emit({{"event", "error"}, {"error", "bad frame command"}});
      for (auto* device : select(words, 1))
        device->send_frame(FrameHeader{static_cast<uint8_t>(*frame_type), static_cast<uint8_t>(*flags),
                                       static_cast<uint8_t>(*seq), device->id(), 0x100},
                           *params);
    } else {
      emit({{"event", "error"}, {"error", "unknown command: " + line}});
    }
  });
  asio::signal_set signals(io, SIGTERM, SIGINT);
  signals.async_wait([&](const boost::system::error_code&, int) { io.stop(); });
  io.run();
  return 0;
}

// ---- the cloud stand-in -----------------------------------------------------------------

int run_cloud(const Options& options) {
  asio::io_context io;
  udp::socket socket(io);
  boost::system::error_code ec;
  socket.open(options.listen.protocol(), ec);
  if (!ec) socket.bind(options.listen, ec);
  if (ec) {
    std::fprintf(stderr, "timeguard sim --cloud: cannot bind %s: %s\n", to_string(options.listen).c_str(),
                 ec.message().c_str());
    return 2;
  }
  std::map<uint32_t, udp::endpoint> routes;  // latest address per device id
  std::array<uint8_t, 65536> buffer{};
  udp::endpoint from;
  auto send = [&](std::span<const uint8_t> bytes, const udp::endpoint& to, const char* kind) {
    const auto id = peek_device_id(bytes);
    if (!g_quiet)
      emit({{"event", "sent"}, {"device", id ? Json(device_key(*id)) : Json()}, {"kind", kind}, {"to", to_string(to)},
            {"hex", hex(bytes)}});
    boost::system::error_code send_ec;
    socket.send_to(asio::buffer(bytes.data(), bytes.size()), to, 0, send_ec);
  };
  std::function<void()> receive = [&] {
    socket.async_receive_from(asio::buffer(buffer), from, [&](const boost::system::error_code& rec, size_t size) {
      if (rec == asio::error::operation_aborted) return;
      if (!rec) {
        const auto datagram = std::span<const uint8_t>(buffer.data(), size);
        FrameView frame;
        const FrameError error = parse_frame(datagram, frame);
        if (error != FrameError::none) {
          const auto id = peek_device_id(datagram);
          if (!g_quiet)
            emit({{"event", "invalid"}, {"device", id ? Json(device_key(*id)) : Json()}, {"from", to_string(from)},
                  {"reason", reason(error)}, {"hex", hex(datagram)}});
        } else {
          routes[frame.device_id] = from;
          if (!g_quiet) {
            Json event = received_event(frame, from);
            event["hex"] = hex(datagram);
            emit(event);
          }
          const Kind kind = kind_of(frame.type, frame.flags);
          if (options.cloud_answers && kind == Kind::ping) {
            // The real cloud's padding is junk ("_co" in the capture, readme_02).
            FrameHeader header{type::ping, flag::ping_reply, frame.seq, frame.device_id, kServerMessageId,
                               {0x5f, 0x63, 0x6f}};
            const Bytes reply = encode_frame(header, encode_u32(static_cast<uint32_t>(unix_now())));
            send(reply, from, "ping_reply");
          } else if (options.cloud_answers && kind == Kind::code_version_report) {
            FrameHeader header{type::code_version, flag::version_ack, frame.seq, frame.device_id};
            send(encode_frame(header, frame.params), from, "code_version_ack");
          }
        }
      }
      receive();
    });
  };
  receive();
  emit({{"event", "started"}, {"cloud", to_string(socket.local_endpoint())}});

  read_stdin(io, [&](const std::string& line) {
    const auto words = split(line);
    if (words.empty()) return;
    const std::string& command = words[0];
    if (command == "quit") return io.stop();
    if (command == "send" && words.size() >= 2) {
      // send [ID] HEX: to the latest address of the frame's (or the given) device id.
      std::string joined;
      const bool with_id = words.size() >= 3 && words[1].size() == 8 && parse_device_id(words[1]);
      for (size_t i = with_id ? 2 : 1; i < words.size(); ++i) joined += words[i];
      const auto bytes = parse_hex(joined);
      std::optional<uint32_t> id = with_id ? parse_device_id(words[1]) : (bytes ? peek_device_id(*bytes) : std::nullopt);
      if (!bytes || !id || !routes.count(*id)) return emit({{"event", "error"}, {"error", "bad hex or unknown device"}});
      send(*bytes, routes[*id], "raw");
    } else if (command == "frame" && words.size() >= 5) {
      const auto id = parse_device_id(words[1]);
      const auto frame_type = parse_number(words[2]), flags = parse_number(words[3]), seq = parse_number(words[4]);
      const auto params = parse_hex(words.size() > 5 ? words[5] : "");
      if (!id || !frame_type || !flags || !seq || !params || !routes.count(*id))
        return emit({{"event", "error"}, {"error", "bad frame command or unknown device"}});
      const Bytes frame = encode_frame(FrameHeader{static_cast<uint8_t>(*frame_type), static_cast<uint8_t>(*flags),
                                                   static_cast<uint8_t>(*seq), *id},
                                       *params);
      send(frame, routes[*id], kind_name(kind_of(frame[8], frame[9])));
    } else {
      emit({{"event", "error"}, {"error", "unknown command: " + line}});
    }
  });
  asio::signal_set signals(io, SIGTERM, SIGINT);
  signals.async_wait([&](const boost::system::error_code&, int) { io.stop(); });
  io.run();
  return 0;
}

std::optional<udp::endpoint> endpoint_arg(const std::string& text) {
  const auto parsed = parse_endpoint(text);
  if (!parsed) return std::nullopt;
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(parsed->host, ec);
  if (ec) return std::nullopt;
  return udp::endpoint(address, parsed->port);
}

}  // namespace

int run_simulator(int argc, char** argv) {
  Options options;
  auto fail = [](const std::string& message) {
    std::fprintf(stderr, "localcloud-sim timeguard: %s (see --help)\n", message.c_str());
    return 2;
  };
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::optional<std::string> {
      if (i + 1 >= argc) return std::nullopt;
      return std::string(argv[++i]);
    };
    if (arg == "--help" || arg == "-h") {
      std::fputs(kHelp, stdout);
      return 0;
    } else if (arg == "--server" || arg == "--listen") {
      auto text = value();
      auto endpoint = text ? endpoint_arg(*text) : std::nullopt;
      if (!endpoint) return fail(arg + " needs an IP:PORT");
      (arg == "--server" ? options.server : options.listen) = *endpoint;
    } else if (arg == "--devices") {
      auto text = value();
      auto number = text ? parse_number(*text) : std::nullopt;
      if (!number || *number < 1 || *number > 100000) return fail("--devices needs 1..100000");
      options.devices = static_cast<int>(*number);
    } else if (arg == "--id") {
      auto text = value();
      auto id = text ? parse_device_id(*text) : std::nullopt;
      if (!id) return fail("--id needs 8 hex digits");
      options.first_id = *id;
    } else if (arg == "--ping-interval" || arg == "--duration") {
      auto text = value();
      auto duration = text ? duration_arg(*text) : std::nullopt;
      if (!duration) return fail(arg + " needs a duration");
      (arg == "--duration" ? options.bench_duration : options.ping_interval) = *duration;
    } else if (arg == "--code-version") {
      auto text = value();
      if (!text || text->empty() || text->size() > 13) return fail("--code-version needs 1..13 characters");
      options.code_version = *text;
    } else if (arg == "--no-version-report") {
      options.version_report = false;
    } else if (arg == "--load") {
      auto text = value();
      if (!text || (*text != "on" && *text != "off")) return fail("--load needs on or off");
      options.load = *text == "on";
    } else if (arg == "--timezone") {
      auto text = value();
      if (!text) return fail("--timezone needs a name");
      options.timezone = *text;
    } else if (arg == "--strict") {
      options.strict = true;
    } else if (arg == "--quiet") {
      g_quiet = true;
    } else if (arg == "--bench") {
      auto text = value();
      double rate = 0;
      try {
        rate = text ? std::stod(*text) : 0;
      } catch (const std::exception&) {
      }
      if (rate <= 0) return fail("--bench needs a positive rate");
      options.bench_rate = rate;
    } else if (arg == "--cloud") {
      options.cloud = true;
    } else if (arg == "--no-answer") {
      options.cloud_answers = false;
    } else {
      return fail("unknown option " + arg);
    }
  }
  try {
    return options.cloud ? run_cloud(options) : run_devices(options);
  } catch (const std::exception& error) {
    std::fprintf(stderr, "localcloud-sim timeguard: %s\n", error.what());
    return 1;
  }
}

}  // namespace lc::timeguard
