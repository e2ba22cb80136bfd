// The miio Bridge: the cloud endpoint for every device, and per configured device a local
// client that polls it with its token and carries commands (docs/protocols/miio.md, docs/miio.md).
// A device is keyed by its miIO device id (DeviceInfo::id = 8 lower-case hex digits), from
// `did:` in the config or learned from the handshake.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <boost/asio/steady_timer.hpp>

#include "bridges/bridge.h"
#include "bridges/miio/cloud_endpoint.h"
#include "bridges/miio/config.h"
#include "bridges/miio/local_client.h"
#include "bridges/miio/models.h"
#include "core/log.h"
#include "core/metrics.h"

namespace lc::miio {

struct BridgeOptions {
  ClientOptions client;
  CloudOptions cloud;
};

class MiioBridge : public Bridge, private CloudHandler {
 public:
  MiioBridge(BridgeContext& context, BridgeOptions options = {});
  ~MiioBridge() override;

  std::string_view name() const override { return "miio"; }
  BridgePolicy policy() const override;
  void start() override;
  void stop() override;
  std::vector<Listener> listeners() const override;
  void command(std::string_view id, std::string_view property, const Json& value, CommandDone done) override;
  void read(std::string_view id) override;
  void admitted(std::string_view id) override;
  void forget(std::string_view id) override;

  const CloudEndpoint& cloud() const { return cloud_; }

 private:
  // What was last read of one property, and whether the Hub has it.
  struct Value {
    Json raw;               // as the device sent it
    bool read = false;      // raw holds an answer
    bool reported = false;  // the Hub has the value decoded from raw
  };

  struct Device {
    explicit Device(boost::asio::io_context& io) : timer(io) {}
    ConfiguredDevice config;
    std::optional<uint32_t> did;
    std::string id;  // did_text(did), empty until the did is known
    std::string model;
    const ModelSpec* spec = nullptr;
    std::string firmware;
    bool registered = false;
    bool forgotten = false;  // bridge/request/remove: registered afresh with the next answer
    std::unique_ptr<LocalClient> client;
    boost::asio::steady_timer timer;
    std::chrono::steady_clock::time_point started;
    bool handshaking = false;
    bool polling = false;
    bool poll_again = false;
    bool info_in_flight = false;
    int info_tries = 0;
    bool cloud_session = false;
    bool empty_reported = false;
    bool did_mismatch_reported = false;
    std::optional<Cipher> cloud_cipher;
    std::vector<Value> values;  // one per property of `spec`, in its order
    std::chrono::steady_clock::time_point last_heard{};  // last hub.heard(), at most one a second
  };

  // CloudHandler
  void cloud_heard(uint32_t did) override;
  const Cipher* cloud_cipher(uint32_t did) override;
  void cloud_message(uint32_t did, const Json& message) override;

  void schedule(Device& device, std::chrono::milliseconds delay);
  void guarded(Device& device, const std::function<void()>& work);
  void advance(Device& device);
  void poll(Device& device);
  void ask_info(Device& device);
  void learn_did(Device& device, uint32_t did);
  void learn_model(Device& device, const std::string& model, const std::string& firmware);
  void announce(Device& device);
  void set_state(Device& device, const PropSpec& prop, const Json& raw);
  void publish_values(Device& device);
  void heard(Device& device);
  void on_token_suspect(Device& device, const std::string& detail);
  Device* find(std::string_view id);
  std::string log_name(const Device& device) const;

  boost::asio::io_context& io_;
  const Settings& config_;
  Hub& hub_;
  BridgeStats stats_;
  BridgeOptions options_;
  Logger log_{"miio"};
  CloudEndpoint cloud_;
  std::vector<std::unique_ptr<Device>> devices_;
  std::unordered_map<uint32_t, Device*> by_did_;
  bool stopped_ = true;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);  // posted work checks it
};

}  // namespace lc::miio
