// TimeguardBridge (bridge.h). Section numbers (§N, QN) are those of docs/protocols/timeguard.md.
#include "bridges/timeguard/bridge.h"

#include <algorithm>
#include <stdexcept>

#include "bridges/timeguard/commands.h"
#include "bridges/timeguard/reports.h"
#include "core/coarse_clock.h"
#include "core/hex.h"

namespace lc::timeguard {

namespace {

constexpr size_t kMaxUnregistered = 4096;
// The Hub's offline check runs once a second: a device heard at most this often is seen as
// silent for at most one interval more than it was.
constexpr auto kHeardInterval = std::chrono::seconds(1);

}  // namespace

TimeguardBridge::TimeguardBridge(BridgeContext& context) : TimeguardBridge(context, Timing{}) {}

TimeguardBridge::TimeguardBridge(BridgeContext& context, Timing timing)
    : context_(context),
      config_(settings_of<Settings>(context)),
      timing_(timing),
      stats_(context.metrics, "timeguard"),
      endpoint_(context.io,
                CloudEndpoint::Options{config_.listen, config_.mode, config_.upstream, 4096, std::chrono::seconds(300)},
                context.metrics, stats_, *this),
      requests_shared_{
          endpoint_, context.hub, log_, timing,
          context.metrics.counter("localcloud_timeguard_requests_total",
                                  "Server-initiated requests sent to devices (first attempts)"),
          context.metrics.counter("localcloud_timeguard_retransmissions_total",
                                  "Server-initiated requests sent again after 2 s without an answer"),
          context.metrics.counter("localcloud_timeguard_requests_failed_total",
                                  "Server-initiated requests given up after 15 s or refused")},
      heard_interval_(std::min<Clock::duration>(kHeardInterval, config_.offline_after / 2)) {}

TimeguardBridge::~TimeguardBridge() = default;

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
  for (const auto& configured : config_.devices) first_sight(configured.id);
}

void TimeguardBridge::stop() {
  running_ = false;
  endpoint_.stop();
  for (auto& [id, device] : devices_) device->requests.clear();
}

std::vector<Listener> TimeguardBridge::listeners() const { return {Listener{"udp", endpoint_.bound_address()}}; }

// ---- Registration ------------------------------------------------------------------------

DeviceInfo TimeguardBridge::description(uint32_t device_id) const {
  DeviceInfo info;
  info.id = device_key(device_id);
  info.manufacturer = "Timeguard";
  info.properties = device_properties(config_.allow_raw_commands);
  for (const auto& entry : config_.devices) {
    if (entry.id == device_id) {
      info.name = entry.name;
      info.configured = true;
    }
  }
  return info;
}

DeviceState& TimeguardBridge::add(uint32_t device_id, DeviceInfo info) {
  auto& slot = devices_[device_id];
  slot = std::make_unique<DeviceState>(context_.io, requests_shared_, std::move(info), device_id);
  return *slot;
}

// A device not registered yet: the Hub is asked once.
DeviceState* TimeguardBridge::first_sight(uint32_t device_id) {
  if (unregistered_.count(device_id)) return nullptr;
  DeviceInfo info = description(device_id);
  if (!context_.hub.device_seen(info)) {
    if (unregistered_.size() >= kMaxUnregistered) unregistered_.clear();  // then asked once more
    unregistered_.insert(device_id);
    return nullptr;
  }
  return &add(device_id, std::move(info));
}

void TimeguardBridge::admitted(std::string_view id) {
  const auto device_id = parse_device_id(id);
  if (!device_id || devices_.count(*device_id)) return;
  unregistered_.erase(*device_id);
  DeviceState& device = add(*device_id, description(*device_id));
  if (running_) refresh_if_due(device, Clock::now());
}

void TimeguardBridge::forget(std::string_view id) {
  if (const auto device_id = parse_device_id(id)) devices_.erase(*device_id);
  // A removal frees a place within max_unknown: the devices the Hub refused are asked once
  // more on their next frame.
  unregistered_.clear();
}

DeviceState* TimeguardBridge::find(std::string_view key) {
  const auto device_id = parse_device_id(key);
  if (!device_id) return nullptr;
  const auto it = devices_.find(*device_id);
  return it == devices_.end() ? nullptr : it->second.get();
}

// ---- Frames from devices -----------------------------------------------------------------

