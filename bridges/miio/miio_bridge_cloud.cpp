// The cloud side of the miio Bridge: what the cloud endpoint learns about a configured device
// (its pings, its cloud key, its decrypted messages: docs/protocols/miio.md §2.6).
#include <boost/asio/post.hpp>

#include "bridges/miio/miio_bridge.h"

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
    if (!d.spec || d.firmware.empty())
      asio::post(io_, [this, &d, alive = std::weak_ptr<bool>(alive_)] {
        if (alive.lock()) guarded(d, [this, &d] { advance(d); });
      });
  }
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
  if (method == "props" && params != message.end() && params->is_object() && d.spec) {
    // A state push (§2.6): published at once.
    for (const auto& [name, raw] : params->items()) {
      if (const PropSpec* prop = find_prop_by_name(*d.spec, name)) set_state(d, *prop, raw);
    }
  } else if (method == "_otc.info" && params != message.end() && params->is_object()) {
    const std::string model = string_member(*params, "model");
    const std::string firmware = string_member(*params, "fw_ver");
    if (!model.empty() && (!d.spec || d.config.model.empty()))
      learn_model(d, model, firmware);
    else if (!firmware.empty() && d.firmware.empty())
      learn_model(d, d.model, firmware);
  }
}

}  // namespace lc::miio
