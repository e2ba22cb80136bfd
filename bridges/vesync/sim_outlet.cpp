// A simulated ESW01 outlet: logs in with the firmware's exact upgrade request, answers what the
// cloud asks, sends its keepalive and energy report, and reconnects when dropped.
#include "bridges/vesync/crypto.h"
#include "bridges/vesync/simulator.h"
#include "bridges/vesync/ws_client.h"

namespace lc::vesync::simulator {

SimOutlet::SimOutlet(boost::asio::io_context& io, const Options& options, Output& out, Stats& stats, std::string id)
    : io_(io),
      options_(options),
      out_(out),
      stats_(stats),
      id_(std::move(id)),
      relay_(options.relay),
      power_(options.power),
      voltage_(options.voltage),
      ka_timer_(io),
      report_timer_(io),
      reconnect_timer_(io) {}

void SimOutlet::connect() {
  if (paused_) return;
  WsClientOptions client;
  client.host = options_.server.host;
  client.port = options_.server.port;
  client.path = options_.path;
  // The firmware's request, line for line (vector ws_upgrade_request).
  client.header_lines = {"Host: server2.vesync.com:17273", "Upgrade: websocket", "Connection: Upgrade",
                         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version: 13",
                         "deviceVersion:5"};
  link_ = ws_connect(io_, client, this);
}

void SimOutlet::ws_open(WsLink&) {
  ++stats_.connected;
  open_ = true;
  out_.emit(Event{{"event", "connected"}, {"device", id_}});
  Login login;
  login.account = "1234567";
  login.id = id_;
  login.device_name = "vesync_wifi_outlet";
  login.device_version = "1.5";
  login.device_version_code = 5;
  login.type = "wifi-switch";
  login.apptype = "switch-measure";
  login.firm_name = "cosytek_firm_a";
  login.firm_version = options_.encrypted ? "2.123" : "1.89";
  login.firm_version_code = options_.encrypted ? 123 : 89;
  login.key = 0;
  login.relay = relay_;
  send(encode_pretty(login));
}

void SimOutlet::ws_frame(WsLink&, std::string_view payload, bool binary) {
  ++stats_.received;
  std::string text;
  if (binary) {
    auto plain = decrypt_frame(payload);
    if (!plain) return out_.emit(Event{{"event", "bad_frame"}, {"device", id_}, {"size", payload.size()}});
    text = std::move(*plain);
  } else {
    text.assign(payload);
  }
  auto decoded = decode(text);
  const std::string uri = decoded.ok() ? message_uri(*decoded.message) : "?";
  out_.emit(Event{{"event", "received"}, {"device", id_}, {"uri", uri}, {"binary", binary}, {"message", message_json(text)}});
  if (!decoded.ok()) return;
  const Message& message = *decoded.message;
  if (std::holds_alternative<LoginReply>(message)) {
    if (!logged_in_) ++stats_.logged_in;
    logged_in_ = true;
    schedule_ka();
  } else if (std::holds_alternative<KeepAliveReply>(message)) {
    schedule_report();
  } else if (std::holds_alternative<KeepAlive>(message)) {
    send(R"({"uri":"/kr"})");
    schedule_report();
  } else if (const auto* relay = std::get_if<RelayCommand>(&message)) {
    relay_ = relay->action;
    out_.emit(Event{{"event", "relay"}, {"device", id_}, {"relay", relay_text(relay_)}, {"cause", "command"}});
    // The acknowledgement carries zero figures (vectors runtimeInfo_after_open/_break).
    send_runtime("0:0", "0:0");
  } else if (std::holds_alternative<GetRuntime>(message)) {
    send_runtime(relay_ == Relay::open ? power_ : "0:0", voltage_);
  } else if (std::holds_alternative<SetCtlFlags>(message)) {
    send(text);
  } else if (std::holds_alternative<Timer>(message)) {
    send(R"({"uri":"/timer","error":0})");
  }
}

void SimOutlet::ws_closed(WsLink&, CloseCause cause, std::string_view detail) {
  link_.reset();
  if (logged_in_) --stats_.logged_in;
  if (open_) --stats_.connected;
  open_ = false;
  logged_in_ = false;
  ka_timer_.cancel();
  report_timer_.cancel();
  out_.emit(Event{{"event", "disconnected"},
                  {"device", id_},
                  {"reason", std::string(cause_name(cause)) + (detail.empty() ? "" : ": " + std::string(detail))}});
  if (paused_) return;
  ++stats_.reconnects;
  reconnect_timer_.expires_after(options_.reconnect);
  reconnect_timer_.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
    if (ec) return;
    if (auto self = weak.lock()) self->connect();
  });
}

void SimOutlet::press() {
  relay_ = relay_ == Relay::open ? Relay::break_ : Relay::open;
  out_.emit(Event{{"event", "relay"}, {"device", id_}, {"relay", relay_text(relay_)}, {"cause", "press"}});
  send(encode(StateReport{relay_, Members::object()}));
}

void SimOutlet::keepalive() { send(encode(KeepAlive{options_.rssi, Members::object()})); }

void SimOutlet::report() { send(encode_pretty(Report{options_.report_e, options_.report_t, Members::object()})); }

void SimOutlet::set_readings(std::string power, std::string voltage) {
  power_ = std::move(power);
  voltage_ = std::move(voltage);
}

void SimOutlet::drop() {
  if (link_) link_->abort();
}

void SimOutlet::pause() {
  paused_ = true;
  reconnect_timer_.cancel();
  drop();
}

void SimOutlet::resume() {
  if (!paused_) return;
  paused_ = false;
  if (!link_) connect();
}

void SimOutlet::send(const std::string& json) {
  if (!link_ || !link_->open()) return;
  ++stats_.sent;
  if (options_.encrypted) link_->send(encrypt_frame(json), true);
  else link_->send(json, false);
}

void SimOutlet::send_runtime(const std::string& power, const std::string& voltage) {
  RuntimeInfo info;
  info.relay = relay_;
  info.meastate = "idle";
  info.power = power;
  info.voltage = voltage;
  info.current = "NaN";
  send(encode_pretty(info));
}

void SimOutlet::schedule_ka() {
  ka_timer_.expires_after(options_.ka_period);
  ka_timer_.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
    if (ec) return;
    auto self = weak.lock();
    if (!self || !self->logged_in_) return;
    self->keepalive();
    self->schedule_ka();
  });
}

void SimOutlet::schedule_report() {
  if (options_.report_delay.count() <= 0) return;
  report_timer_.expires_after(options_.report_delay);
  report_timer_.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
    if (ec) return;
    if (auto self = weak.lock()) self->report();
  });
}

}  // namespace lc::vesync::simulator
