// localcloud-sim miio: simulated miIO plugs and power strips speaking the real wire protocol
// (reusing the codec), for the integration tests and the benchmarks. See usage() below.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <functional>
#include <sstream>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <deque>
#include <iostream>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>

#include "bridges/miio/codec.h"
#include "bridges/miio/trace.h"
#include "core/duration.h"
#include "core/log.h"
#include "core/net.h"

namespace lc::miio {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using asio::ip::udp;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

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
  set D NAME JSON          change a property (e.g. set 01020304 power_consume_rate 100)
  push D                   push all properties to the cloud as "props" (needs the cloud key)
  quit
)";

void emit(const Json& event) {
  const std::string line = event.dump() + "\n";
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fflush(stdout);
}

// The properties each simulated model starts with (values from protocols/miio.md §4).
Json initial_state(const std::string& model) {
  if (model == "qmi.powerstrip.v1")
    return {{"power", "on"},          {"temperature", 38.5}, {"current", 215},    {"mode", "normal"},
            {"power_consume_rate", 29}, {"voltage", 23057},  {"power_factor", 12}, {"elec_leakage", 8}};
  if (model == "zimi.powerstrip.v2")
    return {{"power", "on"}, {"temperature", 48.7}, {"current", 0.05}, {"mode", nullptr},
            {"power_consume_rate", 4.09}, {"wifi_led", "on"}, {"power_price", 49}};
  if (model == "chuangmi.plug.v1") return {{"on", true}, {"usb_on", true}, {"temperature", 32}};
  if (model == "chuangmi.plug.v3")
    return {{"on", true}, {"usb_on", false}, {"temperature", 33}, {"wifi_led", "on"}, {"get_power", 300}};
  if (model == "chuangmi.plug.hmi208") return {{"power", "on"}, {"usb_on", true}, {"temperature", 31}};
  return {{"power", "on"}, {"temperature", 30}};
}

struct Options {
  std::string host = "127.0.0.1";
  std::optional<Endpoint> cloud;
  bool tcp = false;
  milliseconds ping_interval{15000};
  milliseconds hello_retry{2000};
  milliseconds cloud_delay{0};
  bool otc_info = false;
  int load = 0;
  double rate = 1000;
  bool load_hello = false;
  std::optional<milliseconds> duration;
};

class SimDevice {
 public:
  SimDevice(asio::io_context& io, const std::map<std::string, std::string>& spec, const std::string& host,
            const Options& options);
  void start();
  void command_silence(bool silent) {
    silent_ = silent;
    if (!silent && cloud_enabled_) restart_cloud();
  }
  void set(const std::string& name, const Json& value);
  void push_props();
  const std::string& did_hex() const { return did_hex_; }

 private:
  // local side
  void receive_local();
  void on_local(size_t size);
  std::string answer(const std::string& method, const Json& params, bool& ok);
  uint32_t stamp() const;
  // cloud side
  void restart_cloud();
  void send_hello();
  void send_ping();
  void send_cloud(std::span<const uint8_t> packet);
  void on_cloud_packet(std::span<const uint8_t> packet);
  void receive_cloud_udp();
  void connect_tcp();
  void receive_cloud_tcp();
  void send_cloud_message(const std::string& method, const Json& params);

  const Options& options_;
  std::string model_;
  uint32_t did_ = 0;
  std::string did_hex_;
  Cipher cipher_;
  Cipher cloud_cipher_;
  Json state_;
  udp::socket local_;
  udp::endpoint local_peer_;
  std::array<uint8_t, 65536> local_in_{};
  std::deque<uint64_t> recent_ids_;
  bool silent_ = false;
  Clock::time_point boot_ = Clock::now();

  bool cloud_enabled_ = false;
  udp::socket cloud_udp_;
  tcp::socket cloud_tcp_;
  std::array<uint8_t, 4096> cloud_in_{};
  size_t cloud_in_size_ = 0;
  asio::steady_timer hello_timer_;
  asio::steady_timer ping_timer_;
  uint64_t cloud_generation_ = 0;  // bumps on restart: stale handlers ignore themselves
  bool time_synced_ = false;
  bool synced_ = false;  // time sync and a pong since start (v1 fills its cache only then)
  uint32_t synced_time_ = 0;
  Clock::time_point synced_at_{};
  std::array<uint8_t, kHeaderSize> last_ping_{};
  uint32_t last_ping_stamp_ = 0;
  uint32_t cloud_message_id_ = 1;
};

