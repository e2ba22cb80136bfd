// Checks on text read from the config file, and user-written values quoted in messages.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace lc::config {

inline constexpr size_t kMaxNameBytes = 128;   // a device name (one MQTT topic level)
inline constexpr size_t kMaxTopicBytes = 256;  // a topic, a topic prefix or a client id

// A user-written value inside a message: quoted, control bytes (and bytes of broken UTF-8)
// escaped, cut at 60 bytes. Never used for secrets.
std::string quote_value(std::string_view text);

bool valid_utf8(std::string_view text);
bool has_control(std::string_view text);  // C0 controls or DEL
std::string lower(std::string_view text);  // ASCII only

// Why `text` cannot be one level of an MQTT topic (a device name becomes <base>/<name>), or "".
std::string topic_level_problem(std::string_view text);
// Why `text` cannot be an MQTT topic (or topic prefix) we publish under, or "".
std::string topic_problem(std::string_view text);

}  // namespace lc::config
