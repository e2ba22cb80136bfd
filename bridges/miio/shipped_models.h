// The model definitions shipped in the binary: bridges/miio/models/*.yaml, turned into a
// generated source at build time by cmake/embed_files.cmake (nothing is read or fetched at run time).
#pragma once

#include <cstddef>
#include <string_view>
#include <vector>

#include "bridges/miio/model_def.h"
#include "config/diagnostic.h"

namespace lc::miio {

struct ShippedFile {
  std::string_view name;  // "legacy.yaml"
  std::string_view text;
};
std::vector<ShippedFile> shipped_files();

// Every shipped definition, loaded once (file by file, in name order). A shipped file that does
// not load is a bug caught by the tests; its diagnostics are kept here.
const std::vector<ModelDef>& shipped_models();
const std::vector<config::Diagnostic>& shipped_diagnostics();
const ModelDef* find_shipped_model(std::string_view model);

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

}  // namespace lc::miio
