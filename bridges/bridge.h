// The seam between a vendor bridge and the rest of the daemon (docs/architecture.md).
//
// A bridge owns its sockets on the shared io_context and reports what it learns to its Hub.
// It knows nothing of MQTT. The Hub owns the device registry, the state cache, availability
// (from heard() and the bridge's offline_after) and everything published.
//
// Threading: every call in both directions happens on the io_context thread.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <nlohmann/json.hpp>

#include "bridges/device.h"
#include "config/bridge_settings.h"
#include "core/net.h"

namespace lc {

class Metrics;
class DurableStore;

using Json = nlohmann::json;

// Reported to by exactly one bridge; every `id` is that bridge's device id (DeviceInfo::id).
class Hub {
 public:
  virtual ~Hub() = default;

  // Registers a device, or updates its description (model, firmware, properties, name).
  // Returns true when the device is registered now. False when it is not: an unknown device
  // while accept_unknown is false or beyond max_unknown (refused: logged once per id,
  // counted), or over the one-new-unknown-device-a-second rate. A device over the rate waits
  // in the Hub (waiting devices count toward max_unknown) and the Hub admits it itself in its
  // turn, then calls Bridge::admitted(id): the bridge need not call again. A repeated call
  // for a waiting device updates its description (and registers it, answering true, if its
  // turn has come). The bridge keeps serving a device that is not registered (keepalives) but
  // reports nothing else about it.
  virtual bool device_seen(const DeviceInfo& info) = 0;

  // True when the device is registered (device_seen returned true and it was not removed).
  virtual bool known(std::string_view id) const = 0;

  // Traffic from the device: it is online until offline_after passes without another heard().
  virtual void heard(std::string_view id) = 0;

  // A property's new value as the device reported it (null = unknown). Publishing is
  // coalesced: several changes in the same io_context turn become one state message, and
  // nothing is published when no value changed.
  virtual void state_changed(std::string_view id, std::string_view property, Json value) = 0;

  // Replaces the device's attributes (schedules, raw measurement halves, ...).
  virtual void attributes_changed(std::string_view id, Json attributes) = 0;

  // The device is gone now (e.g. its session was replaced and closed for good): offline at once.
  virtual void device_lost(std::string_view id) = 0;

  // A bridge/event message: type is "device_error", "command_failed", ...; detail is merged
  // into the event object next to "type" and "device".
  virtual void event(std::string_view type, std::string_view id, Json detail) = 0;

  // The bridge answered (or chose not to answer) a cloud message of the device: `received`
  // names what the device sent ("hello", "ping", "login", "keepalive"), `answered` what it
  // got back ("time sync", "pong", "loginReply"; empty when nothing was sent). For the web
  // page's "what did the device last say to its cloud" (never reached us / reached us, but
  // the token is wrong / talking). Cheap enough for every keepalive: no allocation once the
  // same names repeat. Unregistered ids are ignored.
  virtual void cloud_exchange(std::string_view id, std::string_view received, std::string_view answered) {
    (void)id, (void)received, (void)answered;
  }

  // The device's key in MQTT topics and, with mask_ids, in log lines when it has a name:
  // log lines use log_name(), which is the configured name or the masked id.
  virtual std::string log_name(std::string_view id) const = 0;
};

// A command's outcome: empty on success (the device acknowledged), else a message for the
// command_failed event and the log.
using CommandDone = std::function<void(std::string error)>;

struct Listener {
  std::string protocol;  // "udp", "tcp", "ws", "http"
  std::string address;   // as bound, "0.0.0.0:8053"
};

struct BridgePolicy {
  std::chrono::milliseconds offline_after{std::chrono::seconds(90)};
  bool accept_unknown = true;
  int max_unknown = 32;
};

class Bridge {
 public:
  virtual ~Bridge() = default;

  virtual std::string_view name() const = 0;  // its registration name (bridges/vendors.def)
  virtual BridgePolicy policy() const = 0;

  // Binds every listener (throws std::runtime_error with a clear message when one cannot be
  // bound) and registers the configured devices with the Hub. Must not block.
  virtual void start() = 0;
  // Closes sockets and cancels timers; pending CommandDone callbacks are not called.
  virtual void stop() = 0;
  virtual std::vector<Listener> listeners() const = 0;

  // A command for a writable property. The Hub has already checked that the property exists
  // and is writable and normalised the value: "ON" or "OFF" for switches, never "TOGGLE" (the
  // Hub resolves TOGGLE from the last state the device reported, and fails the command when
  // that is unknown), one of the options for selects, a number within min..max for numbers.
  // `done` is called exactly once.
  virtual void command(std::string_view id, std::string_view property, const Json& value,
                       CommandDone done) = 0;

  // Read the device now and report what changed (MQTT <key>/get).
  virtual void read(std::string_view id) = 0;

  // The Hub registered a device whose device_seen answered false (it was over the
  // one-new-unknown-device-a-second rate): the bridge may report it from now on.
  virtual void admitted(std::string_view id) { (void)id; }

  // bridge/request/remove: forget everything kept about the device (the Hub has already
  // dropped it). If it shows up again it is treated as new.
  virtual void forget(std::string_view id) { (void)id; }

  // The device's last retained state as found on the broker (once per connection, for
  // registered devices). Bridges with counters that must never go backwards (energy) take
  // the larger of this and their stored value.
  virtual void retained_state(std::string_view id, const Json& state) { (void)id, (void)state; }
};

// Everything a bridge is constructed with. All of it outlives the bridge, so a bridge may keep
// references, and Metrics gauges may capture the bridge (the API stops before bridges go).
struct BridgeContext {
  boost::asio::io_context& io;
  // The bridge's own section of the config file, as its vendor's type: settings_of<T>().
  // Null for a bridge without a section (the test daemon's fake bridge).
  const config::BridgeSettings* settings;
  Hub& hub;
  Metrics& metrics;
  DurableStore& store;
  // The daemon's own listeners (the API): an upstream that resolves to one of them would loop.
  std::vector<Endpoint> daemon_listeners = {};
};

// The bridge's settings as `Settings`, the type its vendor's parse_settings returned.
template <class Settings>
const Settings& settings_of(const BridgeContext& context) {
  return dynamic_cast<const Settings&>(*context.settings);
}

// One per vendor of bridges/vendors.def (bridges/registry.cpp; the test daemon's
// tests/support/test_registry.cpp adds its fake bridge).
struct BridgeRegistration {
  const char* name;
  // Reads the bridge's config section; the bridge runs when the section is there and not
  // `enabled: false`. Null for a bridge without a section: `enabled_without_section` decides.
  config::ParseSettings parse_settings;
  std::unique_ptr<Bridge> (*create)(BridgeContext& context);
  bool (*enabled_without_section)() = nullptr;
};
const std::vector<BridgeRegistration>& bridge_registry();

// The config sections of the registered bridges, in registration order, for config::load_file.
inline std::vector<config::BridgeSection> config_sections(const std::vector<BridgeRegistration>& registry) {
  std::vector<config::BridgeSection> sections;
  for (const auto& registration : registry)
    if (registration.parse_settings) sections.push_back({registration.name, registration.parse_settings});
  return sections;
}

}  // namespace lc
