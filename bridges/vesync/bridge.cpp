#include "bridges/vesync/bridge.h"

#include <algorithm>
#include <cmath>
#include <filesystem>

#include <boost/asio/steady_timer.hpp>

#include "bridges/vesync/crypto.h"
#include "bridges/vesync/service_api.h"
#include "bridges/vesync/ws_server.h"
#include "bridges/vesync/upstream.h"
#include "core/durable_store.h"
#include "core/net.h"

namespace lc::vesync {

namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

constexpr size_t kMaxPendingCommands = 8;
constexpr size_t kMaxPowerWaiters = 8;
constexpr size_t kMaxBlockedLogged = 32;
// A retained energy total beyond this (kMaxPlausibleWatts for 285 years) is not a real counter.
constexpr double kMaxEnergyKwh = 1e7;
constexpr const char* kEnergyRecordPrefix = "vesync-energy-";

std::string peer_host(const std::string& peer) {
  auto colon = peer.rfind(':');
  return colon == std::string::npos ? peer : peer.substr(0, colon);
}

double round_to(double value, double scale) { return std::round(value * scale) / scale; }

// A frame for a trace line: control characters escaped, bounded.
std::string printable(std::string_view text) {
  std::string out;
  for (char c : text.substr(0, 1024)) {
    if (c == '\n') out += "\\n";
    else if (c == '\r') out += "\\r";
    else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) out += '.';
    else out += c;
  }
  if (text.size() > 1024) out += "...";
  return out;
}

void replace_all(std::string& text, std::string_view what, std::string_view with) {
  if (what.empty()) return;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + with.size()))
    text.replace(at, what.size(), with);
}

std::vector<Property> outlet_properties() {
  std::vector<Property> props;
  Property power;
  power.key = "power";
  power.component = Component::switch_;
  power.writable = true;
  power.main = true;
  power.device_class = "outlet";
  props.push_back(power);

  Property load;
  load.key = "load_power";
  load.device_class = "power";
  load.unit = "W";
  load.state_class = "measurement";
  load.precision = 1;
  load.attributes = true;
  props.push_back(load);

  Property voltage;
  voltage.key = "voltage";
  voltage.device_class = "voltage";
  voltage.unit = "V";
  voltage.state_class = "measurement";
  voltage.precision = 1;
  voltage.attributes = true;
  props.push_back(voltage);

  Property energy;
  energy.key = "energy";
  energy.device_class = "energy";
  energy.unit = "kWh";
  energy.state_class = "total_increasing";
  energy.precision = 3;
  props.push_back(energy);

  Property rssi;
  rssi.key = "rssi";
  rssi.device_class = "signal_strength";
  rssi.unit = "dBm";
  rssi.state_class = "measurement";
  rssi.diagnostic = true;
  props.push_back(rssi);
  return props;
}

}  // namespace

// ---------------------------------------------------------------------------------------
// One device connection.

class Session final : public WsEvents, public UpstreamLink::Owner, public std::enable_shared_from_this<Session> {
 public:
  Session(VesyncBridge& bridge, std::shared_ptr<WsLink> link, const http::Request& request)
      : bridge_(bridge),
        link_(std::move(link)),
        path_(request.path()) {
    if (bridge.settings_.upstream) {  // repeated to the upstream
      if (const auto* host = request.header("Host")) host_ = *host;
      if (const auto* version = request.header("deviceVersion")) device_version_header_ = *version;
    }
  }

  void start() { link_->set_events(this); }

  // Ends the session without further events (bridge stop, replacement).
  void stop(std::string_view why) {
    stopped_ = true;
    deadline_timer_.reset();
    if (upstream_) {
      upstream_->stop();
      upstream_.reset();
    }
    fail_waiting(std::string(why));
    link_->set_events(nullptr);
    link_->close();
  }

  // A newer connection took over the device: this one no longer speaks for it.
  void detach_device(std::string_view why) {
    device_ = nullptr;
    stop(why);
    bridge_.on_session_closed(*this);
  }

  Device* device() const { return device_; }
  const std::string& peer() const { return link_->peer(); }
  bool encrypted() const { return encrypted_; }

  // ---- WsEvents

