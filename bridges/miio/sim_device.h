// One simulated miIO device of localcloud-sim miio (bridges/miio/simulator.cpp): its local
// protocol on a loopback UDP port (sim_device.cpp), its answers as a legacy model
// (sim_legacy.cpp) or as a MIoT model from its definition (sim_miot.cpp), and its conversation with the cloud endpoint (sim_cloud.cpp). Every step
// is reported as a JSON event line (core/sim_harness.h).
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/steady_timer.hpp>

#include "bridges/miio/codec.h"
#include "bridges/miio/miot.h"
#include "bridges/miio/model_def.h"
#include "core/net.h"

namespace lc::miio {

struct SimOptions {
  std::string host = "127.0.0.1";
  std::optional<Endpoint> cloud;
  bool tcp = false;
  std::chrono::milliseconds ping_interval{15000};
  std::chrono::milliseconds hello_retry{2000};
  std::chrono::milliseconds cloud_delay{0};
  bool otc_info = false;
  int load = 0;
  double rate = 1000;
  bool load_hello = false;
  std::optional<std::chrono::milliseconds> duration;
  std::vector<ModelDef> models;  // --models FILE: definitions before the shipped ones
};

// "--device model=...,did=...": key=value pairs.
using DeviceSpec = std::map<std::string, std::string>;
DeviceSpec parse_device_spec(const std::string& text);

class SimDevice {
 public:
  SimDevice(boost::asio::io_context& io, const DeviceSpec& spec, const SimOptions& options);
  void start();
  void silence(bool silent);
  // A property changed at the device (the button, a load): e.g. set 01020304 power_consume_rate 100.
  void set(const std::string& name, const Json& value);
  void push_props();
  const std::string& did_hex() const { return did_hex_; }

 private:
  using Clock = std::chrono::steady_clock;
  // Local protocol (sim_device.cpp).
  void receive_local();
  void on_local(size_t size);
  uint32_t stamp() const;
  // A legacy model's answer (sim_legacy.cpp): the "result" (ok) or "error" value as JSON text.
  std::string answer(const std::string& method, const Json& params, bool& ok);
  std::string answer_info() const;
  // A MIoT model's answer (sim_miot.cpp), from its definition.
  std::string answer_miot(const std::string& method, const Json& params, bool& ok);
  Json initial_miot_state() const;
  void push_miot_change(const PropDef& prop, const Json& value);
  // Cloud side (sim_cloud.cpp).
  void restart_cloud();
  void connect_tcp();
  void send_cloud(std::span<const uint8_t> packet);
  void send_hello();
  void send_ping();
  void send_cloud_message(const std::string& method, const Json& params);
  void receive_cloud_udp();
  void receive_cloud_tcp();
  void reconnect_later(uint64_t generation);
  void on_cloud_packet(std::span<const uint8_t> packet);

  const SimOptions& options_;
  std::string model_;
  uint32_t did_ = 0;
  std::string did_hex_;
  Cipher cipher_;
  Cipher cloud_cipher_;
  Json state_;  // legacy: by the device's names; MIoT: by property key, raw values
  const ModelDef* def_ = nullptr;  // MIoT models only
  std::unique_ptr<ModelDef> probed_def_;  // protocol=miot for a model without a definition
  std::map<std::string, long long> error_codes_;  // code.<key>=N: that property answers code N
  boost::asio::ip::udp::socket local_;
  boost::asio::ip::udp::endpoint local_peer_;
  std::array<uint8_t, 65536> local_in_{};
  std::deque<uint64_t> recent_ids_;
  bool silent_ = false;
  Clock::time_point boot_ = Clock::now();

  bool cloud_enabled_ = false;
  boost::asio::ip::udp::socket cloud_udp_;
  boost::asio::ip::tcp::socket cloud_tcp_;
  std::array<uint8_t, 4096> cloud_in_{};
  size_t cloud_in_size_ = 0;
  boost::asio::steady_timer hello_timer_;
  boost::asio::steady_timer ping_timer_;
  uint64_t cloud_generation_ = 0;  // bumps on restart: stale handlers ignore themselves
  bool time_synced_ = false;
  bool synced_ = false;  // time sync and a pong since start (v1 fills its cache only then)
  uint32_t synced_time_ = 0;
  Clock::time_point synced_at_{};
  std::array<uint8_t, kHeaderSize> last_ping_{};
  uint32_t cloud_message_id_ = 1;
};

}  // namespace lc::miio
