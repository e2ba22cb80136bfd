// The model definitions a bridge (or the simulator) runs from: those defined by the user
// (miio.models in the config file, the simulator's --models file) first, then the shipped ones
// (shipped_models.h). A user definition named like a shipped one replaces it.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "bridges/miio/model_def.h"

namespace lc::miio {

const ModelDef* find_model(std::span<const ModelDef> defined, std::string_view model);

// Every model known, as the table of docs/miio.md "Shipped models" (models_markdown_table),
// with the user's definitions first and marked; for `localcloud models`.
std::string models_listing(std::span<const ModelDef> defined);

}  // namespace lc::miio
