// The validating upstream proxy (upstream.h); §N: docs/protocols/vesync.md.
#include "bridges/vesync/upstream.h"

#include <array>

#include "bridges/vesync/crypto.h"

namespace lc::vesync {

namespace {

// Device messages kept while the upstream connects; older ones are dropped.
constexpr size_t kMaxWaiting = 16;

bool one_of(std::string_view uri, std::initializer_list<std::string_view> list) {
  for (auto entry : list) {
    if (uri == entry) return true;
  }
  return false;
}

}  // namespace

bool forwarded_to_cloud(std::string_view uri) {
  return one_of(uri, {"login", "/ka", "/kr", "/report", "/evtimer", "/getTriggerCnt", "/runtimeInfo",
                      "/setCtlFlags", "/timer", "/state", "/trigger"});
}

CloudVerdict cloud_verdict(std::string_view uri, bool allow_upgrade) {
  if (one_of(uri, {"/loginReply", "/kr"})) return CloudVerdict::served_locally;
  if (one_of(uri, {"/ka", "/getTriggerCnt", "/getRuntime", "/relay", "/setCtlFlags", "/timer"}))
    return CloudVerdict::deliver;
  // Firmware upgrades and the URIs whose effects are unknown and possibly destructive
  // (§4.11, §4.12): only when the user asked for them.
  if (allow_upgrade && one_of(uri, {"/upgrade", "/delDevice", "/resetID", "/softRestore", "/calibration",
                                    "/setManufactureFlag", "/resetManufactureFlag"}))
    return CloudVerdict::deliver;
  return CloudVerdict::block;
}

UpstreamLink::UpstreamLink(boost::asio::io_context& io, UpstreamSettings settings, Owner& owner,
                           std::string login_json, bool encrypted, std::string path,
                           std::vector<std::string> header_lines)
    : io_(io),
      settings_(std::move(settings)),
      owner_(owner),
      login_json_(std::move(login_json)),
      encrypted_(encrypted),
      path_(std::move(path)),
      header_lines_(std::move(header_lines)),
      retry_(io),
      backoff_(settings_.min_backoff) {}

UpstreamLink::~UpstreamLink() { stop(); }

void UpstreamLink::start() { connect(); }

void UpstreamLink::stop() {
  stopped_ = true;
  retry_.cancel();
  if (link_) {
    link_->set_events(nullptr);
    link_->close();
    link_.reset();
  }
}

void UpstreamLink::connect() {
  if (stopped_) return;
  WsClientOptions options;
  options.host = settings_.host;  // re-resolved on every connection
  options.port = settings_.port;
  options.path = path_;
  options.header_lines = header_lines_;
  options.refuse = settings_.refuse;
  link_ = ws_connect(io_, options, this);
}

void UpstreamLink::ws_open(WsLink& link) {
  // Quiet when all is well; at info when it recovers from a logged failure.
  owner_.upstream_log(warned_ ? Level::info : Level::debug, "upstream connected (" + link.peer() + ")");
  was_open_ = true;
  warned_ = false;
  backoff_ = settings_.min_backoff;
  send(login_json_, "login");
  auto waiting = std::move(waiting_);
  waiting_.clear();
  for (const auto& [json, uri] : waiting) send(json, uri);
}

void UpstreamLink::ws_frame(WsLink&, std::string_view payload, bool binary) {
  std::string text;
  if (binary) {
    auto plain = decrypt_frame(payload);
    if (!plain) return owner_.upstream_bad_frame("upstream_bad_aes_frame", "binary frame not a multiple of 16 bytes");
    text = std::move(*plain);
  } else {
    text.assign(payload);
  }
  auto decoded = decode(text);
  if (!decoded.ok()) {
    owner_.upstream_trace(false, text, error_name(decoded.error));
    return owner_.upstream_bad_frame(std::string("upstream_") + std::string(error_name(decoded.error)), decoded.detail);
  }
  const std::string uri = message_uri(*decoded.message);
  const CloudVerdict verdict = cloud_verdict(uri, settings_.allow_upgrade);
  owner_.upstream_trace(false, text,
                        verdict == CloudVerdict::deliver          ? uri + " deliver"
                        : verdict == CloudVerdict::served_locally ? uri + " served-locally"
                                                                  : uri + " BLOCKED");
  if (verdict == CloudVerdict::deliver) owner_.upstream_deliver(text);
  else if (verdict == CloudVerdict::block) owner_.upstream_blocked(true, uri);
}

void UpstreamLink::ws_closed(WsLink&, CloseCause cause, std::string_view detail) {
  link_.reset();
  if (stopped_) return;
  std::string why(cause_name(cause));
  if (!detail.empty()) why += ": " + std::string(detail);
  if (cause == CloseCause::refused) {
    owner_.upstream_log(warned_ ? Level::debug : Level::error,
                        "upstream " + settings_.host + ":" + std::to_string(settings_.port) +
                            " refused: " + why);
  } else {
    owner_.upstream_log(warned_ ? Level::debug : Level::warn,
                        std::string(was_open_ ? "upstream connection lost" : "upstream connection failed") + " (" +
                            why + "); the device is served locally meanwhile");
  }
  warned_ = true;
  schedule_reconnect();
}

void UpstreamLink::schedule_reconnect() {
  retry_.expires_after(backoff_);
  backoff_ = std::min(backoff_ * 2, settings_.max_backoff);
  retry_.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
    if (ec) return;
    if (auto self = weak.lock()) self->connect();
  });
}

void UpstreamLink::from_device(std::string_view json, std::string_view uri) {
  if (!forwarded_to_cloud(uri)) {
    owner_.upstream_blocked(false, std::string(uri));
    return;
  }
  send(json, uri);
}

void UpstreamLink::send_state(Relay relay) {
  send(encode(StateReport{relay, Members::object()}), "/state");
}

void UpstreamLink::send(std::string_view json, std::string_view uri) {
  if (stopped_) return;
  if (!connected()) {
    if (uri == "login") return;  // sent first on every connection anyway
    if (waiting_.size() >= kMaxWaiting) waiting_.erase(waiting_.begin());
    waiting_.emplace_back(std::string(json), std::string(uri));
    return;
  }
  owner_.upstream_trace(true, json, uri);
  if (encrypted_) link_->send(encrypt_frame(json), true);
  else link_->send(std::string(json), false);
}

}  // namespace lc::vesync
