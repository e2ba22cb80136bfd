// localcloud-sim vesync: simulated Etekcity outlets (and a stand-in cloud for proxy tests)
// speaking the real websocket protocol (protocols/vesync.md) through the bridge's codec.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/streambuf.hpp>

#include "bridges/vesync/codec.h"
#include "bridges/vesync/crypto.h"
#include "bridges/vesync/ws_client.h"
#include "bridges/vesync/ws_server.h"
#include "core/duration.h"

namespace lc::vesync {

namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using std::chrono::milliseconds;
using Event = nlohmann::ordered_json;

const char* kHelp = R"(usage: localcloud-sim vesync [options]

Outlets (default): N simulated ESW01 outlets connect to the bridge, log in with the
firmware's exact upgrade request (Host server2.vesync.com:17273, deviceVersion:5), send
{"uri":"/ka","rssi":R} every --ka-period and a /report after each /kr, answer /relay and
/getRuntime with /runtimeInfo, and reconnect when dropped.
  --server HOST:PORT     the bridge (loopback only; default 127.0.0.1:17273)
  --count N              outlets (default 1)
  --id ID                an outlet id (repeat for several; default: --id-prefix + index)
  --id-prefix P          ids are P + 12 hex digits (default 443c878f-f675-4c90-98e8-)
  --encrypted            firmware 2.x: binary AES frames
  --path P               upgrade path (default /gnws)
  --relay open|break     initial relay (default open)
  --power HEX:HEX        /runtimeInfo power while on (default 9193:9185)
  --voltage HEX:HEX      /runtimeInfo voltage (default 79192:78323)
  --rssi N               dBm in /ka (default -45)
  --ka-period D          keepalive period (default 183s)
  --report-delay D       /report this long after a /kr (default 2s; 0 = none)
  --report-e HEX         energy of each /report in watt-seconds (default 324)
  --report-t HEX         seconds of each /report (default b7)
  --reconnect D          delay before reconnecting (default 3s)
  --rate N               load mode: connect at most N outlets per second (default: all at once)
  --stats D              print a stats event every D
  --duration D           exit after D
  --quiet                no per-message events (load mode)
Outlet commands on stdin (ID may be "all"):
  press ID               button press: toggle the relay and send /state
  ka ID | report ID      send a /ka or a /report now
  send ID JSON           send a raw JSON message
  power ID HEX:HEX HEX:HEX   set the power and voltage readings
  drop ID                drop the TCP connection (reconnects after --reconnect)
  pause ID | resume ID   drop and stay away / come back
  quit

Cloud (--upstream-cloud HOST:PORT): a stand-in VeSync cloud for proxy tests. Answers the
login with /loginReply and each /ka with /kr (in the device's framing), prints the rest.
Cloud commands on stdin:
  send ID JSON | relay ID open|break | getruntime ID | ka ID
  upgrade ID             send {"uri":"/upgrade",...} (a proxy should block it)
  quit

Events (one JSON object per line on stdout):
  {"event":"listening","address":"127.0.0.1:PORT"}                      (cloud)
  {"event":"connected","device":ID}   {"event":"disconnected","device":ID,"reason":...}
  {"event":"received","device":ID,"uri":"/relay","binary":false,"message":{...}}
  {"event":"relay","device":ID,"relay":"open"|"break","cause":"command"|"press"}
  {"event":"cloud_connected","path":...,"host":...,"device_version":...}
  {"event":"received","side":"cloud","device":ID,"uri":...,"binary":...,"message":{...}}
  {"event":"stats","connected":N,"logged_in":N,"sent":N,"received":N,"reconnects":N}
)";

class Output {
 public:
  bool quiet = false;
  void emit(const Event& event, bool always = false) {
    if (quiet && !always) return;
    std::string line = event.dump(-1, ' ', false, nlohmann::detail::error_handler_t::replace);
    line += '\n';
    std::fwrite(line.data(), 1, line.size(), stdout);
    std::fflush(stdout);
  }
};

struct Options {
  std::string server_host = "127.0.0.1";
  uint16_t server_port = 17273;
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
  std::optional<Endpoint> cloud_listen;
};

struct Stats {
  long connected = 0, logged_in = 0, sent = 0, received = 0, reconnects = 0;
};

Event message_json(std::string_view text) {
  Event parsed = Event::parse(text, nullptr, false);
  if (parsed.is_discarded()) return Event(std::string(text));
  return parsed;
}

// ---------------------------------------------------------------------------------------

class SimOutlet final : public WsEvents, public std::enable_shared_from_this<SimOutlet> {
 public:
  SimOutlet(asio::io_context& io, const Options& options, Output& out, Stats& stats, std::string id)
      : io_(io), options_(options), out_(out), stats_(stats), id_(std::move(id)), relay_(options.relay),
        power_(options.power), voltage_(options.voltage), ka_timer_(io), report_timer_(io), reconnect_timer_(io) {}

