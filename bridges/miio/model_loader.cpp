// The model semantics of the loader: which keys a definition has, what each means, and which
// combinations are refused. The YAML reads are model_yaml.h's, on the config file's reader.
#include "bridges/miio/model_loader.h"

#include <algorithm>
#include <map>
#include <optional>
#include <span>

#include "bridges/miio/model_yaml.h"
#include "config/text.h"

namespace lc::miio {
namespace {

using config::Field;
using Walker = ModelYaml;

std::string quote(std::string_view text) { return config::quote_value(text); }

constexpr long long kMaxIid = 65535;
constexpr size_t kMaxNameBytes = 64;
constexpr size_t kMaxLabelBytes = 64;
constexpr std::string_view kLegacyKeys[] = {"name", "get", "set", "set_off", "set_value"};
constexpr std::string_view kMiotKeys[] = {"siid", "piid", "aiid", "format"};

bool all_of_chars(std::string_view text, std::string_view extra) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [&](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || extra.find(c) != std::string_view::npos;
  });
}

bool is_key(std::string_view text) { return all_of_chars(text, "") && text.front() >= 'a' && text.front() <= 'z'; }
bool is_model_name(std::string_view text) { return all_of_chars(text, ".-") && text.front() != '.' && text.front() != '-'; }
bool is_method(std::string_view text) { return all_of_chars(text, ".ABCDEFGHIJKLMNOPQRSTUVWXYZ"); }

// One property: the keys are collected first, then read in an order where each check knows
// what it depends on (the kind, the protocol, the format).
class PropertyReader {
 public:
  PropertyReader(Walker& w, Protocol protocol) : w_(w), protocol_(protocol) {}

  std::optional<PropDef> read(const Field& item) {
    const size_t errors_before = w_.errors();
    w_.for_each_key(item, {"key", "component", "name", "get", "set", "set_off", "set_value", "siid", "piid", "aiid",
                           "format", "scale", "options", "min", "max", "step", "writable", "main", "diagnostic",
                           "enabled_by_default", "device_class", "unit", "state_class", "icon", "precision"},
                    [&](const std::string& key, const Field& value) { fields_.emplace(key, value); });
    if (!item.node.IsMap()) return std::nullopt;
    read_key(item);
    if (!read_kind(item)) return std::nullopt;
    const bool miot = protocol_ == Protocol::miot;
    using Keys = std::span<const std::string_view>;
    for (auto key : miot ? Keys(kLegacyKeys) : Keys(kMiotKeys)) {
      if (const Field* f = get(key))
        w_.error(*f, miot ? quote(key) + " is a legacy (miio) key, but this model's protocol is miot: MIoT properties are "
                                         "read and written at their siid/piid"
                          : quote(key) + " is an MIoT key, but this model's protocol is miio: legacy properties are read "
                                         "by name (or get) and set with set");
    }
    read_writable();
    read_presentation();
    if (miot) read_miot_address(item);
    else read_legacy_address(item);
    read_options(item);
    read_number_range();
    derive_decoding();
    if (w_.errors() != errors_before) return std::nullopt;
    return std::move(p_);
  }

 private:
  const Field* get(std::string_view key) const {
    const auto it = fields_.find(key);
    return it == fields_.end() ? nullptr : &it->second;
  }
  bool is(std::initializer_list<Kind> kinds) const { return std::find(kinds.begin(), kinds.end(), p_.kind) != kinds.end(); }
  // Reports `key` when it is present but does not apply to this kind.
  const Field* only_for(std::string_view key, std::initializer_list<Kind> kinds, const char* what) {
    const Field* f = get(key);
    if (f && !is(kinds)) {
      w_.error(*f, std::string(key) + " applies to " + what + ", not to a " + kind_name(p_.kind));
      return nullptr;
    }
    return f;
  }

  void read_key(const Field& item) {
    const Field* f = get("key");
    if (!f) return w_.error(item, "a property needs a key (its JSON key in the state and the <key> of /set/<key>)");
    if (auto text = w_.text(*f, kMaxKeyBytes)) {
      if (!is_key(*text)) w_.error(*f, "a key is lower-case letters, digits and '_', starting with a letter; got " + quote(*text));
      p_.property.key = *text;
    }
  }