Token derived_token(uint32_t did) {
  const std::string seed = "sim-token-" + did_text(did);
  return md5({std::span(reinterpret_cast<const uint8_t*>(seed.data()), seed.size())});
}

std::string derived_cloud_key(uint32_t did) { return "simkey" + did_text(did) + "xy"; }

SimDevice::SimDevice(asio::io_context& io, const std::map<std::string, std::string>& spec, const std::string& host,
                     const Options& options)
    : options_(options),
      cipher_(Token{}),
      cloud_cipher_(Token{}),
      local_(io),
      cloud_udp_(io),
      cloud_tcp_(io),
      hello_timer_(io),
      ping_timer_(io) {
  auto get = [&](const char* key, const std::string& fallback) {
    const auto it = spec.find(key);
    return it == spec.end() ? fallback : it->second;
  };
  model_ = get("model", "qmi.powerstrip.v1");
  did_ = static_cast<uint32_t>(std::stoul(get("did", "01020304"), nullptr, 16));
  did_hex_ = did_text(did_);
  const std::string token_text = get("token", "");
  if (!token_text.empty()) {
    const auto token = token_from_hex(token_text);
    if (!token) throw std::runtime_error("--device token= must be 32 hex digits");
    cipher_ = Cipher(*token);
  } else {
    cipher_ = Cipher(derived_token(did_));
  }
  const auto cloud_key = token_from_cloud_key(get("cloud_key", derived_cloud_key(did_)));
  if (!cloud_key) throw std::runtime_error("--device cloud_key= must be 16 printable characters");
  cloud_cipher_ = Cipher(*cloud_key);
  state_ = initial_state(model_);
  const auto port = static_cast<uint16_t>(std::stoul(get("port", "0")));
  const udp::endpoint bind(asio::ip::make_address(host), port);
  local_.open(bind.protocol());
  local_.bind(bind);
}

uint32_t SimDevice::stamp() const {
  const auto now = Clock::now();
  if (time_synced_)
    return synced_time_ + static_cast<uint32_t>(std::chrono::duration_cast<std::chrono::seconds>(now - synced_at_).count());
  // Not synced: seconds since boot (a 1970 date, home-assistant/core#131647).
  return 1000 + static_cast<uint32_t>(std::chrono::duration_cast<std::chrono::seconds>(now - boot_).count());
}

void SimDevice::start() {
  emit({{"event", "ready"}, {"device", did_hex_}, {"model", model_}, {"port", local_.local_endpoint().port()}});
  receive_local();
  if (options_.cloud) {
    cloud_enabled_ = true;
    hello_timer_.expires_after(options_.cloud_delay);
    hello_timer_.async_wait([this](const boost::system::error_code& ec) {
      if (!ec) restart_cloud();
    });
  }
}

// ---- local protocol ------------------------------------------------------------------------

void SimDevice::receive_local() {
  local_.async_receive_from(asio::buffer(local_in_), local_peer_, [this](const boost::system::error_code& ec, size_t n) {
    if (ec == asio::error::operation_aborted) return;
    if (!ec && !silent_) {
      try {
        on_local(n);
      } catch (const std::exception& error) {
        std::fprintf(stderr, "sim %s: %s\n", did_hex_.c_str(), error.what());
      }
    }
    receive_local();
  });
}

