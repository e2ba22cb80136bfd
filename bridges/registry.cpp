// The daemon's bridges: every vendor of bridges/vendors.def.
#include "bridges/bridge.h"
#include "bridges/vendors.h"

namespace lc {

const std::vector<BridgeRegistration>& bridge_registry() {
  static const std::vector<BridgeRegistration> registry = {
#define LC_VENDOR(vendor) {#vendor, &vendor::parse_settings, &vendor::create_bridge},
#include "bridges/vendors.def"
#undef LC_VENDOR
  };
  return registry;
}

}  // namespace lc
