// The shipped models as a Markdown table. docs/miio.md "Shipped models" holds this output between
// <!-- shipped-models:begin --> and <!-- shipped-models:end -->; a unit test checks that it does.
#pragma once

#include <string>
#include <vector>

#include "bridges/miio/model_def.h"

namespace lc::miio {

// One row per model: model, protocol, description, and each property as `key` (with its
// siid/piid or siid/aiid for MIoT, and its unit).
std::string models_markdown_table(const std::vector<ModelDef>& models);

}  // namespace lc::miio
