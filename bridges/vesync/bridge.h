// The vesync bridge: terminates the outlets' cloud websocket (protocols/vesync.md) and
// reports relay, power, voltage, energy and signal to the Hub. Optional: the validating
// upstream proxy (upstream.h) and the vesync-wsproxy compatible service API (service_api.h).
#pragma once

#include <chrono>
#include <deque>
#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <boost/asio/steady_timer.hpp>

#include "bridges/bridge.h"
#include "bridges/vesync/codec.h"
#include "bridges/vesync/config.h"
#include "bridges/vesync/http.h"
#include "bridges/vesync/service_api.h"
#include "core/log.h"
#include "core/metrics.h"

namespace lc::vesync {

class Session;
class WsLink;
class WsServer;

// Thresholds beyond which a reading is a spike and not published (protocols/vesync.md §5:
// voltlet PR #13 drops power above 4000 W; fancygaphtrn drops >= 1000 W or >= 130 V, which
// would refuse 230 V outlets, so voltage is bounded at 300 V instead).
inline constexpr double kMaxPlausibleWatts = 4000.0;
inline constexpr double kMaxPlausibleVolts = 300.0;
// A /report covering more than an hour is not the ~183 s report cycle (§4.4).
inline constexpr uint64_t kMaxReportSeconds = 3600;

// A device's id, its configured name and what the bridge knows of it.
struct Device {
  std::string id;   // lower-case: DeviceInfo::id
  std::string cid;  // as the device wrote it in its login: the "cid" of commands
  std::string name;
  bool configured = false;
  bool admitted = false;  // the Hub registered it
  std::string model, firmware;
  Session* session = nullptr;  // its live connection, if any
  std::optional<Relay> relay;
  double energy_kwh = 0;          // the counter; never decreases
  double energy_published = -1;   // the newest value made durable and published
  bool energy_stored = false;     // a record exists in data_dir
  bool login_logged = false;
  std::chrono::steady_clock::time_point next_admission_try{};  // unregistered: retried on /ka
  std::vector<std::string> blocked_logged;  // proxy: "<direction> <uri>" already logged
};

class VesyncBridge final : public Bridge, public OutletControl {
 public:
  explicit VesyncBridge(BridgeContext& context);
  ~VesyncBridge() override;

  std::string_view name() const override { return "vesync"; }
  BridgePolicy policy() const override;
  void start() override;
  void stop() override;
  std::vector<Listener> listeners() const override;
  void command(std::string_view id, std::string_view property, const Json& value, CommandDone done) override;
  void read(std::string_view id) override;
  void forget(std::string_view id) override;
  void retained_state(std::string_view id, const Json& state) override;

  // A websocket that completed its upgrade (from the server, or a test's fake link).
  void accept_link(std::shared_ptr<WsLink> link, const http::Request& request);

  // OutletControl (the service API)
  std::optional<std::string> find_outlet(std::string_view name_or_id) override;
  bool connected(std::string_view id) override;
  void switch_relay(std::string_view id, Relay relay, std::function<void(std::string error)> done) override;
  void request_power(std::string_view id, std::chrono::milliseconds timeout,
                     std::function<void(std::optional<PowerReading>)> answer) override;

  // Tests: the wall clock behind the time fields, the bound address, the ack deadline.
  void set_clock(std::function<std::chrono::system_clock::time_point()> clock) { clock_ = std::move(clock); }
  void set_ack_timeout(std::chrono::milliseconds timeout) { ack_timeout_ = timeout; }
  void set_login_deadline(std::chrono::milliseconds deadline) { login_deadline_ = deadline; }
  void set_idle_timeout(std::chrono::milliseconds timeout) { idle_timeout_ = timeout; }
  Endpoint bound_endpoint() const;
  Endpoint bound_service_endpoint() const;
  const Device* device(std::string_view id) const;

 private:
  friend class Session;

  // Session callbacks.
  void on_login(Session& session, const Login& login, const std::string& id);
  void on_session_closed(Session& session);
  void on_relay(Device& device, Relay relay);
  void on_runtime(Device& device, const RuntimeInfo& info);
  void on_keepalive(Device& device, const KeepAlive& ka);
  void on_report(Device& device, const Report& report, const std::string& peer);
  void retry_admission(Device& device);
  void login_deadline(const std::shared_ptr<Session>& session);
  void poll(const std::shared_ptr<Session>& session);

  Device& device_for(const std::string& id);
  Device* find_device(std::string_view name_or_id);  // by configured name, else by id (any case)
  void relay_command(Device& device, Relay relay, CommandDone done);
  DeviceInfo device_info(const Device& device) const;
  void add_energy(Device& device, double kwh);
  void persist_energy(Device& device);
  void publish_energy(const std::string& id, double kwh);
  void filtered(const char* property, const Device& device, double value);
  std::string who(const Device& device) const;  // for log lines: name or masked id
  std::string refuse_reason(const boost::asio::ip::tcp::endpoint& endpoint) const;
  void check_upstream_at_start();

  boost::asio::io_context& io_;
  const Settings& settings_;
  const std::vector<Endpoint> daemon_listeners_;  // a looping upstream is refused
  Hub& hub_;
  Metrics& metrics_;
  DurableStore& store_;
  BridgeStats stats_;
  Logger log_{"vesync"};
  PowerDecoding decoding_;
  std::function<std::chrono::system_clock::time_point()> clock_;
  std::chrono::milliseconds ack_timeout_{5000};
  // A fresh connection must log in within this (vesync-wsproxy allows 2 s, §2.3).
  std::chrono::milliseconds login_deadline_{10000};
  // The device sends /ka about every 183 s (§3.1): three missed ones end the connection
  // (checked at each poll).
  std::chrono::milliseconds idle_timeout_{3 * 183 * 1000};

  std::unique_ptr<WsServer> server_;
  std::unique_ptr<ServiceApi> service_;
  std::unordered_map<std::string, std::unique_ptr<Device>> devices_;
  std::unordered_map<std::string, double> stored_energy_;  // records of devices not seen yet
  std::unordered_map<Session*, std::shared_ptr<Session>> sessions_;
  // Per-session deadlines with one timer each for all sessions (one armed timer per idle
  // connection would cost more than the rest of its state): every entry of a queue has the
  // same delay, so a FIFO is in due order.
  class DueQueue {
   public:
    using Fire = std::function<void(const std::shared_ptr<Session>&)>;
    DueQueue(boost::asio::io_context& io, Fire fire) : timer_(io), fire_(std::move(fire)) {}
    void push(std::chrono::steady_clock::time_point due, const std::shared_ptr<Session>& session);
    void clear();

   private:
    void arm();
    void run();
    struct Entry {
      std::chrono::steady_clock::time_point due;
      std::weak_ptr<Session> session;
    };
    std::deque<Entry> queue_;
    boost::asio::steady_timer timer_;
    Fire fire_;
    std::shared_ptr<int> token_ = std::make_shared<int>(0);
  };
  DueQueue login_queue_;  // kLoginDeadline after the upgrade
  DueQueue poll_queue_;   // poll_interval: /getRuntime, and the idle check
  std::shared_ptr<std::atomic<long>> live_sessions_;
  std::shared_ptr<bool> alive_;  // weak copies guard callbacks that may outlive the bridge
  bool stopped_ = false;
};

}  // namespace lc::vesync