void SimDevice::on_local(size_t size) {
  const std::span<const uint8_t> packet(local_in_.data(), size);
  Header header;
  if (parse_header(packet, header) != Error::none) return;
  if (is_hello(packet)) {
    const auto reply = hello_reply_packet(did_, stamp());
    local_.send_to(asio::buffer(reply), local_peer_);
    emit({{"event", "handshake"}, {"device", did_hex_}});
    return;
  }
  if (packet.size() == kHeaderSize) return;
  Message message;
  const Error error = decode_message(packet, cipher_, message);
  if (error == Error::bad_checksum) {
    emit({{"event", "bad_checksum"}, {"device", did_hex_}});
    return;  // devices ignore requests they cannot verify
  }
  if (error != Error::none) return;
  const auto json = parse_json(message.plaintext);
  if (!json || !json->is_object() || !json->contains("id") || !(*json)["id"].is_number_unsigned()) return;
  const uint64_t id = (*json)["id"].get<uint64_t>();
  // Devices drop ids they saw recently ("look like a repeated msg", §3.3).
  if (std::find(recent_ids_.begin(), recent_ids_.end(), id) != recent_ids_.end()) {
    emit({{"event", "repeated_id"}, {"device", did_hex_}, {"id", id}});
    return;
  }
  recent_ids_.push_back(id);
  if (recent_ids_.size() > 32) recent_ids_.pop_front();
  const std::string method = json->value("method", "");
  const Json params = json->value("params", Json::array());
  emit({{"event", "received"}, {"device", did_hex_}, {"method", method}, {"params", params}, {"id", id}});
  bool ok = true;
  const std::string body = answer(method, params, ok);
  // Result first, id last: the shape of the v1 strip's answers (home-assistant/core#13749).
  const std::string text = ok ? "{\"result\":" + body + ",\"id\":" + std::to_string(id) + "}"
                              : "{\"id\":" + std::to_string(id) + ",\"error\":" + body + "}";
  Header reply_header;
  reply_header.did = did_;
  reply_header.stamp = stamp();
  const auto reply = encode_message(cipher_, reply_header, text, kMaxReceivePacket);
  if (reply) local_.send_to(asio::buffer(*reply), local_peer_);
}

std::string SimDevice::answer(const std::string& method, const Json& params, bool& ok) {
  auto error = [&](int code, const std::string& message) {
    ok = false;
    return Json({{"code", code}, {"message", message}}).dump();
  };
  auto first_param = [&]() -> Json { return params.is_array() && !params.empty() ? params[0] : Json(); };
  auto has = [&](const char* name) { return state_.contains(name) && !state_[name].is_null(); };
  if (method == "get_prop") {
    if (!params.is_array()) return error(-32602, "Invalid param.");
    const bool empty = model_ == "qmi.powerstrip.v1" && !synced_;
    emit({{"event", "get_prop"}, {"device", did_hex_}, {"empty", empty}});
    // Names the device does not know, and every name before its cloud session, are empty
    // slots: "[,,,,,,,]" is not JSON, exactly as the v1 strip sends it (python-miio#334).
    std::string list = "[";
    for (size_t i = 0; i < params.size(); ++i) {
      if (i) list += ",";
      const Json& name = params[i];
      if (!empty && name.is_string() && state_.contains(name.get<std::string>()))
        list += state_[name.get<std::string>()].dump();
    }
    return list + "]";
  }
  if (method == "get_power" && state_.contains("get_power")) return Json::array({state_["get_power"]}).dump();
  if (method == "miIO.info") {
    Json info = {{"life", 1000},
                 {"model", model_},
                 {"token", hex(cipher_.token())},
                 {"ipflag", 1},
                 {"fw_ver", "3.4.2_71"},
                 {"hw_ver", "RTL8711AF"},
                 {"mac", "AA:BB:CC:00:00:01"},
                 {"ot", "otu"},
                 {"ott_stat", {0, 0, 0, 0}}};
    std::string text = info.dump();
    text.pop_back();
    // Without a cloud session the strip's miIO.info has an empty member before otu_stat
    // (python-miio#121).
    text += synced_ ? ",\"otu_stat\":[320,267,3,0,3,742]}" : ",,\"otu_stat\":[0,0,0,0,0,0]}";
    return text;
  }
  const Json value = first_param();
  auto set_on_off = [&](const char* name, bool as_bool) -> std::string {
    if (value != "on" && value != "off") return error(-32602, "Invalid param.");
    set(name, as_bool ? Json(value == "on") : value);
    return "[\"ok\"]";
  };
  if (method == "set_power") {
    if (has("power")) return set_on_off("power", false);
    if (has("on")) return set_on_off("on", true);
  }
  if ((method == "set_on" || method == "set_off") && has("on")) {
    set("on", method == "set_on");
    return "[\"ok\"]";
  }
  if ((method == "set_usb_on" || method == "set_usb_off") && has("usb_on")) {
    set("usb_on", method == "set_usb_on");
    return "[\"ok\"]";
  }
  if (method == "set_wifi_led" && has("wifi_led")) return set_on_off("wifi_led", false);
  if (method == "set_power_mode" && has("mode")) {
    if (value != "green" && value != "normal") return error(-32602, "Invalid param.");
    set("mode", value);
    return "[\"ok\"]";
  }
  if (method == "set_power_price" && has("power_price")) {
    if (!value.is_number_integer() || value.get<int64_t>() < 0 || value.get<int64_t>() > 999)
      return error(-5001, "invalid param");
    set("power_price", value);
    return "[\"ok\"]";
  }
  return error(-32601, "Method not found.");
}

