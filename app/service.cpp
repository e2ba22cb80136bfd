#include "app/service.h"

#include <sys/resource.h>

#include <algorithm>
#include <csignal>
#include <deque>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include "app/api/api.h"
#include "app/api/live.h"
#include "app/api/views.h"
#include "app/hub/hub_service.h"
#include "app/mqtt/link.h"
#include "app/mqtt/topics.h"
#include "bridges/bridge.h"
#include "config/daemon_sections.h"
#include "core/durable_store.h"
#include "core/http_server.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/net.h"

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

  // The API and the web page (app/api/): commands and requests go through the Hub's own paths.
  std::shared_ptr<api::LiveFeed> live;
  std::unique_ptr<HttpServer> api;
  if (config.api.listen) {
    const api::Security security{config.api.token, config::is_loopback_host(config.api.listen->host)};
    if (!security.loopback && security.token.empty())
      log.warn("api.listen ", config.api.listen->text(),
               " is reachable beyond loopback and no api.token is set: the web page and the JSON API refuse every "
               "change (POST answers 403)");
    const auto started = std::chrono::steady_clock::now();
    auto status = [&hub, &metrics, started, changes = std::string(api::changes(security)),
                   base = config.mqtt.base_topic] {
      const std::string text = metrics.prometheus_text();
      return api::status_json({hub.broker_connected(), hub.bridges_json(), text, started, changes, base});
    };
    // A page holds one connection for its stream and a few for requests: 64 pages and room
    // for the rest, within what the open-files limit leaves (32 connections under 256 files).
    const size_t api_connections = std::max<size_t>(32, connection_cap(api::LiveOptions{}.max_streams + 32));
    api::LiveOptions live_options;
    live_options.max_streams = std::min(live_options.max_streams, api_connections - 16);
    live = std::make_shared<api::LiveFeed>(io, hub, metrics, status, live_options);
    ApiSources sources{
        .broker_connected = [&] { return hub.broker_connected(); },
        .devices = [&] { return hub.devices_json(true); },
        .bridges = [&] { return hub.bridges_json(); },
        .metrics = [&] { return metrics.prometheus_text(); },
        .api_devices =
            [&] {
              nlohmann::json devices = nlohmann::json::array();
              hub.for_each_device([&](const DeviceRecord& record) { devices.push_back(api::device_json(record)); });
              return devices;
            },
        .status = status,
        .request = [&](std::string_view name, const nlohmann::json& payload) { return hub.request(name, payload); },
        .set = [&](std::string_view key, std::string_view payload, CommandDone done) {
          hub.set(key, payload, std::move(done));
        },
        .events = [weak = std::weak_ptr<api::LiveFeed>(live)](const HttpRequest& request, HttpReply reply) {
          if (auto feed = weak.lock()) return feed->open(request, reply);
          reply.send({503, "application/json", R"({"status":"error","error":"stopping"})"});
        }};
    api = std::make_unique<HttpServer>(
        io,
        HttpServerOptions{.name = "api", .max_connections = api_connections, .max_body = 4096},
        [sources, security](const HttpRequest& request, HttpReply reply) {
          answer_api(request, std::move(reply), sources, security);
        },
        metrics);
    try {
      api->start(*config.api.listen);
    } catch (const std::exception& error) {
      log.error(error.what());
      return 1;
    }
    live->start();
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
    if (live) live->stop();
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
