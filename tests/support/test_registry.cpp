// The registry of localcloud-testd: the real bridges plus the test-only "fake" bridge
// (tests/support/fake_bridge.cpp), enabled by $LOCALCLOUD_FAKE_BRIDGE.
#include <cstdlib>

#include "bridges/bridge.h"
#include "config/config.h"

namespace lc {
namespace miio { std::unique_ptr<Bridge> create_bridge(BridgeContext& context); }
namespace vesync { std::unique_ptr<Bridge> create_bridge(BridgeContext& context); }
namespace timeguard { std::unique_ptr<Bridge> create_bridge(BridgeContext& context); }
namespace fake { std::unique_ptr<Bridge> create_bridge(BridgeContext& context); }

const std::vector<BridgeRegistration>& bridge_registry() {
  static const std::vector<BridgeRegistration> registry = {
      {"miio", [](const config::Config& c) { return c.miio.enabled; }, &miio::create_bridge},
      {"vesync", [](const config::Config& c) { return c.vesync.enabled; }, &vesync::create_bridge},
      {"timeguard", [](const config::Config& c) { return c.timeguard.enabled; }, &timeguard::create_bridge},
      {"fake", [](const config::Config&) { return std::getenv("LOCALCLOUD_FAKE_BRIDGE") != nullptr; }, &fake::create_bridge},
  };
  return registry;
}

}  // namespace lc
