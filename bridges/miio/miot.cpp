#include "bridges/miio/miot.h"

#include <algorithm>

#include "bridges/miio/model_values.h"

namespace lc::miio::miot {
namespace {

// An integer member of an answer entry; nullopt when absent or not a whole number.
std::optional<long long> integer_member(const Json& entry, const char* name) {
  const auto it = entry.find(name);
  if (it == entry.end() || !it->is_number_integer()) return std::nullopt;
  return it->get<long long>();
}

// The property of `props` an answer entry is about: the one named by "did", else the one at
// its siid/piid. A did naming a property whose address the entry contradicts matches nothing.
const PropDef* match(const std::vector<const PropDef*>& props, const Json& entry) {
  const auto siid = integer_member(entry, "siid");
  const auto piid = integer_member(entry, "piid");
  const auto did = entry.find("did");
  if (did != entry.end() && did->is_string()) {
    for (const PropDef* prop : props) {
      if (*did != prop->property.key) continue;
      if ((siid && *siid != prop->siid) || (piid && *piid != prop->piid)) return nullptr;
      return prop;
    }
  }
  if (!siid || !piid) return nullptr;
  for (const PropDef* prop : props)
    if (prop->siid == *siid && prop->piid == *piid) return prop;
  return nullptr;
}

Json entry_for(const PropDef& prop) {
  return Json{{"did", prop.property.key}, {"siid", prop.siid}, {"piid", prop.piid}};
}

}  // namespace

std::vector<PropertyRead> property_reads(const ModelDef& model, size_t max_entries) {
  std::vector<PropertyRead> reads;
  max_entries = std::clamp<size_t>(max_entries, 1, kMaxEntriesPerRequest);
  size_t bytes = 0;
  for (const auto& prop : model.props) {
    if (!prop.readable() || prop.siid == 0) continue;
    Json entry = entry_for(prop);
    const size_t entry_bytes = entry.dump().size() + 1;  // and a comma
    if (reads.empty() || reads.back().props.size() >= max_entries || bytes + entry_bytes > kMaxParamsBytes) {
      reads.push_back(PropertyRead{{"get_properties", Json::array()}, {}});
      bytes = 2;  // []
    }
    reads.back().call.params.push_back(std::move(entry));
    reads.back().props.push_back(&prop);
    bytes += entry_bytes;
  }
  return reads;
}

ReadResult read_properties_result(const PropertyRead& read, const Json& result) {
  ReadResult out;
  std::vector<const PropDef*> answered;
  if (result.is_array()) {
    size_t seen = 0;
    for (const auto& entry : result) {
      if (++seen > kMaxAnswerEntries) {
        out.unexpected += result.size() - kMaxAnswerEntries;
        break;
      }
      const PropDef* prop = entry.is_object() ? match(read.props, entry) : nullptr;
      const auto code = prop ? (entry.contains("code") ? integer_member(entry, "code") : std::optional<long long>(0))
                             : std::nullopt;
      if (!prop || !code || std::find(answered.begin(), answered.end(), prop) != answered.end()) {
        ++out.unexpected;
        continue;
      }
      answered.push_back(prop);
      const std::string& key = prop->property.key;
      out.values[key] = nullptr;
      if (*code != 0) {
        out.errors.push_back(PropertyError{prop, *code});
      } else if (!entry.contains("value")) {
        out.missing.push_back(prop);
      } else {
        out.values[key] = decode_value(*prop, entry["value"]);
        if (out.values[key].is_null()) out.not_understood.push_back(prop);
      }
    }
  }
  for (const PropDef* prop : read.props) {
    if (std::find(answered.begin(), answered.end(), prop) != answered.end()) continue;
    out.values[prop->property.key] = nullptr;
    out.missing.push_back(prop);
  }
  return out;
}

std::optional<Call> set_properties_request(const PropDef& prop, const Json& value, std::string* why) {
  if (prop.siid == 0 || prop.piid == 0) {
    if (why) *why = prop.property.key + " has no MIoT address";
    return std::nullopt;
  }
  auto raw = encode_miot_value(prop, value, why);
  if (!raw) return std::nullopt;
  Json entry = entry_for(prop);
  entry["value"] = std::move(*raw);
  return Call{"set_properties", Json::array({std::move(entry)})};
}

WriteResult read_set_result(const PropDef& prop, const Json& result) {
  WriteResult out;
  if (!result.is_array()) return out;
  const std::vector<const PropDef*> props{&prop};
  size_t seen = 0;
  for (const auto& entry : result) {
    if (++seen > kMaxAnswerEntries) break;
    if (!entry.is_object() || match(props, entry) != &prop) continue;
    const auto code = entry.contains("code") ? integer_member(entry, "code") : std::optional<long long>(0);
    if (!code) continue;
    out.answered = true;
    out.code = *code;
    break;
  }
  return out;
}

std::optional<Call> action_request(const PropDef& button, const Json& in) {
  if (button.kind != Kind::button || button.siid == 0 || button.aiid == 0 || !in.is_array()) return std::nullopt;
  return Call{"action", Json{{"did", button.property.key}, {"siid", button.siid}, {"aiid", button.aiid}, {"in", in}}};
}

ActionResult read_action_result(const Json& result) {
  ActionResult out;
  // Some firmwares wrap the object in a list of one.
  const Json& body = result.is_array() && result.size() == 1 ? result[0] : result;
  if (!body.is_object()) return out;
  const auto code = integer_member(body, "code");
  if (!code) return out;
  out.answered = true;
  out.code = *code;
  const auto it = body.find("out");
  if (it != body.end() && it->is_array() && it->size() <= kMaxAnswerEntries) out.out = *it;
  return out;
}

ChangeResult read_properties_changed(const ModelDef& model, const Json& params) {
  ChangeResult out;
  auto one = [&](const Json& entry) {
    const auto siid = entry.is_object() ? integer_member(entry, "siid") : std::nullopt;
    const auto piid = entry.is_object() ? integer_member(entry, "piid") : std::nullopt;
    const PropDef* prop = siid && piid && *siid > 0 && *piid > 0 && *siid <= 65535 && *piid <= 65535
                              ? find_prop_by_iid(model, static_cast<int>(*siid), static_cast<int>(*piid))
                              : nullptr;
    if (!prop || !entry.contains("value")) return void(++out.unknown);
    out.changes.push_back(PropertyChange{prop, decode_value(*prop, entry["value"])});
  };
  if (params.is_object()) {
    one(params);
  } else if (params.is_array()) {
    size_t seen = 0;
    for (const auto& entry : params) {
      if (++seen > kMaxAnswerEntries) {
        out.unknown += params.size() - kMaxAnswerEntries;
        break;
      }
      one(entry);
    }
  } else {
    ++out.unknown;
  }
  return out;
}

}  // namespace lc::miio::miot
