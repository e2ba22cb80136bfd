// The miio Bridge (miio_bridge.h): start and stop, and what the Hub is told: registration, the
// values that changed, traffic at most once a second.
#include "bridges/miio/miio_bridge.h"

#include "bridges/miio/model_values.h"
#include "bridges/miio/trace.h"
#include "core/coarse_clock.h"

namespace lc::miio {

using Clock = std::chrono::steady_clock;

namespace {

// The Hub hears of a device at most this often: offline_after counts in seconds, and a device
// that pings many times a second costs one timestamp compare per ping.
constexpr auto kHeardEvery = std::chrono::seconds(1);

}  // namespace

MiioBridge::MiioBridge(BridgeContext& context, BridgeOptions options)
    : io_(context.io),
      config_(settings_of<Settings>(context)),
      hub_(context.hub),
      stats_(context.metrics, "miio"),
      options_(std::move(options)),
      cloud_(context.io, config_.listen, stats_, *this, options_.cloud) {}

MiioBridge::~MiioBridge() { stop(); }

BridgePolicy MiioBridge::policy() const {
  BridgePolicy policy;
  policy.offline_after = config_.offline_after;
  policy.accept_unknown = false;  // only devices with a token are polled and published (docs/config.md)
  policy.max_unknown = 0;
  return policy;
}

std::vector<Listener> MiioBridge::listeners() const {
  return {{"udp", cloud_.address_text()}, {"tcp", cloud_.address_text()}};
}

void MiioBridge::start() {
  cloud_.start();
  stopped_ = false;
  for (const auto& device_config : config_.devices) {
    auto device = std::make_unique<Device>(io_);
    Device& d = *device;
    d.config = device_config;
    d.model = device_config.model;
    d.started = Clock::now();
    if (!d.config.cloud_key.empty()) {
      if (const auto key = token_from_cloud_key(d.config.cloud_key)) d.cloud_cipher.emplace(*key);
    }
    LocalClient::Events events;
    events.handshake = [this, &d](uint32_t did, uint32_t) { learn_did(d, did); };
    events.token_suspect = [this, &d](std::string detail) { on_token_suspect(d, detail); };
    d.client = std::make_unique<LocalClient>(io_, d.config.host, d.config.port, d.config.token, stats_,
                                             std::move(events), options_.client);
    devices_.push_back(std::move(device));
    if (!d.model.empty()) learn_model(d, d.model, "");
    if (d.config.did) learn_did(d, *d.config.did);
    d.client->start();
    schedule(d, std::chrono::milliseconds(0));
  }
}

void MiioBridge::stop() {
  if (stopped_) return;
  stopped_ = true;
  cloud_.stop();
  for (auto& device : devices_) {
    device->timer.cancel();
    device->client->stop();
  }
}

MiioBridge::Device* MiioBridge::find(std::string_view id) {
  for (auto& device : devices_)
    if (!device->id.empty() && device->id == id) return device.get();
  return nullptr;
}

std::string MiioBridge::log_name(const Device& device) const {
  if (device.registered) return hub_.log_name(device.id);
  if (!device.config.name.empty()) return device.config.name;
  return "device at " + device.client->peer_text();
}

// Runs work for a device from an io_context handler: nothing may escape into Asio.
void MiioBridge::guarded(Device& d, const std::function<void()>& work) {
  if (stopped_) return;
  try {
    work();
  } catch (const std::exception& error) {
    log_.error(log_name(d), ": ", error.what());
  }
}

void MiioBridge::read(std::string_view id) {
  if (Device* d = find(id)) advance(*d);
}

void MiioBridge::admitted(std::string_view id) {
  if (Device* d = find(id); d && !d->registered) {
    d->registered = true;
    d->last_heard = {};
    publish_values(*d);
  }
}

void MiioBridge::forget(std::string_view id) {
  if (Device* d = find(id)) {
    // Still configured: it is registered afresh with its next successful poll.
    d->registered = false;
    d->forgotten = true;
    for (auto& value : d->values) value.reported = false;
  }
}

// ---- the Hub -------------------------------------------------------------------------------

void MiioBridge::announce(Device& d) {
  if (!d.did) return;
  DeviceInfo info;
  info.id = d.id;
  info.name = d.config.name;
  info.configured = true;
  info.manufacturer = "Xiaomi";
  info.model = d.model;
  info.firmware = d.firmware;
  if (d.def) info.properties = properties_of(*d.def);
  const bool was_registered = d.registered;
  d.registered = hub_.device_seen(info);
  if (d.registered && !was_registered) d.last_heard = {};  // a new registration hears at once
}

// Legacy values: an answer equal to the last one costs a comparison, nothing is decoded or sent.
void MiioBridge::report_raw(Device& d, const PropDef& prop, const Json& raw) {
  ReportedValue& value = d.values[d.index_of(prop)];
  if (value.read && value.reported && value.last == raw) return;
  value.last = raw;
  value.read = true;
  value.reported = d.registered;
  if (d.registered) hub_.state_changed(d.id, prop.property.key, decode_value(prop, raw));
}

// MIoT values, decoded by the MIoT codec: sent when they changed.
void MiioBridge::report_value(Device& d, const PropDef& prop, const Json& published) {
  ReportedValue& value = d.values[d.index_of(prop)];
  if (value.read && value.reported && value.last == published) return;
  value.last = published;
  value.read = true;
  value.reported = d.registered;
  if (d.registered) hub_.state_changed(d.id, prop.property.key, published);
}

// Everything read so far, to a Hub that has just registered the device.
void MiioBridge::publish_values(Device& d) {
  if (!d.registered || !d.def) return;
  for (size_t i = 0; i < d.values.size(); ++i) {
    ReportedValue& value = d.values[i];
    if (!value.read || value.reported) continue;
    value.reported = true;
    const PropDef& prop = d.def->props[i];
    hub_.state_changed(d.id, prop.property.key, d.miot() ? value.last : decode_value(prop, value.last));
  }
}

// Traffic from a registered device, told to the Hub at most once a second.
void MiioBridge::heard(Device& d) {
  if (d.registered && once_every(d.last_heard, kHeardEvery)) hub_.heard(d.id);
}

std::unique_ptr<Bridge> create_bridge(BridgeContext& context) { return std::make_unique<MiioBridge>(context); }

}  // namespace lc::miio
