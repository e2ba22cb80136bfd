// The timeguard Bridge: device state from the frames the endpoint hands over, reads on first
// sight, commands as server-initiated requests with retries (protocols/timeguard.md §4.3),
// and everything reported to the Hub.
#pragma once

#include <array>
#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <boost/asio/steady_timer.hpp>

#include "bridges/bridge.h"
#include "bridges/timeguard/codec.h"
#include "bridges/timeguard/config.h"
#include "bridges/timeguard/endpoint.h"
#include "bridges/timeguard/timezone.h"
#include "core/log.h"
#include "core/metrics.h"

namespace lc::timeguard {

// Property values as published (PRODUCT.md "Properties").
extern const std::array<const char*, 4> kWorkModeNames;  // auto, always_off, always_on, holiday
extern const std::array<const char*, 3> kBoostNames;     // off, 1h, 2h

// The active_schedule select's options: "schedule_1".."schedule_6" (the schedule's index + 1).
// They stay the same for the device's life: the names, which the device reports later and the
// user may change, are in the attributes (docs/timeguard.md "Schedule names"). Not bare
// numbers: a plain MQTT payload "3" arrives as a JSON number, which is no select option.
std::string schedule_option(size_t index);
// The schedule index of an option, or nullopt.
std::optional<uint8_t> schedule_index(std::string_view option);
// The properties of a device (the same for every Timeguard device).
std::vector<Property> device_properties(bool allow_raw);
Json schedule_json(const Schedule& schedule);
Json holiday_json(const Holiday& holiday);

class TimeguardBridge final : public Bridge, private CloudEndpoint::Handler {
 public:
  using Clock = std::chrono::steady_clock;
  struct Timing {
    std::chrono::milliseconds retry{2000};     // resend with the same seq (TGM: 2 s)
    std::chrono::milliseconds give_up{15000};  // then the command fails (TGM: ~15 s)
    std::chrono::milliseconds refresh{60000};  // missing first-sight reads are asked again
    std::chrono::milliseconds admission_retry{10000};  // device_seen again for a refused device
  };

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
  void forget(std::string_view id) override;

  const CloudEndpoint& endpoint() const { return endpoint_; }

 private:
  struct Request {
    uint8_t frame_type = 0;
    uint8_t flags = 0;
    Bytes params;
    std::optional<Bytes> raw_frame;  // <key>/set/raw: sent as given
    std::optional<uint8_t> seq;      // assigned when first sent (raw frames bring their own)
    bool expects_reply = true;
    bool user = false;               // a command: `done` reports the outcome
    CommandDone done;
    std::string what;                // for log lines
    Bytes frame;                     // as sent; resent unchanged
    Clock::time_point first_sent{};
  };

  struct Device {
    explicit Device(boost::asio::io_context& io) : timer(io) {}
    uint32_t id = 0;
    std::string key;  // DeviceInfo::id, 8 hex digits
    DeviceInfo info;
    bool heard_before = false;
    std::optional<PingStatus> ping;
    std::string code_version;
    std::optional<uint8_t> active_schedule;
    std::array<std::optional<Schedule>, kSchedules> schedules;
    std::optional<Holiday> holiday;
    Json attributes;  // as last reported
    std::deque<Request> queue;  // front is in flight when in_flight
    bool in_flight = false;
    uint8_t next_seq = 0;
    boost::asio::steady_timer timer;
    uint64_t timer_generation = 0;
    Clock::time_point next_refresh{};  // first-sight reads missing: ask again from then
  };

  static Request read_request(uint8_t frame_type, Bytes params, std::string what);
  void device_frame(const FrameView& frame, const Classified& classified) override;
  Device* admit(uint32_t device_id);
  Device* find(std::string_view key);
  void register_device(uint32_t device_id, const std::string& name, bool configured);
  void interpret(Device& device, const FrameView& frame, Kind kind);
  void apply_ping(Device& device, const PingStatus& ping);
  void set_code_version(Device& device, const std::string& version);
  void set_schedule(Device& device, const Schedule& schedule);
  void publish_active_schedule(Device& device);
  void publish_attributes(Device& device);
  void update_description(Device& device);

  void refresh_if_due(Device& device);
  void queue_reads(Device& device, bool everything);
  void enqueue(Device& device, Request request);
  void pump(Device& device);
  void arm_timer(Device& device);
  void on_timer(uint32_t device_id, uint64_t generation);
  void complete(Device& device, std::string error);
  void finish(CommandDone done, std::string error);
  bool matches_in_flight(const Device& device, const FrameView& frame) const;

  BridgeContext& context_;
  const Settings config_;
  Timing timing_;
  Logger log_{"timeguard"};
  BridgeStats stats_;
  CloudEndpoint endpoint_;
  std::optional<TimeZone> zone_;
  std::map<uint32_t, std::unique_ptr<Device>> devices_;  // admitted by the Hub
  std::unordered_map<std::string, uint32_t> by_key_;
  std::unordered_map<uint32_t, Clock::time_point> refused_until_;  // not admitted: retry after
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);      // guards timer handlers
  bool running_ = false;
  Counter& commands_sent_;
  Counter& retransmissions_;
  Counter& requests_failed_;
};

}  // namespace lc::timeguard
