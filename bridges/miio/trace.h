// Helpers for log.trace lines and log text of the miio bridge: packets as hex with the
// device id masked under log.mask_ids, decoded JSON with secrets redacted.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include <nlohmann/json.hpp>

namespace lc::miio {

// A did as DeviceInfo::id: 8 lower-case hex digits ("01020304").
std::string did_text(uint32_t did);

// The packet as hex. With mask_ids the did (bytes 8..11) is shown as "xxxxxxxx" unless it is
// the hello's ffffffff. `secret_checksum` hides bytes 16..31, which hold the token in clear
// in an unprovisioned device's handshake reply (docs/protocols/miio.md §1.2).
std::string trace_hex(std::span<const uint8_t> packet, bool secret_checksum = false);

// A copy with secrets ("token", "key", "cloud_key", "password", ...) replaced by "<redacted>"
// and, with mask_ids, identifiers ("did", "mac", "uid", "bssid") masked.
nlohmann::json redact(const nlohmann::json& value);

}  // namespace lc::miio
