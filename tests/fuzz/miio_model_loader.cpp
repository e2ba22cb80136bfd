// libFuzzer target: the miio model loader on arbitrary YAML text. It must never throw, crash or
// hang (alias cycles, deep nesting), every diagnostic must carry a 1-based position, and every
// definition it accepts must be usable: its requests build and its table row prints.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "bridges/miio/legacy_requests.h"
#include "bridges/miio/miot.h"
#include "bridges/miio/model_loader.h"
#include "bridges/miio/model_table.h"

using namespace lc::miio;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  std::vector<lc::config::Diagnostic> diagnostics;
  const auto models = load_models(text, "fuzz.yaml", diagnostics);
  for (const auto& d : diagnostics) {
    if (d.line < 1 || d.column < 1 || d.message.empty()) std::abort();
    (void)d.text();
  }
  if (models.size() > kMaxModels) std::abort();
  for (const auto& model : models) {
    if (model.props.empty() || model.props.size() > kMaxPropsPerModel) std::abort();
    for (const auto& prop : model.props) {
      if (!(prop.scale > 0) || prop.property.key.empty() || prop.property.min > prop.property.max) std::abort();
      if (model.protocol == Protocol::miot && prop.readable() && (prop.siid < 1 || prop.piid < 1)) std::abort();
      if (prop.kind == Kind::select && prop.options.empty()) std::abort();
      // A command of every kind either builds a request or is refused.
      for (const Json& value : {Json("ON"), Json("OFF"), Json(1.5), Json(prop.options.empty() ? "" : prop.options[0].label)}) {
        if (model.protocol == Protocol::miot) (void)miot::set_properties_request(prop, value);
        else (void)legacy_set_request(prop, value);
      }
      if (prop.kind == Kind::button && !miot::action_request(prop)) std::abort();
    }
    if (model.protocol == Protocol::miot) {
      for (const auto& read : miot::property_reads(model))
        if (read.props.empty() || read.props.size() > miot::kMaxEntriesPerRequest ||
            read.call.params.dump().size() > miot::kMaxParamsBytes)
          std::abort();
    } else {
      (void)legacy_reads(model);
    }
  }
  (void)models_markdown_table(models);
  return 0;
}
