// Bounds for JSON that comes from outside (the broker, devices, HTTP clients): a size cap and
// a nesting-depth cap checked before parsing. nlohmann::json parses iteratively, but copying,
// comparing and dumping a value recurse once per level, so a 50,000-deep array overflows the
// stack when it is copied later; with the depth checked first, nothing deep is ever built.
#pragma once

#include <cstddef>
#include <string_view>

#include <nlohmann/json.hpp>

namespace lc {

struct JsonLimits {
  size_t max_bytes = 4096;
  int max_depth = 64;  // objects and arrays nested within each other
};

enum class JsonRefusal { none, too_large, too_deep, not_json };

// "too_large", "too_deep", "not_json": the drop reason for metrics and logs.
const char* refusal_reason(JsonRefusal refusal);

// The deepest nesting of '[' and '{' outside strings, counting stops once `stop_at` is
// passed (so the scan of a hostile input ends early). Does not validate the text.
int json_depth(std::string_view text, int stop_at);

// Parses `text` when it is within `limits`; otherwise (or when it is not JSON) returns a
// discarded value and says why in `refusal`.
template <class JsonType = nlohmann::json>
JsonType parse_json_bounded(std::string_view text, const JsonLimits& limits, JsonRefusal* refusal = nullptr) {
  JsonRefusal why = JsonRefusal::none;
  JsonType value = JsonType(JsonType::value_t::discarded);
  if (text.size() > limits.max_bytes) why = JsonRefusal::too_large;
  else if (json_depth(text, limits.max_depth) > limits.max_depth) why = JsonRefusal::too_deep;
  else {
    value = JsonType::parse(text, nullptr, /*allow_exceptions=*/false);
    if (value.is_discarded()) why = JsonRefusal::not_json;
  }
  if (refusal) *refusal = why;
  return value;
}

}  // namespace lc
