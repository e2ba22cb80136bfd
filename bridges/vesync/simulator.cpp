// localcloud-sim vesync: the command line, stdin commands and the run loop (core/sim_harness.h)
// around the simulated outlets and the stand-in cloud of simulator.h.
#include <cstdio>
#include <functional>

#include "bridges/vesync/simulator.h"
#include "core/hex.h"
#include "core/sim_harness.h"

namespace lc::vesync {

namespace {

using namespace simulator;
namespace asio = boost::asio;

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

// --upstream-cloud takes port 0 too (any free port).
Endpoint cloud_endpoint(const std::string& text) {
  auto endpoint = parse_endpoint(text);
  const auto colon = text.rfind(':');
  if (!endpoint && colon != std::string::npos && text.substr(colon + 1) == "0")
    endpoint = Endpoint{text.substr(0, colon), 0};
  if (!endpoint) throw sim::UsageError("--upstream-cloud takes HOST:PORT, not '" + text + "'");
  const auto& host = endpoint->host;
  if (host != "localhost" && host != "::1" && host.rfind("127.", 0) != 0)
    throw sim::UsageError("--upstream-cloud: only loopback addresses are allowed");
  return *endpoint;
}

// False for --help.
bool parse_options(int argc, char** argv, Options& options) {
  sim::Arguments args(argc, argv);
  std::string option;
  while (args.next(option)) {
    if (option == "--help" || option == "-h") return false;
    if (option == "--server") {
      options.server = args.endpoint(/*loopback_only=*/true);
    } else if (option == "--upstream-cloud") {
      options.cloud_listen = cloud_endpoint(args.text());
    } else if (option == "--count") {
      options.count = int(args.integer(1, 100000));
    } else if (option == "--id") {
      auto id = args.text();
      if (!normalise_id(id)) throw sim::UsageError("--id takes 1..64 of [A-Za-z0-9-]");
      options.ids.push_back(std::move(id));
    } else if (option == "--id-prefix") {
      options.id_prefix = args.text();
    } else if (option == "--encrypted") {
      options.encrypted = true;
    } else if (option == "--path") {
      options.path = args.text();
      if (options.path.empty() || options.path[0] != '/') throw sim::UsageError("--path takes /PATH");
    } else if (option == "--relay") {
      auto relay = parse_relay(args.text());
      if (!relay) throw sim::UsageError("--relay takes open or break");
      options.relay = *relay;
    } else if (option == "--power") {
      options.power = args.text();
    } else if (option == "--voltage") {
      options.voltage = args.text();
    } else if (option == "--rssi") {
      options.rssi = int(args.integer(-128, 127));
    } else if (option == "--ka-period") {
      options.ka_period = args.duration();
      if (options.ka_period.count() <= 0) throw sim::UsageError("--ka-period takes a duration above 0");
    } else if (option == "--report-delay") {
      options.report_delay = args.duration();
    } else if (option == "--report-e" || option == "--report-t") {
      auto value = number_from_hex(args.text());
      if (!value) throw sim::UsageError(option + " takes hex digits");
      (option == "--report-e" ? options.report_e : options.report_t) = *value;
    } else if (option == "--reconnect") {
      options.reconnect = args.duration();
    } else if (option == "--rate") {
      options.rate = args.number(0, 1e6);
    } else if (option == "--stats") {
      options.stats = args.duration();
    } else if (option == "--duration") {
      options.duration = args.duration();
    } else if (option == "--quiet") {
      options.quiet = true;
    } else {
      throw sim::UsageError("unknown option " + option);
    }
  }
  return true;
}

// Outlet commands on stdin: "VERB ID [REST]", ID may be "all".
void outlet_command(std::vector<std::shared_ptr<SimOutlet>>& outlets, const std::string& verb, const std::string& id,
                    const std::string& rest) {
  for (auto& outlet : outlets) {
    if (id != "all" && outlet->id() != id) continue;
    if (verb == "press") outlet->press();
    else if (verb == "ka") outlet->keepalive();
    else if (verb == "report") outlet->report();
    else if (verb == "send") outlet->send_raw(rest);
    else if (verb == "drop") outlet->drop();
    else if (verb == "pause") outlet->pause();
    else if (verb == "resume") outlet->resume();
    else if (verb == "power") {
      const auto split = rest.find(' ');
      if (split != std::string::npos) outlet->set_readings(rest.substr(0, split), rest.substr(split + 1));
    }
  }
}

int run(Options& options) {
  asio::io_context io;
  Output out{options.quiet};
  Stats stats;
  std::unique_ptr<SimCloud> cloud;
  std::vector<std::shared_ptr<SimOutlet>> outlets;
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
    for (const auto& id : options.ids) outlets.push_back(std::make_shared<SimOutlet>(io, options, out, stats, id));
  }

  // Outlets start all at once, or --rate per second.
  asio::steady_timer starter(io);
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

  sim::CommandReader commands(io, [&](std::string_view line) {
    const std::string text(line);
    const auto space = text.find(' ');
    const std::string verb = text.substr(0, space);
    const std::string rest = space == std::string::npos ? "" : text.substr(space + 1);
    const auto space2 = rest.find(' ');
    const std::string id = rest.substr(0, space2);
    const std::string tail = space2 == std::string::npos ? "" : rest.substr(space2 + 1);
    if (verb == "quit") return io.stop();
    if (cloud) cloud->command(verb, id, tail);
    else outlet_command(outlets, verb, id, tail);
  });
  sim::run(io, options.duration.count() > 0 ? std::optional(options.duration) : std::nullopt);
  std::fflush(stdout);
  return 0;
}

}  // namespace

namespace simulator {

void Output::emit(const Event& event, bool always) const {
  if (quiet && !always) return;
  const std::string line = event.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fflush(stdout);
}

Event message_json(std::string_view text) {
  Event parsed = Event::parse(text, nullptr, false);
  if (parsed.is_discarded()) return Event(std::string(text));
  return parsed;
}

}  // namespace simulator

int run_simulator(int argc, char** argv) {
  return sim::main_guard("localcloud-sim vesync", [&] {
    Options options;
    if (!parse_options(argc, argv, options)) {
      std::fputs(kHelp, stdout);
      return 0;
    }
    return run(options);
  });
}

}  // namespace lc::vesync