  const std::string& id() const { return id_; }

  void connect() {
    if (paused_) return;
    WsClientOptions client;
    client.host = options_.server_host;
    client.port = options_.server_port;
    client.path = options_.path;
    // The firmware's request, line for line (vector ws_upgrade_request).
    client.header_lines = {"Host: server2.vesync.com:17273", "Upgrade: websocket", "Connection: Upgrade",
                           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version: 13",
                           "deviceVersion:5"};
    link_ = ws_connect(io_, client, this);
  }

  void ws_open(WsLink&) override {
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

  void ws_frame(WsLink&, std::string_view payload, bool binary) override {
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
    out_.emit(Event{{"event", "received"},
                    {"device", id_},
                    {"uri", uri},
                    {"binary", binary},
                    {"message", message_json(text)}});
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

  void ws_closed(WsLink&, CloseCause cause, std::string_view detail) override {
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

  // stdin commands
  void press() {
    relay_ = relay_ == Relay::open ? Relay::break_ : Relay::open;
    out_.emit(Event{{"event", "relay"}, {"device", id_}, {"relay", relay_text(relay_)}, {"cause", "press"}});
    send(encode(StateReport{relay_, Members::object()}));
  }
  void keepalive() { send(encode(KeepAlive{options_.rssi, Members::object()})); }
  void report() {
    send(encode_pretty(Report{options_.report_e, options_.report_t, Members::object()}));
  }
  void send_raw(const std::string& json) { send(json); }
  void set_readings(std::string power, std::string voltage) {
    power_ = std::move(power);
    voltage_ = std::move(voltage);
  }
  void drop() {
    if (link_) link_->abort();
  }
  void pause() {
    paused_ = true;
    reconnect_timer_.cancel();
    drop();
  }
  void resume() {
    if (!paused_) return;
    paused_ = false;
    if (!link_) connect();
  }

 private:
  void send(const std::string& json) {
    if (!link_ || !link_->open()) return;
    ++stats_.sent;
    if (options_.encrypted) link_->send(encrypt_frame(json), true);
    else link_->send(json, false);
  }

  void send_runtime(const std::string& power, const std::string& voltage) {
    RuntimeInfo info;
    info.relay = relay_;
    info.meastate = "idle";
    info.power = power;
    info.voltage = voltage;
    info.current = "NaN";
    send(encode_pretty(info));
  }

  void schedule_ka() {
    ka_timer_.expires_after(options_.ka_period);
    ka_timer_.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
      if (ec) return;
      auto self = weak.lock();
      if (!self || !self->logged_in_) return;
      self->keepalive();
      self->schedule_ka();
    });
  }

  void schedule_report() {
    if (options_.report_delay.count() <= 0) return;
    report_timer_.expires_after(options_.report_delay);
    report_timer_.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
      if (ec) return;
      if (auto self = weak.lock()) self->report();
    });
  }

  asio::io_context& io_;
  const Options& options_;
  Output& out_;
  Stats& stats_;
  std::string id_;
  Relay relay_;
  std::string power_, voltage_;
  std::shared_ptr<WsLink> link_;
  asio::steady_timer ka_timer_, report_timer_, reconnect_timer_;
  bool logged_in_ = false;
  bool open_ = false;
  bool paused_ = false;
};

// ---------------------------------------------------------------------------------------

class SimCloud {
 public:
  SimCloud(asio::io_context& io, Output& out) : io_(io), out_(out) {}

