// Fuzz target: what an MQTT client can send us: a topic under <base>/ and a payload, through
// the topic classifier, the /set JSON parser and the value normalisation of every kind of
// property. Input: topic, a NUL byte, payload.
#include <cstdint>
#include <string>
#include <string_view>

#include "app/command_value.h"
#include "app/mqtt/topics.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto split = input.find('\0');
  const std::string_view topic = input.substr(0, split);
  const std::string_view payload = split == std::string_view::npos ? std::string_view() : input.substr(split + 1);

  static const lc::Property properties[] = {
      {.key = "power", .component = lc::Component::switch_, .writable = true},
      {.key = "mode", .component = lc::Component::select, .writable = true, .options = {"green", "normal"}},
      {.key = "price", .component = lc::Component::number, .writable = true, .min = 0, .max = 999},
      {.key = "raw", .component = lc::Component::sensor, .writable = true},
      {.key = "load", .component = lc::Component::sensor},
  };
  (void)lc::topics::classify("localcloud", topic);
  const auto request = lc::parse_set_payload(payload);
  for (const auto& [property, value] : request.entries)
    for (const auto& p : properties) (void)lc::normalise_command(p, value);
  const auto plain = lc::plain_payload(payload);
  for (const auto& p : properties) (void)lc::normalise_command(p, plain);
  return 0;
}