void SimDevice::set(const std::string& name, const Json& value) {
  state_[name] = value;
  emit({{"event", "state"}, {"device", did_hex_}, {"name", name}, {"value", value}});
  if (options_.otc_info && synced_) send_cloud_message("props", {{name, value}});
}

void SimDevice::push_props() {
  Json props = Json::object();
  for (const auto& [name, value] : state_.items())
    if (name != "get_power") props[name] = value;
  send_cloud_message("props", props);
}

// ---- cloud side ----------------------------------------------------------------------------

void SimDevice::restart_cloud() {
  ++cloud_generation_;
  time_synced_ = false;
  hello_timer_.cancel();
  ping_timer_.cancel();
  boost::system::error_code ec;
  cloud_udp_.close(ec);
  cloud_tcp_.close(ec);
  cloud_in_size_ = 0;
  const udp::endpoint target(asio::ip::make_address(options_.cloud->host), options_.cloud->port);
  if (options_.tcp) {
    connect_tcp();
    return;
  }
  cloud_udp_.open(target.protocol());
  cloud_udp_.connect(target);
  receive_cloud_udp();
  send_hello();
}

void SimDevice::connect_tcp() {
  const tcp::endpoint target(asio::ip::make_address(options_.cloud->host), options_.cloud->port);
  const uint64_t generation = cloud_generation_;
  cloud_tcp_.async_connect(target, [this, generation](const boost::system::error_code& ec) {
    if (ec == asio::error::operation_aborted || generation != cloud_generation_) return;
    if (ec) {
      hello_timer_.expires_after(milliseconds(1000));
      hello_timer_.async_wait([this, generation](const boost::system::error_code& wait_ec) {
        if (!wait_ec && generation == cloud_generation_ && !silent_) restart_cloud();
      });
      return;
    }
    receive_cloud_tcp();
    send_hello();
  });
}

void SimDevice::send_cloud(std::span<const uint8_t> packet) {
  boost::system::error_code ec;
  if (options_.tcp) {
    // Small packets on loopback: a blocking write is fine in the simulator.
    asio::write(cloud_tcp_, asio::buffer(packet.data(), packet.size()), ec);
  } else {
    cloud_udp_.send(asio::buffer(packet.data(), packet.size()), 0, ec);
  }
}

void SimDevice::send_hello() {
  if (silent_) return;
  // The device->cloud hello of miio_client (§2.3, vector cloud_hello_from_device).
  std::array<uint8_t, kHeaderSize> hello{};
  hello[0] = kMagic[0];
  hello[1] = kMagic[1];
  hello[3] = 0x20;
  std::fill(hello.begin() + 4, hello.begin() + 12, 0xff);
  send_cloud(hello);
  const uint64_t generation = cloud_generation_;
  hello_timer_.expires_after(options_.hello_retry);
  hello_timer_.async_wait([this, generation](const boost::system::error_code& ec) {
    if (ec || generation != cloud_generation_ || time_synced_) return;
    if (options_.tcp) restart_cloud();  // a silent TCP server: reconnect
    else send_hello();
  });
}