  void start(const Endpoint& listen) {
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

  void command(const std::string& verb, const std::string& id, const std::string& rest) {
    for (auto& conn : conns_) {
      if (!conn->link || (id != "all" && conn->device != id)) continue;
      if (verb == "send") conn->send(rest);
      else if (verb == "relay") conn->send(encode(RelayCommand{conn->device, rest == "break" ? Relay::break_ : Relay::open, Members::object()}));
      else if (verb == "getruntime") conn->send(encode(GetRuntime{conn->device, Members::object()}));
      else if (verb == "ka") conn->send(R"({"uri":"/ka"})");
      else if (verb == "upgrade") conn->send(R"({"uri":"/upgrade","url":"http://127.0.0.1:9/","newVersion":"9.99"})");
    }
  }

 private:
  struct Conn final : WsEvents {
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

  asio::io_context& io_;
  Output& out_;
  std::unique_ptr<WsServer> server_;
  std::vector<std::unique_ptr<Conn>> conns_;
};

// ---------------------------------------------------------------------------------------

bool loopback_host(const std::string& host) {
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

std::optional<milliseconds> duration_arg(const std::string& text) { return parse_duration(text); }

int usage_error(const std::string& message) {
  std::fprintf(stderr, "localcloud-sim vesync: %s (--help for usage)\n", message.c_str());
  return 2;
}

}  // namespace

int run_simulator(int argc, char** argv) {
  Options options;
  bool quiet = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::optional<std::string> {
      if (i + 1 >= argc) return std::nullopt;
      return std::string(argv[++i]);
    };
    auto duration = [&](milliseconds& out) {
      auto text = value();
      auto parsed = text ? duration_arg(*text) : std::nullopt;
      if (!parsed) return false;
      out = *parsed;
      return true;
    };
    if (arg == "--help" || arg == "-h") {
      std::fputs(kHelp, stdout);
      return 0;
    } else if (arg == "--server" || arg == "--upstream-cloud") {
      auto text = value();
      auto endpoint = text ? parse_endpoint(*text) : std::nullopt;
      if (!endpoint && text && arg == "--upstream-cloud") {
        // Port 0 (any free port) is fine for the cloud.
        auto colon = text->rfind(':');
        if (colon != std::string::npos && text->substr(colon + 1) == "0")
          endpoint = Endpoint{text->substr(0, colon), 0};
      }
      if (!endpoint) return usage_error(arg + " takes HOST:PORT");
      if (!loopback_host(endpoint->host)) return usage_error("only loopback addresses are allowed");
      if (arg == "--server") {
        options.server_host = endpoint->host;
        options.server_port = endpoint->port;
      } else {
        options.cloud_listen = endpoint;
      }
    } else if (arg == "--count") {
      auto text = value();
      options.count = text ? std::atoi(text->c_str()) : 0;
      if (options.count < 1 || options.count > 100000) return usage_error("--count takes 1..100000");
    } else if (arg == "--id") {
      auto text = value();
      if (!text || !normalise_id(*text)) return usage_error("--id takes 1..64 of [A-Za-z0-9-]");
      options.ids.push_back(*text);
    } else if (arg == "--id-prefix") {
      auto text = value();
      if (!text) return usage_error("--id-prefix takes a value");
      options.id_prefix = *text;
    } else if (arg == "--encrypted") {
      options.encrypted = true;
    } else if (arg == "--path") {
      auto text = value();
      if (!text || text->empty() || (*text)[0] != '/') return usage_error("--path takes /PATH");
      options.path = *text;
    } else if (arg == "--relay") {
      auto text = value();
      auto relay = text ? parse_relay(*text) : std::nullopt;
      if (!relay) return usage_error("--relay takes open or break");
      options.relay = *relay;
    } else if (arg == "--power" || arg == "--voltage") {
      auto text = value();
      if (!text) return usage_error(arg + " takes HEX:HEX");
      (arg == "--power" ? options.power : options.voltage) = *text;
    } else if (arg == "--rssi") {
      auto text = value();
      options.rssi = text ? std::atoi(text->c_str()) : 0;
    } else if (arg == "--ka-period") {
      if (!duration(options.ka_period) || options.ka_period.count() <= 0) return usage_error("--ka-period takes a duration");
    } else if (arg == "--report-delay") {
      if (!duration(options.report_delay)) return usage_error("--report-delay takes a duration");
    } else if (arg == "--report-e" || arg == "--report-t") {
      auto text = value();
      auto hex = text ? parse_hex(*text) : std::nullopt;
      if (!hex) return usage_error(arg + " takes hex digits");
      (arg == "--report-e" ? options.report_e : options.report_t) = *hex;
    } else if (arg == "--reconnect") {
      if (!duration(options.reconnect)) return usage_error("--reconnect takes a duration");
    } else if (arg == "--rate") {
      auto text = value();
      options.rate = text ? std::atof(text->c_str()) : 0;
    } else if (arg == "--stats") {
      if (!duration(options.stats)) return usage_error("--stats takes a duration");
    } else if (arg == "--duration") {
      if (!duration(options.duration)) return usage_error("--duration takes a duration");
    } else if (arg == "--quiet") {
      quiet = true;
    } else {
      return usage_error("unknown option " + arg);
    }
  }

  asio::io_context io;
  Output out;
  out.quiet = quiet;
  Stats stats;
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](boost::system::error_code, int) { io.stop(); });

