// Model definitions from YAML (schema: docs/miio-models.md), validated with FILE:LINE:COL
// diagnostics. Used for the shipped files (bridges/miio/models/*.yaml) and, later, for
// `miio.models` in the config file. Never throws; a model with an error is left out.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "bridges/miio/model_def.h"
#include "bridges/miio/yaml_walk.h"
#include "config/config.h"

namespace lc::miio {

// Limits on what a definition may hold (a config file is user input).
constexpr size_t kMaxModels = 1000;
constexpr size_t kMaxPropsPerModel = 128;
constexpr size_t kMaxOptions = 64;
constexpr size_t kMaxKeyBytes = 48;  // a key is sent as the "did" of every MIoT entry

// Text whose top level is `models: [ ... ]`; `file` names it in the diagnostics.
std::vector<ModelDef> load_models(std::string_view yaml, const std::string& file,
                                  std::vector<config::Diagnostic>& diagnostics);

// The list of definitions itself (e.g. the node of `miio.models`), reported through `walker`.
std::vector<ModelDef> load_model_list(yaml::Walker& walker, const yaml::Field& list);

}  // namespace lc::miio
