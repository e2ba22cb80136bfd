#include "bridges/timeguard/bridge.h"

#include <algorithm>
#include <cctype>
#include <ctime>
#include <stdexcept>

#include <boost/asio/post.hpp>

namespace lc::timeguard {

const std::array<const char*, 4> kWorkModeNames = {"auto", "always_off", "always_on", "holiday"};
const std::array<const char*, 3> kBoostNames = {"off", "1h", "2h"};

namespace {

constexpr size_t kMaxUserRequests = 8;
constexpr size_t kMaxRefused = 4096;
constexpr std::string_view kScheduleOptionPrefix = "schedule_";
constexpr const char* kDayNames[7] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

int64_t unix_now() {
  using namespace std::chrono;
  return duration_cast<seconds>(system_clock::now().time_since_epoch()).count();
}

Json on_off(bool value) { return value ? "ON" : "OFF"; }

std::string hh_mm(int minutes) {
  char text[32];
  std::snprintf(text, sizeof text, "%02d:%02d", minutes / 60, minutes % 60);
  return text;
}

// The u32 as a calendar time without a zone: whether the device means UTC or UK wall time is
// not known (protocols/timeguard.md Q5).
std::string calendar(uint32_t seconds) {
  const std::time_t t = static_cast<std::time_t>(seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char text[64];
  std::snprintf(text, sizeof text, "%04d-%02d-%02d %02d:%02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec);
  return text;
}

std::string hex_text(std::span<const uint8_t> bytes) { return hex(bytes); }

std::optional<Bytes> parse_hex(std::string_view text) {
  Bytes out;
  int high = -1;
  for (char c : text) {
    if (std::isspace(static_cast<unsigned char>(c)) || c == ':') continue;
    int digit;
    if (c >= '0' && c <= '9') digit = c - '0';
    else if (c >= 'a' && c <= 'f') digit = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F') digit = c - 'A' + 10;
    else return std::nullopt;
    if (high < 0) {
      high = digit;
    } else {
      out.push_back(static_cast<uint8_t>(high << 4 | digit));
      high = -1;
    }
  }
  if (high >= 0 || out.empty()) return std::nullopt;
  return out;
}

}  // namespace

std::string schedule_option(size_t index) { return std::string(kScheduleOptionPrefix) + std::to_string(index + 1); }

std::optional<uint8_t> schedule_index(std::string_view option) {
  if (option.size() != kScheduleOptionPrefix.size() + 1 || !option.starts_with(kScheduleOptionPrefix)) return std::nullopt;
  const char number = option.back();
  if (number < '1' || number > '0' + static_cast<int>(kSchedules)) return std::nullopt;
  return static_cast<uint8_t>(number - '1');
}

std::vector<Property> device_properties(bool allow_raw) {
  std::vector<Property> properties;
  auto add = [&](std::string key, Component component) -> Property& {
    Property& p = properties.emplace_back();
    p.key = std::move(key);
    p.component = component;
    return p;
  };
  {
    Property& p = add("relay", Component::binary_sensor);
    p.main = true;
    p.device_class = "power";
  }
  add("load_detected", Component::binary_sensor).icon = "mdi:current-ac";
  {
    Property& p = add("work_mode", Component::select);
    p.writable = true;
    p.options.assign(kWorkModeNames.begin(), kWorkModeNames.end());
    p.icon = "mdi:calendar-clock";
    p.attributes = true;  // holiday settings live in the attributes
  }
  {
    Property& p = add("boost", Component::select);
    p.writable = true;
    p.options.assign(kBoostNames.begin(), kBoostNames.end());
    p.icon = "mdi:timer-plus-outline";
  }
  {
    Property& p = add("boost_remaining", Component::sensor);
    p.unit = "min";
    p.device_class = "duration";
    p.state_class = "measurement";
  }
  {
    Property& p = add("advance", Component::switch_);
    p.writable = true;
    p.icon = "mdi:skip-next";
  }
  {
    Property& p = add("active_schedule", Component::select);
    p.writable = true;
    for (size_t i = 0; i < kSchedules; ++i) p.options.push_back(schedule_option(i));
    p.icon = "mdi:calendar-week";
    p.attributes = true;  // the six schedules and their names live in the attributes
  }
  {
    Property& p = add("uptime", Component::sensor);
    p.unit = "s";
    p.device_class = "duration";
    p.state_class = "measurement";
    p.diagnostic = true;
    p.enabled_by_default = false;  // changes with every ping
  }
  {
    Property& p = add("firmware", Component::sensor);
    p.diagnostic = true;
    p.icon = "mdi:chip";
  }
  if (allow_raw) {
    // <key>/set/raw: a whole frame in hex (a writable sensor: the Hub passes the text on).
    // A debugging aid, so no Home Assistant entity.
    Property& p = add("raw", Component::sensor);
    p.writable = true;
    p.hidden = true;
  }
  return properties;
}

Json schedule_json(const Schedule& schedule) {
  Json slots = Json::array();
  for (const Slot& slot : schedule.slots) {
    Json days = Json::array();
    for (int day = 0; day < 7; ++day)
      if (slot.days & (1 << day)) days.push_back(kDayNames[day]);
    Json entry = {{"start", hh_mm(slot.start.minutes())},
                  {"start_enabled", slot.start.enabled()},
                  {"end", hh_mm(slot.end.minutes())},
                  {"end_enabled", slot.end.enabled()},
                  {"days", days}};
    // Bits the reference does not explain are shown only when set (kept on writes anyway).
    if (slot.unknown) entry["unknown"] = slot.unknown;
    if ((slot.start.raw | slot.end.raw) & 0xe000) entry["reserved_bits"] = (slot.start.raw | slot.end.raw) >> 13;
    if (slot.days & 0x80) entry["day_bit7"] = true;
    slots.push_back(std::move(entry));
  }
  return {{"index", schedule.index}, {"name", schedule.name()}, {"slots", std::move(slots)}};
}

Json holiday_json(const Holiday& holiday) {
  Json out = {{"active", holiday.active != 0},
              {"time_a", calendar(holiday.time_a)},
              {"time_b", calendar(holiday.time_b)},
              {"time_a_raw", holiday.time_a},
              {"time_b_raw", holiday.time_b}};
  if (holiday.active > 1) out["active_raw"] = holiday.active;
  out["unknown"] = hex_text(holiday.unknown);
  return out;
}

// ---------------------------------------------------------------------------------------

TimeguardBridge::TimeguardBridge(BridgeContext& context) : TimeguardBridge(context, Timing{}) {}

TimeguardBridge::TimeguardBridge(BridgeContext& context, Timing timing)
    : context_(context),
      config_(settings_of<Settings>(context)),
      timing_(timing),
      stats_(context.metrics, "timeguard"),
      endpoint_(context.io,
                CloudEndpoint::Options{config_.listen, config_.mode, config_.upstream, 4096, std::chrono::seconds(300)},
                context.metrics, stats_, *this),
      commands_sent_(context.metrics.counter("localcloud_timeguard_requests_total",
                                             "Server-initiated requests sent to devices (first attempts)")),
      retransmissions_(context.metrics.counter("localcloud_timeguard_retransmissions_total",
                                               "Server-initiated requests sent again after 2 s without an answer")),
      requests_failed_(context.metrics.counter("localcloud_timeguard_requests_failed_total",
                                               "Server-initiated requests given up after 15 s or refused")) {}

TimeguardBridge::~TimeguardBridge() { *alive_ = false; }

BridgePolicy TimeguardBridge::policy() const {
  return BridgePolicy{config_.offline_after, config_.accept_unknown, config_.max_unknown};
}

void TimeguardBridge::start() {
  std::string error;
  zone_ = TimeZone::load(config_.timezone, error);
  if (!zone_) throw std::runtime_error("timeguard.timezone: " + error);
  endpoint_.start();
  running_ = true;
  log_.info("udp ", endpoint_.bound_address(), " (mode ", mode_name(config_.mode),
            config_.mode == Mode::local ? std::string() : ", upstream " + config_.upstream->text(),
            "; time zone ", config_.timezone, " from ", zone_->source(), ")");
  for (const auto& configured : config_.devices) register_device(configured.id, configured.name, true);
}

void TimeguardBridge::stop() {
  running_ = false;
  endpoint_.stop();
  for (auto& [id, device] : devices_) {
    ++device->timer_generation;
    device->timer.cancel();
  }
}

std::vector<Listener> TimeguardBridge::listeners() const { return {Listener{"udp", endpoint_.bound_address()}}; }

void TimeguardBridge::register_device(uint32_t device_id, const std::string& name, bool configured) {
  auto device = std::make_unique<Device>(context_.io);
  device->id = device_id;
  device->key = device_key(device_id);
  device->info.id = device->key;
  device->info.name = name;
  device->info.configured = configured;
  device->info.manufacturer = "Timeguard";
  device->info.properties = device_properties(config_.allow_raw_commands);
  device->next_seq = static_cast<uint8_t>(device_id % (kMaxServerSeq + 1));
  if (!context_.hub.device_seen(device->info)) {
    if (refused_until_.size() >= kMaxRefused) refused_until_.clear();
    refused_until_[device_id] = Clock::now() + timing_.admission_retry;
    return;
  }
  refused_until_.erase(device_id);
  by_key_[device->key] = device_id;
  devices_[device_id] = std::move(device);
}

TimeguardBridge::Device* TimeguardBridge::admit(uint32_t device_id) {
  if (auto it = devices_.find(device_id); it != devices_.end()) return it->second.get();
  const auto now = Clock::now();
  if (auto it = refused_until_.find(device_id); it != refused_until_.end() && now < it->second) return nullptr;
  std::string name;
  bool configured = false;
  for (const auto& entry : config_.devices) {
    if (entry.id == device_id) {
      name = entry.name;
      configured = true;
    }
  }
  register_device(device_id, name, configured);
  auto it = devices_.find(device_id);
  return it == devices_.end() ? nullptr : it->second.get();
}

TimeguardBridge::Device* TimeguardBridge::find(std::string_view key) {
  const auto it = by_key_.find(std::string(key));
  if (it == by_key_.end()) return nullptr;
  const auto device = devices_.find(it->second);
  return device == devices_.end() ? nullptr : device->second.get();
}

void TimeguardBridge::device_frame(const FrameView& frame, const Classified& classified) {
  if (!running_) return;
  Device* device = admit(frame.device_id);
  if (!device) return;  // keepalives only (answered by the endpoint)
  context_.hub.heard(device->key);
  if (!device->heard_before) {
    device->heard_before = true;
    if (auto address = endpoint_.device_address(device->id))
      log_.info("device ", context_.hub.log_name(device->key), " heard from ", to_string(*address));
  }

  if (classified.kind == Kind::unknown || classified.reserved_flags || classified.trailing ||
      classified.parse == Parse::short_params) {
    // Kept (and forwarded in fallback/relay); logged so that the protocol can be learned (§7 Q4).
    if (Logger::enabled(Level::debug)) {
      std::string what = classified.kind == Kind::unknown ? "unknown frame" : kind_name(classified.kind);
      log_.debug(what, " type ", int(frame.type), " flags 0x", hex(std::span<const uint8_t>(&frame.flags, 1)),
                 " seq 0x", hex(std::span<const uint8_t>(&frame.seq, 1)), " from ",
                 context_.hub.log_name(device->key), ": ", frame.params.size(), " param bytes",
                 classified.trailing ? " (" + std::to_string(classified.trailing) + " beyond the known layout)" : "",
                 classified.parse == Parse::short_params ? " (shorter than the known layout)" : "",
                 classified.reserved_flags ? " (reserved flag bits set)" : "", " ", hex(frame.params));
    }
  }

  interpret(*device, frame, classified.kind);
  if (matches_in_flight(*device, frame)) {
    complete(*device, frame.flags & flag::success
                          ? std::string()
                          : "the device answered without the success flag (flags 0x" +
                                hex(std::span<const uint8_t>(&frame.flags, 1)) + ")");
  }
  refresh_if_due(*device);
}

bool TimeguardBridge::matches_in_flight(const Device& device, const FrameView& frame) const {
  // Replies are matched by (device id, type, seq), never by bytes (§7 gotcha 3).
  if (!device.in_flight || device.queue.empty()) return false;
  const Request& request = device.queue.front();
  return request.seq && frame.seq == *request.seq && frame.type == request.frame_type &&
         !(frame.flags & flag::from_server);
}

void TimeguardBridge::interpret(Device& device, const FrameView& frame, Kind kind) {
  auto& hub = context_.hub;
  switch (kind) {
    case Kind::ping:
      if (auto ping = decode_ping(frame.params)) apply_ping(device, *ping);
      break;
    case Kind::code_version_report:
    case Kind::code_version_reply:
      if (auto version = decode_code_version(frame.params)) set_code_version(device, version->text());
      break;
    case Kind::active_schedule_reply:
    case Kind::active_schedule_ack:
      if (auto index = decode_u8(frame.params)) {
        device.active_schedule = *index;
        publish_active_schedule(device);
        publish_attributes(device);
      }
      break;
    case Kind::schedule_reply:
    case Kind::schedule_ack:
      if (auto schedule = decode_schedule(frame.params)) set_schedule(device, *schedule);
      break;
    case Kind::holiday_reply:
    case Kind::holiday_ack:
      if (auto holiday = decode_holiday(frame.params)) {
        device.holiday = *holiday;
        publish_attributes(device);
      }
      break;
    case Kind::work_mode_ack:
      if (auto mode = decode_u8(frame.params))
        hub.state_changed(device.key, "work_mode", *mode < kWorkModeNames.size() ? Json(kWorkModeNames[*mode]) : Json());
      break;
    case Kind::advance_ack:
      if (auto on = decode_u8(frame.params)) hub.state_changed(device.key, "advance", on_off(*on != 0));
      break;
    case Kind::boost_ack:
      // Which word is which is not settled (Q7): the kind is taken only when both agree.
      if (auto words = decode_boost_ack(frame.params); words && (*words)[0].kind() == (*words)[1].kind()) {
        const auto kind = static_cast<size_t>((*words)[0].kind());
        if (kind < kBoostNames.size()) hub.state_changed(device.key, "boost", kBoostNames[kind]);
      }
      break;
    case Kind::schedule_name_ack:
      // A rename (ours or the phone app's through the cloud): read that schedule (TGM does).
      if (auto index = decode_u8(frame.params); index && *index < kSchedules) {
        enqueue(device, read_request(type::schedule, {*index}, "schedule " + std::to_string(*index) + " read after a rename"));
      }
      break;
    default:
      break;
  }
}

void TimeguardBridge::apply_ping(Device& device, const PingStatus& ping) {
  auto& hub = context_.hub;
  const std::string& id = device.key;
  switch (ping.relay()) {
    case Relay::on: hub.state_changed(id, "relay", "ON"); break;
    case Relay::off: hub.state_changed(id, "relay", "OFF"); break;
    default: hub.state_changed(id, "relay", nullptr); break;
  }
  hub.state_changed(id, "load_detected", on_off(ping.load_detected()));
  hub.state_changed(id, "work_mode", ping.work_mode < kWorkModeNames.size() ? Json(kWorkModeNames[ping.work_mode]) : Json());
  const auto boost_kind = static_cast<size_t>(ping.boost.kind());
  hub.state_changed(id, "boost", boost_kind < kBoostNames.size() ? Json(kBoostNames[boost_kind]) : Json());
  const auto remaining = boost_remaining_minutes(ping.boost, unix_now(), *zone_);
  hub.state_changed(id, "boost_remaining", remaining ? Json(*remaining) : Json());
  hub.state_changed(id, "advance", on_off(ping.advance()));
  hub.state_changed(id, "uptime", ping.uptime_s);
  const bool attributes_change = !device.ping || device.ping->load_previously_detected() != ping.load_previously_detected();
  device.ping = ping;
  if (attributes_change) publish_attributes(device);
}

void TimeguardBridge::set_code_version(Device& device, const std::string& version) {
  context_.hub.state_changed(device.key, "firmware", version);
  if (version == device.code_version) return;
  device.code_version = version;
  device.info.firmware = version;
  device.info.model = model_of(version);
  update_description(device);
}

void TimeguardBridge::set_schedule(Device& device, const Schedule& schedule) {
  if (schedule.index >= kSchedules) return;
  // A new name changes the attributes only: the select's options are the numbers.
  device.schedules[schedule.index] = schedule;
  publish_attributes(device);
}

void TimeguardBridge::publish_active_schedule(Device& device) {
  if (!device.active_schedule) return;
  const size_t index = *device.active_schedule;
  context_.hub.state_changed(device.key, "active_schedule",
                             index < kSchedules ? Json(schedule_option(index)) : Json());
}

void TimeguardBridge::publish_attributes(Device& device) {
  Json schedules = Json::array();
  for (const auto& schedule : device.schedules) schedules.push_back(schedule ? schedule_json(*schedule) : Json());
  const auto active = device.active_schedule;
  const bool active_known = active && *active < kSchedules && device.schedules[*active];
  Json attributes = {
      {"active_schedule_index", active ? Json(*active) : Json()},
      {"active_schedule_name", active_known ? Json(device.schedules[*active]->name()) : Json()},
      {"schedules", std::move(schedules)},
      {"holiday", device.holiday ? holiday_json(*device.holiday) : Json()},
      {"load_previously_detected", device.ping ? Json(device.ping->load_previously_detected()) : Json()},
      {"code_version", device.code_version.empty() ? Json() : Json(device.code_version)},
  };
  if (attributes == device.attributes) return;
  device.attributes = attributes;
  context_.hub.attributes_changed(device.key, std::move(attributes));
}

void TimeguardBridge::update_description(Device& device) { context_.hub.device_seen(device.info); }

// ---- Requests --------------------------------------------------------------------------

TimeguardBridge::Request TimeguardBridge::read_request(uint8_t frame_type, Bytes params, std::string what) {
  Request request;
  request.frame_type = frame_type;
  request.flags = flag::read;
  request.params = std::move(params);
  request.what = std::move(what);
  return request;
}

void TimeguardBridge::refresh_if_due(Device& device) {
  // First sight (and later, while something is still missing): read what the ping does not
  // carry (§4.2 item 12). Not in relay mode, which only watches the conversation.
  if (config_.mode == Mode::relay || !device.queue.empty()) return;
  const auto now = Clock::now();
  if (now < device.next_refresh) return;
  device.next_refresh = now + timing_.refresh;
  queue_reads(device, false);
}

void TimeguardBridge::queue_reads(Device& device, bool everything) {
  auto read = [&](uint8_t frame_type, Bytes params, std::string what) {
    for (const Request& queued : device.queue)
      if (!queued.user && queued.frame_type == frame_type && queued.flags == flag::read && queued.params == params)
        return;
    enqueue(device, read_request(frame_type, std::move(params), std::move(what)));
  };
  if (device.code_version.empty()) read(type::code_version, {}, "code version read");
  if (everything || !device.active_schedule) read(type::active_schedule, {}, "active schedule read");
  for (uint8_t i = 0; i < kSchedules; ++i)
    if (everything || !device.schedules[i]) read(type::schedule, {i}, "schedule " + std::to_string(i) + " read");
  if (everything || !device.holiday) read(type::holiday, {}, "holiday read");
}

void TimeguardBridge::enqueue(Device& device, Request request) {
  if (request.user) {
    // Commands go before the automatic reads, behind the request in flight and earlier commands.
    size_t users = 0;
    auto position = device.queue.begin();
    if (device.in_flight && position != device.queue.end()) ++position;
    while (position != device.queue.end() && position->user) ++position, ++users;
    if (users >= kMaxUserRequests) {
      requests_failed_.inc();
      finish(std::move(request.done), "too many commands waiting for this device");
      return;
    }
    device.queue.insert(position, std::move(request));
  } else {
    device.queue.push_back(std::move(request));
  }
  pump(device);
}

void TimeguardBridge::pump(Device& device) {
  while (running_ && !device.in_flight && !device.queue.empty()) {
    Request& request = device.queue.front();
    if (request.raw_frame) {
      request.frame = *request.raw_frame;
    } else {
      if (!request.seq) {
        request.seq = device.next_seq;  // 0x00..0xfd, never 0xff (§4.3)
        device.next_seq = static_cast<uint8_t>(device.next_seq >= kMaxServerSeq ? 0 : device.next_seq + 1);
      }
      request.frame = encode_request(request.frame_type, request.flags, *request.seq, device.id, request.params);
    }
    if (!endpoint_.send_to_device(device.id, request.frame)) {
      log_.debug(request.what, " for ", context_.hub.log_name(device.key), " not sent: no address");
      requests_failed_.inc();
      finish(std::move(request.done), "the device's address is not known (not heard since start)");
      device.queue.pop_front();
      continue;
    }
    commands_sent_.inc();
    if (!request.expects_reply) {
      finish(std::move(request.done), "");
      device.queue.pop_front();
      continue;
    }
    request.first_sent = Clock::now();
    device.in_flight = true;
    arm_timer(device);
  }
}

void TimeguardBridge::finish(CommandDone done, std::string error) {
  // Called from the io_context, never from inside the bridge's own bookkeeping.
  if (done) boost::asio::post(context_.io, [done = std::move(done), error = std::move(error)] { done(error); });
}

void TimeguardBridge::arm_timer(Device& device) {
  const Request& request = device.queue.front();
  const auto now = Clock::now();
  const auto give_up_at = request.first_sent + timing_.give_up;
  device.timer.expires_at(std::min(now + timing_.retry, give_up_at));
  const uint64_t generation = ++device.timer_generation;
  device.timer.async_wait([this, alive = std::weak_ptr<bool>(alive_), id = device.id,
                           generation](const boost::system::error_code& ec) {
    if (ec) return;
    const auto token = alive.lock();
    if (!token || !*token) return;
    try {
      on_timer(id, generation);
    } catch (const std::exception& error) {
      log_.error("request timer: ", error.what());
    }
  });
}

void TimeguardBridge::on_timer(uint32_t device_id, uint64_t generation) {
  const auto it = devices_.find(device_id);
  if (it == devices_.end() || !running_) return;
  Device& device = *it->second;
  if (generation != device.timer_generation || !device.in_flight || device.queue.empty()) return;
  Request& request = device.queue.front();
  if (Clock::now() >= request.first_sent + timing_.give_up) {
    const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(timing_.give_up).count();
    complete(device, "no answer from the device after " + std::to_string(seconds) + " s");
    return;
  }
  // Same seq, same bytes (§4.3).
  retransmissions_.inc();
  endpoint_.send_to_device(device.id, request.frame);
  arm_timer(device);
}

void TimeguardBridge::complete(Device& device, std::string error) {
  Request request = std::move(device.queue.front());
  device.queue.pop_front();
  device.in_flight = false;
  ++device.timer_generation;
  device.timer.cancel();
  if (!error.empty()) {
    requests_failed_.inc();
    if (request.user)
      log_.debug(request.what, " for ", context_.hub.log_name(device.key), " failed: ", error);
    else
      log_.info(request.what, " for ", context_.hub.log_name(device.key), " failed: ", error);
  }
  if (error.empty() && request.frame_type == type::active_schedule && request.flags == flag::write) {
    // Read it back: the state shows what the device reports, and in fallback mode the cloud
    // learns the new value from the forwarded reply (TGM on_message_set_active_schedule).
    device.queue.push_front(read_request(type::active_schedule, {}, "active schedule read after a change"));
  }
  finish(std::move(request.done), std::move(error));
  pump(device);
}

// ---- Hub requests ----------------------------------------------------------------------

void TimeguardBridge::command(std::string_view id, std::string_view property, const Json& value, CommandDone done) {
  Device* device = find(id);
  if (!device) return done("unknown device");
  if (!running_) return done("bridge stopped");
  if (!value.is_string()) return done("expected text");
  const std::string text = value.get<std::string>();
  Request request;
  request.user = true;
  request.flags = flag::write;
  request.what = std::string(property) + "=" + text;

  if (property == "work_mode") {
    const auto it = std::find(kWorkModeNames.begin(), kWorkModeNames.end(), text);
    if (it == kWorkModeNames.end()) return done("unknown work mode '" + text + "'");
    request.frame_type = type::work_mode;
    request.params = {static_cast<uint8_t>(it - kWorkModeNames.begin())};
  } else if (property == "boost") {
    const auto it = std::find(kBoostNames.begin(), kBoostNames.end(), text);
    if (it == kBoostNames.end()) return done("unknown boost '" + text + "'");
    request.frame_type = type::boost;
    request.params = {static_cast<uint8_t>(it - kBoostNames.begin())};
  } else if (property == "advance") {
    bool on;
    if (text == "ON") on = true;
    else if (text == "OFF") on = false;
    else if (text == "TOGGLE") {
      if (!device->ping) return done("advance state not known yet (no ping since start)");
      on = !device->ping->advance();
    } else {
      return done("expected ON, OFF or TOGGLE");
    }
    request.frame_type = type::advance;
    request.params = {static_cast<uint8_t>(on ? 1 : 0)};
  } else if (property == "active_schedule") {
    const auto index = schedule_index(text);
    if (!index) return done("unknown schedule '" + text + "'");
    request.frame_type = type::active_schedule;
    request.params = {*index};
  } else if (property == "raw" && config_.allow_raw_commands) {
    const auto bytes = parse_hex(text);
    if (!bytes) return done("raw: expected a frame in hex");
    FrameView frame;
    const FrameError error = parse_frame(*bytes, frame);
    if (error != FrameError::none) return done(std::string("raw: not a valid frame (") + reason(error) + ")");
    if (frame.device_id != device->id) return done("raw: the frame's device id is not this device's");
    request.frame_type = frame.type;
    request.flags = frame.flags;
    request.raw_frame = *bytes;
    // A server request (read or write) is tracked like ours; anything else is sent once.
    request.expects_reply = (frame.flags & (flag::from_server | flag::success)) == flag::from_server &&
                            frame.seq != kDeviceSeq;
    if (request.expects_reply) request.seq = frame.seq;
    request.what = "raw " + std::string(kind_name(kind_of(frame.type, frame.flags))) + " frame";
  } else {
    return done("property '" + std::string(property) + "' cannot be set");
  }
  request.done = std::move(done);
  log_.debug("sending ", request.what, " to ", context_.hub.log_name(device->key));
  enqueue(*device, std::move(request));
}

void TimeguardBridge::read(std::string_view id) {
  Device* device = find(id);
  if (!device || !running_) return;
  queue_reads(*device, true);
}

void TimeguardBridge::forget(std::string_view id) {
  const auto key = by_key_.find(std::string(id));
  if (key == by_key_.end()) return;
  const auto it = devices_.find(key->second);
  if (it != devices_.end()) {
    ++it->second->timer_generation;
    it->second->timer.cancel();
    devices_.erase(it);
  }
  by_key_.erase(key);
}

// ---- Registration (bridges/registry.cpp) ------------------------------------------------

std::unique_ptr<Bridge> create_bridge(BridgeContext& context) { return std::make_unique<TimeguardBridge>(context); }

}  // namespace lc::timeguard
