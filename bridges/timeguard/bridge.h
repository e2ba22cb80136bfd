// The timeguard Bridge: registers devices with the Hub, hands their frames (from the
// endpoint) to reports.h, reads what a ping does not carry on first sight, and sends the
// Hub's commands as requests (requests.h). Section numbers (§N) are those of
// docs/protocols/timeguard.md.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "bridges/bridge.h"
#include "bridges/timeguard/codec.h"
#include "bridges/timeguard/config.h"
#include "bridges/timeguard/device_state.h"
#include "bridges/timeguard/endpoint.h"
#include "bridges/timeguard/requests.h"
#include "bridges/timeguard/timezone.h"
#include "core/log.h"
#include "core/metrics.h"

namespace lc::timeguard {

class TimeguardBridge final : public Bridge, private CloudEndpoint::Handler {
 public:
  using Clock = std::chrono::steady_clock;
  using Timing = RequestTiming;

  explicit TimeguardBridge(BridgeContext& context);
  TimeguardBridge(BridgeContext& context, Timing timing);
  ~TimeguardBridge() override;

  std::string_view name() const override { return "timeguard"; }
  BridgePolicy policy() const override;
  void start() override;
  void stop() override;
  std::vector<Listener> listeners() const override;
  void command(std::string_view id, std::string_view property, const Json& value, CommandDone done) override;
  void read(std::string_view id) override;
  void admitted(std::string_view id) override;
  void forget(std::string_view id) override;

  const CloudEndpoint& endpoint() const { return endpoint_; }

 private:
  void device_frame(const FrameView& frame, const Classified& classified) override;
  DeviceState* first_sight(uint32_t device_id);
  DeviceInfo description(uint32_t device_id) const;
  DeviceState& add(uint32_t device_id, DeviceInfo info);
  DeviceState* find(std::string_view key);
  void log_unusual(const DeviceState& device, const FrameView& frame, const Classified& classified) const;
  void refresh_if_due(DeviceState& device, Clock::time_point now);
  void queue_reads(DeviceState& device, bool everything);

  BridgeContext& context_;
  const Settings config_;
  Timing timing_;
  Logger log_{"timeguard"};
  BridgeStats stats_;
  CloudEndpoint endpoint_;
  std::optional<TimeZone> zone_;
  DeviceRequests::Shared requests_shared_;
  // Hub::heard at most this often per device (1 s; less when offline_after is that short).
  Clock::duration heard_interval_;
  std::unordered_map<uint32_t, std::unique_ptr<DeviceState>> devices_;  // registered with the Hub
  // Ids the Hub did not register: not asked again (one waiting for its turn is admitted by
  // the Hub itself, admitted()); they get their keepalives and nothing else.
  std::unordered_set<uint32_t> unregistered_;
  bool running_ = false;
};

}  // namespace lc::timeguard
