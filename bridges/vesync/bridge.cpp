// The vesync bridge (bridge.h); §N: docs/protocols/vesync.md.
#include "bridges/vesync/bridge.h"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>

#include "bridges/vesync/ws_server.h"
#include "core/durable_store.h"
#include "core/net.h"

namespace lc::vesync {

namespace asio = boost::asio;

namespace {

// Hub::heard() for an outlet's frames at most this often: the Hub's offline detection counts in
// seconds, and a flood of frames then costs a comparison each.
constexpr auto kHeardInterval = std::chrono::seconds(1);

const char* power_state(Relay relay) { return relay == Relay::open ? "ON" : "OFF"; }

}  // namespace

VesyncBridge::VesyncBridge(BridgeContext& context)
    : io_(context.io),
      settings_(settings_of<Settings>(context)),
      daemon_listeners_(context.daemon_listeners),
      hub_(context.hub),
      metrics_(context.metrics),
      store_(context.store),
      stats_(context.metrics, "vesync"),
      readings_(context.hub, context.metrics, log_, settings_.power_decoding),
      energy_(context.store, context.hub, log_, [this](const std::string& id) { return find(id); }),
      sessions_env_{context.io, *this, stats_, log_, settings_.upstream, settings_.allow_upgrade},
      clock_([] { return std::chrono::system_clock::now(); }),
      login_queue_(context.io, [this](const std::shared_ptr<Session>& session) { login_deadline(session); }),
      poll_queue_(context.io, [this](const std::shared_ptr<Session>& session) { poll(session); }),
      live_sessions_(std::make_shared<std::atomic<long>>(0)),
      alive_(std::make_shared<bool>(true)) {}

VesyncBridge::~VesyncBridge() { stop(); }

BridgePolicy VesyncBridge::policy() const {
  BridgePolicy policy;
  policy.offline_after = settings_.offline_after;
  policy.accept_unknown = settings_.accept_unknown;
  policy.max_unknown = settings_.max_unknown;
  return policy;
}

// ---- start and stop

void VesyncBridge::start() {
  WsServerOptions options;
  options.listen = settings_.listen;
  options.max_message = kMaxFrameBytes;
  // Within the open-files limit, with room for the broker and data_dir: the device listeners'
  // shared budget (core/tcp_listener.h). A proxied outlet holds a second descriptor for its
  // upstream.
  options.budget = &DescriptorBudget::process();
  options.descriptors_per_connection = settings_.upstream ? 2 : 1;
  WsServer::Callbacks callbacks;
  callbacks.upgraded = [this](std::shared_ptr<WsLink> link, const http::Request& request) {
    accept_link(std::move(link), request);
  };
  callbacks.rejected = [this](std::string_view reason, const std::string& peer, std::string_view detail) {
    stats_.drop(reason, peer_host(peer), detail);
  };
  server_ = std::make_unique<WsServer>(io_, options, std::move(callbacks), log_);
  server_->start();
  log_.info("websocket server on ", settings_.listen.text(), " (path /gnws or any)");

  if (settings_.service_listen) {
    service_ = std::make_unique<ServiceApi>(io_, metrics_, settings_.service_token, *this);
    service_->start(*settings_.service_listen);
    log_.info("service API on ", settings_.service_listen->text(),
              settings_.service_token.empty() ? " without a token" : " (token required)");
    if (service_api_open(settings_))
      log_.warn("the service API listens on ", settings_.service_listen->text(),
                " beyond loopback without vesync.service_token: anyone on the network can switch the outlets");
  }

  auto live = live_sessions_;
  metrics_.gauge("localcloud_vesync_connections", "Open device websocket connections", {},
                 [live] { return double(live->load()); });

  energy_.load();
  for (const auto& configured : settings_.devices) {
    auto id = normalise_id(configured.id);
    if (!id) {
      log_.warn("configured device id ", mask_id(configured.id), " is not a VeSync id; ignored");
      continue;
    }
    Outlet& outlet = outlet_for(*id);
    outlet.configured = true;
    outlet.name = configured.name;
    outlet.cid = configured.id;
    outlet.admitted = hub_.device_seen(device_info(outlet));
  }

  if (settings_.upstream) check_upstream_at_start();
}

void VesyncBridge::check_upstream_at_start() {
  const Endpoint upstream = *settings_.upstream;
  log_.info("proxy mode: every device connection is mirrored to ", upstream.text(),
            settings_.allow_upgrade ? " (allow_upgrade: /upgrade and destructive commands pass)"
                                    : " (/upgrade and destructive commands blocked)");
  auto resolver = std::make_shared<asio::ip::tcp::resolver>(io_);
  std::weak_ptr<bool> alive = alive_;
  resolver->async_resolve(
      upstream.host, std::to_string(upstream.port),
      [this, alive, resolver, upstream](boost::system::error_code ec, asio::ip::tcp::resolver::results_type results) {
        if (alive.expired()) return;
        if (ec) {
          log_.warn("upstream ", upstream.text(), " does not resolve now (", ec.message(),
                    "); retried at each device connection");
          return;
        }
        std::string addresses;
        for (const auto& entry : results) {
          if (!addresses.empty()) addresses += ", ";
          addresses += to_string(entry.endpoint());
          std::string why = refuse_upstream(entry.endpoint());
          if (!why.empty()) log_.error("upstream ", upstream.text(), " refused: ", why);
        }
        log_.info("upstream ", upstream.text(), " resolves to ", addresses);
      });
}

std::string VesyncBridge::refuse_upstream(const asio::ip::tcp::endpoint& endpoint) const {
  // As bound (a configured port 0 takes a free one).
  std::vector<Endpoint> ours = {settings_.listen};
  if (server_) ours.push_back(Endpoint{settings_.listen.host, server_->local_endpoint().port});
  if (settings_.service_listen) ours.push_back(*settings_.service_listen);
  if (service_) ours.push_back(Endpoint{settings_.service_listen->host, service_->local_endpoint().port});
  ours.insert(ours.end(), daemon_listeners_.begin(), daemon_listeners_.end());
  for (const auto& listen : ours) {
    if (reaches_listener(endpoint.address(), endpoint.port(), listen))
      return to_string(endpoint) + " is our own listener " + listen.text() +
             " (a DNS override looping back?); configure the cloud's address instead";
  }
  return {};
}

void VesyncBridge::stop() {
  if (stopped_) return;
  stopped_ = true;
  *alive_ = false;
  alive_ = std::make_shared<bool>(false);
  energy_.stop();
  if (server_) server_->stop();
  if (service_) service_->stop();
  login_queue_.clear();
  poll_queue_.clear();
  auto sessions = std::move(sessions_);
  sessions_.clear();
  for (auto& [raw, session] : sessions) {
    session->drop_commands();  // pending CommandDone callbacks are not called on stop (bridges/bridge.h)
    session->stop("bridge stopping");
  }
  for (auto& [id, outlet] : outlets_) outlet->session = nullptr;
}

std::vector<Listener> VesyncBridge::listeners() const {
  std::vector<Listener> out = {{"ws", settings_.listen.text()}};
  if (settings_.service_listen) out.push_back({"http", settings_.service_listen->text()});
  return out;
}

Endpoint VesyncBridge::bound_endpoint() const { return server_ ? server_->local_endpoint() : Endpoint{}; }
Endpoint VesyncBridge::bound_service_endpoint() const { return service_ ? service_->local_endpoint() : Endpoint{}; }

// ---- sessions

void VesyncBridge::accept_link(std::shared_ptr<WsLink> link, const http::Request& request) {
  if (stopped_) return;
  auto session = std::make_shared<Session>(sessions_env_, std::move(link), request);
  sessions_.emplace(session.get(), session);
  live_sessions_->fetch_add(1);
  session->start();
  login_queue_.push(std::chrono::steady_clock::now() + login_deadline_, session);
}

void VesyncBridge::login_deadline(const std::shared_ptr<Session>& session) {
  if (session->stopped() || session->outlet()) return;
  stats_.drop("login_timeout", peer_host(session->peer()), "no login frame in time");
  session->close_now();
}

void VesyncBridge::first_login(Session& session) {
  poll_queue_.push(std::chrono::steady_clock::now() + settings_.poll_interval, session.shared_from_this());
}

void VesyncBridge::poll(const std::shared_ptr<Session>& session) {
  if (session->stopped() || !session->outlet()) return;
  const auto now = std::chrono::steady_clock::now();
  if (now - session->last_heard() > idle_timeout_) {
    log_.info(who(*session->outlet()), ": nothing heard from ", session->peer(), " for ",
              std::chrono::duration_cast<std::chrono::seconds>(now - session->last_heard()).count(),
              " s; closing the connection");
    session->close_now();
    return;
  }
  session->send_get_runtime();
  poll_queue_.push(now + settings_.poll_interval, session);
}

void VesyncBridge::session_closed(Session& session) {
  Outlet* outlet = session.outlet();
  if (outlet && outlet->session == &session) {
    outlet->session = nullptr;
    if (!outlet->configured && !outlet->admitted) outlets_.erase(outlet->id);
  }
  session.unbind();
  auto it = sessions_.find(&session);
  if (it == sessions_.end()) return;
  // Destroyed once the current handler has returned.
  auto keep = std::move(it->second);
  sessions_.erase(it);
  live_sessions_->fetch_sub(1);
  asio::post(io_, [keep] {});
}

// ---- outlets and their admission

Outlet& VesyncBridge::outlet_for(const std::string& id) {
  auto& slot = outlets_[id];
  if (!slot) {
    slot = std::make_unique<Outlet>();
    slot->id = id;
    slot->cid = id;
    energy_.restore(*slot);
  }
  return *slot;
}

Outlet* VesyncBridge::find(std::string_view id) {
  auto it = outlets_.find(std::string(id));
  return it == outlets_.end() ? nullptr : it->second.get();
}

const Outlet* VesyncBridge::device(std::string_view id) const {
  auto it = outlets_.find(std::string(id));
  return it == outlets_.end() ? nullptr : it->second.get();
}

Outlet* VesyncBridge::find_by_name_or_id(std::string_view name_or_id) {
  for (auto& [id, outlet] : outlets_)
    if (!outlet->name.empty() && outlet->name == name_or_id) return outlet.get();
  auto id = normalise_id(name_or_id);
  return id ? find(*id) : nullptr;
}

DeviceInfo VesyncBridge::device_info(const Outlet& outlet) const {
  DeviceInfo info;
  info.id = outlet.id;
  info.name = outlet.name;
  info.configured = outlet.configured;
  info.manufacturer = "Etekcity";
  info.model = outlet.model;
  info.firmware = outlet.firmware;
  info.properties = outlet_properties();
  return info;
}

Outlet& VesyncBridge::logged_in(Session& session, const Login& login, const std::string& id) {
  Outlet& outlet = outlet_for(id);
  if (outlet.session && outlet.session != &session) {
    log_.info(who(outlet), " logged in again from ", session.peer(), "; closing its older connection from ",
              outlet.session->peer());
    outlet.session->detach("connection replaced by a newer one");
  }
  outlet.session = &session;
  outlet.cid = login.id;
  // Every public capture of this websocket is an ESW01-USA (§9).
  if (login.type == "wifi-switch" && (!login.apptype || *login.apptype == "switch-measure"))
    outlet.model = "ESW01-USA";
  else
    outlet.model = login.type.value_or(login.device_name.value_or(""));
  outlet.firmware = login.firm_version.value_or("");
  const bool was_admitted = outlet.admitted;
  // Not registered now: the Hub may still admit it in its turn (admitted()).
  outlet.admitted = hub_.device_seen(device_info(outlet));

  // Once per outlet at info; unregistered outlets (the Hub logs those) at debug.
  const Level level = outlet.login_logged || !outlet.admitted ? Level::debug : Level::info;
  outlet.login_logged = outlet.login_logged || outlet.admitted;
  log_.at(level, who(outlet), " logged in from ", session.peer(), " on path ", session.path(),
          session.path() == "/gnws" ? "" : " (not /gnws)", ", firmware ", outlet.firmware.empty() ? "?" : outlet.firmware,
          session.encrypted() ? ", encrypted" : ", plaintext",
          outlet.admitted ? "" : (was_admitted ? "" : "; not registered (accept_unknown/max_unknown)"));
  if (login.relay) outlet.relay = *login.relay;
  // A login is news: online at once, whenever the last frame was reported (frame_heard()).
  if (outlet.admitted) {
    report_known(outlet);
    hub_.heard(outlet.id);
  }
  return outlet;
}

void VesyncBridge::report_known(Outlet& outlet) {
  if (outlet.relay) hub_.state_changed(outlet.id, "power", power_state(*outlet.relay));
  if (outlet.rssi) hub_.state_changed(outlet.id, "rssi", *outlet.rssi);
  energy_.publish_stored(outlet);
}

// The Hub registered an outlet whose login came while new unknown devices were over the rate.
void VesyncBridge::admitted(std::string_view id) {
  Outlet* outlet = find(id);
  if (!outlet || outlet->admitted) return;
  outlet->admitted = true;
  log_.info(who(*outlet), " registered");
  if (outlet->session) hub_.heard(outlet->id);
  report_known(*outlet);
}

// ---- what the outlets report

void VesyncBridge::frame_heard(Outlet& outlet, std::chrono::steady_clock::time_point now) {
  if (!outlet.admitted || now - outlet.heard_reported < kHeardInterval) return;
  outlet.heard_reported = now;
  hub_.heard(outlet.id);
}

void VesyncBridge::relay_reported(Outlet& outlet, Relay relay) {
  outlet.relay = relay;
  if (outlet.admitted) hub_.state_changed(outlet.id, "power", power_state(relay));
}

void VesyncBridge::keepalive(Outlet& outlet, std::optional<int64_t> rssi) {
  if (!rssi || rssi == outlet.rssi) return;
  outlet.rssi = rssi;
  if (outlet.admitted) hub_.state_changed(outlet.id, "rssi", *rssi);
}

void VesyncBridge::runtime_reported(Outlet& outlet, const RuntimeInfo& info) {
  if (outlet.admitted) readings_.runtime(outlet, info);
}

void VesyncBridge::energy_reported(Outlet& outlet, const Report& report, std::string_view peer) {
  if (report.seconds == 0 || report.seconds > kMaxReportSeconds) {
    stats_.drop("bad_report", peer_host(peer), "t of " + std::to_string(report.seconds) + " s");
    return;
  }
  const double average_watts = double(report.energy_ws) / double(report.seconds);
  if (average_watts > kMaxPlausibleWatts) {
    readings_.filtered("energy", outlet, average_watts);
    return;
  }
  if (outlet.admitted) energy_.add(outlet, double(report.energy_ws) / 3.6e6);
}

void VesyncBridge::retained_state(std::string_view id, const Json& state) {
  if (Outlet* outlet = find(id)) energy_.raise_to_retained(*outlet, state);
}

// ---- what the Hub and the service API ask

void VesyncBridge::command(std::string_view id, std::string_view property, const Json& value, CommandDone done) {
  Outlet* outlet = find(id);
  if (!outlet) return done("unknown device");
  if (property != "power") return done("property " + std::string(property) + " is read-only");
  // The Hub resolves TOGGLE (bridges/bridge.h): only ON and OFF come here.
  if (value != "ON" && value != "OFF") return done("power takes ON or OFF");
  relay_command(*outlet, value == "ON" ? Relay::open : Relay::break_, std::move(done));
}

void VesyncBridge::relay_command(Outlet& outlet, Relay relay, CommandDone done) {
  if (!outlet.session) return done("device not connected");
  outlet.session->send_relay(relay, std::move(done), ack_timeout_);
}

void VesyncBridge::read(std::string_view id) {
  Outlet* outlet = find(id);
  if (outlet && outlet->session) outlet->session->send_get_runtime();
}

void VesyncBridge::forget(std::string_view id) {
  auto it = outlets_.find(std::string(id));
  if (it == outlets_.end()) return;
  Outlet& outlet = *it->second;
  outlet.admitted = false;
  outlet.rssi.reset();
  outlet.heard_reported = {};
  outlet.blocked_logged.clear();
  outlet.login_logged = false;
  energy_.forget(outlet);
  if (!outlet.session && !outlet.configured) outlets_.erase(it);
}

std::optional<std::string> VesyncBridge::find_outlet(std::string_view name_or_id) {
  const Outlet* outlet = find_by_name_or_id(name_or_id);
  return outlet ? std::optional<std::string>(outlet->id) : std::nullopt;
}

bool VesyncBridge::connected(std::string_view id) {
  const Outlet* outlet = find(id);
  return outlet && outlet->session;
}

void VesyncBridge::switch_relay(std::string_view id, Relay relay, std::function<void(std::string error)> done) {
  Outlet* outlet = find(id);
  if (!outlet) return done("unknown device");
  relay_command(*outlet, relay, std::move(done));
}

void VesyncBridge::request_power(std::string_view id, std::chrono::milliseconds timeout,
                                 std::function<void(std::optional<PowerReading>)> answer) {
  Outlet* outlet = find(id);
  if (!outlet || !outlet->session) return answer(std::nullopt);
  outlet->session->wait_runtime(
      [answer = std::move(answer), decoding = readings_.decoding()](const RuntimeInfo* info) {
        answer(info ? std::optional<PowerReading>(power_reading(*info, decoding)) : std::nullopt);
      },
      timeout);
}

std::unique_ptr<Bridge> create_bridge(BridgeContext& context) { return std::make_unique<VesyncBridge>(context); }

}  // namespace lc::vesync