  void ws_frame(WsLink&, std::string_view payload, bool binary) override {
    if (stopped_) return;
    last_heard_ = std::chrono::steady_clock::now();
    bridge_.stats_.packets_in.inc();
    if (first_frame_) encrypted_ = binary;
    std::string decrypted;
    std::string_view text = payload;
    if (binary) {
      auto plain = decrypt_frame(payload);
      if (!plain) {
        bridge_.stats_.drop("bad_aes_frame", peer_host(peer()),
                            "binary frame of " + std::to_string(payload.size()) + " bytes");
        if (first_frame_) close_now();
        return;
      }
      decrypted = std::move(*plain);
      text = decrypted;
    }
    Decoded decoded = decode(text);
    const bool login = decoded.ok() && std::holds_alternative<Login>(*decoded.message);
    if (log_settings::trace()) {
      bridge_.log_.trace("rx ", peer(), " ", device_ ? bridge_.who(*device_) : std::string("-"),
                         binary ? " aes " : " text ",
                         decoded.ok() ? message_uri(*decoded.message) : std::string(error_name(decoded.error)), " ",
                         trace_text(text, decoded));
    }
    if (device_ && device_->admitted) bridge_.hub_.heard(device_->id);
    if (!decoded.ok()) {
      bridge_.stats_.drop(error_name(decoded.error), peer_host(peer()), decoded.detail);
      if (first_frame_) close_now();  // the first frame must be a login (§3.2)
      return;
    }
    if (first_frame_ && !login) {
      bridge_.stats_.drop("no_login", peer_host(peer()), "first frame is " + message_uri(*decoded.message));
      close_now();
      return;
    }
    first_frame_ = false;
    frame_text_ = text;
    std::visit([&](const auto& message) { handle(message); }, *decoded.message);
    frame_text_ = {};
    if (upstream_ && !login && !stopped_) upstream_->from_device(text, message_uri(*decoded.message));
  }

  void ws_closed(WsLink&, CloseCause cause, std::string_view detail) override {
    if (stopped_) return;
    if (cause == CloseCause::too_large) bridge_.stats_.drop("frame_too_large", peer_host(peer()), detail);
    else if (cause == CloseCause::protocol) bridge_.stats_.drop("websocket_protocol", peer_host(peer()), detail);
    bridge_.log_.debug("connection from ", peer(), device_ ? " (" + bridge_.who(*device_) + ")" : std::string(),
                       " ended: ", cause_name(cause), detail.empty() ? "" : ": ", detail);
    stop("device disconnected");
    bridge_.on_session_closed(*this);
  }

  // ---- UpstreamLink::Owner

  void upstream_deliver(const std::string& json) override { send(json, "from upstream"); }

  void upstream_blocked(bool from_cloud, const std::string& uri) override {
    if (!device_) return;
    const std::string key = std::string(from_cloud ? "cloud " : "device ") + uri;
    auto& logged = device_->blocked_logged;
    if (std::find(logged.begin(), logged.end(), key) != logged.end()) return;
    if (logged.size() < kMaxBlockedLogged) logged.push_back(key);
    bridge_.log_.info("proxy: blocked ", uri, from_cloud ? " from the cloud to " : " from ", bridge_.who(*device_),
                      from_cloud ? "" : " to the cloud", uri == "/upgrade" ? " (allow_upgrade is false)" : "",
                      " (logged once per device and uri)");
  }

  void upstream_log(Level level, const std::string& text) override {
    bridge_.log_.at(level, device_ ? bridge_.who(*device_) : std::string("?"), ": ", text);
  }

  void upstream_trace(bool to_cloud, std::string_view json, std::string_view what) override {
    if (!log_settings::trace()) return;
    bridge_.log_.trace(to_cloud ? "upstream tx " : "upstream rx ", device_ ? bridge_.who(*device_) : std::string("-"),
                       " ", what, " ", masked(json));
  }

  void upstream_bad_frame(std::string_view reason, std::string_view detail) override {
    bridge_.stats_.drop(reason, "upstream", detail);
  }

  // ---- commands

  void send_relay(Relay relay, CommandDone done) {
    if (pending_.size() >= kMaxPendingCommands) {
      done("too many commands waiting for the device");
      return;
    }
    pending_.push_back({relay, std::move(done), std::chrono::steady_clock::now() + bridge_.ack_timeout_});
    arm_deadlines();
    send(encode(RelayCommand{device_->cid, relay, Members::object()}), "command");
  }

  void send_get_runtime() { send(encode(GetRuntime{device_->cid, Members::object()}), "poll"); }

  void wait_power(std::chrono::milliseconds timeout, std::function<void(std::optional<PowerReading>)> answer) {
    if (waiters_.size() >= kMaxPowerWaiters) {
      answer(std::nullopt);
      return;
    }
    waiters_.push_back({std::chrono::steady_clock::now() + timeout, std::move(answer)});
    arm_deadlines();
    send_get_runtime();
  }

