#include "app/service.h"

#include <sys/resource.h>

#include <csignal>
#include <deque>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include "app/api/api.h"
#include "app/hub/hub_service.h"
#include "app/mqtt/link.h"
#include "app/mqtt/topics.h"
#include "bridges/bridge.h"
#include "core/durable_store.h"
#include "core/http_server.h"
#include "core/log.h"
#include "core/metrics.h"

namespace lc {

namespace asio = boost::asio;

namespace {

// Every device connection is a descriptor: take the whole hard limit (a container's default
// soft limit of 1024 would cap a site at about a thousand TCP/websocket devices).
void raise_open_files_limit(const Logger& log) {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= limit.rlim_max) return;
  const auto before = limit.rlim_cur;
  limit.rlim_cur = limit.rlim_max;
  if (setrlimit(RLIMIT_NOFILE, &limit) == 0)
    log.debug("open files limit raised from ", before, " to ", limit.rlim_cur);
}

}  // namespace

int run_service(const config::Config& config) {
  const Logger log("localcloud");
  std::signal(SIGPIPE, SIG_IGN);
  raise_open_files_limit(log);
  {
    rlimit limit{};
    if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < 1024)
      log.warn("only ", limit.rlim_cur, " open files allowed (ulimit -n): connection caps are lowered to fit");
  }

  asio::io_context io(1);
  Metrics metrics;
  DurableStore store(io, config.data_dir);
  auto mqtt = make_paho_link(io, config.mqtt, topics::bridge_state(config.mqtt.base_topic), metrics);
  HubService hub(io, config, *mqtt, metrics, store);

  std::deque<BridgeContext> contexts;  // outlive the bridges, which may keep a reference
  std::vector<std::unique_ptr<Bridge>> bridges;
  std::vector<std::string> listening;
  try {
    std::vector<Endpoint> daemon_listeners;
    if (config.api.listen) daemon_listeners.push_back(*config.api.listen);
    for (const auto& registration : bridge_registry()) {
      const config::BridgeSettings* settings = config.bridge(registration.name);
      const bool enabled = settings ? settings->enabled
                                    : registration.enabled_without_section && registration.enabled_without_section();
      if (!enabled) continue;
      contexts.push_back(BridgeContext{io, settings, hub.port(registration.name), metrics, store, daemon_listeners});
      bridges.push_back(registration.create(contexts.back()));
      hub.attach(*bridges.back());
    }
    for (auto& bridge : bridges) {
      bridge->start();
      for (const auto& listener : bridge->listeners())
        listening.push_back(std::string(bridge->name()) + " " + listener.protocol + " " + listener.address);
    }
  } catch (const std::exception& error) {
    log.error(error.what());
    return 1;
  }

  std::unique_ptr<HttpServer> api;
  if (config.api.listen) {
    ApiSources sources{[&] { return hub.broker_connected(); }, [&] { return hub.devices_json(true); },
                       [&] { return hub.bridges_json(); }, [&] { return metrics.prometheus_text(); }};
    api = std::make_unique<HttpServer>(io, "api", [sources](const HttpRequest& request) { return answer_api(request, sources); },
                                       metrics, 32);
    try {
      api->start(*config.api.listen);
    } catch (const std::exception& error) {
      log.error(error.what());
      return 1;
    }
    listening.push_back("api http " + api->address());
  }

  std::string summary;
  for (const auto& entry : listening) summary += (summary.empty() ? "" : ", ") + entry;
  log.info("localcloud ", LOCALCLOUD_VERSION, " listening: ", summary.empty() ? "nothing (no bridge enabled)" : summary);

  hub.start();

  asio::signal_set signals(io, SIGTERM, SIGINT);
  signals.async_wait([&](const boost::system::error_code& ec, int signal_number) {
    if (ec) return;
    log.info("signal ", signal_number, ": publishing offline and stopping");
    hub.shutdown(std::chrono::milliseconds(1500));
    for (auto& bridge : bridges) bridge->stop();
    if (api) api->stop();
    io.stop();
  });

  // A handler that throws must not take every device down with it: log and carry on.
  for (;;) {
    try {
      io.run();
      break;
    } catch (const std::exception& error) {
      log.error("unexpected error in a handler: ", error.what());
    }
  }
  store.flush();
  log.info("stopped");
  return 0;
}

}  // namespace lc
