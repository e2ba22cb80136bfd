// libFuzzer target: the config loader on arbitrary text. It must never throw or crash, every
// diagnostic must carry a 1-based position, and whatever loads must redact and summarise.
// The loader is handed the sections of the daemon's bridges (bridges/registry.cpp).
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include <nlohmann/json.hpp>

#include "bridges/bridge.h"
#include "config/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const auto sections = lc::config_sections(lc::bridge_registry());
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto result = lc::config::load_string(text, "/nonexistent-fuzz-dir/fuzz.yaml", sections);
  for (const auto& d : result.diagnostics) {
    if (d.line < 1 || d.column < 1 || d.message.empty()) std::abort();
    (void)d.text();
  }
  if (result.ok()) {
    (void)lc::config::redacted_json(result.config).dump();
    (void)lc::config::summary(result.config);
  }
  return 0;
}
