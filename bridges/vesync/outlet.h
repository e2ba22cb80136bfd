// What the bridge keeps per outlet: who it is, its live session, the last values it sent and
// its energy counter (energy.h).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "bridges/bridge.h"
#include "bridges/vesync/codec.h"
#include "core/log.h"

namespace lc::vesync {

class Session;

struct Outlet {
  std::string id;   // lower-case: DeviceInfo::id
  std::string cid;  // as the outlet wrote it in its login: the "cid" of commands
  std::string name;
  bool configured = false;
  bool admitted = false;  // the Hub registered it
  std::string model, firmware;
  Session* session = nullptr;  // its live connection, if any
  // The last values the outlet sent: while it is registered each change is reported at once,
  // so a keepalive that changed nothing reports nothing; the rest when it is registered.
  std::optional<Relay> relay;
  std::optional<int64_t> rssi;
  std::chrono::steady_clock::time_point heard_reported{};  // the last Hub::heard() for a frame
  double energy_kwh = 0;         // the counter; never decreases
  double energy_published = -1;  // the newest value made durable and published
  bool energy_stored = false;    // a record exists in data_dir
  bool login_logged = false;
  std::vector<std::string> blocked_logged;  // proxy: "<direction> <uri>" already logged
};

// The outlet in log lines: the Hub's name for it once registered, else its configured name or
// its masked id.
inline std::string who(const Hub& hub, const Outlet& outlet) {
  if (outlet.admitted) return hub.log_name(outlet.id);
  return outlet.name.empty() ? mask_id(outlet.id) : outlet.name;
}

}  // namespace lc::vesync
