// The miio Bridge (miio_bridge.h): commands. A legacy property is set with its setter method, a
// MIoT one with set_properties in its definition's format, a button runs its action; the state
// is read back after every command, acknowledged or not. § are sections of
// docs/protocols/miio.md.
#include "bridges/miio/legacy_requests.h"
#include "bridges/miio/miio_bridge.h"
#include "bridges/miio/miot.h"

namespace lc::miio {

namespace {

// Setters answer ["ok"] (python-miio's simulator, §3.5); some devices answer "ok".
bool acknowledged(const Json& result) {
  if (result == "ok") return true;
  return result.is_array() && result.size() == 1 && result[0] == "ok";
}

// A MIoT operation's code: 0 done, 1 accepted and still in progress (the MIoT device SDK's
// operation codes: he0119/arduino-miio src/miio/device/typedef/operation_code.h, gkcity/tinyfx
// IotStatus.h); anything else refused (-4002 not writable, -4005 bad value, ...).
bool miot_accepted(long long code) { return code == 0 || code == 1; }

}  // namespace

void MiioBridge::command(std::string_view id, std::string_view property, const Json& value, CommandDone done) {
  Device* device = find(id);
  if (!device) return done("unknown device");
  Device& d = *device;
  if (!d.def) return done("the device's model is not known yet");
  const PropDef* prop = find_prop(*d.def, property);
  if (!prop || !prop->property.writable) return done("property is read-only");
  if (d.miot()) miot_command(d, *prop, value, std::move(done));
  else legacy_command(d, *prop, value, std::move(done));
}

void MiioBridge::legacy_command(Device& d, const PropDef& prop, const Json& value, CommandDone done) {
  const auto call = legacy_set_request(prop, value);
  if (!call) return done("value not accepted: " + value.dump());
  d.client->request(call->method, call->params, [this, &d, done = std::move(done)](Reply reply) {
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

void MiioBridge::miot_command(Device& d, const PropDef& prop, const Json& value, CommandDone done) {
  std::string why;
  const auto call = prop.kind == Kind::button ? miot::action_request(prop) : miot::set_properties_request(prop, value, &why);
  if (!call) return done("value not accepted: " + (why.empty() ? value.dump() : why));
  d.client->request(call->method, call->params,
                    [this, &d, &prop, generation = d.def_generation, done = std::move(done)](Reply reply) {
                      if (reply.ok()) heard(d);
                      if (!reply.ok()) {
                        done(reply.describe());
                      } else if (generation != d.def_generation) {
                        done("the device's model changed before it answered");
                      } else {
                        // The answer names the property (or carries the action's result) with a code.
                        bool answered = false;
                        long long code = 0;
                        if (prop.kind == Kind::button) {
                          const auto result = miot::read_action_result(reply.result);
                          answered = result.answered, code = result.code;
                        } else {
                          const auto result = miot::read_set_result(prop, reply.result);
                          answered = result.answered, code = result.code;
                        }
                        if (answered && miot_accepted(code)) done("");
                        else if (answered) done("device error " + std::to_string(code) + " for " + prop.property.key);
                        else done("unexpected answer: " + reply.result.dump());
                      }
                      if (!stopped_) poll(d);
                    });
}

}  // namespace lc::miio
