// Model definitions from YAML (schema: docs/miio.md "Writing a definition"), validated with
// FILE:LINE:COL diagnostics. Used for the shipped files (bridges/miio/models/*.yaml), for
// `miio.models` in the config file and for the simulator's --models file. Never throws; a
// model with an error is left out.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "bridges/miio/model_def.h"
#include "config/diagnostic.h"
#include "config/reader.h"

namespace lc::miio {

// Limits on what a definition may hold (a config file is user input).
constexpr size_t kMaxModels = 1000;
constexpr size_t kMaxPropsPerModel = 128;
constexpr size_t kMaxOptions = 64;
constexpr size_t kMaxKeyBytes = 48;  // a key is sent as the "did" of every MIoT entry
// A text of definitions is at most this large; at most this many of its diagnostics are kept.
constexpr size_t kMaxTextBytes = config::Reader::kMaxDocumentBytes;
constexpr size_t kMaxDiagnostics = 200;

// Text whose top level is `models: [ ... ]`; `file` names it in the diagnostics.
std::vector<ModelDef> load_models(std::string_view yaml, const std::string& file,
                                  std::vector<config::Diagnostic>& diagnostics);

// The list of definitions itself (the node of `miio.models`), reported through `reader`.
std::vector<ModelDef> load_model_list(config::Reader& reader, const config::Field& list);

}  // namespace lc::miio
