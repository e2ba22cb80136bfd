// A simulated legacy (miIO) model's answers: get_prop by name, the setters of
// docs/protocols/miio.md §4, and miIO.info, each as its device sends them.
#include "bridges/miio/sim_device.h"

#include "core/hex.h"
#include "core/sim_harness.h"

namespace lc::miio {

std::string SimDevice::answer_info() const {
  const Json info = {{"life", 1000},
                     {"model", model_},
                     {"token", hex(cipher_.token())},
                     {"ipflag", 1},
                     {"fw_ver", "3.4.2_71"},
                     {"hw_ver", "RTL8711AF"},
                     {"mac", "AA:BB:CC:00:00:01"},
                     {"ot", "otu"},
                     {"ott_stat", {0, 0, 0, 0}}};
  std::string text = info.dump();
  text.pop_back();
  // Without a cloud session the strip's miIO.info has an empty member before otu_stat
  // (python-miio#121).
  text += synced_ ? ",\"otu_stat\":[320,267,3,0,3,742]}" : ",,\"otu_stat\":[0,0,0,0,0,0]}";
  return text;
}

std::string SimDevice::answer(const std::string& method, const Json& params, bool& ok) {
  auto error = [&](int code, const std::string& message) {
    ok = false;
    return Json({{"code", code}, {"message", message}}).dump();
  };
  auto has = [&](const char* name) { return state_.contains(name) && !state_[name].is_null(); };
  if (method == "get_prop") {
    if (!params.is_array()) return error(-32602, "Invalid param.");
    const bool empty = model_ == "qmi.powerstrip.v1" && !synced_;
    sim::emit({{"event", "get_prop"}, {"device", did_hex_}, {"empty", empty}});
    // Names the device does not know, and every name before its cloud session, are empty
    // slots: "[,,,,,,,]" is not JSON, exactly as the v1 strip sends it (python-miio#334).
    std::string list = "[";
    for (size_t i = 0; i < params.size(); ++i) {
      if (i) list += ",";
      const Json& name = params[i];
      if (!empty && name.is_string() && state_.contains(name.get<std::string>()))
        list += state_[name.get<std::string>()].dump();
    }
    return list + "]";
  }
  if (method == "get_power" && state_.contains("get_power")) return Json::array({state_["get_power"]}).dump();
  if (method == "miIO.info") return answer_info();
  const Json value = params.is_array() && !params.empty() ? params[0] : Json();
  auto set_on_off = [&](const char* name, bool as_bool) -> std::string {
    if (value != "on" && value != "off") return error(-32602, "Invalid param.");
    set(name, as_bool ? Json(value == "on") : value);
    return "[\"ok\"]";
  };
  if (method == "set_power") {
    if (has("power")) return set_on_off("power", false);
    if (has("on")) return set_on_off("on", true);
  }
  if ((method == "set_on" || method == "set_off") && has("on")) {
    set("on", method == "set_on");
    return "[\"ok\"]";
  }
  if ((method == "set_usb_on" || method == "set_usb_off") && has("usb_on")) {
    set("usb_on", method == "set_usb_on");
    return "[\"ok\"]";
  }
  if (method == "set_wifi_led" && has("wifi_led")) return set_on_off("wifi_led", false);
  if (method == "set_power_mode" && has("mode")) {
    if (value != "green" && value != "normal") return error(-32602, "Invalid param.");
    set("mode", value);
    return "[\"ok\"]";
  }
  if (method == "set_power_price" && has("power_price")) {
    if (!value.is_number_integer() || value.get<int64_t>() < 0 || value.get<int64_t>() > 999)
      return error(-5001, "invalid param");
    set("power_price", value);
    return "[\"ok\"]";
  }
  return error(-32601, "Method not found.");
}

}  // namespace lc::miio
