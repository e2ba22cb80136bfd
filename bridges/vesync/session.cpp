// One outlet connection (session.h); §N: docs/protocols/vesync.md.
#include "bridges/vesync/session.h"

#include <algorithm>

#include "bridges/vesync/crypto.h"
#include "bridges/vesync/outlet.h"
#include "bridges/vesync/trace.h"

namespace lc::vesync {

namespace {

constexpr size_t kMaxBlockedLogged = 32;

}  // namespace

std::string peer_host(std::string_view peer) {
  const auto colon = peer.rfind(':');
  return std::string(colon == std::string_view::npos ? peer : peer.substr(0, colon));
}

Session::Session(const SessionEnvironment& environment, std::shared_ptr<WsLink> link, const http::Request& request)
    : env_(environment), link_(std::move(link)), path_(request.path()), pending_(environment.io) {
  if (env_.upstream) {  // repeated to the upstream
    if (const auto* host = request.header("Host")) host_ = *host;
    if (const auto* version = request.header("deviceVersion")) device_version_header_ = *version;
  }
}

void Session::stop(std::string_view why) {
  stopped_ = true;
  if (upstream_) {
    upstream_->stop();
    upstream_.reset();
  }
  pending_.fail_all(std::string(why));
  link_->set_events(nullptr);
  link_->close();
}

void Session::detach(std::string_view why) {
  outlet_ = nullptr;
  stop(why);
  env_.owner.session_closed(*this);
}

void Session::close_now() {
  stop("connection refused");
  env_.owner.session_closed(*this);
}

std::string Session::who() const { return outlet_ ? env_.owner.who(*outlet_) : std::string("-"); }

// ---- frames from the outlet

void Session::ws_frame(WsLink&, std::string_view payload, bool binary) {
  if (stopped_) return;
  last_heard_ = std::chrono::steady_clock::now();
  env_.stats.packets_in.inc();
  if (first_frame_) encrypted_ = binary;
  std::string decrypted;
  std::string_view text = payload;
  if (binary) {
    auto plain = decrypt_frame(payload);
    if (!plain) {
      env_.stats.drop("bad_aes_frame", peer_host(peer()), "binary frame of " + std::to_string(payload.size()) + " bytes");
      if (first_frame_) close_now();
      return;
    }
    decrypted = std::move(*plain);
    text = decrypted;
  }
  // The hot path (thousands of outlets, a /ka from each every ~183 s, §3.1): the keepalive as
  // the outlet writes it is recognised without a JSON value, answered at once, and reported only
  // when it changed something. Everything else, and every frame while log.trace is on, is
  // decoded.
  if (outlet_ && !first_frame_ && !log_settings::trace()) {
    if (const auto scanned = scan_keepalive(text)) {
      env_.owner.frame_heard(*outlet_, last_heard_);
      keepalive(scanned->rssi);
      if (upstream_ && !stopped_) upstream_->from_device(text, "/ka");
      return;
    }
  }
  Decoded decoded = decode(text);
  const bool login = decoded.ok() && std::holds_alternative<Login>(*decoded.message);
  if (log_settings::trace()) {
    env_.log.trace("rx ", peer(), " ", who(), binary ? " aes " : " text ",
                   decoded.ok() ? message_uri(*decoded.message) : std::string(error_name(decoded.error)), " ",
                   trace_frame(text, decoded, outlet_));
  }
  if (outlet_) env_.owner.frame_heard(*outlet_, last_heard_);
  if (!decoded.ok()) {
    env_.stats.drop(error_name(decoded.error), peer_host(peer()), decoded.detail);
    if (first_frame_) close_now();  // the first frame must be a login (§3.2)
    return;
  }
  if (first_frame_ && !login) {
    env_.stats.drop("no_login", peer_host(peer()), "first frame is " + message_uri(*decoded.message));
    close_now();
    return;
  }
  first_frame_ = false;
  frame_text_ = text;
  std::visit([&](const auto& message) { handle(message); }, *decoded.message);
  frame_text_ = {};
  if (upstream_ && !login && !stopped_) upstream_->from_device(text, message_uri(*decoded.message));
}

void Session::ws_closed(WsLink&, CloseCause cause, std::string_view detail) {
  if (stopped_) return;
  if (cause == CloseCause::too_large) env_.stats.drop("frame_too_large", peer_host(peer()), detail);
  else if (cause == CloseCause::protocol) env_.stats.drop("websocket_protocol", peer_host(peer()), detail);
  env_.log.debug("connection from ", peer(), outlet_ ? " (" + who() + ")" : std::string(), " ended: ", cause_name(cause),
                 detail.empty() ? "" : ": ", detail);
  stop("device disconnected");
  env_.owner.session_closed(*this);
}

void Session::handle(const Login& login) {
  auto id = normalise_id(login.id);
  if (!id) {
    env_.stats.drop("bad_login", peer_host(peer()), "device id is not 1..64 of [A-Za-z0-9-]");
    return close_now();
  }
  if (outlet_ && outlet_->id != *id) {
    env_.stats.drop("bad_login", peer_host(peer()), "a second login with another id");
    return;
  }
  // Answer first: the reply never waits for the Hub (§4.0).
  send(encode_login_reply(env_.owner.utc_now()), "login reply");
  const bool first_login = !outlet_;
  outlet_ = &env_.owner.logged_in(*this, login, *id);
  if (stopped_ || !outlet_ || !first_login) return;
  send_get_runtime();
  env_.owner.first_login(*this);
  if (env_.upstream && !upstream_) start_upstream(std::string(frame_text_));
}

void Session::handle(const KeepAlive& keepalive) { this->keepalive(keepalive.rssi); }

void Session::keepalive(std::optional<int64_t> rssi) {
  send(encode_keepalive_reply(env_.owner.utc_now()), "keepalive reply");
  if (outlet_) env_.owner.keepalive(*outlet_, rssi);
}

void Session::handle(const Report& report) {
  if (outlet_) env_.owner.energy_reported(*outlet_, report, peer());
}

void Session::handle(const RuntimeInfo& info) {
  if (!outlet_) return;
  bool acknowledged = false;
  if (info.relay) {
    env_.owner.relay_reported(*outlet_, *info.relay);  // state first, then the command is done
    acknowledged = acknowledge(*info.relay);
  }
  if (acknowledged) {
    // The acknowledgement carries "0:0" figures (§4.5): ask for real ones.
    send_get_runtime();
    return;
  }
  if (!outlet_) return;
  env_.owner.runtime_reported(*outlet_, info);
  pending_.answer_waiters(info);
}

void Session::handle(const StateReport& state) {
  if (!outlet_) return;
  env_.owner.relay_reported(*outlet_, state.relay);
  if (acknowledge(state.relay)) send_get_runtime();
}

void Session::handle(const EvTimer& timer) {
  if (outlet_ && timer.relay) env_.owner.relay_reported(*outlet_, *timer.relay);
}

void Session::handle(const OtherMessage& other) {
  env_.log.debug(outlet_ ? who() : peer(), " sent ", other.uri, " (not handled)");
}

void Session::unexpected(const char* uri) {
  env_.stats.drop("unexpected_message", peer_host(peer()), std::string(uri) + " from a device");
}

bool Session::acknowledge(Relay relay) {
  if (!pending_.acknowledge(relay)) return false;
  if (upstream_) upstream_->send_state(relay);
  return true;
}

// ---- requests to the outlet

void Session::send_relay(Relay relay, PendingRequests::CommandDone done, std::chrono::milliseconds timeout) {
  if (!pending_.add_command(relay, std::move(done), timeout)) return;
  send(encode(RelayCommand{outlet_->cid, relay, Members::object()}), "command");
}

void Session::send_get_runtime() { send(encode(GetRuntime{outlet_->cid, Members::object()}), "poll"); }

void Session::wait_runtime(PendingRequests::RuntimeAnswer answer, std::chrono::milliseconds timeout) {
  if (!pending_.add_waiter(std::move(answer), timeout)) return;
  send_get_runtime();
}

void Session::send(std::string json, std::string_view what) {
  if (stopped_) return;
  if (log_settings::trace())
    env_.log.trace("tx ", peer(), " ", who(), encrypted_ ? " aes " : " text ", what, " ", trace_text(json, outlet_));
  env_.stats.packets_out.inc();
  if (encrypted_) link_->send(encrypt_frame(json), true);
  else link_->send(std::move(json), false);
}

// ---- the upstream cloud (proxy mode)

void Session::start_upstream(std::string login_json) {
  const Endpoint& upstream = *env_.upstream;
  UpstreamSettings settings;
  settings.host = upstream.host;
  settings.port = upstream.port;
  settings.allow_upgrade = env_.allow_upgrade;
  settings.refuse = [&owner = env_.owner](const boost::asio::ip::tcp::endpoint& endpoint) {
    return owner.refuse_upstream(endpoint);
  };
  std::vector<std::string> lines = {"Host: " + (host_.empty() ? upstream.text() : host_), "Upgrade: websocket",
                                    "Connection: Upgrade"};
  if (!device_version_header_.empty()) lines.push_back("deviceVersion:" + device_version_header_);
  upstream_ = std::make_shared<UpstreamLink>(env_.io, std::move(settings), *this, std::move(login_json), encrypted_,
                                             path_.empty() ? std::string("/gnws") : path_, std::move(lines));
  upstream_->start();
}

void Session::upstream_blocked(bool from_cloud, const std::string& uri) {
  if (!outlet_) return;
  const std::string key = std::string(from_cloud ? "cloud " : "device ") + uri;
  auto& logged = outlet_->blocked_logged;
  if (std::find(logged.begin(), logged.end(), key) != logged.end()) return;
  if (logged.size() < kMaxBlockedLogged) logged.push_back(key);
  env_.log.info("proxy: blocked ", uri, from_cloud ? " from the cloud to " : " from ", who(),
                from_cloud ? "" : " to the cloud", uri == "/upgrade" ? " (allow_upgrade is false)" : "",
                " (logged once per device and uri)");
}

void Session::upstream_log(Level level, const std::string& text) {
  env_.log.at(level, outlet_ ? who() : std::string("?"), ": ", text);
}

void Session::upstream_trace(bool to_cloud, std::string_view json, std::string_view what) {
  if (!log_settings::trace()) return;
  env_.log.trace(to_cloud ? "upstream tx " : "upstream rx ", who(), " ", what, " ", trace_text(json, outlet_));
}

void Session::upstream_bad_frame(std::string_view reason, std::string_view detail) {
  env_.stats.drop(reason, "upstream", detail);
}

}  // namespace lc::vesync