 private:
  struct Pending {
    Relay relay;
    CommandDone done;
    std::chrono::steady_clock::time_point deadline;
  };
  struct Waiter {
    std::chrono::steady_clock::time_point deadline;
    std::function<void(std::optional<PowerReading>)> answer;
  };

  void handle(const Login& login) {
    auto id = normalise_id(login.id);
    if (!id) {
      bridge_.stats_.drop("bad_login", peer_host(peer()), "device id is not 1..64 of [A-Za-z0-9-]");
      return close_now();
    }
    if (device_ && device_->id != *id) {
      bridge_.stats_.drop("bad_login", peer_host(peer()), "a second login with another id");
      return;
    }
    // Answer first: the reply never waits for the Hub (§4.0).
    send(encode_login_reply(utc_now()), "login reply");
    const bool first_login = !device_;
    bridge_.on_login(*this, login, *id);
    if (stopped_ || !device_) return;
    if (first_login) {
      send_get_runtime();
      bridge_.poll_queue_.push(std::chrono::steady_clock::now() + bridge_.settings_.poll_interval,
                               shared_from_this());
      if (bridge_.settings_.upstream && !upstream_) start_upstream(std::string(frame_text_));
    }
  }

  void handle(const KeepAlive& ka) {
    send(encode_keepalive_reply(utc_now()), "keepalive reply");
    if (device_) bridge_.on_keepalive(*device_, ka);
  }

  void handle(const Report& report) {
    if (device_) bridge_.on_report(*device_, report, peer());
  }

  void handle(const RuntimeInfo& info) {
    if (!device_) return;
    bool acknowledged = false;
    if (info.relay) {
      bridge_.on_relay(*device_, *info.relay);  // state first, then the command is done
      acknowledged = acknowledge(*info.relay);
    }
    if (acknowledged) {
      // The acknowledgement carries "0:0" figures (§4.5): ask for real ones.
      send_get_runtime();
      return;
    }
    bridge_.on_runtime(*device_, info);
    answer_waiters(info);
  }

  void handle(const StateReport& state) {
    if (!device_) return;
    bridge_.on_relay(*device_, state.relay);
    if (acknowledge(state.relay)) send_get_runtime();
  }

  void handle(const EvTimer& timer) {
    if (device_ && timer.relay) bridge_.on_relay(*device_, *timer.relay);
  }

  void handle(const KeepAliveReply&) {}  // the answer to a server /ka
  void handle(const SetCtlFlags&) {}
  void handle(const Trigger&) {}
  void handle(const Timer&) {}

  void handle(const OtherMessage& other) {
    bridge_.log_.debug(device_ ? bridge_.who(*device_) : peer(), " sent ", other.uri, " (not handled)");
  }

  // Messages only a server sends.
  void handle(const LoginReply&) { unexpected("/loginReply"); }
  void handle(const RelayCommand&) { unexpected("/relay"); }
  void handle(const GetRuntime&) { unexpected("/getRuntime"); }
  void handle(const Upgrade&) { unexpected("/upgrade"); }

  void unexpected(const char* uri) {
    bridge_.stats_.drop("unexpected_message", peer_host(peer()), std::string(uri) + " from a device");
  }

  // Resolves the commands that asked for `relay`; true when there was one.
  bool acknowledge(Relay relay) {
    bool any = false;
    for (auto it = pending_.begin(); it != pending_.end();) {
      if (it->relay != relay) {
        ++it;
        continue;
      }
      auto done = std::move(it->done);
      it = pending_.erase(it);
      any = true;
      done("");
    }
    if (any && upstream_) upstream_->send_state(relay);
    return any;
  }

  void answer_waiters(const RuntimeInfo& info) {
    if (waiters_.empty()) return;
    PowerReading reading;
    reading.relay = info.relay;
    if (info.power) {
      if (auto pair = parse_pair(*info.power)) {
        double watts = decode_pair(*pair, bridge_.decoding_);
        if (watts <= kMaxPlausibleWatts) reading.watts = round_to(watts, 1000);
      }
    }
    if (info.voltage) {
      if (auto pair = parse_pair(*info.voltage)) {
        double volts = decode_pair(*pair, bridge_.decoding_);
        if (volts <= kMaxPlausibleVolts) reading.volts = round_to(volts, 1000);
      }
    }
    auto waiters = std::move(waiters_);
    waiters_.clear();
    for (auto& waiter : waiters) waiter.answer(reading);
  }

