#include "bridges/timeguard/commands.h"

#include <algorithm>

#include "bridges/timeguard/properties.h"

namespace lc::timeguard {

namespace {

CommandRequest write(uint8_t frame_type, uint8_t value) {
  Request request;
  request.frame_type = frame_type;
  request.flags = flag::write;
  request.params = {value};
  return {std::move(request), {}};
}

CommandRequest failure(std::string error) { return {std::nullopt, std::move(error)}; }

template <size_t N>
std::optional<uint8_t> index_of(const std::array<const char*, N>& names, const std::string& text) {
  const auto it = std::find(names.begin(), names.end(), text);
  if (it == names.end()) return std::nullopt;
  return static_cast<uint8_t>(it - names.begin());
}

CommandRequest raw_request(uint32_t device_id, const std::string& text) {
  const auto bytes = bytes_from_hex_text(text);
  if (!bytes || bytes->empty()) return failure("raw: expected a frame in hex");
  FrameView frame;
  const FrameError error = parse_frame(*bytes, frame);
  if (error != FrameError::none) return failure(std::string("raw: not a valid frame (") + reason(error) + ")");
  if (frame.device_id != device_id) return failure("raw: the frame's device id is not this device's");
  Request request;
  request.frame_type = frame.type;
  request.flags = frame.flags;
  request.raw_frame = *bytes;
  // A server request (read or write) is tracked like ours; anything else is sent once.
  request.expects_reply = (frame.flags & (flag::from_server | flag::success)) == flag::from_server &&
                          frame.seq != kDeviceSeq;
  if (request.expects_reply) request.seq = frame.seq;
  request.what = "raw " + std::string(kind_name(kind_of(frame.type, frame.flags))) + " frame";
  return {std::move(request), {}};
}

}  // namespace

CommandRequest command_request(uint32_t device_id, std::string_view property, const nlohmann::json& value,
                               bool allow_raw) {
  if (!value.is_string()) return failure("expected text");
  const std::string text = value.get<std::string>();
  CommandRequest result;
  if (property == "work_mode") {
    const auto mode = index_of(kWorkModeNames, text);
    if (!mode) return failure("unknown work mode '" + text + "'");
    result = write(type::work_mode, *mode);
  } else if (property == "boost") {
    const auto kind = index_of(kBoostNames, text);
    if (!kind) return failure("unknown boost '" + text + "'");
    result = write(type::boost, *kind);
  } else if (property == "advance") {
    if (text != "ON" && text != "OFF") return failure("expected ON or OFF");
    result = write(type::advance, text == "ON" ? 1 : 0);
  } else if (property == "active_schedule") {
    const auto index = schedule_index(text);
    if (!index) return failure("unknown schedule '" + text + "'");
    result = write(type::active_schedule, *index);
  } else if (property == "raw" && allow_raw) {
    return raw_request(device_id, text);
  } else {
    return failure("property '" + std::string(property) + "' cannot be set");
  }
  result.request->what = std::string(property) + "=" + text;
  return result;
}

}  // namespace lc::timeguard
