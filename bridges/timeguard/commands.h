// A command from the Hub as the request that carries it to the device (docs/timeguard.md
// "MQTT": work_mode, boost, advance, active_schedule, and raw frames when allowed).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "bridges/timeguard/requests.h"

namespace lc::timeguard {

struct CommandRequest {
  std::optional<Request> request;  // the write (or raw frame) to send
  std::string error;               // else why not
};

// `value` as the Hub normalised it: "ON"/"OFF" for advance, one of the options for selects,
// the frame in hex for raw (only when `allow_raw`).
CommandRequest command_request(uint32_t device_id, std::string_view property, const nlohmann::json& value,
                               bool allow_raw);

}  // namespace lc::timeguard
