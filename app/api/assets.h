// The web page's files (app/api/www/), compiled into the binary at build time by
// cmake/embed_files.cmake: nothing is read from disk or fetched at run time.
#pragma once

#include <cstddef>
#include <string_view>

namespace lc::api {

struct Asset {
  std::string_view name;          // "index.html", "app.js"
  std::string_view body;
  std::string_view content_type;  // from the extension
  std::string_view etag;          // a hash of the body, quoted
};

// The file of that name, or nullptr.
const Asset* find_asset(std::string_view name);
// Every file's bytes together: the page's size.
size_t assets_size();

namespace detail {
// Defined in the generated source.
struct EmbeddedFile {
  const char* name;
  const unsigned char* data;
  size_t size;
};
extern const EmbeddedFile kEmbeddedFiles[];
extern const size_t kEmbeddedFileCount;
}  // namespace detail

}  // namespace lc::api
