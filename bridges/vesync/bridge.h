// The vesync bridge: terminates the outlets' cloud websocket (docs/protocols/vesync.md) and
// reports relay, power, voltage, energy and signal to the Hub. Optional: the validating
// upstream proxy (upstream.h) and the vesync-wsproxy compatible service API (service_api.h).
//
// The bridge owns the outlets (outlet.h) and their sessions (session.h, one per connection),
// admits them with the Hub, and hands readings to readings.h and energy to energy.h.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "bridges/bridge.h"
#include "bridges/vesync/codec.h"
#include "bridges/vesync/config.h"
#include "bridges/vesync/due_queue.h"
#include "bridges/vesync/energy.h"
#include "bridges/vesync/http.h"
#include "bridges/vesync/outlet.h"
#include "bridges/vesync/readings.h"
#include "bridges/vesync/service_api.h"
#include "bridges/vesync/session.h"
#include "core/log.h"
#include "core/metrics.h"

namespace lc::vesync {

class WsLink;
class WsServer;

// A /report covering more than an hour is not the ~183 s report cycle (§4.4).
inline constexpr uint64_t kMaxReportSeconds = 3600;

class VesyncBridge final : public Bridge, public OutletControl, private SessionOwner {
 public:
  explicit VesyncBridge(BridgeContext& context);
  ~VesyncBridge() override;

  // Bridge
  std::string_view name() const override { return "vesync"; }
  BridgePolicy policy() const override;
  void start() override;
  void stop() override;
  std::vector<Listener> listeners() const override;
  void command(std::string_view id, std::string_view property, const Json& value, CommandDone done) override;
  void read(std::string_view id) override;
  void admitted(std::string_view id) override;
  void forget(std::string_view id) override;
  void retained_state(std::string_view id, const Json& state) override;

  // OutletControl (the service API)
  std::optional<std::string> find_outlet(std::string_view name_or_id) override;
  bool connected(std::string_view id) override;
  void switch_relay(std::string_view id, Relay relay, std::function<void(std::string error)> done) override;
  void request_power(std::string_view id, std::chrono::milliseconds timeout,
                     std::function<void(std::optional<PowerReading>)> answer) override;

  // A websocket that completed its upgrade (from the server, or a test's fake link).
  void accept_link(std::shared_ptr<WsLink> link, const http::Request& request);

  // Tests: the wall clock behind the time fields, the ack deadline, the login deadline, the
  // idle limit, the bound addresses, what the bridge keeps of an outlet.
  void set_clock(std::function<std::chrono::system_clock::time_point()> clock) { clock_ = std::move(clock); }
  void set_ack_timeout(std::chrono::milliseconds timeout) { ack_timeout_ = timeout; }
  void set_login_deadline(std::chrono::milliseconds deadline) { login_deadline_ = deadline; }
  void set_idle_timeout(std::chrono::milliseconds timeout) { idle_timeout_ = timeout; }
  Endpoint bound_endpoint() const;
  Endpoint bound_service_endpoint() const;
  const Outlet* device(std::string_view id) const;

 private:
  // SessionOwner
  Outlet& logged_in(Session& session, const Login& login, const std::string& id) override;
  void first_login(Session& session) override;
  void frame_heard(Outlet& outlet, std::chrono::steady_clock::time_point now) override;
  void relay_reported(Outlet& outlet, Relay relay) override;
  void runtime_reported(Outlet& outlet, const RuntimeInfo& info) override;
  void keepalive(Outlet& outlet, std::optional<int64_t> rssi) override;
  void energy_reported(Outlet& outlet, const Report& report, std::string_view peer) override;
  void session_closed(Session& session) override;
  std::string who(const Outlet& outlet) const override { return vesync::who(hub_, outlet); }
  std::string refuse_upstream(const boost::asio::ip::tcp::endpoint& endpoint) const override;
  TimeFields utc_now() const override { return utc_time_fields(clock_()); }

  void login_deadline(const std::shared_ptr<Session>& session);
  void poll(const std::shared_ptr<Session>& session);
  Outlet& outlet_for(const std::string& id);
  Outlet* find(std::string_view id);
  Outlet* find_by_name_or_id(std::string_view name_or_id);
  DeviceInfo device_info(const Outlet& outlet) const;
  // What the outlet sent before it was registered: its relay, its rssi, its stored energy.
  void report_known(Outlet& outlet);
  void relay_command(Outlet& outlet, Relay relay, CommandDone done);
  void check_upstream_at_start();

  boost::asio::io_context& io_;
  const Settings& settings_;
  const std::vector<Endpoint> daemon_listeners_;  // a looping upstream is refused
  Hub& hub_;
  Metrics& metrics_;
  DurableStore& store_;
  BridgeStats stats_;
  Logger log_{"vesync"};
  Readings readings_;
  EnergyCounters energy_;
  SessionEnvironment sessions_env_;
  std::function<std::chrono::system_clock::time_point()> clock_;
  std::chrono::milliseconds ack_timeout_{5000};
  // A fresh connection must log in within this (vesync-wsproxy allows 2 s, §2.3).
  std::chrono::milliseconds login_deadline_{10000};
  // The outlet sends /ka about every 183 s (§3.1): three missed ones end the connection
  // (checked at each poll).
  std::chrono::milliseconds idle_timeout_{3 * 183 * 1000};

  std::unique_ptr<WsServer> server_;
  std::unique_ptr<ServiceApi> service_;
  std::unordered_map<std::string, std::unique_ptr<Outlet>> outlets_;
  std::unordered_map<Session*, std::shared_ptr<Session>> sessions_;
  DueQueue<Session> login_queue_;  // login_deadline_ after the upgrade
  DueQueue<Session> poll_queue_;   // poll_interval: /getRuntime, and the idle check
  std::shared_ptr<std::atomic<long>> live_sessions_;
  std::shared_ptr<bool> alive_;  // weak copies guard callbacks that may outlive the bridge
  bool stopped_ = false;
};

}  // namespace lc::vesync