  void fail_waiting(const std::string& why) {
    auto pending = std::move(pending_);
    pending_.clear();
    for (auto& command : pending) command.done(why);
    auto waiters = std::move(waiters_);
    waiters_.clear();
    for (auto& waiter : waiters) waiter.answer(std::nullopt);
  }

  void arm_deadlines() {
    auto earliest = std::chrono::steady_clock::time_point::max();
    for (const auto& command : pending_) earliest = std::min(earliest, command.deadline);
    for (const auto& waiter : waiters_) earliest = std::min(earliest, waiter.deadline);
    if (earliest == std::chrono::steady_clock::time_point::max()) {
      deadline_timer_.reset();
      return;
    }
    if (!deadline_timer_) deadline_timer_ = std::make_unique<asio::steady_timer>(bridge_.io_);
    deadline_timer_->expires_at(earliest);
    deadline_timer_->async_wait([weak = weak_from_this()](boost::system::error_code ec) {
      if (ec) return;
      if (auto self = weak.lock()) self->expire();
    });
  }

  void expire() {
    if (stopped_) return;
    const auto now = std::chrono::steady_clock::now();
    std::vector<CommandDone> failed;
    for (auto it = pending_.begin(); it != pending_.end();) {
      if (it->deadline <= now) {
        failed.push_back(std::move(it->done));
        it = pending_.erase(it);
      } else {
        ++it;
      }
    }
    std::vector<std::function<void(std::optional<PowerReading>)>> late;
    for (auto it = waiters_.begin(); it != waiters_.end();) {
      if (it->deadline <= now) {
        late.push_back(std::move(it->answer));
        it = waiters_.erase(it);
      } else {
        ++it;
      }
    }
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(bridge_.ack_timeout_).count();
    for (auto& done : failed) done("no acknowledgement from the device within " + std::to_string(ms) + " ms");
    for (auto& answer : late) answer(std::nullopt);
    arm_deadlines();
  }

  // `login_json`: the device's login as it sent it (decrypted), repeated on every upstream
  // connection.
  void start_upstream(std::string login_json) {
    const auto& upstream = *bridge_.settings_.upstream;
    UpstreamSettings settings;
    settings.host = upstream.host;
    settings.port = upstream.port;
    settings.allow_upgrade = bridge_.settings_.allow_upgrade;
    settings.refuse = [&bridge = bridge_](const asio::ip::tcp::endpoint& endpoint) {
      return bridge.refuse_reason(endpoint);
    };
    std::vector<std::string> lines = {"Host: " + (host_.empty() ? upstream.text() : host_), "Upgrade: websocket",
                                      "Connection: Upgrade"};
    if (!device_version_header_.empty()) lines.push_back("deviceVersion:" + device_version_header_);
    upstream_ = std::make_shared<UpstreamLink>(bridge_.io_, std::move(settings), *this, std::move(login_json), encrypted_,
                                               path_.empty() ? std::string("/gnws") : path_, std::move(lines));
    upstream_->start();
  }

  // Sends a JSON message in the device's framing.
  void send(const std::string& json, std::string_view what) {
    if (stopped_) return;
    if (log_settings::trace()) {
      bridge_.log_.trace("tx ", peer(), " ", device_ ? bridge_.who(*device_) : std::string("-"),
                         encrypted_ ? " aes " : " text ", what, " ", masked(json));
    }
    bridge_.stats_.packets_out.inc();
    if (encrypted_) link_->send(encrypt_frame(json), true);
    else link_->send(json, false);
  }

  void close_now() {
    stop("connection refused");
    bridge_.on_session_closed(*this);
  }

  TimeFields utc_now() const { return utc_time_fields(bridge_.clock_()); }

  // Trace text with the device id masked (log.mask_ids) and the login's account and key
  // redacted.
  std::string trace_text(std::string_view text, const Decoded& decoded) const {
    if (decoded.ok()) {
      if (const auto* login = std::get_if<Login>(&*decoded.message)) {
        Login copy = *login;
        if (copy.account) copy.account = "<redacted>";
        if (copy.key) {
          copy.key.reset();
          copy.extra["key"] = "<redacted>";
        }
        if (log_settings::mask_ids()) {
          auto id = normalise_id(copy.id);
          copy.id = mask_id(id ? *id : copy.id);
        }
        return printable(encode_pretty(copy));
      }
    }
    return masked(text);
  }