void TimeguardBridge::device_frame(const FrameView& frame, const Classified& classified) {
  if (!running_) return;
  const auto it = devices_.find(frame.device_id);
  DeviceState* device = it != devices_.end() ? it->second.get() : first_sight(frame.device_id);
  if (!device) return;  // keepalives only (answered by the endpoint)
  const auto now = coarse_steady_now();
  if (once_every(device->heard_reported, heard_interval_, now)) context_.hub.heard(device->key);
  // For the web page's cloud conversation; as rare as heard() (the ping path stays flat).
  if ((classified.kind == Kind::ping || classified.kind == Kind::code_version_report) &&
      once_every(device->exchange_reported, heard_interval_, now)) {
    const bool relayed = config_.mode == Mode::relay;  // the cloud answers, not us
    if (classified.kind == Kind::ping) context_.hub.cloud_exchange(device->key, "ping", relayed ? "" : "ping reply");
    else context_.hub.cloud_exchange(device->key, "version report", relayed ? "" : "version ack");
  }
  if (!device->heard_before) {
    device->heard_before = true;
    if (auto address = endpoint_.device_address(device->id))
      log_.info("device ", context_.hub.log_name(device->key), " heard from ", to_string(*address));
  }
  if (classified.kind == Kind::unknown || classified.reserved_flags || classified.trailing ||
      classified.parse == Parse::short_params)
    log_unusual(*device, frame, classified);

  report_frame(context_.hub, *device, frame, classified.kind, *zone_);
  if (classified.kind == Kind::schedule_name_ack) {
    // A rename (ours or the phone app's through the cloud): read that schedule (TGM does, §2.5).
    if (auto index = decode_u8(frame.params); index && *index < kSchedules)
      device->requests.read(type::schedule, {*index}, "schedule " + std::to_string(*index) + " read after a rename",
                            true);
  }
  device->requests.answered(frame);
  refresh_if_due(*device, now);
}

void TimeguardBridge::log_unusual(const DeviceState& device, const FrameView& frame, const Classified& classified) const {
  // Kept (and forwarded in fallback/relay); logged so that the protocol can be learned (Q4).
  if (!Logger::enabled(Level::debug)) return;
  std::string what = classified.kind == Kind::unknown ? "unknown frame" : kind_name(classified.kind);
  log_.debug(what, " type ", int(frame.type), " flags 0x", hex(std::span<const uint8_t>(&frame.flags, 1)), " seq 0x",
             hex(std::span<const uint8_t>(&frame.seq, 1)), " from ", context_.hub.log_name(device.key), ": ",
             frame.params.size(), " param bytes",
             classified.trailing ? " (" + std::to_string(classified.trailing) + " beyond the known layout)" : "",
             classified.parse == Parse::short_params ? " (shorter than the known layout)" : "",
             classified.reserved_flags ? " (reserved flag bits set)" : "", " ", hex(frame.params));
}

// ---- Automatic reads ---------------------------------------------------------------------

void TimeguardBridge::refresh_if_due(DeviceState& device, Clock::time_point now) {
  // First sight (and later, while something is still missing): read what the ping does not
  // carry (§4.2, implementer's summary item 12). Not in relay mode, which only watches.
  if (config_.mode == Mode::relay || !device.requests.idle() || now < device.next_refresh) return;
  device.next_refresh = now + timing_.refresh;
  queue_reads(device, false);
}

void TimeguardBridge::queue_reads(DeviceState& device, bool everything) {
  DeviceRequests& requests = device.requests;
  if (device.code_version.empty()) requests.read(type::code_version, {}, "code version read");
  if (everything || !device.active_schedule) requests.read(type::active_schedule, {}, "active schedule read");
  for (uint8_t i = 0; i < kSchedules; ++i)
    if (everything || !device.schedules[i]) requests.read(type::schedule, {i}, "schedule " + std::to_string(i) + " read");
  if (everything || !device.holiday) requests.read(type::holiday, {}, "holiday read");
}

// ---- The Hub's requests ------------------------------------------------------------------

void TimeguardBridge::command(std::string_view id, std::string_view property, const Json& value, CommandDone done) {
  DeviceState* device = find(id);
  if (!device) return done("unknown device");
  if (!running_) return done("bridge stopped");
  auto command = command_request(device->id, property, value, config_.allow_raw_commands);
  if (!command.request) return done(std::move(command.error));
  log_.debug("sending ", command.request->what, " to ", context_.hub.log_name(device->key));
  device->requests.command(std::move(*command.request), std::move(done));
}

void TimeguardBridge::read(std::string_view id) {
  DeviceState* device = find(id);
  if (!device || !running_) return;
  queue_reads(*device, true);
}

// ---- Registration (bridges/registry.cpp) -------------------------------------------------

std::unique_ptr<Bridge> create_bridge(BridgeContext& context) { return std::make_unique<TimeguardBridge>(context); }

}  // namespace lc::timeguard