  std::unique_ptr<SimCloud> cloud;
  std::vector<std::shared_ptr<SimOutlet>> outlets;
  asio::steady_timer starter(io);
  try {
    if (options.cloud_listen) {
      cloud = std::make_unique<SimCloud>(io, out);
      cloud->start(*options.cloud_listen);
    } else {
      if (options.ids.empty()) {
        for (int n = 0; n < options.count; ++n) {
          char suffix[16];
          std::snprintf(suffix, sizeof suffix, "%012x", n);
          options.ids.push_back(options.id_prefix + suffix);
        }
      }
      for (const auto& id : options.ids)
        outlets.push_back(std::make_shared<SimOutlet>(io, options, out, stats, id));
    }
  } catch (const std::exception& error) {
    std::fprintf(stderr, "localcloud-sim vesync: %s\n", error.what());
    return 1;
  }

  // Outlets start all at once, or --rate per second.
  size_t next = 0;
  std::function<void()> start_more = [&] {
    const size_t batch = options.rate > 0 ? std::max<size_t>(1, size_t(options.rate / 10)) : outlets.size();
    for (size_t n = 0; n < batch && next < outlets.size(); ++n) outlets[next++]->connect();
    if (next < outlets.size()) {
      starter.expires_after(100ms);
      starter.async_wait([&](boost::system::error_code ec) {
        if (!ec) start_more();
      });
    }
  };
  if (!outlets.empty()) start_more();

  asio::steady_timer stats_timer(io);
  std::function<void()> print_stats = [&] {
    stats_timer.expires_after(options.stats);
    stats_timer.async_wait([&](boost::system::error_code ec) {
      if (ec) return;
      out.emit(Event{{"event", "stats"},
                     {"connected", stats.connected},
                     {"logged_in", stats.logged_in},
                     {"sent", stats.sent},
                     {"received", stats.received},
                     {"reconnects", stats.reconnects}},
               true);
      print_stats();
    });
  };
  if (options.stats.count() > 0) print_stats();

  asio::steady_timer end_timer(io);
  if (options.duration.count() > 0) {
    end_timer.expires_after(options.duration);
    end_timer.async_wait([&](boost::system::error_code ec) {
      if (!ec) io.stop();
    });
  }

  // stdin commands
  asio::posix::stream_descriptor input(io, ::dup(STDIN_FILENO));
  asio::streambuf input_buffer(64 * 1024);
  std::function<void()> read_line = [&] {
    asio::async_read_until(input, input_buffer, '\n', [&](boost::system::error_code ec, size_t n) {
      if (ec) return;  // stdin closed: keep running until a signal or --duration
      std::string line(asio::buffers_begin(input_buffer.data()), asio::buffers_begin(input_buffer.data()) + n);
      input_buffer.consume(n);
      while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
      auto space = line.find(' ');
      const std::string verb = line.substr(0, space);
      std::string rest = space == std::string::npos ? "" : line.substr(space + 1);
      auto space2 = rest.find(' ');
      const std::string id = rest.substr(0, space2);
      const std::string tail = space2 == std::string::npos ? "" : rest.substr(space2 + 1);
      if (verb == "quit") {
        io.stop();
        return;
      }
      if (cloud) {
        cloud->command(verb, id, tail);
      } else {
        for (auto& outlet : outlets) {
          if (id != "all" && outlet->id() != id) continue;
          if (verb == "press") outlet->press();
          else if (verb == "ka") outlet->keepalive();
          else if (verb == "report") outlet->report();
          else if (verb == "send") outlet->send_raw(tail);
          else if (verb == "drop") outlet->drop();
          else if (verb == "pause") outlet->pause();
          else if (verb == "resume") outlet->resume();
          else if (verb == "power") {
            auto split = tail.find(' ');
            if (split != std::string::npos) outlet->set_readings(tail.substr(0, split), tail.substr(split + 1));
          }
        }
      }
      read_line();
    });
  };
  read_line();

  io.run();
  std::fflush(stdout);
  return 0;
}

}  // namespace lc::vesync
