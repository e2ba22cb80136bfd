// The Hub one bridge reports to (bridges/bridge.h): its devices, their admission and what each
// report changes. What follows from a change (publishing, saving) is the RegistryListener's.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <nlohmann/json.hpp>

#include "app/hub/admission.h"
#include "app/hub/record.h"
#include "bridges/bridge.h"
#include "core/log.h"
#include "core/metrics.h"

namespace lc {

class Registry;

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view text) const { return std::hash<std::string_view>{}(text); }
};

class BridgePort final : public Hub {
 public:
  BridgePort(boost::asio::io_context& io, Registry& registry, RegistryListener& listener, Counter& unknown_refused,
             std::string name);

  bool device_seen(const DeviceInfo& info) override;
  bool known(std::string_view id) const override;
  void heard(std::string_view id) override;
  void state_changed(std::string_view id, std::string_view property, Json value) override;
  void attributes_changed(std::string_view id, Json attributes) override;
  void device_lost(std::string_view id) override;
  void event(std::string_view type, std::string_view id, Json detail) override;
  void cloud_exchange(std::string_view id, std::string_view received, std::string_view answered) override;
  std::string log_name(std::string_view id) const override;

  void attach(Bridge& bridge);
  // A device from the device database (devices.json), registered without an event.
  void restore(const DeviceInfo& info, const std::string& key);
  // Drops the record (the registry has unindexed it) and has the bridge forget the device.
  void remove(const std::string& id);
  DeviceRecord* find(std::string_view id);
  size_t online_count() const;
  bool at_max_unknown() const { return unknown_count_ >= policy.max_unknown; }
  // Unknown devices waiting for their turn to be admitted.
  size_t waiting() const { return admission_.waiting(); }
  void stop();

  // permit_join (docs/mqtt.md "permit_join"): for `time`, unknown devices are admitted
  // as if accept_unknown were true (max_unknown and the one-a-second rate still hold); zero
  // closes. The end is a timer; opening and closing tell the listener (bridge/info).
  void permit_join(std::chrono::seconds time);
  bool permit_join_open() const { return permit_join_open_; }
  // The end in milliseconds since the epoch, or null when closed.
  nlohmann::json permit_join_end_json() const;

  const std::string name;
  const Logger log;
  Bridge* bridge = nullptr;
  BridgePolicy policy;
  std::unordered_map<std::string, std::unique_ptr<DeviceRecord>, StringHash, std::equal_to<>> devices;

 private:
  bool register_device(const DeviceInfo& info);
  void admit_deferred(const DeviceInfo& info);
  void update(DeviceRecord& record, const DeviceInfo& info);

  Registry& registry_;
  RegistryListener& listener_;
  Counter& unknown_refused_;
  int unknown_count_ = 0;  // registered devices that are not in the config
  UnknownAdmission admission_;
  boost::asio::steady_timer permit_join_timer_;
  bool permit_join_open_ = false;
  unsigned permit_join_generation_ = 0;  // a timer that expired before it was re-armed is stale
  std::chrono::system_clock::time_point permit_join_end_{};
};

}  // namespace lc
