// The MIoT requests of a definition and their answers (docs/protocols/miio.md "MIoT over the local
// protocol"): get_properties, set_properties, action, and the properties_changed push. Pure:
// builds `params` and reads `result`; the packet, the id and the envelope are the client's.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "bridges/miio/model_def.h"

namespace lc::miio::miot {

// python-miio miio/miot_device.py sends at most 15 entries per get_properties (its comment
// says a request is limited to 16); more properties are split across requests.
constexpr size_t kMaxEntriesPerRequest = 15;
// The params of one request stay within this many bytes of JSON, so that the packet stays
// under the 1000 bytes module firmwares accept (docs/protocols/miio.md §1.5).
constexpr size_t kMaxParamsBytes = 800;
// Answers are read up to this many entries; the rest count as unexpected.
constexpr size_t kMaxAnswerEntries = 256;

// One get_properties request and the properties it asks for, in order. Each entry is
// {"did":"<property key>","siid":s,"piid":p}: like python-miio, the key goes into "did" so that
// answers can be matched by it. The reads point into `model`, which must outlive them.
struct PropertyRead {
  Call call;
  std::vector<const PropDef*> props;
};
std::vector<PropertyRead> property_reads(const ModelDef& model, size_t max_entries = kMaxEntriesPerRequest);

struct PropertyError {
  const PropDef* prop;
  long long code;  // the device's code (-4001 not readable, -4003 no such property, ...)
};

struct ReadResult {
  Json values = Json::object();              // every asked key: its published value, or null
  std::vector<PropertyError> errors;         // answered with a non-zero code
  std::vector<const PropDef*> missing;       // not answered, or answered without a value
  std::vector<const PropDef*> not_understood;  // answered with a value that does not decode
  size_t unexpected = 0;                     // entries that match nothing asked, repeat one, or are malformed
};
// Reads the `result` of a get_properties answer. Entries are matched by "did" (the key), else
// by siid/piid; their order does not matter.
ReadResult read_properties_result(const PropertyRead& read, const Json& result);

// The set_properties request that sets `prop` to `value` (see encode_miot_value); nullopt,
// with the reason in `why`, when it is read-only or the value does not fit.
std::optional<Call> set_properties_request(const PropDef& prop, const Json& value, std::string* why = nullptr);

struct WriteResult {
  bool answered = false;  // an entry for the property came back
  long long code = 0;
  bool ok() const { return answered && code == 0; }
};
WriteResult read_set_result(const PropDef& prop, const Json& result);

// The action request of a button: {"did":"<key>","siid":s,"aiid":a,"in":[...]}.
std::optional<Call> action_request(const PropDef& button, const Json& in = Json::array());

struct ActionResult {
  bool answered = false;  // the result has an integer code
  long long code = 0;
  Json out = Json::array();
  bool ok() const { return answered && code == 0; }
};
// Reads the `result` of an action answer: {"code":0,"out":[...]}.
ActionResult read_action_result(const Json& result);

// A properties_changed push (cloud side): `params` is a list of {"did","siid","piid","value"}
// (or one such object). The did there is the device's id, so entries are matched by siid/piid.
struct PropertyChange {
  const PropDef* prop;
  Json value;  // published; null when not understood
};
struct ChangeResult {
  std::vector<PropertyChange> changes;
  size_t unknown = 0;  // entries for properties the definition does not have, or malformed
};
ChangeResult read_properties_changed(const ModelDef& model, const Json& params);

}  // namespace lc::miio::miot
