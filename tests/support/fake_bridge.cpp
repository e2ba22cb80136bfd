// A test-only vendor bridge for the foundation's integration tests, so the Hub, MQTT and
// discovery can be tested without any vendor protocol. It speaks JSON datagrams on the UDP
// endpoint named by $LOCALCLOUD_FAKE_BRIDGE (e.g. 127.0.0.1:40000); the test is the "device":
//   {"op":"register","id":"dev1","name":"","configured":true}  -> Hub::device_seen
//   {"op":"state","id":"dev1","property":"power","value":"ON"}  -> heard + state_changed
//   {"op":"attributes","id":"dev1","value":{...}}               -> attributes_changed
//   {"op":"heard","id":"dev1"} / {"op":"lost","id":"dev1"}
//   {"op":"ack","id":"dev1","error":""}                         -> completes the pending command
//   {"op":"cloud","id":"dev1","received":"ping","answered":"pong"} -> heard + cloud_exchange
//   {"op":"event","id":"dev1","type":"device_error","detail":{...}} -> event
// A command from the Hub is sent to the latest sender as
//   {"op":"command","id":"dev1","property":"power","value":"OFF"}; a read as {"op":"read",...};
//   a device the Hub admitted after its register was answered "admitted": false as
//   {"op":"admitted","id":"u2"}.
// Policy from the environment: LOCALCLOUD_FAKE_OFFLINE_AFTER_MS (3000), LOCALCLOUD_FAKE_MAX_UNKNOWN (3),
// LOCALCLOUD_FAKE_ACCEPT_UNKNOWN (true; "false" refuses unknown devices outside permit_join).
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdlib>
#include <map>

#include "bridges/bridge.h"
#include "core/net.h"

namespace lc::fake {

namespace asio = boost::asio;
using udp = asio::ip::udp;

namespace {

std::vector<Property> fake_properties() {
  Property power{.key = "power", .component = Component::switch_, .writable = true, .main = true,
                 .device_class = "outlet"};
  Property load{.key = "load_power", .component = Component::sensor, .device_class = "power", .unit = "W",
                .state_class = "measurement"};
  Property mode{.key = "mode", .component = Component::select, .writable = true, .options = {"green", "normal"}};
  Property rssi{.key = "rssi", .component = Component::sensor, .diagnostic = true, .device_class = "signal_strength",
                .unit = "dBm", .state_class = "measurement"};
  return {power, load, mode, rssi};
}

class FakeBridge final : public Bridge {
 public:
  explicit FakeBridge(BridgeContext& context) : context_(context), socket_(context.io) {}

  std::string_view name() const override { return "fake"; }
  BridgePolicy policy() const override {
    BridgePolicy policy;
    const char* offline = std::getenv("LOCALCLOUD_FAKE_OFFLINE_AFTER_MS");
    policy.offline_after = std::chrono::milliseconds(offline ? std::atoi(offline) : 3000);
    const char* max_unknown = std::getenv("LOCALCLOUD_FAKE_MAX_UNKNOWN");
    policy.max_unknown = max_unknown ? std::atoi(max_unknown) : 3;
    const char* accept_unknown = std::getenv("LOCALCLOUD_FAKE_ACCEPT_UNKNOWN");
    policy.accept_unknown = !accept_unknown || std::string_view(accept_unknown) != "false";
    return policy;
  }

  void start() override {
    const auto endpoint = parse_endpoint(std::getenv("LOCALCLOUD_FAKE_BRIDGE"));
    if (!endpoint) throw std::runtime_error("fake: LOCALCLOUD_FAKE_BRIDGE is not HOST:PORT");
    const udp::endpoint local(asio::ip::make_address(endpoint->host), endpoint->port);
    socket_.open(local.protocol());
    socket_.bind(local);
    address_ = to_string(socket_.local_endpoint());
    receive();
  }
  void stop() override {
    boost::system::error_code ignored;
    socket_.close(ignored);
  }
  std::vector<Listener> listeners() const override { return {{"udp", address_}}; }

  void command(std::string_view id, std::string_view property, const Json& value, CommandDone done) override {
    send({{"op", "command"}, {"id", id}, {"property", property}, {"value", value}});
    pending_[std::string(id)] = std::move(done);
  }
  void read(std::string_view id) override { send({{"op", "read"}, {"id", id}}); }
  void admitted(std::string_view id) override { send({{"op", "admitted"}, {"id", id}}); }
  void forget(std::string_view id) override {
    pending_.erase(std::string(id));
    send({{"op", "forgotten"}, {"id", id}});
  }
  void retained_state(std::string_view id, const Json& state) override {
    send({{"op", "retained"}, {"id", id}, {"state", state}});
  }

 private:
  void receive() {
    socket_.async_receive_from(asio::buffer(buffer_), sender_, [this](boost::system::error_code ec, size_t size) {
      if (ec == asio::error::operation_aborted) return;
      if (!ec) handle(std::string(buffer_.data(), size));
      receive();
    });
  }

  void handle(const std::string& datagram) {
    peer_ = sender_;
    const Json message = Json::parse(datagram, nullptr, false);
    if (!message.is_object() || !message.contains("id") || !message["id"].is_string()) return;
    const std::string id = message["id"];
    const std::string op = message.value("op", "");
    Hub& hub = context_.hub;
    if (op == "register") {
      DeviceInfo info{.id = id, .name = message.value("name", ""), .configured = message.value("configured", true),
                      .manufacturer = "Localcloud test", .model = message.value("model", "fake.plug"),
                      .firmware = "1.0", .properties = fake_properties()};
      const bool admitted = hub.device_seen(info);
      send({{"op", "registered"}, {"id", id}, {"admitted", admitted}});
    } else if (op == "state") {
      hub.heard(id);
      hub.state_changed(id, message.value("property", ""), message.value("value", Json()));
    } else if (op == "attributes") {
      hub.attributes_changed(id, message.value("value", Json::object()));
    } else if (op == "heard") {
      hub.heard(id);
    } else if (op == "cloud") {
      hub.heard(id);
      hub.cloud_exchange(id, message.value("received", ""), message.value("answered", ""));
    } else if (op == "lost") {
      hub.device_lost(id);
    } else if (op == "event") {
      hub.event(message.value("type", "device_error"), id, message.value("detail", Json::object()));
    } else if (op == "ack") {
      if (auto it = pending_.find(id); it != pending_.end()) {
        auto done = std::move(it->second);
        pending_.erase(it);
        done(message.value("error", ""));
      }
    }
  }

  void send(const Json& message) {
    if (peer_.port() == 0) return;
    auto payload = std::make_shared<std::string>(message.dump());
    socket_.async_send_to(asio::buffer(*payload), peer_, [payload](boost::system::error_code, size_t) {});
  }

  BridgeContext& context_;
  udp::socket socket_;
  udp::endpoint sender_, peer_;
  std::array<char, 4096> buffer_{};
  std::string address_;
  std::map<std::string, CommandDone> pending_;
};

}  // namespace

std::unique_ptr<Bridge> create_bridge(BridgeContext& context) { return std::make_unique<FakeBridge>(context); }

}  // namespace lc::fake