  std::string masked(std::string_view text) const {
    std::string out = printable(text);
    if (device_ && log_settings::mask_ids()) {
      const std::string tag = mask_id(device_->id);
      replace_all(out, device_->cid, tag);
      replace_all(out, device_->id, tag);
    }
    return out;
  }

  VesyncBridge& bridge_;
  std::shared_ptr<WsLink> link_;
  std::string path_;
  std::string host_;
  std::string device_version_header_;
  Device* device_ = nullptr;
  std::string_view frame_text_;  // the JSON being handled (valid during handle())
  std::chrono::steady_clock::time_point last_heard_ = std::chrono::steady_clock::now();
  bool first_frame_ = true;
  bool encrypted_ = false;
  bool stopped_ = false;
  std::unique_ptr<asio::steady_timer> deadline_timer_;  // only while something waits
  std::vector<Pending> pending_;
  std::vector<Waiter> waiters_;
  std::shared_ptr<UpstreamLink> upstream_;

  friend class VesyncBridge;
};

// ---------------------------------------------------------------------------------------

VesyncBridge::VesyncBridge(BridgeContext& context)
    : io_(context.io),
      settings_(settings_of<Settings>(context)),
      daemon_listeners_(context.daemon_listeners),
      hub_(context.hub),
      metrics_(context.metrics),
      store_(context.store),
      stats_(context.metrics, "vesync"),
      decoding_(settings_.power_decoding),
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

  // Energy counters made durable by earlier runs.
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(store_.dir(), ec)) {
    const std::string file = entry.path().filename().string();
    if (file.rfind(kEnergyRecordPrefix, 0) != 0) continue;
    auto content = store_.load(file);
    if (!content) continue;
    Json record = Json::parse(*content, nullptr, false);
    if (record.is_object() && record.contains("energy_kwh") && record["energy_kwh"].is_number())
      stored_energy_[file.substr(std::string_view(kEnergyRecordPrefix).size())] = record["energy_kwh"].get<double>();
  }

  for (const auto& configured : settings_.devices) {
    auto id = normalise_id(configured.id);
    if (!id) {
      log_.warn("configured device id ", mask_id(configured.id), " is not a VeSync id; ignored");
      continue;
    }
    Device& device = device_for(*id);
    device.configured = true;
    device.name = configured.name;
    device.cid = configured.id;
    device.admitted = hub_.device_seen(device_info(device));
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
          std::string why = refuse_reason(entry.endpoint());
          if (!why.empty()) log_.error("upstream ", upstream.text(), " refused: ", why);
        }
        log_.info("upstream ", upstream.text(), " resolves to ", addresses);
      });
}

std::string VesyncBridge::refuse_reason(const asio::ip::tcp::endpoint& endpoint) const {
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
  if (server_) server_->stop();
  if (service_) service_->stop();
  login_queue_.clear();
  poll_queue_.clear();
  auto sessions = std::move(sessions_);
  sessions_.clear();
  for (auto& [raw, session] : sessions) {
    // Pending CommandDone callbacks are not called on stop (bridge.h).
    session->pending_.clear();
    session->stop("bridge stopping");
  }
  for (auto& [id, device] : devices_) device->session = nullptr;
}

std::vector<Listener> VesyncBridge::listeners() const {
  std::vector<Listener> out = {{"ws", settings_.listen.text()}};
  if (settings_.service_listen) out.push_back({"http", settings_.service_listen->text()});
  return out;
}

Endpoint VesyncBridge::bound_endpoint() const { return server_ ? server_->local_endpoint() : Endpoint{}; }
Endpoint VesyncBridge::bound_service_endpoint() const { return service_ ? service_->local_endpoint() : Endpoint{}; }

const Device* VesyncBridge::device(std::string_view id) const {
  auto it = devices_.find(std::string(id));
  return it == devices_.end() ? nullptr : it->second.get();
}

void VesyncBridge::accept_link(std::shared_ptr<WsLink> link, const http::Request& request) {
  if (stopped_) return;
  auto session = std::make_shared<Session>(*this, std::move(link), request);
  sessions_.emplace(session.get(), session);
  live_sessions_->fetch_add(1);
  session->start();
  login_queue_.push(std::chrono::steady_clock::now() + login_deadline_, session);
}

void VesyncBridge::DueQueue::push(std::chrono::steady_clock::time_point due, const std::shared_ptr<Session>& session) {
  queue_.push_back({due, session});
  if (queue_.size() == 1) arm();
}

void VesyncBridge::DueQueue::clear() {
  queue_.clear();
  timer_.cancel();
  token_ = std::make_shared<int>(0);
}