void SimDevice::send_ping() {
  if (silent_) return;
  const uint32_t now = stamp();
  last_ping_ = ping_packet(cloud_cipher_, did_, now);
  last_ping_stamp_ = now;
  send_cloud(last_ping_);
  const uint64_t generation = cloud_generation_;
  ping_timer_.expires_after(options_.ping_interval);
  ping_timer_.async_wait([this, generation](const boost::system::error_code& ec) {
    if (!ec && generation == cloud_generation_) send_ping();
  });
}

void SimDevice::send_cloud_message(const std::string& method, const Json& params) {
  if (silent_ || !options_.cloud) return;
  Header header;
  header.did = did_;
  header.stamp = stamp();
  const Json message = {{"id", cloud_message_id_++}, {"method", method}, {"params", params}};
  const auto packet = encode_message(cloud_cipher_, header, message.dump(), kMaxSendPacket);
  if (packet) send_cloud(*packet);
}

void SimDevice::receive_cloud_udp() {
  const uint64_t generation = cloud_generation_;
  cloud_udp_.async_receive(asio::buffer(cloud_in_), [this, generation](const boost::system::error_code& ec, size_t n) {
    if (ec == asio::error::operation_aborted || generation != cloud_generation_) return;
    if (!ec && !silent_) on_cloud_packet(std::span<const uint8_t>(cloud_in_.data(), n));
    receive_cloud_udp();
  });
}

void SimDevice::receive_cloud_tcp() {
  const uint64_t generation = cloud_generation_;
  cloud_tcp_.async_read_some(
      asio::buffer(cloud_in_.data() + cloud_in_size_, cloud_in_.size() - cloud_in_size_),
      [this, generation](const boost::system::error_code& ec, size_t n) {
        if (ec == asio::error::operation_aborted || generation != cloud_generation_) return;
        if (ec) {
          emit({{"event", "cloud_closed"}, {"device", did_hex_}});
          hello_timer_.expires_after(milliseconds(1000));
          hello_timer_.async_wait([this, generation](const boost::system::error_code& wait_ec) {
            if (!wait_ec && generation == cloud_generation_ && !silent_) restart_cloud();
          });
          return;
        }
        cloud_in_size_ += n;
        size_t offset = 0;
        while (true) {
          const auto size = frame_size(std::span<const uint8_t>(cloud_in_.data() + offset, cloud_in_size_ - offset));
          if (!size || *size == 0) break;
          if (!silent_) on_cloud_packet(std::span<const uint8_t>(cloud_in_.data() + offset, *size));
          offset += *size;
        }
        std::memmove(cloud_in_.data(), cloud_in_.data() + offset, cloud_in_size_ - offset);
        cloud_in_size_ -= offset;
        receive_cloud_tcp();
      });
}

void SimDevice::on_cloud_packet(std::span<const uint8_t> packet) {
  Header header;
  if (parse_header(packet, header) != Error::none) return;
  if (packet.size() == kHeaderSize && is_hello(packet)) {
    // Time sync: the device adopts the cloud's clock (§2.3).
    if (time_synced_) return;
    time_synced_ = true;
    synced_time_ = header.stamp;
    synced_at_ = Clock::now();
    hello_timer_.cancel();
    emit({{"event", "time_sync"}, {"device", did_hex_}, {"time", header.stamp}});
    if (options_.otc_info)
      send_cloud_message("_otc.info", {{"life", 1000}, {"model", model_}, {"token", hex(cipher_.token())},
                                       {"fw_ver", "3.4.2_71"}, {"hw_ver", "RTL8711AF"}});
    send_ping();
    return;
  }
  if (packet.size() == kHeaderSize) {
    if (std::memcmp(packet.data(), last_ping_.data(), kHeaderSize) != 0) return;
    emit({{"event", "pong"}, {"device", did_hex_}, {"stamp", header.stamp}});
    if (!synced_ && time_synced_) {
      synced_ = true;
      emit({{"event", "cloud_synced"}, {"device", did_hex_}});
    }
    return;
  }
  Message message;
  if (decode_message(packet, cloud_cipher_, message) != Error::none) {
    emit({{"event", "cloud_undecodable"}, {"device", did_hex_}});
    return;
  }
  const auto json = parse_json(message.plaintext);
  emit({{"event", "cloud_reply"}, {"device", did_hex_}, {"message", json ? *json : Json()}});
}

