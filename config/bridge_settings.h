// What config/ knows of a bridge's section: the keys every bridge shares, read once here, and
// the entry through which a registered bridge reads the rest of its section itself
// (bridges/<vendor>/config.cpp, reached through bridges/vendors.def).
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include <nlohmann/json.hpp>

#include "config/diagnostic.h"
#include "core/duration.h"
#include "core/net.h"

namespace lc::config {

class Reader;
struct Field;

inline constexpr size_t kMaxDevicesPerBridge = 10000;

// A bridge's section, parsed. Each vendor derives its settings from this and adds its own keys.
struct BridgeSettings {
  virtual ~BridgeSettings() = default;

  // The shared keys; a vendor's section accepts those it lists (read_bridge_section).
  bool enabled = false;  // false when the section is absent
  Endpoint listen;
  Duration offline_after{};
  bool accept_unknown = true;
  int max_unknown = 32;

  // How many devices the section lists (check-config's summary line).
  virtual size_t device_count() const = 0;
  // The section for bridge/info, with every secret replaced (secret_json); shared_json gives
  // the shared keys.
  virtual nlohmann::json redacted_json() const = 0;
  // What `localcloud models` prints for the bridge: the device models it can drive, with the
  // section's own additions, as text. Empty: nothing to list.
  virtual std::string models_listing() const { return {}; }

 protected:
  BridgeSettings(Endpoint default_listen, Duration default_offline_after)
      : listen(std::move(default_listen)), offline_after(default_offline_after) {}
};

// Reads one bridge's section. `section.node` is undefined (IsDefined() false) when the file
// has none: the result then holds the defaults with enabled false.
using ParseSettings = std::shared_ptr<BridgeSettings> (*)(Reader& reader, const Field& section);

// A top-level section of the config file that belongs to a bridge.
struct BridgeSection {
  std::string name;  // its top-level key: the bridge's registration name
  ParseSettings parse;
};

// Reads a bridge's section, a mapping whose keys are `keys` (in the order an "unknown key"
// message lists them): the shared keys among them into `settings`, each entry of `devices`
// to `read_device`, any other key to `read_own`. A present section enables the bridge unless
// it says `enabled: false`. False when the section is absent or not a mapping: nothing was
// read, checks across the section's keys are moot.
bool read_bridge_section(Reader& reader, const Field& section, std::span<const std::string_view> keys,
                         BridgeSettings& settings, const std::function<void(const std::string&, const Field&)>& read_own,
                         const std::function<void(const Field&)>& read_device);

// The shared keys among `keys` as bridge/info shows them; the vendor adds its own.
nlohmann::json shared_json(const BridgeSettings& settings, std::span<const std::string_view> keys);

// A secret in bridge/info: "<redacted>" when set, else "".
nlohmann::json secret_json(bool set);
// An optional address in bridge/info: "HOST:PORT", or "" when off.
nlohmann::json endpoint_json(const std::optional<Endpoint>& endpoint);

}  // namespace lc::config