  bool read_kind(const Field& item) {
    const Field* f = get("component");
    if (!f) {
      w_.error(item, "a property needs a component (sensor, binary_sensor, switch, select, number or button)");
      return false;
    }
    const auto text = w_.text(*f, 32);
    const auto kind = text ? kind_from_name(*text) : std::nullopt;
    if (text && !kind) w_.error(*f, "unknown component " + quote(*text) + " (allowed: sensor, binary_sensor, switch, select, number, button)");
    if (!kind) return false;
    p_.kind = *kind;
    if (p_.kind == Kind::button && protocol_ == Protocol::miio) {
      w_.error(*f, "a button is an MIoT action (siid/aiid); legacy models have none");
      return false;
    }
    return true;
  }

  void read_writable() {
    const bool can_write = is({Kind::switch_, Kind::select, Kind::number});
    p_.property.writable = can_write;
    if (const Field* f = only_for("writable", {Kind::switch_, Kind::select, Kind::number}, "switches, selects and numbers"))
      if (auto v = w_.boolean(*f)) p_.property.writable = *v;
    if (p_.kind == Kind::button) p_.property.writable = p_.property.hidden = true;  // a command-only property
    if (auto c = component_of(p_.kind)) p_.property.component = *c;
  }

  void read_presentation() {
    if (const Field* f = get("main"))
      if (auto v = w_.boolean(*f)) p_.property.main = *v;
    if (const Field* f = get("diagnostic"))
      if (auto v = w_.boolean(*f)) p_.property.diagnostic = *v;
    if (const Field* f = get("enabled_by_default"))
      if (auto v = w_.boolean(*f)) p_.property.enabled_by_default = *v;
    if (const Field* f = only_for("device_class", {Kind::sensor, Kind::binary_sensor, Kind::switch_, Kind::number, Kind::button},
                                  "sensors, binary sensors, switches, numbers and buttons"))
      if (auto v = w_.text(*f, 64)) {
        if (!all_of_chars(*v, "")) w_.error(*f, "a device class is lower-case letters and '_' (Home Assistant's names), got " + quote(*v));
        p_.property.device_class = *v;
      }
    if (const Field* f = only_for("unit", {Kind::sensor, Kind::number}, "sensors and numbers"))
      if (auto v = w_.text(*f, 16)) p_.property.unit = *v;
    if (const Field* f = only_for("state_class", {Kind::sensor}, "sensors"))
      if (auto v = w_.text(*f, 32)) {
        if (*v != "measurement" && *v != "total" && *v != "total_increasing")
          w_.error(*f, "state_class is measurement, total or total_increasing, got " + quote(*v));
        p_.property.state_class = *v;
      }
    if (const Field* f = get("icon"))
      if (auto v = w_.text(*f, 64)) {
        if (v->rfind("mdi:", 0) != 0 || v->size() == 4) w_.error(*f, "an icon is \"mdi:<name>\", got " + quote(*v));
        p_.property.icon = *v;
      }
    if (const Field* f = only_for("precision", {Kind::sensor, Kind::number}, "sensors and numbers"))
      if (auto v = w_.integer(*f, 0, 10)) p_.property.precision = static_cast<int>(*v);
    if (const Field* f = only_for("scale", {Kind::sensor, Kind::number}, "sensors and numbers"))
      if (auto v = w_.number(*f)) {
        if (*v <= 0) w_.error(*f, "scale must be more than 0 (published = raw x scale), got " + quote(f->node.Scalar()));
        else p_.scale = *v;
      }
  }

  void read_miot_address(const Field& item) {
    auto iid = [&](const char* key) -> int {
      const Field* f = get(key);
      const auto v = f ? w_.integer(*f, 1, kMaxIid) : std::nullopt;
      return v ? static_cast<int>(*v) : 0;
    };
    p_.siid = iid("siid");
    if (p_.kind == Kind::button) {
      if (const Field* f = get("piid")) w_.error(*f, "a button is an action: it has an aiid, not a piid");
      if (const Field* f = get("format")) w_.error(*f, "a button has no format (it carries no value)");
      p_.aiid = iid("aiid");
      if (!get("siid") || !get("aiid")) w_.error(item, "a button needs its action's address: siid and aiid");
      return;
    }
    if (const Field* f = get("aiid")) w_.error(*f, "aiid is an action's id; only a button has one");
    p_.piid = iid("piid");
    if (!get("siid") || !get("piid")) w_.error(item, std::string("a ") + kind_name(p_.kind) + " needs its MIoT address: siid and piid");
    if (const Field* f = get("format")) {
      const auto text = w_.text(*f, 16);
      const auto format = text ? format_from_name(*text) : std::nullopt;
      if (text && !format) w_.error(*f, "unknown format " + quote(*text) + " (allowed: bool, int, int8, uint8, int16, uint16, int32, uint32, int64, float, string)");
      if (format) check_format(*f, *format);
    } else if (p_.kind == Kind::switch_ || p_.kind == Kind::binary_sensor) {
      p_.format = Format::bool_;
    } else if (p_.property.writable) {
      w_.error(item, std::string("a writable ") + kind_name(p_.kind) + " needs a format: the MIoT type its value is written as");
    }
  }

