// localcloud healthcheck [--config FILE]: GET /healthz on the config's api.listen over loopback
// (a wildcard listen address is asked on 127.0.0.1 / ::1). For a container HEALTHCHECK without
// curl in the image. Exit 0 on a 200 answer, 1 otherwise (printing why).
#pragma once

#include <chrono>

#include "config/config.h"

namespace lc {

int run_healthcheck(const config::Config& config, std::chrono::milliseconds timeout = std::chrono::seconds(3));

}  // namespace lc
