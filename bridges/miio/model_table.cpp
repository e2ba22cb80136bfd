#include "bridges/miio/model_table.h"

namespace lc::miio {
namespace {

std::string cell(const std::string& text) {
  std::string out;
  for (char c : text) out += c == '|' ? std::string("\\|") : std::string(1, c);
  return out;
}

std::string property_text(const PropDef& prop) {
  std::string text = "`" + prop.property.key + "`";
  if (prop.kind == Kind::button) text += " action " + std::to_string(prop.siid) + "/" + std::to_string(prop.aiid);
  else if (prop.siid != 0) text += " " + std::to_string(prop.siid) + "/" + std::to_string(prop.piid);
  if (!prop.property.unit.empty()) text += " " + prop.property.unit;
  return text;
}

}  // namespace

std::string models_markdown_table(const std::vector<ModelDef>& models) {
  std::string out = "| model | protocol | device | properties |\n|---|---|---|---|\n";
  for (const auto& model : models) {
    std::string props;
    for (const auto& prop : model.props) props += (props.empty() ? "" : ", ") + property_text(prop);
    out += "| `" + model.model + "` | " + protocol_name(model.protocol) + " | " + cell(model.description) + " | " +
           cell(props) + " |\n";
  }
  return out;
}

}  // namespace lc::miio
