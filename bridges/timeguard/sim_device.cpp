// SimDevice (sim_device.h). Section numbers (§N, QN) are those of docs/protocols/timeguard.md.
#include "bridges/timeguard/sim_device.h"

#include <boost/asio/buffer.hpp>

#include "core/hex.h"
#include "core/net.h"

namespace lc::timeguard::simulator {

namespace asio = boost::asio;

namespace {

// Whether a slot of `schedule` is on at this minute of the week (local time).
bool schedule_on(const Schedule& schedule, int minute_of_week_now) {
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

}  // namespace

SimDevice::SimDevice(asio::io_context& io, const Options& options, uint32_t id, const TimeZone& zone)
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

void SimDevice::start() {
  receive();
  if (bench_.on) return;
  if (options_.version_report) send_version_report();
  send_ping();
  schedule_ping();
  tick();
}

void SimDevice::set_load(bool load) {
  load_ = load;
  update_relay();
}

void SimDevice::send_version_report() {
  send_frame(FrameHeader{type::code_version, flag::device_report, kDeviceSeq, id_, next_message_id()},
             encode(CodeVersion::from_text(options_.code_version)));
}

void SimDevice::send_ping() {
  if (++unanswered_ > 3 && options_.strict && !cloud_lost_) {
    cloud_lost_ = true;
    emit({{"event", "cloud_lost"}, {"device", key_}});
    update_relay();
  }
  send_frame(FrameHeader{type::ping, flag::device_report, kDeviceSeq, id_, next_message_id()}, encode(status()));
}

void SimDevice::send_raw(const Bytes& bytes) {
  if (!options_.quiet) emit({{"event", "sent"}, {"device", key_}, {"kind", "raw"}, {"hex", hex(bytes)}});
  boost::system::error_code ec;
  socket_.send_to(asio::buffer(bytes), options_.server, 0, ec);
}

void SimDevice::send_frame(const FrameHeader& header, const Bytes& params) {
  const Bytes frame = encode_frame(header, params);
  if (!options_.quiet)
    emit({{"event", "sent"}, {"device", key_}, {"kind", kind_name(kind_of(header.type, header.flags))},
          {"hex", hex(frame)}});
  boost::system::error_code ec;
  socket_.send_to(asio::buffer(frame), options_.server, 0, ec);
}

void SimDevice::bench_ping() {
  const Bytes frame = encode_frame(FrameHeader{type::ping, flag::device_report, kDeviceSeq, id_, next_message_id()},
                                   encode(status()));
  boost::system::error_code ec;
  socket_.send_to(asio::buffer(frame), options_.server, 0, ec);
  if (ec) return;
  ++bench_.sent;
  pending_pings_.push_back(Clock::now());
  if (pending_pings_.size() > 64) pending_pings_.erase(pending_pings_.begin());
}

 
PingStatus SimDevice::status() const {
  PingStatus s;
  s.state = static_cast<uint8_t>((relay_on_ ? 2 : 1) | (relay_on_ && load_ ? 0x08 : 0) | (advance_ ? 0x10 : 0) |
                                 (load_previously_ ? 0x20 : 0));
  s.unknown1 = {0x00, 0x64, 0x00};  // as captured (meaning unknown)
  s.work_mode = work_mode_;
  s.uptime_s = static_cast<uint32_t>(std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - boot_).count());
  s.boost = boost_active() ? boost_ : BoostWord{};
  return s;
}

int SimDevice::local_minute_of_week() const { return minute_of_week(zone_.to_local(unix_now())); }

bool SimDevice::boost_active() const {
  const auto remaining = boost_remaining_minutes(boost_, unix_now(), zone_);
  return remaining && *remaining > 0;
}

bool SimDevice::compute_relay() {
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

void SimDevice::update_relay() {
  const bool on = compute_relay();
  if (on && load_) load_previously_ = true;
  if (on != relay_on_) {
    relay_on_ = on;
    if (!bench_.on) emit({{"event", "relay"}, {"device", key_}, {"state", on ? "ON" : "OFF"}});
  }
}

void SimDevice::tick() {
  tick_timer_.expires_after(std::chrono::seconds(1));
  tick_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    update_relay();
    tick();
  });
}

void SimDevice::schedule_ping() {
  ping_timer_.expires_after(options_.ping_interval);
  ping_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    send_ping();
    schedule_ping();
  });
}

void SimDevice::receive() {
  socket_.async_receive_from(asio::buffer(buffer_), from_, [this](const boost::system::error_code& ec, size_t size) {
    if (ec == asio::error::operation_aborted) return;
    if (!ec) handle(std::span<const uint8_t>(buffer_.data(), size));
    receive();
  });
}

void SimDevice::handle(std::span<const uint8_t> datagram) {
  FrameView frame;
  const FrameError error = parse_frame(datagram, frame);
  if (error != FrameError::none) {
    if (!options_.quiet)
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
  if (!options_.quiet) {
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

void SimDevice::applied(const char* what, Json value) {
  emit({{"event", "applied"}, {"device", key_}, {"what", what}, {"value", std::move(value)}});
}

// Answers server reads and writes as the reference describes (§2): flags 0x05 / 0x07, seq echoed.
void SimDevice::answer(const FrameView& frame, Kind kind) {
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

}  // namespace lc::timeguard::simulator
