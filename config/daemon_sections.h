// Readers of the daemon's own sections: mqtt, homeassistant, log, api and data_dir.
#pragma once

#include <string>
#include <string_view>

#include "config/config.h"
#include "config/reader.h"

namespace lc::config {

void read_mqtt(Reader& reader, const Field& section, Mqtt& mqtt);
void read_homeassistant(Reader& reader, const Field& section, HomeAssistant& homeassistant);
void read_log(Reader& reader, const Field& section, Log& log);
// 127.0.0.0/8, ::1 or "localhost": an address only this host reaches.
bool is_loopback_host(std::string_view host);

void read_api(Reader& reader, const Field& section, Api& api);
void read_data_dir(Reader& reader, const Field& f, std::string& data_dir);

}  // namespace lc::config
