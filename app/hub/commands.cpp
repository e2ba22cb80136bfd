#include "app/hub/commands.h"

#include <algorithm>
#include <memory>
#include <optional>

#include "app/command_value.h"
#include "app/hub/bridge_port.h"

namespace lc {

using nlohmann::json;

namespace {

// TOGGLE is the opposite of the last "ON"/"OFF" the device reported; nullopt when unknown.
std::optional<json> resolve_toggle(const DeviceRecord& record, const std::string& property) {
  const auto current = record.state.find(property);
  if (current == record.state.end()) return std::nullopt;
  if (*current == "ON") return json("OFF");
  if (*current == "OFF") return json("ON");
  return std::nullopt;
}

}  // namespace

Commands::Commands(Publisher& publisher, Metrics& metrics)
    : publisher_(publisher),
      ok_(metrics.counter("localcloud_commands_total", "Commands from MQTT by result", {{"result", "ok"}})),
      failed_(metrics.counter("localcloud_commands_total", "Commands from MQTT by result", {{"result", "failed"}})),
      log_("hub") {}

void Commands::send(DeviceRecord& record, const std::string& property, const json& value, CommandDone done) {
  const std::string key = record.key;
  BridgePort& port = *record.port;
  auto finish = std::make_shared<CommandDone>(std::move(done));
  auto fail = [this, key, &port, id = record.info.id, property, value, finish](const std::string& error) {
    failed_.inc();
    port.log.warn("command ", property, "=", value.dump(), " for ", port.log_name(id), " failed: ", error);
    publisher_.event("command_failed", key, {{"property", property}, {"value", value}, {"error", error}});
    if (*finish) (*finish)(error);
  };
  const auto it = std::find_if(record.info.properties.begin(), record.info.properties.end(),
                               [&](const Property& p) { return p.key == property; });
  if (it == record.info.properties.end()) return fail("unknown property '" + property + "'");
  auto normalised = normalise_command(*it, value);
  if (!normalised.error.empty()) return fail(normalised.error);
  if (!record.online) return fail("device offline");
  if (!port.bridge) return fail("bridge not running");
  if (it->component == Component::switch_ && normalised.value == "TOGGLE") {
    const auto resolved = resolve_toggle(record, property);
    if (!resolved) return fail("cannot toggle: the current state is unknown");
    normalised.value = *resolved;
  }
  port.log.debug("command ", property, "=", normalised.value.dump(), " for ", port.log_name(record.info.id));
  port.bridge->command(record.info.id, property, normalised.value,
                       [this, fail, &port, id = record.info.id, finish](std::string error) {
    if (!error.empty()) return fail(error);
    ok_.inc();
    // The state is published after every completed command, changed or not, as the answer
    // Home Assistant (and a script waiting for it) gets; polls publish only changes. The
    // device is found by id: it may have been renamed meanwhile.
    if (DeviceRecord* done = port.find(id); done && !done->state.empty()) {
      done->state_dirty = true;
      publisher_.queue(*done);
    }
    if (*finish) (*finish)("");
  });
}

void Commands::refuse(DeviceRecord& record, const std::string& error) {
  log_.warn("command for ", record.port->log_name(record.info.id), " refused: ", error);
  publisher_.event("command_failed", record.key, {{"error", error}});
  failed_.inc();
}

}  // namespace lc
