// A stand-in VeSync cloud for proxy tests: answers the login with /loginReply and each /ka with
// /kr (in the device's framing), prints everything it gets, and sends what stdin asks for.
#include "bridges/vesync/crypto.h"
#include "bridges/vesync/simulator.h"

namespace lc::vesync::simulator {

struct SimCloud::Conn final : WsEvents {
  Conn(SimCloud& cloud, std::shared_ptr<WsLink> link) : cloud(cloud), link(std::move(link)) {}
  SimCloud& cloud;
  std::shared_ptr<WsLink> link;
  std::string device;
  bool encrypted = false, first = true;

  void send(const std::string& json) {
    if (!link) return;
    if (encrypted) link->send(encrypt_frame(json), true);
    else link->send(json, false);
  }

  void ws_frame(WsLink&, std::string_view payload, bool binary) override {
    if (first) encrypted = binary;
    first = false;
    std::string text;
    if (binary) {
      auto plain = decrypt_frame(payload);
      if (!plain) return;
      text = std::move(*plain);
    } else {
      text.assign(payload);
    }
    auto decoded = decode(text);
    const std::string uri = decoded.ok() ? message_uri(*decoded.message) : "?";
    if (decoded.ok()) {
      if (const auto* login = std::get_if<Login>(&*decoded.message)) device = login->id;
    }
    cloud.out_.emit(Event{{"event", "received"},
                          {"side", "cloud"},
                          {"device", device},
                          {"uri", uri},
                          {"binary", binary},
                          {"message", message_json(text)}});
    const auto now = utc_time_fields(std::chrono::system_clock::now());
    if (uri == "login") send(encode_login_reply(now));
    else if (uri == "/ka") send(encode_keepalive_reply(now));
  }

  void ws_closed(WsLink&, CloseCause cause, std::string_view) override {
    cloud.out_.emit(Event{{"event", "cloud_closed"}, {"device", device}, {"reason", cause_name(cause)}});
    link.reset();
  }
};

SimCloud::SimCloud(boost::asio::io_context& io, Output& out) : io_(io), out_(out) {}

SimCloud::~SimCloud() = default;

void SimCloud::start(const Endpoint& listen) {
  WsServerOptions options;
  options.listen = listen;
  WsServer::Callbacks callbacks;
  callbacks.upgraded = [this](std::shared_ptr<WsLink> link, const http::Request& request) {
    auto conn = std::make_unique<Conn>(*this, link);
    Event event{{"event", "cloud_connected"}, {"peer", link->peer()}, {"path", std::string(request.path())}};
    const auto* host = request.header("Host");
    const auto* version = request.header("deviceVersion");
    event["host"] = host ? *host : "";
    event["device_version"] = version ? *version : "";
    out_.emit(event);
    link->set_events(conn.get());
    conns_.push_back(std::move(conn));
  };
  callbacks.rejected = [this](std::string_view reason, const std::string& peer, std::string_view) {
    out_.emit(Event{{"event", "cloud_rejected"}, {"peer", peer}, {"reason", reason}});
  };
  server_ = std::make_unique<WsServer>(io_, options, std::move(callbacks));
  server_->start();
  out_.emit(Event{{"event", "listening"}, {"address", server_->local_endpoint().text()}}, true);
}

void SimCloud::command(const std::string& verb, const std::string& id, const std::string& rest) {
  for (auto& conn : conns_) {
    if (!conn->link || (id != "all" && conn->device != id)) continue;
    if (verb == "send") conn->send(rest);
    else if (verb == "relay")
      conn->send(encode(RelayCommand{conn->device, rest == "break" ? Relay::break_ : Relay::open, Members::object()}));
    else if (verb == "getruntime") conn->send(encode(GetRuntime{conn->device, Members::object()}));
    else if (verb == "ka") conn->send(R"({"uri":"/ka"})");
    else if (verb == "upgrade") conn->send(R"({"uri":"/upgrade","url":"http://127.0.0.1:9/","newVersion":"9.99"})");
  }
}

}  // namespace lc::vesync::simulator
