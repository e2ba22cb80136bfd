// localcloud-sim vesync: simulated Etekcity outlets (sim_outlet.cpp) and a stand-in VeSync
// cloud for proxy tests (sim_cloud.cpp), speaking the real websocket protocol
// (docs/protocols/vesync.md) through the bridge's codec; simulator.cpp reads the command line
// and stdin (core/sim_harness.h). Shared by the three files only.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <nlohmann/json.hpp>

#include "bridges/vesync/codec.h"
#include "bridges/vesync/transport.h"
#include "bridges/vesync/ws_server.h"
#include "core/net.h"

namespace lc::vesync::simulator {

using namespace std::chrono_literals;
using std::chrono::milliseconds;
// Ordered: events and the messages in them keep their members in the order written or received.
using Event = nlohmann::ordered_json;

struct Options {
  Endpoint server{"127.0.0.1", 17273};
  int count = 1;
  std::vector<std::string> ids;
  std::string id_prefix = "443c878f-f675-4c90-98e8-";
  bool encrypted = false;
  std::string path = "/gnws";
  Relay relay = Relay::open;
  std::string power = "9193:9185";
  std::string voltage = "79192:78323";
  int rssi = -45;
  milliseconds ka_period = 183s;
  milliseconds report_delay = 2s;
  uint64_t report_e = 0x324;
  uint64_t report_t = 0xb7;
  milliseconds reconnect = 3s;
  double rate = 0;
  milliseconds stats{0};
  milliseconds duration{0};
  bool quiet = false;
  std::optional<Endpoint> cloud_listen;
};

struct Stats {
  long connected = 0, logged_in = 0, sent = 0, received = 0, reconnects = 0;
};

// The events on stdout, one JSON object a line as core/sim_harness.h's sim::emit writes them
// (but member order kept); with --quiet only those marked `always`.
struct Output {
  bool quiet = false;
  void emit(const Event& event, bool always = false) const;
};

// A frame's JSON as an event member, or its text when it is not JSON.
Event message_json(std::string_view text);

class SimOutlet final : public WsEvents, public std::enable_shared_from_this<SimOutlet> {
 public:
  SimOutlet(boost::asio::io_context& io, const Options& options, Output& out, Stats& stats, std::string id);

  const std::string& id() const { return id_; }
  void connect();

  // WsEvents
  void ws_open(WsLink& link) override;
  void ws_frame(WsLink& link, std::string_view payload, bool binary) override;
  void ws_closed(WsLink& link, CloseCause cause, std::string_view detail) override;

  // stdin commands
  void press();  // the button: toggle the relay and send /state
  void keepalive();
  void report();
  void send_raw(const std::string& json) { send(json); }
  void set_readings(std::string power, std::string voltage);
  void drop();  // the TCP connection (reconnects after --reconnect)
  void pause();
  void resume();

 private:
  void send(const std::string& json);
  void send_runtime(const std::string& power, const std::string& voltage);
  void schedule_ka();
  void schedule_report();

  boost::asio::io_context& io_;
  const Options& options_;
  Output& out_;
  Stats& stats_;
  std::string id_;
  Relay relay_;
  std::string power_, voltage_;
  std::shared_ptr<WsLink> link_;
  boost::asio::steady_timer ka_timer_, report_timer_, reconnect_timer_;
  bool logged_in_ = false;
  bool open_ = false;
  bool paused_ = false;
};

class SimCloud {
 public:
  SimCloud(boost::asio::io_context& io, Output& out);
  ~SimCloud();
  void start(const Endpoint& listen);
  // A stdin command for the connection of device `id` (or "all").
  void command(const std::string& verb, const std::string& id, const std::string& rest);

 private:
  struct Conn;
  boost::asio::io_context& io_;
  Output& out_;
  std::unique_ptr<WsServer> server_;
  std::vector<std::unique_ptr<Conn>> conns_;
};

}  // namespace lc::vesync::simulator
