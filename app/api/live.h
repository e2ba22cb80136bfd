// The live-update stream of the web page: GET /api/events, one server-sent event stream per
// open page. A stream starts with a snapshot (the bridge's status, every device, the recent
// log) and then carries what changes, as it changes:
//
//   snapshot      {"status":{...},"devices":[...],"log":[...]}          once, first
//   device        a device (registered, restored, renamed, description changed)
//   device_removed {"key":...}
//   state         {"key","state"}   coalesced: one per device per io_context turn
//   availability  {"key","online","last_seen"}
//   seen          {"devices":{"<key>":{"last_seen","cloud"}}}  once a second, what changed
//   status        the bridge's status (broker, uptime, bridges, packets), every 2 s
//   event         a bridge/event message from a bridge (device_joined, device_error, ...)
//   log           {"lines":[{"time","level","component","text","trace"}],"skipped":n}
//
// Devices are sent without their attributes (GET /api/devices/<key> has them). Every stream
// gets the same bytes. A reader that falls more than `max_queued_bytes` behind (beyond its
// snapshot) is
// dropped (its EventSource reconnects and starts with a fresh snapshot), so a page that stops
// reading never grows the daemon's memory; beyond `max_streams` open streams a new one gets
// 503. Nothing is computed for the stream while no page is open, except the last log lines
// kept for the next snapshot. Runs on the io_context thread; log lines arrive from any thread
// and are posted over.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <nlohmann/json.hpp>

#include "app/hub/hub_service.h"
#include "core/http_server.h"
#include "core/log.h"
#include "core/metrics.h"

namespace lc::api {

struct LiveOptions {
  size_t max_streams = 64;
  size_t max_queued_bytes = 1024 * 1024;  // per stream: beyond it the reader is dropped
  size_t log_backlog = 200;               // log lines (and as many trace lines) in a snapshot
  std::chrono::milliseconds tick{1000};   // "seen" every tick, "status" every second tick
};

class LiveFeed final : public HubObserver, public std::enable_shared_from_this<LiveFeed> {
 public:
  using StatusSource = std::function<nlohmann::json()>;

  LiveFeed(boost::asio::io_context& io, HubService& hub, Metrics& metrics, StatusSource status,
           LiveOptions options = {});
  ~LiveFeed() override;

  // Registers with the Hub and the log and starts the tick (the object must be owned by a
  // shared_ptr: callbacks from other threads hold it weakly).
  void start();
  // Closes every stream and unregisters.
  void stop();

  // GET /api/events: a stream, or 503 when max_streams are open.
  void open(const HttpRequest& request, HttpReply reply);
  size_t streams() const { return streams_.size(); }

  // HubObserver
  void device_changed(const DeviceRecord& record) override;
  void availability_changed(const DeviceRecord& record) override;
  void values_changed(const DeviceRecord& record) override;
  void event(const std::string& type, const std::string& key, const nlohmann::json& detail) override;

 private:
  struct LogLine {
    std::chrono::system_clock::time_point time;
    Level level;
    bool trace;
    std::string component;
    std::string text;
  };
  // What the last "seen" told the pages about a device.
  struct Seen {
    std::chrono::steady_clock::time_point last_heard{};
    uint64_t exchanges = 0;
    std::chrono::system_clock::time_point error_at{};
    bool error = false;
    uint64_t generation = 0;  // the tick that last found it registered
  };

  void observe_log(const LogRecord& record);  // any thread
  void flush_log();
  static nlohmann::json log_json(const LogLine& line);
  void broadcast(const char* type, const nlohmann::json& data);
  void schedule_flush();
  void flush_changes();
  void on_tick();
  nlohmann::json snapshot();
  void remember(const DeviceRecord& record);
  void update_log_threshold();

  boost::asio::io_context& io_;
  HubService& hub_;
  StatusSource status_;
  const LiveOptions options_;
  Logger log_;
  Counter& opened_;
  Counter& refused_;
  Counter& dropped_;
  std::vector<std::shared_ptr<HttpStream>> streams_;
  boost::asio::steady_timer timer_;
  uint64_t ticks_ = 0;
  bool started_ = false;

  // Changes of this io_context turn, sent together.
  std::vector<std::string> changed_devices_, changed_values_;
  std::unordered_set<std::string> changed_devices_set_, changed_values_set_;
  bool flush_posted_ = false;
  std::unordered_map<std::string, Seen> seen_;

  // Log lines: handed over from any thread, kept for snapshots.
  int log_observer_ = 0;
  Level log_threshold_ = Level::info;
  std::mutex log_mutex_;
  std::vector<LogLine> log_pending_;  // guarded by log_mutex_
  size_t log_skipped_ = 0;            // guarded by log_mutex_
  bool log_flush_posted_ = false;     // guarded by log_mutex_
  std::deque<LogLine> recent_log_, recent_trace_;
};

// An SSE message: "event: <type>\ndata: <json>\n\n" (invalid UTF-8 replaced).
std::string sse_message(std::string_view type, const nlohmann::json& data);

}  // namespace lc::api