  void check_format(const Field& f, Format format) {
    p_.format = format;
    const bool boolean_like = format == Format::bool_ || is_integer_format(format);
    const bool ok = is({Kind::switch_, Kind::binary_sensor})  ? boolean_like
                    : p_.kind == Kind::select                 ? is_integer_format(format) || format == Format::string
                    : p_.kind == Kind::number                 ? is_integer_format(format) || format == Format::float_
                                                              : format != Format::bool_;
    if (!ok) w_.error(f, std::string("format ") + format_name(format) + " does not fit a " + kind_name(p_.kind));
  }

  void read_legacy_address(const Field& item) {
    auto method = [&](const char* key, std::string& out) {
      if (const Field* f = get(key))
        if (auto v = w_.text(*f, kMaxNameBytes)) {
          if (!is_method(*v)) w_.error(*f, "a method name is letters, digits, '_' and '.', got " + quote(*v));
          out = *v;
        }
    };
    if (const Field* f = get("name"))
      if (auto v = w_.text(*f, kMaxNameBytes)) p_.name = *v;
    method("get", p_.get_method);
    method("set", p_.set_method);
    method("set_off", p_.set_off_method);
    if (p_.name.empty() && p_.get_method.empty() && !get("name") && !get("get"))
      w_.error(item, "a legacy property needs the device's name for it (name, read with get_prop) or a read method (get)");
    if (const Field* f = get("set"); f && !p_.property.writable)
      w_.error(*f, "set on a read-only property (a sensor, or writable: false)");
    if (!get("set") && p_.property.writable)
      w_.error(item, std::string("a writable ") + kind_name(p_.kind) + " needs set (its setter method); write writable: false for a read-only one");
    if (const Field* f = only_for("set_off", {Kind::switch_}, "switches (a method pair: set [] on, set_off [] off)"); f && !get("set"))
      w_.error(*f, "set_off needs set (the method that switches on)");
    p_.set_value = p_.kind != Kind::switch_ ? SetValue::value : get("set_off") ? SetValue::none : SetValue::on_off;
    if (const Field* f = get("set_value"))
      if (auto v = w_.text(*f, 16)) {
        if (*v == "on_off" && p_.kind == Kind::switch_ && !get("set_off")) p_.set_value = SetValue::on_off;
        else if (*v == "value" && is({Kind::select, Kind::number})) p_.set_value = SetValue::value;
        else if (*v == "none" && (p_.kind != Kind::switch_ || get("set_off"))) p_.set_value = SetValue::none;
        else w_.error(*f, "set_value " + quote(*v) + " does not fit: on_off is for a switch, value for a select or number, none for a method pair (set_off) or a select or number called with []");
      }
  }

  void read_options(const Field& item) {
    const Field* f = get("options");
    if (f && p_.kind != Kind::select) return w_.error(*f, std::string("options are for a select; this property is a ") + kind_name(p_.kind));
    if (!f) {
      if (p_.kind == Kind::select) w_.error(item, "a select needs options (raw value: label)");
      return;
    }
    const bool text_raw = protocol_ == Protocol::miio || p_.format == Format::string;
    auto add = [&](const Field& at, Json raw, const Field& label_field) {
      const auto label = w_.text(label_field, kMaxLabelBytes);
      if (!label) return;
      for (const auto& o : p_.options) {
        if (o.label == *label) return w_.error(label_field, "the label " + quote(*label) + " is used twice");
        if (o.raw == raw) return w_.error(at, "the raw value " + quote(raw.dump()) + " is listed twice");
      }
      if (label->empty()) return w_.error(label_field, "a label must not be empty");
      p_.options.push_back(Option{std::move(raw), *label});
      p_.property.options.push_back(*label);
    };
    if (f->node.IsSequence()) {
      if (!text_raw) return w_.error(*f, "MIoT options map raw values to labels, e.g. { 0: \"off\", 1: \"on\" }");
      w_.for_each_item(*f, kMaxOptions, [&](const Field& entry) {
        if (auto text = w_.text(entry, kMaxLabelBytes)) add(entry, Json(*text), entry);
      });
    } else {
      w_.for_each_pair(*f, kMaxOptions, [&](const Field& key, const Field& label) {
        if (auto raw = raw_value(key, text_raw)) add(key, std::move(*raw), label);
      });
    }
    if ((f->node.IsMap() || f->node.IsSequence()) && f->node.size() == 0) w_.error(*f, "a select needs at least one option");
  }

