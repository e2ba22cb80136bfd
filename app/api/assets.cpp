#include "app/api/assets.h"

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace lc::api {

namespace {

std::string_view content_type(std::string_view name) {
  struct Type {
    std::string_view extension, type;
  };
  static constexpr Type kTypes[] = {
      {".html", "text/html; charset=utf-8"},       {".js", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},         {".svg", "image/svg+xml"},
      {".png", "image/png"},                       {".json", "application/json"},
      {".webmanifest", "application/manifest+json"}, {".txt", "text/plain; charset=utf-8"},
  };
  for (const auto& [extension, type] : kTypes)
    if (name.ends_with(extension)) return type;
  return "application/octet-stream";
}

struct Table {
  std::vector<Asset> assets;
  std::vector<std::string> etags;
  size_t size = 0;
};

const Table& table() {
  static const Table built = [] {
    Table t;
    t.etags.reserve(detail::kEmbeddedFileCount);
    for (size_t i = 0; i < detail::kEmbeddedFileCount; ++i) {
      const auto& file = detail::kEmbeddedFiles[i];
      uint64_t hash = 1469598103934665603ull;  // FNV-1a
      for (size_t j = 0; j < file.size; ++j) {
        hash ^= file.data[j];
        hash *= 1099511628211ull;
      }
      char etag[24];
      std::snprintf(etag, sizeof etag, "\"%016llx\"", static_cast<unsigned long long>(hash));
      t.etags.emplace_back(etag);
      t.size += file.size;
    }
    for (size_t i = 0; i < detail::kEmbeddedFileCount; ++i) {
      const auto& file = detail::kEmbeddedFiles[i];
      t.assets.push_back({file.name, std::string_view(reinterpret_cast<const char*>(file.data), file.size),
                          content_type(file.name), t.etags[i]});
    }
    return t;
  }();
  return built;
}

}  // namespace

const Asset* find_asset(std::string_view name) {
  for (const auto& asset : table().assets)
    if (asset.name == name) return &asset;
  return nullptr;
}

size_t assets_size() { return table().size; }

}  // namespace lc::api