// ---- load mode -----------------------------------------------------------------------------

class Load {
 public:
  Load(asio::io_context& io, const Options& options) : options_(options), socket_(io), timer_(io), report_(io) {
    const udp::endpoint target(asio::ip::make_address(options.cloud->host), options.cloud->port);
    if (!target.address().is_loopback()) throw std::runtime_error("load mode sends to loopback addresses only");
    socket_.open(target.protocol());
    socket_.connect(target);
    socket_.non_blocking(true);
    const uint32_t now = static_cast<uint32_t>(std::time(nullptr));
    std::mt19937 random(std::random_device{}());
    const uint32_t base = 0x10000000 + random() % 0x1000000;
    for (int i = 0; i < options.load; ++i) stamps_.push_back({base + static_cast<uint32_t>(i), now});
  }
  void final_report() { emit({{"event", "load"}, {"sent", sent_}, {"received", received_}, {"final", true}}); }
  void start() {
    started_ = Clock::now();
    tick();
    report();
    receive();
  }

 private:
  void tick() {
    // Sends what the rate allows so far, in 10 ms steps.
    const double elapsed = std::chrono::duration<double>(Clock::now() - started_).count();
    const auto due = static_cast<uint64_t>(elapsed * options_.rate);
    while (sent_ < due) {
      auto& [did, stamp] = stamps_[next_++ % stamps_.size()];
      std::array<uint8_t, kHeaderSize> packet;
      if (options_.load_hello) {
        packet = hello_packet();
      } else {
        Header header;
        header.did = did;
        header.stamp = ++stamp;
        write_header(header, packet);  // checksum left zero: the endpoint echoes without verifying
      }
      boost::system::error_code ec;
      socket_.send(asio::buffer(packet), 0, ec);
      ++sent_;
      if (ec) break;
    }
    timer_.expires_after(milliseconds(10));
    timer_.async_wait([this](const boost::system::error_code& ec) {
      if (!ec) tick();
    });
  }
  void report() {
    report_.expires_after(milliseconds(1000));
    report_.async_wait([this](const boost::system::error_code& ec) {
      if (ec) return;
      emit({{"event", "load"}, {"sent", sent_}, {"received", received_}});
      report();
    });
  }
  void receive() {
    socket_.async_receive(asio::buffer(in_), [this](const boost::system::error_code& ec, size_t) {
      if (ec == asio::error::operation_aborted) return;
      if (!ec) ++received_;
      receive();
    });
  }

  const Options& options_;
  udp::socket socket_;
  asio::steady_timer timer_, report_;
  std::vector<std::pair<uint32_t, uint32_t>> stamps_;
  std::array<uint8_t, 2048> in_{};
  Clock::time_point started_;
  uint64_t sent_ = 0, received_ = 0;
  size_t next_ = 0;
};

std::map<std::string, std::string> parse_spec(const std::string& text) {
  std::map<std::string, std::string> spec;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t end = std::min(text.find(',', start), text.size());
    const std::string pair = text.substr(start, end - start);
    const size_t equals = pair.find('=');
    if (equals == std::string::npos) throw std::runtime_error("--device: expected key=value, got \"" + pair + "\"");
    spec[pair.substr(0, equals)] = pair.substr(equals + 1);
    start = end + 1;
  }
  return spec;
}

}  // namespace

