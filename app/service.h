// Owns the io_context and wires the parts together: bridges, Hub, MQTT link, API, signals.
#pragma once

#include "config/config.h"

namespace lc {

// Runs the daemon until SIGTERM/SIGINT; returns the process exit code.
int run_service(const config::Config& config);

}  // namespace lc