void VesyncBridge::DueQueue::arm() {
  if (queue_.empty()) return;
  timer_.expires_at(queue_.front().due);
  timer_.async_wait([this, token = std::weak_ptr<int>(token_)](boost::system::error_code ec) {
    if (!ec && !token.expired()) run();
  });
}

void VesyncBridge::DueQueue::run() {
  const auto now = std::chrono::steady_clock::now();
  std::weak_ptr<int> token = token_;
  while (!queue_.empty() && queue_.front().due <= now) {
    auto session = queue_.front().session.lock();
    queue_.pop_front();
    if (session) fire_(session);  // may push() again (due later than now)
    if (token.expired()) return;  // cleared meanwhile
  }
  arm();
}

void VesyncBridge::login_deadline(const std::shared_ptr<Session>& session) {
  if (session->stopped_ || session->device_) return;
  stats_.drop("login_timeout", peer_host(session->peer()), "no login frame in time");
  session->close_now();
}

void VesyncBridge::poll(const std::shared_ptr<Session>& session) {
  if (session->stopped_ || !session->device_) return;
  const auto now = std::chrono::steady_clock::now();
  if (now - session->last_heard_ > idle_timeout_) {
    log_.info(who(*session->device_), ": nothing heard from ", session->peer(), " for ",
              std::chrono::duration_cast<std::chrono::seconds>(now - session->last_heard_).count(),
              " s; closing the connection");
    session->close_now();
    return;
  }
  session->send_get_runtime();
  poll_queue_.push(now + settings_.poll_interval, session);
}

void VesyncBridge::on_session_closed(Session& session) {
  Device* device = session.device_;
  if (device && device->session == &session) {
    device->session = nullptr;
    if (!device->configured && !device->admitted) devices_.erase(device->id);
  }
  session.device_ = nullptr;
  auto it = sessions_.find(&session);
  if (it == sessions_.end()) return;
  // Destroyed once the current handler has returned.
  auto keep = std::move(it->second);
  sessions_.erase(it);
  live_sessions_->fetch_sub(1);
  asio::post(io_, [keep] {});
}

Device& VesyncBridge::device_for(const std::string& id) {
  auto& slot = devices_[id];
  if (!slot) {
    slot = std::make_unique<Device>();
    slot->id = id;
    slot->cid = id;
    auto stored = stored_energy_.find(id);
    if (stored != stored_energy_.end()) {
      slot->energy_kwh = stored->second;
      slot->energy_published = -1;
      stored_energy_.erase(stored);
      slot->energy_stored = true;
    }
  }
  return *slot;
}

DeviceInfo VesyncBridge::device_info(const Device& device) const {
  DeviceInfo info;
  info.id = device.id;
  info.name = device.name;
  info.configured = device.configured;
  info.manufacturer = "Etekcity";
  info.model = device.model;
  info.firmware = device.firmware;
  info.properties = outlet_properties();
  return info;
}

std::string VesyncBridge::who(const Device& device) const {
  return device.admitted ? hub_.log_name(device.id) : (device.name.empty() ? mask_id(device.id) : device.name);
}

void VesyncBridge::on_login(Session& session, const Login& login, const std::string& id) {
  Device& device = device_for(id);
  if (device.session && device.session != &session) {
    log_.info(who(device), " logged in again from ", session.peer(), "; closing its older connection from ",
              device.session->peer());
    device.session->detach_device("connection replaced by a newer one");
  }
  device.session = &session;
  session.device_ = &device;
  device.cid = login.id;
  // Every public capture of this websocket is an ESW01-USA (§9).
  if (login.type == "wifi-switch" && (!login.apptype || *login.apptype == "switch-measure"))
    device.model = "ESW01-USA";
  else
    device.model = login.type.value_or(login.device_name.value_or(""));
  device.firmware = login.firm_version.value_or("");
  const bool was_admitted = device.admitted;
  device.admitted = hub_.device_seen(device_info(device));
  device.next_admission_try = std::chrono::steady_clock::now() + std::chrono::seconds(1);

  // Once per device at info; unregistered devices (the Hub logs those) at debug.
  const Level level = device.login_logged || !device.admitted ? Level::debug : Level::info;
  device.login_logged = device.login_logged || device.admitted;
  log_.at(level, who(device), " logged in from ", session.peer(), " on path ", session.path_,
          session.path_ == "/gnws" ? "" : " (not /gnws)", ", firmware ", device.firmware.empty() ? "?" : device.firmware,
          session.encrypted() ? ", encrypted" : ", plaintext",
          device.admitted ? "" : (was_admitted ? "" : "; not registered (accept_unknown/max_unknown)"));
  if (login.relay) on_relay(device, *login.relay);
  if (!device.admitted) return;
  hub_.heard(device.id);
  if (device.energy_stored && device.energy_published < device.energy_kwh) publish_energy(device.id, device.energy_kwh);
}

