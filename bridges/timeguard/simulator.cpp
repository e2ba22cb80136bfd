// localcloud-sim timeguard: simulated Timeguard time switches (sim_device_mode.cpp) and, with
// --cloud, a stand-in for the upstream cloud (sim_cloud_mode.cpp). This file reads the command
// line (core/sim_harness.h) and holds what both modes share (simulator.h).
#include "bridges/timeguard/simulator.h"

#include <cstdio>
#include <sstream>

#include "core/hex.h"
#include "core/net.h"
#include "core/sim_harness.h"
#include "bridges/vendors.h"

namespace lc::timeguard {

namespace simulator {

namespace {

using Clock = std::chrono::steady_clock;
const Clock::time_point g_started = Clock::now();

const char* kHelp = R"(usage: localcloud-sim timeguard [options]

Simulated Timeguard NTTWIFI/FSTWIFI time switches (UDP, docs/protocols/timeguard.md).

Device mode (default):
  --server HOST:PORT     where the devices send (default 127.0.0.1:9997)
  --devices N            number of devices (default 1), each with its own socket
  --id HEX               first device id, 8 hex digits (default 12345678); the others count up
  --ping-interval DUR    e.g. 500ms, 2s (default 30s)
  --code-version TEXT    13 characters (default 4191717051001, an NTTWIFI)
  --no-version-report    do not send the code-version report at start
  --load on|off          a load is connected (default on)
  --timezone NAME        the devices' local time for schedules and boost (default Europe/London)
  --strict               when 3 pings in a row go unanswered: stop applying the schedule
                         (relay off) and keep pinging; back to normal on the next ping reply
  --quiet                no per-frame events
  --bench RATE           load mode: RATE pings per second over all devices for --duration,
                         then one "bench" summary event (round trip times of the ping replies)
  --duration DUR         load mode duration (default 10s)

Cloud mode (--cloud): a stand-in for www.cloudwarm.net for fallback/relay tests.
  --listen HOST:PORT     where to listen (default 127.0.0.1:9997)
  --no-answer            do not answer pings and version reports
  Answers pings (type 0 flags 0x0f, junk padding "_co" like the real cloud) and version
  reports (type 2 flags 0x0b); remembers the latest address per device id.

Events (stdout, one JSON object per line; each has "t", seconds since the start):
  {"event":"started",...}
  {"event":"sent","device":ID,"kind":K,"hex":H}            every frame a device/the cloud sends
  {"event":"received","device":ID,"from":ADDR,"kind":K,"type":T,"flags":F,"seq":S,
   "params":HEX,"hex":H[,"time":UNIX]}                       every valid frame received
  {"event":"invalid","device":ID|null,"from":ADDR,"reason":R,"hex":H}
  {"event":"applied","device":ID,"what":W,"value":V}        a write changed the device
  {"event":"relay","device":ID,"state":"ON"|"OFF"}
  {"event":"cloud_lost"|"cloud_restored","device":ID}       (--strict)
  {"event":"bench",...}                                     (--bench)

Commands (stdin, one per line; ID may be omitted for "all devices"):
  ping [ID]              send a ping now
  report [ID]            send the code-version report
  mute [ID] / unmute [ID]  stop / resume answering server requests (pings continue)
  load ID on|off         connect / disconnect the load
  frame ID TYPE FLAGS SEQ [PARAMS_HEX]   build and send a frame (numbers decimal or 0x..)
  send ID HEX            send raw bytes (device mode: from the device's socket;
                         cloud mode: to the device's latest address)
  quit
)";

udp::endpoint address_argument(lc::sim::Arguments& arguments, const std::string& option) {
  const Endpoint endpoint = arguments.endpoint();
  boost::system::error_code ec;
  const auto address = boost::asio::ip::make_address(endpoint.host, ec);
  if (ec) throw lc::sim::UsageError(option + " needs an IP:PORT");
  return udp::endpoint(address, endpoint.port);
}

std::chrono::milliseconds positive_duration(lc::sim::Arguments& arguments, const std::string& option) {
  const auto duration = arguments.duration();
  if (duration.count() <= 0) throw lc::sim::UsageError(option + " needs a duration");
  return duration;
}

// The options; nullopt after --help.
std::optional<Options> parse_options(int argc, char** argv) {
  Options options;
  lc::sim::Arguments arguments(argc, argv);
  using lc::sim::UsageError;
  for (std::string option; arguments.next(option);) {
    if (option == "--help" || option == "-h") {
      std::fputs(kHelp, stdout);
      return std::nullopt;
    } else if (option == "--server") {
      options.server = address_argument(arguments, option);
    } else if (option == "--listen") {
      options.listen = address_argument(arguments, option);
    } else if (option == "--devices") {
      options.devices = static_cast<int>(arguments.integer(1, 100000));
    } else if (option == "--id") {
      const auto id = parse_device_id(arguments.text());
      if (!id) throw UsageError("--id needs 8 hex digits");
      options.first_id = *id;
    } else if (option == "--ping-interval") {
      options.ping_interval = positive_duration(arguments, option);
    } else if (option == "--duration") {
      options.bench_duration = positive_duration(arguments, option);
    } else if (option == "--code-version") {
      options.code_version = arguments.text();
      if (options.code_version.empty() || options.code_version.size() > 13)
        throw UsageError("--code-version needs 1..13 characters");
    } else if (option == "--no-version-report") {
      options.version_report = false;
    } else if (option == "--load") {
      const std::string load = arguments.text();
      if (load != "on" && load != "off") throw UsageError("--load needs on or off");
      options.load = load == "on";
    } else if (option == "--timezone") {
      options.timezone = arguments.text();
    } else if (option == "--strict") {
      options.strict = true;
    } else if (option == "--quiet") {
      options.quiet = true;
    } else if (option == "--bench") {
      options.bench_rate = arguments.number(0, 1e9);
      if (options.bench_rate <= 0) throw UsageError("--bench needs a positive rate");
    } else if (option == "--cloud") {
      options.cloud = true;
    } else if (option == "--no-answer") {
      options.cloud_answers = false;
    } else {
      throw UsageError("unknown option " + option);
    }
  }
  return options;
}

}  // namespace

void emit(Json event) {
  event["t"] = std::chrono::duration<double>(Clock::now() - g_started).count();
  lc::sim::emit(event);
}

Json received_event(const FrameView& frame, const udp::endpoint& from) {
  const Classified c = classify(frame);
  Json event = {{"event", "received"},
                {"device", device_key(frame.device_id)},
                {"from", to_string(from)},
                {"kind", kind_name(c.kind)},
                {"type", frame.type},
                {"flags", frame.flags},
                {"seq", frame.seq},
                {"message_id", frame.message_id},
                {"padding", hex(frame.padding)},
                {"params", hex(frame.params)}};
  if (c.kind == Kind::ping_reply)
    if (auto time = decode_u32(frame.params)) event["time"] = *time;
  return event;
}

std::vector<std::string> split(std::string_view line) {
  std::istringstream in{std::string(line)};
  std::vector<std::string> words;
  for (std::string word; in >> word;) words.push_back(word);
  return words;
}

std::optional<long> parse_number(const std::string& text) {
  try {
    size_t used = 0;
    const long value = std::stol(text, &used, 0);
    if (used != text.size()) return std::nullopt;
    return value;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

int64_t unix_now() {
  using namespace std::chrono;
  return duration_cast<seconds>(system_clock::now().time_since_epoch()).count();
}

}  // namespace simulator

int run_simulator(int argc, char** argv) {
  return lc::sim::main_guard("localcloud-sim timeguard", [&] {
    const auto options = simulator::parse_options(argc, argv);
    if (!options) return 0;
    return options->cloud ? simulator::run_cloud(*options) : simulator::run_devices(*options);
  });
}

}  // namespace lc::timeguard
