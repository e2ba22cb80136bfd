// The registry of localcloud-testd: the real bridges of bridges/vendors.def plus the test-only
// "fake" bridge (tests/support/fake_bridge.cpp), enabled by $LOCALCLOUD_FAKE_BRIDGE.
#include <cstdlib>

#include "bridges/bridge.h"
#include "bridges/vendors.h"

namespace lc {
namespace fake { std::unique_ptr<Bridge> create_bridge(BridgeContext& context); }

const std::vector<BridgeRegistration>& bridge_registry() {
  static const std::vector<BridgeRegistration> registry = {
#define LC_VENDOR(vendor) {#vendor, &vendor::parse_settings, &vendor::create_bridge},
#include "bridges/vendors.def"
#undef LC_VENDOR
      {"fake", nullptr, &fake::create_bridge, [] { return std::getenv("LOCALCLOUD_FAKE_BRIDGE") != nullptr; }},
  };
  return registry;
}

}  // namespace lc