void VesyncBridge::retry_admission(Device& device) {
  if (device.admitted || !device.session) return;
  // At most once a second per device (a keepalive flood must not rebuild DeviceInfo each time).
  const auto now = std::chrono::steady_clock::now();
  if (now < device.next_admission_try) return;
  device.next_admission_try = now + std::chrono::seconds(1);
  device.admitted = hub_.device_seen(device_info(device));
  if (!device.admitted) return;
  log_.info(who(device), " registered");
  hub_.heard(device.id);
  if (device.relay) hub_.state_changed(device.id, "power", *device.relay == Relay::open ? "ON" : "OFF");
  if (device.energy_stored && device.energy_published < device.energy_kwh) publish_energy(device.id, device.energy_kwh);
}

void VesyncBridge::on_relay(Device& device, Relay relay) {
  device.relay = relay;
  if (device.admitted) hub_.state_changed(device.id, "power", relay == Relay::open ? "ON" : "OFF");
}

void VesyncBridge::on_keepalive(Device& device, const KeepAlive& ka) {
  if (!device.admitted) retry_admission(device);
  if (device.admitted && ka.rssi) hub_.state_changed(device.id, "rssi", *ka.rssi);
}

void VesyncBridge::filtered(const char* property, const Device& device, double value) {
  metrics_.counter("localcloud_vesync_filtered_total", "Implausible readings not published (spikes)",
                   {{"property", property}})
      .inc();
  log_.debug(who(device), ": implausible ", property, " ", value, " not published");
}

void VesyncBridge::on_runtime(Device& device, const RuntimeInfo& info) {
  if (!device.admitted) return;
  Json attributes = Json::object();
  attributes["power_decoding"] = power_decoding_name(decoding_);
  if (info.meastate) attributes["meastate"] = *info.meastate;
  struct Field {
    const std::optional<std::string>& raw;
    const char* name;      // attribute prefix
    const char* property;  // published property, or nullptr
    double max;
  };
  const Field fields[] = {{info.power, "power", "load_power", kMaxPlausibleWatts},
                          {info.voltage, "voltage", "voltage", kMaxPlausibleVolts},
                          {info.current, "current", nullptr, 0}};
  for (const auto& field : fields) {
    if (!field.raw) continue;
    attributes[std::string(field.name) + "_raw"] = *field.raw;
    auto pair = parse_pair(*field.raw);
    if (pair) {
      attributes[std::string(field.name) + "_a"] = round_to(decode_half(pair->a, decoding_), 1000);
      attributes[std::string(field.name) + "_b"] = round_to(decode_half(pair->b, decoding_), 1000);
    }
    if (!field.property) continue;
    if (!pair) {  // "NaN" or garbage: not available
      hub_.state_changed(device.id, field.property, nullptr);
      continue;
    }
    const double value = decode_pair(*pair, decoding_);
    if (value > field.max) {
      filtered(field.property, device, value);
      continue;
    }
    hub_.state_changed(device.id, field.property, round_to(value, 1000));
  }
  hub_.attributes_changed(device.id, std::move(attributes));
}

void VesyncBridge::on_report(Device& device, const Report& report, const std::string& peer) {
  if (report.seconds == 0 || report.seconds > kMaxReportSeconds) {
    stats_.drop("bad_report", peer_host(peer), "t of " + std::to_string(report.seconds) + " s");
    return;
  }
  const double average_watts = double(report.energy_ws) / double(report.seconds);
  if (average_watts > kMaxPlausibleWatts) {
    filtered("energy", device, average_watts);
    return;
  }
  if (!device.admitted) return;
  add_energy(device, double(report.energy_ws) / 3.6e6);
}

void VesyncBridge::add_energy(Device& device, double kwh) {
  if (kwh <= 0) return;
  device.energy_kwh += kwh;
  persist_energy(device);
}

void VesyncBridge::persist_energy(Device& device) {
  const double value = device.energy_kwh;
  device.energy_stored = true;
  Json record = {{"energy_kwh", value}};
  std::weak_ptr<bool> alive = alive_;
  std::string id = device.id;
  store_.store(kEnergyRecordPrefix + id, record.dump(), [this, alive, id, value](bool ok) {
    auto token = alive.lock();
    if (!token || !*token) return;
    if (!ok) {
      log_.error("energy of ", hub_.log_name(id), " could not be made durable; not published");
      return;
    }
    publish_energy(id, value);
  });
}

