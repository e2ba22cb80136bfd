// localcloud [run] [--config FILE] [--log-level debug|info|warn|error]
// localcloud check-config [--config FILE]
// localcloud healthcheck [--config FILE]
// localcloud models [--config FILE]
// localcloud --version
#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>

#include "app/healthcheck.h"
#include "app/service.h"
#include "bridges/bridge.h"
#include "config/config.h"
#include "core/log.h"

namespace {

const char* const kUsage =
    "usage: localcloud [run] [--config FILE] [--log-level debug|info|warn|error]\n"
    "       localcloud check-config [--config FILE]\n"
    "       localcloud healthcheck [--config FILE]   (GET /healthz on api.listen: exit 0 on 200)\n"
    "       localcloud models [--config FILE]        (the device models each bridge knows)\n"
    "       localcloud --version\n"
    "The config file defaults to $LOCALCLOUD_CONFIG, else config/localcloud.yaml.\n";

int usage_error(const std::string& message) {
  std::cerr << "localcloud: " << message << "\n" << kUsage;
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string command = "run";
  std::string config_path;
  std::string level_override;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--version") {
      std::printf("localcloud %s\n", LOCALCLOUD_VERSION);
      return 0;
    } else if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (arg == "--config" || arg == "-c") {
      if (++i >= argc) return usage_error("--config needs a file");
      config_path = argv[i];
    } else if (arg.rfind("--config=", 0) == 0) {
      config_path = arg.substr(9);
    } else if (arg == "--log-level") {
      if (++i >= argc) return usage_error("--log-level needs a level");
      level_override = argv[i];
    } else if (arg.rfind("--log-level=", 0) == 0) {
      level_override = arg.substr(12);
    } else if (i == 1 && (arg == "run" || arg == "check-config" || arg == "healthcheck" || arg == "models")) {
      command = arg;
    } else {
      return usage_error("unknown argument '" + arg + "'");
    }
  }
  lc::Level level_from_flag = lc::Level::info;
  if (!level_override.empty() && !lc::parse_level(level_override, level_from_flag))
    return usage_error("unknown log level '" + level_override + "'");
  if (config_path.empty()) config_path = lc::config::default_path();

  const auto loaded = lc::config::load_file(config_path, lc::config_sections(lc::bridge_registry()));
  for (const auto& diagnostic : loaded.diagnostics) std::cerr << diagnostic.text() << "\n";
  if (!loaded.ok()) return 1;
  if (command == "check-config") {
    std::cout << lc::config::summary(loaded.config) << "\n";
    return 0;
  }
  if (command == "healthcheck") return lc::run_healthcheck(loaded.config);
  if (command == "models") {
    for (const auto& bridge : loaded.config.bridges)
      if (const std::string listing = bridge.settings->models_listing(); !listing.empty())
        std::cout << bridge.name << ": " << listing << "\n";
    return 0;
  }

  const auto& config = loaded.config;
  lc::log_settings::configure(level_override.empty() ? config.log.level : level_from_flag, config.log.trace,
                              config.log.mask_ids);
  if (const auto error = lc::config::prepare_data_dir(config); !error.empty()) {
    lc::Logger("localcloud").error(error);
    return 1;
  }
  return lc::run_service(config);
}