int run_simulator(int argc, char** argv) {
  Options options;
  std::vector<std::map<std::string, std::string>> specs;
  try {
    for (int i = 1; i < argc; ++i) {
      const std::string arg = argv[i];
      auto next = [&]() -> std::string {
        if (i + 1 >= argc) throw std::runtime_error(arg + " needs a value");
        return argv[++i];
      };
      auto duration = [&]() {
        const auto value = parse_duration(next());
        if (!value) throw std::runtime_error(arg + ": bad duration");
        return *value;
      };
      if (arg == "--help" || arg == "-h") {
        std::fputs(kUsage, stdout);
        return 0;
      } else if (arg == "--device") {
        specs.push_back(parse_spec(next()));
      } else if (arg == "--host") {
        options.host = next();
      } else if (arg == "--cloud") {
        options.cloud = parse_endpoint(next());
        if (!options.cloud) throw std::runtime_error("--cloud needs HOST:PORT");
      } else if (arg == "--transport") {
        const std::string value = next();
        if (value != "udp" && value != "tcp") throw std::runtime_error("--transport udp|tcp");
        options.tcp = value == "tcp";
      } else if (arg == "--ping-interval") {
        options.ping_interval = duration();
      } else if (arg == "--hello-retry") {
        options.hello_retry = duration();
      } else if (arg == "--cloud-delay") {
        options.cloud_delay = duration();
      } else if (arg == "--otc-info") {
        options.otc_info = true;
      } else if (arg == "--load") {
        options.load = std::stoi(next());
      } else if (arg == "--rate") {
        options.rate = std::stod(next());
      } else if (arg == "--load-kind") {
        options.load_hello = next() == "hello";
      } else if (arg == "--duration") {
        options.duration = duration();
      } else {
        throw std::runtime_error("unknown option " + arg + " (see --help)");
      }
    }
    if (options.load > 0 && !options.cloud) throw std::runtime_error("--load needs --cloud");
    if (specs.empty() && options.load == 0) throw std::runtime_error("nothing to simulate: give --device or --load");
  } catch (const std::exception& error) {
    std::fprintf(stderr, "localcloud-sim miio: %s\n", error.what());
    return 2;
  }

  asio::io_context io;
  std::vector<std::unique_ptr<SimDevice>> devices;
  std::unique_ptr<Load> load;
  try {
    for (const auto& spec : specs) devices.push_back(std::make_unique<SimDevice>(io, spec, options.host, options));
    for (auto& device : devices) device->start();
    if (options.load > 0) {
      load = std::make_unique<Load>(io, options);
      load->start();
    }
  } catch (const std::exception& error) {
    std::fprintf(stderr, "localcloud-sim miio: %s\n", error.what());
    return 1;
  }

  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code&, int) { io.stop(); });
  asio::steady_timer stop_timer(io);
  if (options.duration) {
    stop_timer.expires_after(*options.duration);
    stop_timer.async_wait([&](const boost::system::error_code& ec) {
      if (ec) return;
      if (load) load->final_report();
      io.stop();
    });
  }

  auto find = [&](const std::string& did) -> SimDevice* {
    for (auto& device : devices)
      if (device->did_hex() == did) return device.get();
    return nullptr;
  };
  asio::posix::stream_descriptor input(io, ::dup(STDIN_FILENO));
  asio::streambuf buffer;
  std::function<void()> read_line = [&] {
    asio::async_read_until(input, buffer, '\n', [&](const boost::system::error_code& ec, size_t) {
      if (ec) return;  // stdin closed: keep simulating
      std::istream stream(&buffer);
      std::string line;
      std::getline(stream, line);
      std::istringstream words(line);
      std::string command, did;
      words >> command >> did;
      SimDevice* device = find(did);
      try {
        if (command == "quit") {
          io.stop();
          return;
        } else if (command == "silence" && device) {
          device->command_silence(true);
        } else if (command == "resume" && device) {
          device->command_silence(false);
        } else if (command == "set" && device) {
          std::string name, value;
          words >> name;
          std::getline(words, value);
          device->set(name, Json::parse(value));
        } else if (command == "push" && device) {
          device->push_props();
        } else if (!command.empty()) {
          emit({{"event", "error"}, {"message", "unknown command or device: " + line}});
        }
      } catch (const std::exception& error) {
        emit({{"event", "error"}, {"message", error.what()}});
      }
      read_line();
    });
  };
  read_line();
  io.run();
  return 0;
}

}  // namespace lc::miio
