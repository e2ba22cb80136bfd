// The requests of a legacy (protocol miio) definition: what one poll asks and what a command
// sends. The data-driven successor of poll_reads/setter_request in models.h.
#pragma once

#include <optional>
#include <vector>

#include "bridges/miio/model_def.h"

namespace lc::miio {

// One request of a poll and the properties its answer holds.
struct LegacyRead {
  Call call;
  std::vector<const PropDef*> props;  // get_prop: aligned with params; else the one prop for result[0]
};

// One get_prop with every name (first), then one request per property with a read method of its own.
std::vector<LegacyRead> legacy_reads(const ModelDef& model);

// The request that sets `prop` to `value` ("ON"/"OFF" for switches, an option label, a number
// within min..max); nullopt when the property is read-only or the value does not fit.
std::optional<Call> legacy_set_request(const PropDef& prop, const Json& value);

}  // namespace lc::miio
