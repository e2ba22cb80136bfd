#include "bridges/miio/shipped_models.h"

#include <map>
#include <string>

#include "bridges/miio/model_loader.h"

namespace lc::miio {
namespace {

struct Shipped {
  std::vector<ModelDef> models;
  std::vector<config::Diagnostic> diagnostics;
};

const Shipped& shipped() {
  static const Shipped all = [] {
    Shipped out;
    std::map<std::string, std::string> files_of;  // model -> file that defined it
    for (const auto& file : shipped_files()) {
      const std::string path = "bridges/miio/models/" + std::string(file.name);
      for (auto& model : load_models(file.text, path, out.diagnostics)) {
        const auto [previous, inserted] = files_of.emplace(model.model, path);
        if (!inserted) {
          config::Diagnostic d;
          d.file = path;
          d.line = d.column = 1;
          d.message = "model \"" + model.model + "\" is also defined in " + previous->second;
          out.diagnostics.push_back(std::move(d));
          continue;
        }
        out.models.push_back(std::move(model));
      }
    }
    return out;
  }();
  return all;
}

}  // namespace

std::vector<ShippedFile> shipped_files() {
  std::vector<ShippedFile> files;
  for (size_t i = 0; i < detail::kEmbeddedFileCount; ++i) {
    const auto& f = detail::kEmbeddedFiles[i];
    files.push_back(ShippedFile{f.name, std::string_view(reinterpret_cast<const char*>(f.data), f.size)});
  }
  return files;
}

const std::vector<ModelDef>& shipped_models() { return shipped().models; }

const std::vector<config::Diagnostic>& shipped_diagnostics() { return shipped().diagnostics; }

const ModelDef* find_shipped_model(std::string_view model) {
  for (const auto& def : shipped_models())
    if (def.model == model) return &def;
  return nullptr;
}

}  // namespace lc::miio
