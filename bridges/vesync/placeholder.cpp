// Placeholder until the vesync bridge lands; replaced by the bridge's own sources.
#include <stdexcept>
#include "bridges/bridge.h"
namespace lc::vesync {
std::unique_ptr<Bridge> create_bridge(BridgeContext&) { throw std::runtime_error("vesync bridge not built yet"); }
int run_simulator(int, char**) { return 2; }
}  // namespace lc::vesync