  std::optional<Json> raw_value(const Field& f, bool text_raw) {
    if (text_raw) {
      auto text = w_.text(f, kMaxLabelBytes);
      return text ? std::optional<Json>(Json(*text)) : std::nullopt;
    }
    if (p_.format == Format::float_) {
      auto v = w_.number(f);
      return v ? std::optional<Json>(Json(*v)) : std::nullopt;
    }
    const auto [min, max] = integer_range(p_.format);
    auto v = w_.integer(f, min, max);
    return v ? std::optional<Json>(Json(*v)) : std::nullopt;
  }

  void read_number_range() {
    auto read = [&](const char* key, double& out) {
      if (const Field* f = only_for(key, {Kind::number}, "numbers"))
        if (auto v = w_.number(*f)) out = *v;
    };
    read("min", p_.property.min);
    read("max", p_.property.max);
    read("step", p_.property.step);
    if (p_.property.min > p_.property.max) {
      const Field* f = get("max") ? get("max") : get("min");
      if (f) w_.error(*f, "min (" + Json(p_.property.min).dump() + ") is greater than max (" + Json(p_.property.max).dump() + ")");
    }
    if (p_.property.step <= 0)
      if (const Field* f = get("step")) w_.error(*f, "step must be more than 0");
  }

  void derive_decoding() {
    switch (p_.kind) {
      case Kind::switch_:
      case Kind::binary_sensor: p_.decoding = Decoding::on_off; break;
      case Kind::select: p_.decoding = Decoding::option; break;
      case Kind::number: p_.decoding = protocol_ == Protocol::miio ? Decoding::integer : Decoding::number; break;
      case Kind::sensor: p_.decoding = p_.format == Format::string ? Decoding::text : Decoding::number; break;
      case Kind::button: p_.decoding = Decoding::none; break;
    }
  }

  Walker& w_;
  Protocol protocol_;
  std::map<std::string, Field, std::less<>> fields_;
  PropDef p_;
};

// Checks across a model's properties; each finding points at the later property.
void check_model(Walker& w, const std::vector<std::pair<PropDef, config::Mark>>& props) {
  std::map<std::string, int> keys, names;
  std::map<std::pair<int, int>, int> properties, actions;
  int main_line = 0;
  for (const auto& entry : props) {
    const PropDef& p = entry.first;
    const config::Mark at = entry.second;
    auto once = [&](auto& seen, const auto& id, const std::string& what) {
      const auto [previous, inserted] = seen.emplace(id, at.line);
      if (!inserted) w.error(at, what + " (first at line " + std::to_string(previous->second) + ")");
    };
    once(keys, p.property.key, "the key " + quote(p.property.key) + " is used twice");
    if (!p.name.empty()) once(names, p.name, "the device name " + quote(p.name) + " is read twice");
    if (p.kind == Kind::button) once(actions, std::pair(p.siid, p.aiid), "action " + std::to_string(p.siid) + "/" + std::to_string(p.aiid) + " is defined twice");
    else if (p.siid != 0) once(properties, std::pair(p.siid, p.piid), "siid/piid " + std::to_string(p.siid) + "/" + std::to_string(p.piid) + " is read twice");
    if (p.property.main) {
      if (main_line != 0) w.error(at, "only one property can be main (the first is at line " + std::to_string(main_line) + ")");
      else main_line = at.line;
    }
  }
}

