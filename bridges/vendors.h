// What each vendor of bridges/vendors.def provides, in namespace lc::<vendor>:
//   parse_settings  reads its section of the config file (config::ParseSettings), into the
//                   settings type of bridges/<vendor>/config.h
//   create_bridge   its Bridge, with those settings in context.settings
//   run_simulator   localcloud-sim <vendor> [options]: simulated devices
#pragma once

#include <memory>

namespace lc {

class Bridge;
struct BridgeContext;
namespace config {
class Reader;
struct Field;
struct BridgeSettings;
}  // namespace config

#define LC_VENDOR(vendor)                                                                                        \
  namespace vendor {                                                                                             \
  std::shared_ptr<config::BridgeSettings> parse_settings(config::Reader& reader, const config::Field& section); \
  std::unique_ptr<Bridge> create_bridge(BridgeContext& context);                                                 \
  int run_simulator(int argc, char** argv);                                                                      \
  }
#include "bridges/vendors.def"
#undef LC_VENDOR

}  // namespace lc
