// A device's Property as JSON: the form the device database stores, and equality through it
// (a changed description is re-published).
#pragma once

#include <vector>

#include <nlohmann/json.hpp>

#include "bridges/device.h"

namespace lc {

nlohmann::json property_to_json(const Property& property);
// Missing fields take Property's defaults, so older databases load.
Property property_from_json(const nlohmann::json& json);
bool same_properties(const std::vector<Property>& a, const std::vector<Property>& b);

}  // namespace lc
