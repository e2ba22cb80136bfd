// The cloud side of the miio Bridge: what the cloud endpoint learns about a configured device
// (its pings, its cloud key, its decrypted messages: docs/protocols/miio.md §2.6).
#include <boost/asio/post.hpp>

#include "bridges/miio/miio_bridge.h"
#include "core/coarse_clock.h"

namespace lc::miio {

namespace asio = boost::asio;

void MiioBridge::cloud_heard(uint32_t did) {
  const auto it = by_did_.find(did);
  if (it == by_did_.end()) return;
  Device& d = *it->second;
  heard(d);
  if (!d.cloud_session) {
    d.cloud_session = true;
    log_.info(log_name(d), ": cloud session with localcloud is up");
    if (!d.def || d.firmware.empty())
      asio::post(io_, [this, &d, alive = std::weak_ptr<bool>(alive_)] {
        if (alive.lock()) guarded(d, [this, &d] { advance(d); });
      });
  }
}

void MiioBridge::cloud_exchange(uint32_t did, std::string_view received, std::string_view answered) {
  const auto it = by_did_.find(did);
  if (it == by_did_.end() || !it->second->registered) return;
  Device& d = *it->second;
  // The keepalive path: at most once a second.
  if (received == "ping" && !once_every(d.last_exchange, std::chrono::seconds(1))) return;
  hub_.cloud_exchange(d.id, received, answered);
}

const Cipher* MiioBridge::cloud_cipher(uint32_t did) {
  const auto it = by_did_.find(did);
  if (it == by_did_.end() || !it->second->cloud_cipher) return nullptr;
  return &*it->second->cloud_cipher;
}

void MiioBridge::cloud_message(uint32_t did, const Json& message) {
  const auto it = by_did_.find(did);
  if (it == by_did_.end()) return;
  Device& d = *it->second;
  const std::string method = string_member(message, "method");
  const auto params = message.find("params");
  if (params == message.end()) return;
  if (method == "props" && params->is_object() && d.def && !d.miot()) {
    // A legacy state push (§2.6): published at once.
    for (const auto& [name, raw] : params->items()) {
      if (const PropDef* prop = find_prop_by_name(*d.def, name)) report_raw(d, *prop, raw);
    }
  } else if (method == "properties_changed" && d.miot()) {
    // A MIoT state push (docs/protocols/miio.md "MIoT over the local protocol"): entries by
    // siid/piid, published at once; properties the definition does not have are left out.
    const auto changes = miot::read_properties_changed(*d.def, *params);
    for (const auto& change : changes.changes) report_value(d, *change.prop, change.value);
    if (changes.unknown > 0) log_.debug(log_name(d), ": properties_changed with ", changes.unknown, " entries its definition does not have");
  } else if (method == "_otc.info" && params->is_object()) {
    const std::string model = string_member(*params, "model");
    const std::string firmware = string_member(*params, "fw_ver");
    if (!model.empty() && (!d.def || d.config.model.empty()))
      learn_model(d, model, firmware);
    else if (!firmware.empty() && d.firmware.empty())
      learn_model(d, d.model, firmware);
  }
}

}  // namespace lc::miio
