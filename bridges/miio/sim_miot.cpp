// A simulated MIoT model's answers (docs/protocols/miio.md "MIoT over the local protocol"), from
// the same definitions the bridge runs from: get_properties (at most 15 entries, a per-property
// error code on request), set_properties in the definition's format, action; legacy methods
// time out at the device (-9999, python-miio#1265).
#include "bridges/miio/sim_device.h"

#include "core/sim_harness.h"

namespace lc::miio {

namespace {

// Operation codes of the MIoT device SDK (he0119/arduino-miio operation_code.h).
constexpr long long kNoSuchProperty = -4003;
constexpr long long kNotWritable = -4002;
constexpr long long kBadValue = -4005;

Json entry_head(const Json& entry) {
  Json head = Json::object();
  for (const char* key : {"did", "siid", "piid"})
    if (entry.is_object() && entry.contains(key)) head[key] = entry[key];
  return head;
}

bool fits(const PropDef& prop, const Json& value) {
  if (prop.format == Format::bool_) return value.is_boolean();
  if (prop.format == Format::string) return value.is_string();
  if (is_integer_format(prop.format)) {
    if (!value.is_number_integer()) return false;
    const auto [low, high] = integer_range(prop.format);
    const double v = value.get<double>();
    return v >= static_cast<double>(low) && v <= static_cast<double>(high);
  }
  return value.is_number();
}

}  // namespace

// The raw values a MIoT device starts with: power on, other switches off, numbers 1000, the
// first option of a select.
Json SimDevice::initial_miot_state() const {
  Json state = Json::object();
  for (const auto& prop : def_->props) {
    if (!prop.readable()) continue;
    if (prop.format == Format::bool_) state[prop.property.key] = prop.property.key == "power";
    else if (prop.kind == Kind::select && !prop.options.empty()) state[prop.property.key] = prop.options.front().raw;
    else if (prop.format == Format::string) state[prop.property.key] = "";
    else state[prop.property.key] = 1000;
  }
  return state;
}

std::string SimDevice::answer_miot(const std::string& method, const Json& params, bool& ok) {
  auto error = [&](int code, const std::string& message) {
    ok = false;
    return Json({{"code", code}, {"message", message}}).dump();
  };
  if (method == "get_properties") {
    if (!params.is_array()) return error(-32602, "Invalid param.");
    if (params.size() > miot::kMaxEntriesPerRequest) {
      sim::emit({{"event", "too_many_properties"}, {"device", did_hex_}, {"count", params.size()}});
      return error(-32602, "Invalid param.");
    }
    Json result = Json::array();
    for (const auto& entry : params) {
      Json answer = entry_head(entry);
      const PropDef* prop = entry.is_object() && entry.value("siid", Json()).is_number_integer() &&
                                    entry.value("piid", Json()).is_number_integer()
                                ? find_prop_by_iid(*def_, entry["siid"].get<int>(), entry["piid"].get<int>())
                                : nullptr;
      if (!prop || !state_.contains(prop->property.key)) {
        answer["code"] = kNoSuchProperty;
      } else if (const auto code = error_codes_.find(prop->property.key); code != error_codes_.end()) {
        answer["code"] = code->second;
      } else {
        answer["code"] = 0;
        answer["value"] = state_[prop->property.key];
      }
      result.push_back(std::move(answer));
    }
    return result.dump();
  }
  if (method == "set_properties") {
    if (!params.is_array() || params.size() > miot::kMaxEntriesPerRequest) return error(-32602, "Invalid param.");
    Json result = Json::array();
    for (const auto& entry : params) {
      Json answer = entry_head(entry);
      const PropDef* prop = entry.is_object() && entry.value("siid", Json()).is_number_integer() &&
                                    entry.value("piid", Json()).is_number_integer()
                                ? find_prop_by_iid(*def_, entry["siid"].get<int>(), entry["piid"].get<int>())
                                : nullptr;
      const Json value = entry.is_object() ? entry.value("value", Json()) : Json();
      if (!prop) answer["code"] = kNoSuchProperty;
      else if (!prop->property.writable) answer["code"] = kNotWritable;
      else if (!fits(*prop, value)) answer["code"] = kBadValue;
      else answer["code"] = 0, set(prop->property.key, value);
      result.push_back(std::move(answer));
    }
    return result.dump();
  }
  if (method == "action") {
    if (!params.is_object() || !params.value("siid", Json()).is_number_integer() ||
        !params.value("aiid", Json()).is_number_integer())
      return error(-32602, "Invalid param.");
    const int siid = params["siid"].get<int>(), aiid = params["aiid"].get<int>();
    for (const auto& prop : def_->props) {
      if (prop.kind != Kind::button || prop.siid != siid || prop.aiid != aiid) continue;
      // The shipped buttons are toggles of the switch in their service (piid 1).
      if (const PropDef* target = find_prop_by_iid(*def_, siid, 1); target && state_.value(target->property.key, Json()).is_boolean())
        set(target->property.key, !state_[target->property.key].get<bool>());
      return Json({{"did", params.value("did", Json())}, {"siid", siid}, {"aiid", aiid}, {"code", 0}, {"out", Json::array()}}).dump();
    }
    return Json({{"did", params.value("did", Json())}, {"siid", siid}, {"aiid", aiid}, {"code", kNoSuchProperty}}).dump();
  }
  if (method == "miIO.info") return answer_info();
  // Legacy methods reach no handler on MIoT firmware: it answers -9999 (python-miio#1265).
  return error(-9999, "user ack timeout");
}

// A changed value, pushed to the cloud as properties_changed (with --otc-info).
void SimDevice::push_miot_change(const PropDef& prop, const Json& value) {
  send_cloud_message("properties_changed",
                     Json::array({{{"did", std::to_string(did_)}, {"siid", prop.siid}, {"piid", prop.piid}, {"value", value}}}));
}

}  // namespace lc::miio
