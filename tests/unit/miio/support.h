// Shared pieces of the miio unit tests: the vectors file and hex helpers.
#pragma once

#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace lc::miio::test {

inline std::vector<uint8_t> unhex(const std::string& text) {
  std::vector<uint8_t> out;
  for (size_t i = 0; i + 1 < text.size(); i += 2) out.push_back(static_cast<uint8_t>(std::stoul(text.substr(i, 2), nullptr, 16)));
  return out;
}

inline std::string source_dir() {
  const char* dir = std::getenv("LOCALCLOUD_SOURCE_DIR");
  return dir ? dir : ".";
}

// tests/vectors/miio.json (copied from the shared vectors; docs/protocols/miio.md §7).
inline const nlohmann::json& vectors() {
  static const nlohmann::json all = [] {
    std::ifstream in(source_dir() + "/tests/vectors/miio.json");
    if (!in) throw std::runtime_error("cannot open tests/vectors/miio.json (LOCALCLOUD_SOURCE_DIR?)");
    return nlohmann::json::parse(in);
  }();
  return all;
}

inline const nlohmann::json& vector(const std::string& name) {
  for (const auto& v : vectors())
    if (v["name"] == name) return v;
  throw std::runtime_error("no vector " + name);
}

}  // namespace lc::miio::test
