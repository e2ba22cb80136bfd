#include "core/json_limits.h"

namespace lc {

const char* refusal_reason(JsonRefusal refusal) {
  switch (refusal) {
    case JsonRefusal::none: return "none";
    case JsonRefusal::too_large: return "too_large";
    case JsonRefusal::too_deep: return "too_deep";
    case JsonRefusal::not_json: return "not_json";
  }
  return "not_json";
}

int json_depth(std::string_view text, int stop_at) {
  int depth = 0, deepest = 0;
  bool in_string = false, escaped = false;
  for (const char c : text) {
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > deepest && (deepest = depth) > stop_at) return deepest;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return deepest;
}

}  // namespace lc
