// The miio Bridge: the cloud endpoint for every device, and per configured device a local
// client that polls it with its token and carries commands (docs/protocols/miio.md,
// docs/miio.md), running from the device's model definition (catalog.h). A device is keyed by
// its miIO device id (DeviceInfo::id = 8 lower-case hex digits), from `did:` in the config or
// learned from the handshake. Its methods are spread by responsibility:
//   miio_bridge.cpp         start/stop, the Hub: registration, values, heard()
//   bridge_identity.cpp     device id, model and firmware, the definition a device runs from
//   bridge_polls.cpp        the poll cycle and the answers of legacy and MIoT reads
//   bridge_commands.cpp     commands: legacy setters, set_properties, actions
//   miio_bridge_cloud.cpp   what the cloud endpoint learns (pings, pushes, _otc.info)
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "bridges/bridge.h"
#include "bridges/miio/bridge_device.h"
#include "bridges/miio/cloud_endpoint.h"
#include "bridges/miio/config.h"
#include "bridges/miio/local_client.h"
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
  using Device = BridgeDevice;

  // CloudHandler (miio_bridge_cloud.cpp)
  void cloud_heard(uint32_t did) override;
  const Cipher* cloud_cipher(uint32_t did) override;
  void cloud_message(uint32_t did, const Json& message) override;
  void cloud_exchange(uint32_t did, std::string_view received, std::string_view answered) override;

  // The Hub (miio_bridge.cpp)
  void announce(Device& device);
  void report_raw(Device& device, const PropDef& prop, const Json& raw);
  void report_value(Device& device, const PropDef& prop, const Json& value);
  void publish_values(Device& device);
  void heard(Device& device);
  Device* find(std::string_view id);
  std::string log_name(const Device& device) const;
  void guarded(Device& device, const std::function<void()>& work);

  // Identity and model (bridge_identity.cpp)
  void learn_did(Device& device, uint32_t did);
  void learn_model(Device& device, const std::string& model, const std::string& firmware);
  void use_definition(Device& device, const ModelDef* def, ModelSource source);
  void ask_info(Device& device);
  void probe(Device& device);
  void adopt_probe(Device& device, const Json& power);
  void report_unusable(Device& device, const std::string& why);
  void on_token_suspect(Device& device, const std::string& detail);

  // Polls (bridge_polls.cpp)
  void schedule(Device& device, std::chrono::milliseconds delay);
  void advance(Device& device);
  void poll(Device& device);
  void on_legacy_answer(Device& device, const LegacyRead& read, const Reply& reply);
  void on_miot_answer(Device& device, const miot::PropertyRead& read, const Reply& reply);

  // Commands (bridge_commands.cpp)
  void legacy_command(Device& device, const PropDef& prop, const Json& value, CommandDone done);
  void miot_command(Device& device, const PropDef& prop, const Json& value, CommandDone done);

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
