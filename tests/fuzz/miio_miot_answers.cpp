// libFuzzer target: MIoT answers and pushes (arbitrary JSON) against shipped definitions and a
// definition with every format: get_properties, set_properties and action results, and
// properties_changed params. Nothing may crash; every asked property gets a value or null, and
// a published value is a string, a finite number or null.
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "bridges/miio/miot.h"
#include "bridges/miio/model_loader.h"
#include "bridges/miio/shipped_models.h"
#include "core/json_limits.h"

using namespace lc::miio;

namespace {

const ModelDef& formats() {
  static const ModelDef model = [] {
    std::vector<lc::config::Diagnostic> diagnostics;
    auto models = load_models(R"(models:
  - model: fuzz.formats
    protocol: miot
    properties:
      - { key: power, component: switch, siid: 2, piid: 1, main: true }
      - { key: relay, component: switch, siid: 2, piid: 2, format: uint8 }
      - { key: level, component: number, siid: 2, piid: 3, format: uint16, scale: 0.1, min: 0, max: 6553 }
      - { key: target, component: number, siid: 2, piid: 4, format: float, min: -1e9, max: 1e9 }
      - { key: mode, component: select, siid: 2, piid: 5, format: int8, options: { -1: low, 0: auto, 1: eco } }
      - { key: note, component: sensor, siid: 2, piid: 7, format: string }
      - { key: fault, component: binary_sensor, siid: 2, piid: 8 }
      - { key: watts, component: sensor, siid: 3, piid: 1, scale: 0.01 }
      - { key: toggle, component: button, siid: 2, aiid: 1 }
)", "fuzz.yaml", diagnostics);
    if (models.size() != 1) std::abort();
    return models[0];
  }();
  return model;
}

void check_published(const Json& value) {
  if (value.is_null() || value.is_string()) return;
  if (value.is_number() && std::isfinite(value.get<double>())) return;
  std::abort();
}

void exercise(const ModelDef& model, const Json& input) {
  for (const auto& read : miot::property_reads(model)) {
    const auto r = miot::read_properties_result(read, input);
    if (r.values.size() != read.props.size()) std::abort();
    for (const auto& [key, value] : r.values.items()) check_published(value);
    if (r.errors.size() + r.missing.size() > read.props.size()) std::abort();
  }
  for (const auto& prop : model.props) {
    (void)miot::read_set_result(prop, input);
    if (const auto call = miot::set_properties_request(prop, input)) {
      const Json& raw = call->params[0]["value"];
      if (prop.format == Format::bool_ && !raw.is_boolean()) std::abort();
      if (is_integer_format(prop.format) && prop.kind != Kind::switch_ && prop.kind != Kind::select) {
        const auto [min, max] = integer_range(prop.format);
        if (!raw.is_number_integer() || raw.get<long long>() < min || raw.get<long long>() > max) std::abort();
      }
    }
  }
  const auto action = miot::read_action_result(input);
  if (action.out.size() > miot::kMaxAnswerEntries) std::abort();
  const auto changes = miot::read_properties_changed(model, input);
  for (const auto& change : changes.changes) {
    if (change.prop < model.props.data() || change.prop >= model.props.data() + model.props.size()) std::abort();
    check_published(change.value);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const Json input = lc::parse_json_bounded(text, lc::JsonLimits{.max_bytes = 65536, .max_depth = 32});
  if (input.is_discarded()) return 0;
  // An answer as sent ({"id":..,"result":..}) or just its result / params.
  const Json& body = input.is_object() && input.contains("result") ? input["result"]
                     : input.is_object() && input.contains("params") ? input["params"]
                                                                      : input;
  exercise(formats(), body);
  exercise(*find_shipped_model("chuangmi.plug.212a01"), body);
  exercise(*find_shipped_model("cuco.plug.v3"), body);
  return 0;
}
