// Raw device values <-> published values for one property of a definition: on/off, scale,
// options, MIoT formats. Used by the legacy requests (legacy_requests.h) and the MIoT codec
// (miot.h) alike.
#pragma once

#include <optional>
#include <string>

#include "bridges/miio/model_def.h"

namespace lc::miio {

// A number from a JSON number or a string holding exactly one ("230.5"); nullopt otherwise.
std::optional<double> as_number(const Json& value);

// published = raw x scale. When 1/scale is a whole number d (0.1, 0.01, 0.001, ...) it is
// computed as raw / d: raw * 0.01 and raw / 100 can differ in the last bit (0.01 is not exact in
// binary), and raw / 100 is what the C++ table published before the models became data.
double apply_scale(double raw, double scale);
// The inverse (raw = published / scale), by the same rule: published x d.
double remove_scale(double published, double scale);

// A raw device value as the published value ("ON"/"OFF", a number, a label, a text); null when
// empty or not understood.
Json decode_value(const PropDef& prop, const Json& raw);

// The raw MIoT value that sets `prop` to `value`: "ON"/"OFF" (or true/false) for a switch, typed
// by its format (bool, or 1/0); a label for a select; for a number a value within min..max,
// inverse-scaled and typed by its format (an integer format is rounded and range-checked).
// nullopt, with the reason in `why`, when the property is read-only or the value does not fit.
std::optional<Json> encode_miot_value(const PropDef& prop, const Json& value, std::string* why = nullptr);

}  // namespace lc::miio
