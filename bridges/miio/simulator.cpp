// localcloud-sim miio: simulated miIO plugs and power strips speaking the real wire protocol
// (reusing the codec), for the integration tests and the benchmarks. See kUsage below; the
// devices are sim_device.h, the load mode sim_load.h, the harness core/sim_harness.h.
#include <cstdio>
#include <fstream>
#include <iterator>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "bridges/miio/model_loader.h"
#include "bridges/miio/sim_device.h"
#include "bridges/miio/sim_load.h"
#include "core/sim_harness.h"

namespace lc::miio {
namespace {

const char* const kUsage = R"(usage: localcloud-sim miio [options]

Simulated Xiaomi miIO plugs and power strips. Each device serves the local protocol (UDP, like
port 54321) on its own loopback port with its own token and device id, and talks to the cloud
endpoint (hello, then a ping every --ping-interval) over UDP or TCP.

options:
  --device SPEC          a device (repeatable); SPEC is key=value pairs separated by commas:
                           model=qmi.powerstrip.v1   zimi.powerstrip.v2, chuangmi.plug.v1, v3, m1, ...
                           did=01020304              device id, hex
                           token=<32 hex digits>     local token (default: derived from did)
                           port=N                    local UDP port on --host (0: any; see "ready")
                           cloud_key=<16 chars>      cloud key (default: derived from did)
                           protocol=miot             a model without a definition answers MIoT
                                                     (a power switch at siid 2 piid 1)
                           code.KEY=N                MIoT: property KEY answers get_properties
                                                     with code N (e.g. code.energy=-4001)
  --models FILE          more model definitions (the schema of miio.models, top level
                         "models:"); a MIoT model (shipped or from FILE) answers
                         get_properties (at most 15 entries), set_properties and action
  --host ADDR            address the local sockets bind to (default 127.0.0.1)
  --cloud HOST:PORT      the cloud endpoint (localcloud's miio.listen); without it: no cloud talk
  --transport udp|tcp    cloud transport (default udp)
  --ping-interval DUR    keepalive period (default 15s)
  --hello-retry DUR      hello resend period until time-synced (default 2s)
  --cloud-delay DUR      wait before the first hello (default 0)
  --otc-info             with the cloud key: send _otc.info after the time sync, and push
                         props to the cloud when the state changes
  load mode (benchmarks; needs --cloud, sends to loopback only):
  --load N               N device ids sending keepalives over UDP
  --rate R               total packets per second (default 1000)
  --load-kind ping|hello (default ping)
  --duration DUR         stop after this long (default: run until stdin says quit)

A qmi.powerstrip.v1 answers get_prop with empty slots ([,,,,,,,]) until it has had a time
sync reply and a pong, like the real one (python-miio#334). Requests with a wrong checksum
(wrong token) are ignored, as devices do.

events (stdout, one JSON object per line):
  {"event":"ready","device":D,"model":M,"port":P}
  {"event":"handshake","device":D}                      local hello answered
  {"event":"received","device":D,"method":M,"params":P,"id":N}
  {"event":"get_prop","device":D,"empty":true|false}
  {"event":"bad_checksum","device":D}                    request with a wrong token
  {"event":"time_sync","device":D,"time":T}              cloud hello answered
  {"event":"pong","device":D,"stamp":S}
  {"event":"cloud_synced","device":D}                    first time sync + pong since start
  {"event":"cloud_reply","device":D,"message":J}         decrypted cloud answer (cloud key)
  {"event":"state","device":D,"name":N,"value":V}        a property changed
  {"event":"load","sent":N,"received":N}                 load mode, once a second, and with
                                                         "final":true when --duration ends

commands (stdin, one per line):
  silence D | resume D     stop / restart answering locally and talking to the cloud
  set D NAME JSON          change a property (e.g. set 01020304 power_consume_rate 100;
                           a MIoT model's by key and raw value: set 01020304 load_power 2305)
  push D                   push all properties to the cloud as "props" (needs the cloud key)
  quit
)";

SimOptions parse_options(sim::Arguments& args, std::vector<DeviceSpec>& specs, bool& help) {
  SimOptions options;
  std::string option;
  while (args.next(option)) {
    if (option == "--help" || option == "-h") {
      help = true;
    } else if (option == "--device") {
      specs.push_back(parse_device_spec(args.text()));
    } else if (option == "--models") {
      const std::string path = args.text();
      std::ifstream file(path);
      if (!file) throw sim::UsageError("--models: cannot read " + path);
      const std::string text((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
      std::vector<config::Diagnostic> diagnostics;
      options.models = load_models(text, path, diagnostics);
      for (const auto& d : diagnostics)
        if (!d.warning) throw sim::UsageError(d.text());
    } else if (option == "--host") {
      options.host = args.text();
    } else if (option == "--cloud") {
      options.cloud = args.endpoint();
    } else if (option == "--transport") {
      const std::string value = args.text();
      if (value != "udp" && value != "tcp") throw sim::UsageError("--transport takes udp or tcp");
      options.tcp = value == "tcp";
    } else if (option == "--ping-interval") {
      options.ping_interval = args.duration();
    } else if (option == "--hello-retry") {
      options.hello_retry = args.duration();
    } else if (option == "--cloud-delay") {
      options.cloud_delay = args.duration();
    } else if (option == "--otc-info") {
      options.otc_info = true;
    } else if (option == "--load") {
      options.load = static_cast<int>(args.integer(1, 10'000'000));
    } else if (option == "--rate") {
      options.rate = args.number(1, 10'000'000);
    } else if (option == "--load-kind") {
      const std::string value = args.text();
      if (value != "ping" && value != "hello") throw sim::UsageError("--load-kind takes ping or hello");
      options.load_hello = value == "hello";
    } else if (option == "--duration") {
      options.duration = args.duration();
    } else {
      throw sim::UsageError("unknown option " + option);
    }
  }
  return options;
}

}  // namespace

int run_simulator(int argc, char** argv) {
  return sim::main_guard("localcloud-sim miio", [&] {
    sim::Arguments args(argc, argv);
    std::vector<DeviceSpec> specs;
    bool help = false;
    const SimOptions options = parse_options(args, specs, help);
    if (help) {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (options.load > 0 && !options.cloud) throw sim::UsageError("--load needs --cloud");
    if (specs.empty() && options.load == 0) throw sim::UsageError("nothing to simulate: give --device or --load");

    boost::asio::io_context io;
    std::vector<std::unique_ptr<SimDevice>> devices;
    for (const auto& spec : specs) devices.push_back(std::make_unique<SimDevice>(io, spec, options));
    for (auto& device : devices) device->start();
    std::unique_ptr<SimLoad> load;
    if (options.load > 0) {
      load = std::make_unique<SimLoad>(io, options);
      load->start();
    }

    auto find = [&](const std::string& did) -> SimDevice* {
      for (auto& device : devices)
        if (device->did_hex() == did) return device.get();
      return nullptr;
    };
    sim::CommandReader commands(io, [&](std::string_view line) {
      std::istringstream words{std::string(line)};
      std::string command, did;
      words >> command >> did;
      SimDevice* device = find(did);
      if (command == "quit") {
        io.stop();
      } else if (command == "silence" && device) {
        device->silence(true);
      } else if (command == "resume" && device) {
        device->silence(false);
      } else if (command == "set" && device) {
        std::string name, value;
        words >> name;
        std::getline(words, value);
        device->set(name, Json::parse(value));
      } else if (command == "push" && device) {
        device->push_props();
      } else if (!command.empty()) {
        sim::emit({{"event", "error"}, {"message", "unknown command or device: " + std::string(line)}});
      }
    });
    sim::run(io, options.duration, [&] {
      if (load) load->final_report();
    });
    return 0;
  });
}

}  // namespace lc::miio
