#include "bridges/miio/catalog.h"

#include "bridges/miio/model_table.h"
#include "bridges/miio/shipped_models.h"

namespace lc::miio {

const ModelDef* find_model(std::span<const ModelDef> defined, std::string_view model) {
  for (const auto& def : defined)
    if (def.model == model) return &def;
  return find_shipped_model(model);
}

std::string models_listing(std::span<const ModelDef> defined) {
  std::vector<ModelDef> all;
  for (const auto& def : defined) {
    ModelDef marked = def;
    const bool replaces = find_shipped_model(def.model) != nullptr;
    marked.description += std::string(marked.description.empty() ? "" : " ") +
                          (replaces ? "(miio.models, replacing the shipped definition)" : "(miio.models)");
    all.push_back(std::move(marked));
  }
  size_t shipped = 0;
  for (const auto& def : shipped_models()) {
    if (find_model(defined, def.model) != &def) continue;  // replaced
    all.push_back(def);
    ++shipped;
  }
  return std::to_string(all.size()) + " models (" + std::to_string(shipped) + " shipped, " +
         std::to_string(defined.size()) + " from miio.models)\n" + models_markdown_table(all);
}

}  // namespace lc::miio
