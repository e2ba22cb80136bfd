// One outlet connection (docs/protocols/vesync.md §3): the login first, the answers the outlet
// needs at once (/loginReply, /kr with the UTC time, §4.0), its messages passed to the owner,
// commands and power requests waiting for their answer, and in proxy mode the mirror to the
// upstream cloud (upstream.h).
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "bridges/vesync/codec.h"
#include "bridges/vesync/http.h"
#include "bridges/vesync/pending.h"
#include "bridges/vesync/transport.h"
#include "bridges/vesync/upstream.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/net.h"

namespace lc::vesync {

struct Outlet;
class Session;

// "1.2.3.4" of "1.2.3.4:5678": the peer as drop counters and their log lines name it.
std::string peer_host(std::string_view peer);

// The bridge, as its sessions report to it. Every call comes from a session's frame or close
// handler; a call may stop the session.
class SessionOwner {
 public:
  virtual ~SessionOwner() = default;
  // A login with a valid id: the owner binds the outlet to `session` and returns it.
  virtual Outlet& logged_in(Session& session, const Login& login, const std::string& id) = 0;
  // The first login of the session has been answered: polling starts.
  virtual void first_login(Session& session) = 0;
  // Any frame from the outlet, as it arrives (before it is decoded), at `now`.
  virtual void frame_heard(Outlet& outlet, std::chrono::steady_clock::time_point now) = 0;
  virtual void relay_reported(Outlet& outlet, Relay relay) = 0;
  virtual void runtime_reported(Outlet& outlet, const RuntimeInfo& info) = 0;
  // A keepalive (answered already) with the signal it reported, if any.
  virtual void keepalive(Outlet& outlet, std::optional<int64_t> rssi) = 0;
  virtual void energy_reported(Outlet& outlet, const Report& report, std::string_view peer) = 0;
  // The session ended (it is stopped already); the owner lets it go.
  virtual void session_closed(Session& session) = 0;
  // The outlet in log lines.
  virtual std::string who(const Outlet& outlet) const = 0;
  // Non-empty: the upstream address would reach one of our own listeners (why).
  virtual std::string refuse_upstream(const boost::asio::ip::tcp::endpoint& endpoint) const = 0;
  virtual TimeFields utc_now() const = 0;
};

// What every session of a bridge shares (the bridge's, for its life).
struct SessionEnvironment {
  boost::asio::io_context& io;
  SessionOwner& owner;
  BridgeStats& stats;
  const Logger& log;
  std::optional<Endpoint> upstream;  // proxy mode
  bool allow_upgrade = false;
};

class Session final : public WsEvents, public UpstreamLink::Owner, public std::enable_shared_from_this<Session> {
 public:
  Session(const SessionEnvironment& environment, std::shared_ptr<WsLink> link, const http::Request& request);

  void start() { link_->set_events(this); }

  // Ends the session without further events (bridge stop, replacement): what waits fails with
  // `why`.
  void stop(std::string_view why);
  // A newer connection took over the outlet: this one no longer speaks for it.
  void detach(std::string_view why);
  // Refused (no login in time, a bad first frame, silent too long): stopped and let go.
  void close_now();
  // The bridge stops: the commands waiting go without their done (bridges/bridge.h).
  void drop_commands() { pending_.drop_commands(); }

  Outlet* outlet() const { return outlet_; }
  void unbind() { outlet_ = nullptr; }
  const std::string& peer() const { return link_->peer(); }
  const std::string& path() const { return path_; }
  bool encrypted() const { return encrypted_; }
  bool stopped() const { return stopped_; }
  std::chrono::steady_clock::time_point last_heard() const { return last_heard_; }

  // Sends /relay; `done` runs once: acknowledged (""), timed out, or the connection ended.
  void send_relay(Relay relay, PendingRequests::CommandDone done, std::chrono::milliseconds timeout);
  void send_get_runtime();
  // Sends /getRuntime; `answer` gets the next /runtimeInfo, or nullptr.
  void wait_runtime(PendingRequests::RuntimeAnswer answer, std::chrono::milliseconds timeout);

  // WsEvents
  void ws_frame(WsLink& link, std::string_view payload, bool binary) override;
  void ws_closed(WsLink& link, CloseCause cause, std::string_view detail) override;

  // UpstreamLink::Owner
  void upstream_deliver(const std::string& json) override { send(json, "from upstream"); }
  void upstream_blocked(bool from_cloud, const std::string& uri) override;
  void upstream_log(Level level, const std::string& text) override;
  void upstream_trace(bool to_cloud, std::string_view json, std::string_view what) override;
  void upstream_bad_frame(std::string_view reason, std::string_view detail) override;

 private:
  void handle(const Login& login);
  void handle(const KeepAlive& keepalive);
  void handle(const Report& report);
  void handle(const RuntimeInfo& info);
  void handle(const StateReport& state);
  void handle(const EvTimer& timer);
  void handle(const KeepAliveReply&) {}  // the answer to a server /ka
  void handle(const SetCtlFlags&) {}
  void handle(const Trigger&) {}
  void handle(const Timer&) {}
  void handle(const OtherMessage& other);
  // Messages only a server sends.
  void handle(const LoginReply&) { unexpected("/loginReply"); }
  void handle(const RelayCommand&) { unexpected("/relay"); }
  void handle(const GetRuntime&) { unexpected("/getRuntime"); }
  void handle(const Upgrade&) { unexpected("/upgrade"); }
  void unexpected(const char* uri);

  // Answers a keepalive and passes its rssi on.
  void keepalive(std::optional<int64_t> rssi);
  // Commands that asked for `relay` are done; true when there was one.
  bool acknowledge(Relay relay);
  // `login_json`: the outlet's login as it sent it (decrypted), repeated on every upstream
  // connection.
  void start_upstream(std::string login_json);
  // Sends a JSON message in the outlet's framing.
  void send(std::string json, std::string_view what);
  std::string who() const;

  const SessionEnvironment& env_;  // the bridge's
  std::shared_ptr<WsLink> link_;
  std::string path_;
  std::string host_;                    // proxy mode: repeated to the upstream
  std::string device_version_header_;   // proxy mode: repeated to the upstream
  Outlet* outlet_ = nullptr;
  std::string_view frame_text_;  // the JSON being handled (valid during handle())
  std::chrono::steady_clock::time_point last_heard_ = std::chrono::steady_clock::now();
  bool first_frame_ = true;
  bool encrypted_ = false;
  bool stopped_ = false;
  PendingRequests pending_;
  std::shared_ptr<UpstreamLink> upstream_;
};

}  // namespace lc::vesync