std::optional<ModelDef> read_model(Walker& w, const Field& item) {
  const size_t errors_before = w.errors();
  std::map<std::string, Field, std::less<>> fields;
  w.for_each_key(item, {"model", "protocol", "description", "source", "properties"},
                 [&](const std::string& key, const Field& value) { fields.emplace(key, value); });
  if (!item.node.IsMap()) return std::nullopt;
  ModelDef model;
  if (auto it = fields.find("model"); it == fields.end()) {
    w.error(item, "a definition needs model (the name miIO.info reports, e.g. cuco.plug.v3)");
  } else if (auto text = w.text(it->second, kMaxNameBytes)) {
    if (!is_model_name(*text)) w.error(it->second, "a model is lower-case letters, digits, '.', '-' and '_', got " + quote(*text));
    model.model = *text;
  }
  auto protocol = fields.find("protocol");
  if (protocol == fields.end()) return w.error(item, "a definition needs protocol: miio (legacy) or miot"), std::nullopt;
  const auto text = w.text(protocol->second, 16);
  if (!text) return std::nullopt;
  if (*text != "miio" && *text != "miot") return w.error(protocol->second, "protocol is miio (legacy) or miot, got " + quote(*text)), std::nullopt;
  model.protocol = *text == "miot" ? Protocol::miot : Protocol::miio;
  if (auto it = fields.find("description"); it != fields.end())
    if (auto v = w.text(it->second, 200)) model.description = *v;
  if (auto it = fields.find("source"); it != fields.end())
    if (auto v = w.text(it->second, 2000)) model.source = *v;
  auto properties = fields.find("properties");
  if (properties == fields.end()) return w.error(item, "a definition needs properties (a list)"), std::nullopt;
  std::vector<std::pair<PropDef, config::Mark>> props;
  w.for_each_item(properties->second, kMaxPropsPerModel, [&](const Field& entry) {
    if (auto p = PropertyReader(w, model.protocol).read(entry)) props.emplace_back(std::move(*p), entry.at);
  });
  if (properties->second.node.IsSequence() && properties->second.node.size() == 0)
    w.error(properties->second, "a definition needs at least one property");
  check_model(w, props);
  if (w.errors() != errors_before) return std::nullopt;
  for (auto& [p, at] : props) model.props.push_back(std::move(p));
  return model;
}

}  // namespace

namespace {

std::vector<ModelDef> read_model_list(Walker& walker, const Field& list) {
  std::vector<ModelDef> models;
  std::map<std::string, int> seen;
  try {
    walker.for_each_item(list, kMaxModels, [&](const Field& item) {
      auto model = read_model(walker, item);
      if (!model) return;
      const auto [previous, inserted] = seen.emplace(model->model, item.at.line);
      if (!inserted) return walker.error(item, "model " + quote(model->model) + " is defined twice (first at line " + std::to_string(previous->second) + ")");
      models.push_back(std::move(*model));
    });
  } catch (const std::exception& e) {
    // yaml-cpp node access may throw on shapes nobody foresaw; report, never crash.
    walker.error(list.at, std::string("cannot read the definitions: ") + e.what());
  }
  return models;
}

// At most kMaxDiagnostics of the diagnostics from `first` on, and a line saying so; the budget's
// message stays, since it explains why the rest was not read.
void cap_diagnostics(std::vector<config::Diagnostic>& diagnostics, size_t first) {
  if (diagnostics.size() - first <= kMaxDiagnostics) return;
  std::optional<config::Diagnostic> budget;
  for (size_t i = first + kMaxDiagnostics; i < diagnostics.size() && !budget; ++i)
    if (diagnostics[i].message.find(ModelYaml::kBudgetMessage) != std::string::npos) budget = diagnostics[i];
  config::Diagnostic more = diagnostics[first + kMaxDiagnostics];
  diagnostics.resize(first + kMaxDiagnostics);
  more.message = "too many errors; the rest are not shown";
  diagnostics.push_back(std::move(more));
  if (budget) diagnostics.push_back(std::move(*budget));
}

}  // namespace

std::vector<ModelDef> load_model_list(config::Reader& reader, const Field& list) {
  ModelYaml walker(reader);
  return read_model_list(walker, list);
}

std::vector<ModelDef> load_models(std::string_view yaml, const std::string& file, std::vector<config::Diagnostic>& diagnostics) {
  const size_t first = diagnostics.size();
  config::Reader reader(file, "", diagnostics);
  ModelYaml walker(reader);
  std::vector<ModelDef> models;
  const auto root = reader.parse(yaml);
  if (root && !root->IsNull()) {  // an empty text defines nothing
    const Field root_field{"", *root, config::Mark{1, 1}};
    bool found = false;
    try {
      walker.for_each_key(root_field, {"models"}, [&](const std::string&, const Field& list) {
        found = true;
        models = read_model_list(walker, list);
      });
    } catch (const std::exception& e) {
      walker.error(root_field.at, std::string("cannot read the definitions: ") + e.what());
    }
    if (!found && root->IsMap()) walker.error(root_field.at, "expected models: with a list of definitions");
  }
  cap_diagnostics(diagnostics, first);
  return models;
}

}  // namespace lc::miio
