// The miio Bridge: devices, their identity and model, polls and commands. § are sections of
// docs/protocols/miio.md.
#include "bridges/miio/miio_bridge.h"

#include "bridges/miio/trace.h"

namespace lc::miio {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {

// miIO.info attempts for the firmware version of a device whose model is configured.
constexpr int kFirmwareInfoTries = 3;
// The Hub hears of a device at most this often: offline_after counts in seconds, and a device
// that pings many times a second costs one timestamp compare per ping.
constexpr auto kHeardEvery = std::chrono::seconds(1);

// Setters answer ["ok"] (python-miio's simulator, §3.5); some devices answer "ok".
bool acknowledged(const Json& result) {
  if (result == "ok") return true;
  return result.is_array() && result.size() == 1 && result[0] == "ok";
}

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
    schedule(d, milliseconds(0));
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

// ---- identity and model --------------------------------------------------------------------

void MiioBridge::learn_did(Device& d, uint32_t did) {
  if (d.did) {
    if (*d.did != did && !d.did_mismatch_reported) {
      d.did_mismatch_reported = true;
      log_.warn(log_name(d), ": the device reports another device id than `did:` in the config; "
                "keeping the configured one for its identity");
    }
    return;
  }
  if (const auto taken = by_did_.find(did); taken != by_did_.end()) {
    if (!d.did_mismatch_reported)
      log_.error(log_name(d), " has the same device id as ", log_name(*taken->second), "; ignoring it");
    d.did_mismatch_reported = true;
    return;
  }
  d.did = did;
  d.id = did_text(did);
  by_did_[did] = &d;
  announce(d);
}

void MiioBridge::learn_model(Device& d, const std::string& model, const std::string& firmware) {
  const bool changed = model != d.model || !d.spec || (!firmware.empty() && firmware != d.firmware);
  if (!firmware.empty()) d.firmware = firmware;
  if (!d.spec || model != d.model) {
    d.model = model;
    d.spec = find_model(model);
    if (!d.spec) {
      log_.warn(log_name(d), ": model \"", model, "\" is not in the models table; treating it as ",
                fallback_model().model, " (power and temperature)");
      d.spec = &fallback_model();
    }
    d.values.assign(d.spec->props.size(), Value{});
  }
  if (changed && d.did) announce(d);
}

void MiioBridge::announce(Device& d) {
  if (!d.did) return;
  DeviceInfo info;
  info.id = d.id;
  info.name = d.config.name;
  info.configured = true;
  info.manufacturer = "Xiaomi";
  info.model = d.model;
  info.firmware = d.firmware;
  if (d.spec) info.properties = properties_of(*d.spec);
  const bool was_registered = d.registered;
  d.registered = hub_.device_seen(info);
  if (d.registered && !was_registered) d.last_heard = {};  // a new registration hears at once
}

// ---- polling -------------------------------------------------------------------------------

void MiioBridge::schedule(Device& d, milliseconds delay) {
  d.timer.expires_after(delay);
  d.timer.async_wait([this, &d](const boost::system::error_code& ec) {
    if (ec || stopped_) return;
    guarded(d, [this, &d] { advance(d); });
    schedule(d, config_.poll_interval);
  });
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

// One step of what is due for the device: learn its id, then its model, then poll it.
void MiioBridge::advance(Device& d) {
  if (stopped_) return;
  if (!d.did) {
    if (d.handshaking) return;
    d.handshaking = true;
    d.client->handshake([this, &d](Reply reply) {
      d.handshaking = false;
      if (reply.ok() && d.did) {
        advance(d);
      } else if (!reply.ok()) {
        log_.debug(log_name(d), ": no handshake reply");
      }
    });
    return;
  }
  if (!d.spec) {
    // miIO.info is unreliable until the device's cloud session is up (§4.4, §5 item 16);
    // past offline_after without one it is tried anyway.
    if (d.cloud_session || Clock::now() - d.started >= config_.offline_after)
      ask_info(d);
    else
      log_.debug(log_name(d), ": model unknown; waiting for its cloud session before asking miIO.info");
    return;
  }
  if (d.firmware.empty() && d.cloud_session && d.info_tries < kFirmwareInfoTries) ask_info(d);
  poll(d);
}

void MiioBridge::ask_info(Device& d) {
  if (d.info_in_flight) return;
  d.info_in_flight = true;
  ++d.info_tries;
  d.client->request("miIO.info", Json::array(), [this, &d](Reply reply) {
    d.info_in_flight = false;
    if (!reply.ok()) {
      log_.debug(log_name(d), ": miIO.info failed: ", reply.describe());
      return;
    }
    heard(d);
    const std::string model = string_member(reply.result, "model");
    const std::string firmware = string_member(reply.result, "fw_ver");
    if (model.empty()) {
      log_.debug(log_name(d), ": miIO.info without a model");
      return;
    }
    if (d.spec && !d.config.model.empty()) {
      if (model != d.config.model)
        log_.warn(log_name(d), ": the device says it is ", model, " but the config says ", d.config.model);
      learn_model(d, d.model, firmware);
      return;
    }
    const bool first = !d.spec;
    log_.info(log_name(d), ": model ", model, firmware.empty() ? "" : ", firmware ", firmware);
    learn_model(d, model, firmware);
    if (first) poll(d);
  });
}

void MiioBridge::poll(Device& d) {
  if (!d.spec) return;
  if (d.polling) {
    d.poll_again = true;
    return;
  }
  d.polling = true;
  d.poll_again = false;
  auto reads = std::make_shared<std::vector<Read>>(poll_reads(*d.spec));
  auto remaining = std::make_shared<size_t>(reads->size());
  for (size_t index = 0; index < reads->size(); ++index) {
    const Read& read = (*reads)[index];
    d.client->request(read.request.method, read.request.params, [this, &d, reads, remaining, index](Reply reply) {
      const Read& read = (*reads)[index];
      if (reply.ok()) {
        if (d.forgotten) {
          d.forgotten = false;  // bridge/request/remove: registered afresh
          announce(d);
        }
        heard(d);
        if (read.request.method == "get_prop") {
          if (!reply.result.is_array()) {
            log_.debug(log_name(d), ": get_prop answered with a non-list: ", redact(reply.result).dump());
          } else {
            // Positionally aligned; missing or empty slots are unknown (§4.4).
            bool all_empty = true;
            for (size_t i = 0; i < read.props.size(); ++i) {
              const Json raw = i < reply.result.size() ? reply.result[i] : Json();
              if (!raw.is_null()) all_empty = false;
              set_state(d, *read.props[i], raw);
            }
            if (all_empty && !d.empty_reported) {
              d.empty_reported = true;
              log_.info(log_name(d), " answers get_prop with empty values: its cloud session is probably "
                        "not established yet (the device needs hello and ping answers from localcloud on ",
                        config_.listen.text(), ")");
            } else if (!all_empty && d.empty_reported) {
              d.empty_reported = false;
              log_.info(log_name(d), " reports values now");
            }
          }
        } else {
          const Json raw = reply.result.is_array() ? (reply.result.empty() ? Json() : reply.result[0]) : reply.result;
          set_state(d, *read.props.front(), raw);
        }
      } else {
        log_.debug(log_name(d), ": ", read.request.method, " failed: ", reply.describe());
      }
      if (--*remaining == 0) {
        d.polling = false;
        if (d.poll_again && !stopped_) poll(d);
      }
    });
  }
}

// The Hub hears only of what changed: an answer equal to the last one costs a comparison.
void MiioBridge::set_state(Device& d, const PropSpec& prop, const Json& raw) {
  Value& value = d.values[static_cast<size_t>(&prop - d.spec->props.data())];
  if (value.read && value.reported && value.raw == raw) return;
  value.raw = raw;
  value.read = true;
  value.reported = d.registered;
  if (d.registered) hub_.state_changed(d.id, prop.property.key, decode_value(prop, raw));
}

// Everything read so far, to a Hub that has just registered the device.
void MiioBridge::publish_values(Device& d) {
  if (!d.registered || !d.spec) return;
  for (size_t i = 0; i < d.values.size(); ++i) {
    Value& value = d.values[i];
    if (!value.read || value.reported) continue;
    value.reported = true;
    hub_.state_changed(d.id, d.spec->props[i].property.key, decode_value(d.spec->props[i], value.raw));
  }
}

// Traffic from a registered device, told to the Hub at most once a second.
void MiioBridge::heard(Device& d) {
  if (!d.registered) return;
  const auto now = Clock::now();
  if (now - d.last_heard < kHeardEvery) return;
  d.last_heard = now;
  hub_.heard(d.id);
}

void MiioBridge::on_token_suspect(Device& d, const std::string& detail) {
  log_.warn(log_name(d), " (", d.client->peer_text(), "): the token is probably wrong: ", detail,
            ". Check the token in the config (32 hex digits, from the device's provisioning).");
  if (d.registered)
    hub_.event("device_error", d.id,
               {{"error", "token_probably_wrong"},
                {"message", "the device answers the handshake but not encrypted requests: the token is probably wrong"}});
}

// ---- commands ------------------------------------------------------------------------------

void MiioBridge::command(std::string_view id, std::string_view property, const Json& value, CommandDone done) {
  Device* device = find(id);
  if (!device) return done("unknown device");
  Device& d = *device;
  if (!d.spec) return done("the device's model is not known yet");
  const PropSpec* prop = find_prop(*d.spec, property);
  if (!prop || prop->setter == Setter::none) return done("property is read-only");
  const auto request = setter_request(*prop, value);
  if (!request) return done("value not accepted: " + value.dump());
  d.client->request(request->method, request->params, [this, &d, done = std::move(done)](Reply reply) {
    if (reply.ok()) heard(d);
    if (reply.ok() && acknowledged(reply.result)) {
      done("");
    } else if (reply.ok()) {
      done("unexpected answer: " + reply.result.dump());
    } else {
      done(reply.describe());
    }
    // The state topic only shows what the device reports: read it back now.
    if (!stopped_) poll(d);
  });
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

std::unique_ptr<Bridge> create_bridge(BridgeContext& context) { return std::make_unique<MiioBridge>(context); }

}  // namespace lc::miio