void VesyncBridge::publish_energy(const std::string& id, double kwh) {
  auto it = devices_.find(id);
  if (it == devices_.end()) return;
  Device& device = *it->second;
  if (kwh <= device.energy_published) return;
  device.energy_published = kwh;
  if (device.admitted) hub_.state_changed(id, "energy", round_to(kwh, 1e6));
}

void VesyncBridge::retained_state(std::string_view id, const Json& state) {
  auto it = devices_.find(std::string(id));
  if (it == devices_.end() || !state.is_object()) return;
  auto energy = state.find("energy");
  if (energy == state.end() || !energy->is_number()) return;
  const double retained = energy->get<double>();
  if (!std::isfinite(retained) || retained < 0 || retained > kMaxEnergyKwh) return;
  Device& device = *it->second;
  if (retained > device.energy_kwh) {
    log_.info(who(device), ": energy counter raised to the retained ", retained, " kWh (stored: ", device.energy_kwh,
              ")");
    device.energy_kwh = retained;
    persist_energy(device);
  }
}

void VesyncBridge::command(std::string_view id, std::string_view property, const Json& value, CommandDone done) {
  auto it = devices_.find(std::string(id));
  if (it == devices_.end()) return done("unknown device");
  if (property != "power") return done("property " + std::string(property) + " is read-only");
  Device& device = *it->second;
  if (!value.is_string()) return done("power takes ON, OFF or TOGGLE");
  const std::string text = value.get<std::string>();
  std::optional<Relay> target;
  if (text == "ON") target = Relay::open;
  else if (text == "OFF") target = Relay::break_;
  else if (text == "TOGGLE" && device.relay) target = *device.relay == Relay::open ? Relay::break_ : Relay::open;
  else if (text == "TOGGLE") return done("TOGGLE: the relay state is not known yet");
  else return done("power takes ON, OFF or TOGGLE");
  relay_command(device, *target, std::move(done));
}

void VesyncBridge::relay_command(Device& device, Relay relay, CommandDone done) {
  if (!device.session) return done("device not connected");
  device.session->send_relay(relay, std::move(done));
}

std::optional<std::string> VesyncBridge::find_outlet(std::string_view name_or_id) {
  Device* device = find_device(name_or_id);
  return device ? std::optional<std::string>(device->id) : std::nullopt;
}

bool VesyncBridge::connected(std::string_view id) {
  auto it = devices_.find(std::string(id));
  return it != devices_.end() && it->second->session;
}

void VesyncBridge::switch_relay(std::string_view id, Relay relay, std::function<void(std::string error)> done) {
  auto it = devices_.find(std::string(id));
  if (it == devices_.end()) return done("unknown device");
  relay_command(*it->second, relay, std::move(done));
}

void VesyncBridge::request_power(std::string_view id, std::chrono::milliseconds timeout,
                                 std::function<void(std::optional<PowerReading>)> answer) {
  auto it = devices_.find(std::string(id));
  if (it == devices_.end() || !it->second->session) return answer(std::nullopt);
  it->second->session->wait_power(timeout, std::move(answer));
}

void VesyncBridge::read(std::string_view id) {
  auto it = devices_.find(std::string(id));
  if (it != devices_.end() && it->second->session) it->second->session->send_get_runtime();
}

void VesyncBridge::forget(std::string_view id) {
  auto it = devices_.find(std::string(id));
  if (it == devices_.end()) return;
  Device& device = *it->second;
  device.admitted = false;
  device.energy_kwh = 0;
  device.energy_published = -1;
  device.energy_stored = false;
  device.blocked_logged.clear();
  device.login_logged = false;
  store_.remove(kEnergyRecordPrefix + device.id);
  if (!device.session && !device.configured) devices_.erase(it);
}

Device* VesyncBridge::find_device(std::string_view name_or_id) {
  for (auto& [id, device] : devices_) {
    if (!device->name.empty() && device->name == name_or_id) return device.get();
  }
  auto id = normalise_id(name_or_id);
  if (!id) return nullptr;
  auto it = devices_.find(*id);
  return it == devices_.end() ? nullptr : it->second.get();
}

std::unique_ptr<Bridge> create_bridge(BridgeContext& context) { return std::make_unique<VesyncBridge>(context); }

}  // namespace lc::vesync
