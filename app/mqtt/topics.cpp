#include "app/mqtt/topics.h"

#include <algorithm>
#include <cctype>

namespace lc::topics {

std::string device_key(std::string_view bridge, std::string_view id, std::string_view name) {
  if (!name.empty()) return std::string(name);
  std::string key = std::string(bridge) + "_" + std::string(id);
  std::transform(key.begin(), key.end(), key.begin(), [](unsigned char c) { return std::tolower(c); });
  return key;
}

bool valid_level(std::string_view level) {
  if (level.empty() || level.size() > 128) return false;
  return std::all_of(level.begin(), level.end(), [](char c) {
    return c > ' ' && c < 0x7f && c != '/' && c != '+' && c != '#';
  });
}

namespace {
std::string join(std::string_view a, std::string_view b) {
  std::string out;
  out.reserve(a.size() + b.size() + 1);
  out.append(a).append("/").append(b);
  return out;
}
}  // namespace

std::string bridge_state(std::string_view base) { return join(base, "bridge/state"); }
std::string bridge_info(std::string_view base) { return join(base, "bridge/info"); }
std::string bridge_devices(std::string_view base) { return join(base, "bridge/devices"); }
std::string bridge_event(std::string_view base) { return join(base, "bridge/event"); }
std::string state(std::string_view base, std::string_view key) { return join(base, key); }
std::string attributes(std::string_view base, std::string_view key) { return join(join(base, key), "attributes"); }
std::string availability(std::string_view base, std::string_view key) { return join(join(base, key), "availability"); }

std::optional<Incoming> classify(std::string_view base, std::string_view topic) {
  if (topic.size() <= base.size() + 1 || topic.substr(0, base.size()) != base || topic[base.size()] != '/')
    return std::nullopt;
  std::string_view rest = topic.substr(base.size() + 1);
  constexpr std::string_view request_prefix = "bridge/request/";
  if (rest.substr(0, request_prefix.size()) == request_prefix) {
    const auto name = rest.substr(request_prefix.size());
    const auto slash = name.find('/');  // "remove", "device/remove"
    if (!valid_level(name.substr(0, slash))) return std::nullopt;
    if (slash != std::string_view::npos && !valid_level(name.substr(slash + 1))) return std::nullopt;
    return Incoming{Incoming::Kind::request, {}, {}, std::string(name)};
  }
  const auto slash = rest.find('/');
  const std::string_view key = rest.substr(0, slash);
  if (!valid_level(key) || key == "bridge") return std::nullopt;
  if (slash == std::string_view::npos) return Incoming{Incoming::Kind::state, std::string(key), {}, {}};
  const std::string_view tail = rest.substr(slash + 1);
  if (tail == "set") return Incoming{Incoming::Kind::set, std::string(key), {}, {}};
  if (tail == "get") return Incoming{Incoming::Kind::get, std::string(key), {}, {}};
  if (tail.substr(0, 4) == "set/") {
    const auto property = tail.substr(4);
    if (!valid_level(property)) return std::nullopt;
    return Incoming{Incoming::Kind::set_property, std::string(key), std::string(property), {}};
  }
  return std::nullopt;
}

}  // namespace lc::topics
