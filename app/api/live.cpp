#include "app/api/live.h"

#include <algorithm>

#include <boost/asio/post.hpp>

#include "app/api/views.h"

namespace lc::api {

namespace asio = boost::asio;
using nlohmann::json;

namespace {

// Log lines waiting for the io_context beyond this are counted, not kept (a trace storm).
constexpr size_t kMaxPendingLogLines = 2000;
// Log lines per "log" message.
constexpr size_t kLogLinesPerMessage = 250;

}  // namespace

std::string sse_message(std::string_view type, const json& data) {
  std::string message;
  const std::string text = data.dump(-1, ' ', false, json::error_handler_t::replace);
  message.reserve(text.size() + type.size() + 16);
  message.append("event: ").append(type).append("\ndata: ").append(text).append("\n\n");
  return message;
}

LiveFeed::LiveFeed(asio::io_context& io, HubService& hub, Metrics& metrics, StatusSource status, LiveOptions options)
    : io_(io),
      hub_(hub),
      status_(std::move(status)),
      options_(options),
      log_("api"),
      opened_(metrics.counter("localcloud_api_event_streams_total", "Event streams of the web page by outcome",
                              {{"result", "opened"}})),
      refused_(metrics.counter("localcloud_api_event_streams_total", "Event streams of the web page by outcome",
                               {{"result", "refused"}})),
      dropped_(metrics.counter("localcloud_api_event_streams_total", "Event streams of the web page by outcome",
                               {{"result", "dropped"}})),
      timer_(io) {}

LiveFeed::~LiveFeed() { stop(); }

void LiveFeed::start() {
  if (started_) return;
  started_ = true;
  hub_.add_observer(*this);
  log_threshold_ = log_settings::trace() ? Level::debug : log_settings::level();
  // Removed in stop() (which the destructor calls): no call comes after that returns.
  log_observer_ = add_log_observer(log_threshold_, [this](const LogRecord& record) { observe_log(record); });
  on_tick();
}

void LiveFeed::stop() {
  if (!started_) return;
  started_ = false;
  hub_.remove_observer(*this);
  remove_log_observer(log_observer_);
  timer_.cancel();
  auto streams = std::move(streams_);
  streams_.clear();
  for (auto& stream : streams) stream->close();
}

// ---- streams -------------------------------------------------------------------------------

void LiveFeed::open(const HttpRequest&, HttpReply reply) {
  if (!started_) {
    reply.send({503, "application/json", R"({"status":"error","error":"stopping"})"});
    return;
  }
  if (streams_.size() >= options_.max_streams) {
    refused_.inc();
    reply.send({503, "application/json",
                json{{"status", "error"},
                     {"error", "too many open pages: at most " + std::to_string(options_.max_streams) +
                                   " event streams; close a page or try again later"}}
                    .dump(),
                {{"Retry-After", "10"}}});
    return;
  }
  // The snapshot grows with the number of devices: it is queued whole, on top of what the
  // stream may fall behind by afterwards.
  std::string first = "retry: 2000\n\n" + sse_message("snapshot", snapshot());
  auto stream = reply.stream({200, "text/event-stream; charset=utf-8", "", {{"X-Accel-Buffering", "no"}}},
                             options_.max_queued_bytes + first.size());
  if (!stream) return;
  if (streams_.empty()) {  // what the pages were told is only kept while one listens
    seen_.clear();
    hub_.for_each_device([this](const DeviceRecord& record) { remember(record); });
  }
  streams_.push_back(stream);
  opened_.inc();
  stream->send(std::move(first));
  stream->on_close([weak = weak_from_this(), raw = stream.get()] {
    if (auto self = weak.lock())
      std::erase_if(self->streams_, [raw](const std::shared_ptr<HttpStream>& s) { return s.get() == raw; });
  });
}

void LiveFeed::broadcast(const char* type, const json& data) {
  if (streams_.empty()) return;
  const std::string message = sse_message(type, data);
  for (const auto& stream : streams_) {
    if (!stream->open() || stream->send(message)) continue;
    dropped_.inc();
    log_.info("a page fell more than ", options_.max_queued_bytes / 1024,
              " KB behind its event stream and was dropped (it reconnects with a fresh snapshot)");
  }
}

json LiveFeed::snapshot() {
  json devices = json::array();
  hub_.for_each_device([&](const DeviceRecord& record) { devices.push_back(device_json(record, false)); });
  std::vector<const LogLine*> lines;
  for (const auto& line : recent_log_) lines.push_back(&line);
  for (const auto& line : recent_trace_) lines.push_back(&line);
  std::stable_sort(lines.begin(), lines.end(), [](const LogLine* a, const LogLine* b) { return a->time < b->time; });
  json log = json::array();
  for (const LogLine* line : lines) log.push_back(log_json(*line));
  return {{"status", status_()}, {"devices", std::move(devices)}, {"log", std::move(log)}};
}

// ---- the Hub's changes -----------------------------------------------------------------------

void LiveFeed::remember(const DeviceRecord& record) {
  Seen& seen = seen_[record.key];
  seen.last_heard = record.last_heard;
  seen.exchanges = record.cloud.exchanges;
  seen.error = !record.cloud.error.is_null();
  seen.error_at = record.cloud.error_at;
}

void LiveFeed::schedule_flush() {
  if (flush_posted_) return;
  flush_posted_ = true;
  asio::post(io_, [weak = weak_from_this()] {
    if (auto self = weak.lock()) self->flush_changes();
  });
}

void LiveFeed::device_changed(const DeviceRecord& record) {
  if (streams_.empty()) return;
  if (changed_devices_set_.insert(record.key).second) changed_devices_.push_back(record.key);
  schedule_flush();
}

void LiveFeed::values_changed(const DeviceRecord& record) {
  if (streams_.empty()) return;
  if (changed_values_set_.insert(record.key).second) changed_values_.push_back(record.key);
  schedule_flush();
}

void LiveFeed::availability_changed(const DeviceRecord& record) {
  if (streams_.empty()) return;
  broadcast("availability", presence_json(record));
  seen_[record.key].last_heard = record.last_heard;
}

void LiveFeed::event(const std::string& type, const std::string& key, const json& detail) {
  if (streams_.empty()) return;
  json message = {{"type", type}, {"device", key}};
  if (detail.is_object())
    for (const auto& [name, value] : detail.items()) message[name] = value;
  broadcast("event", message);
}

void LiveFeed::flush_changes() {
  flush_posted_ = false;
  auto devices = std::move(changed_devices_);
  auto values = std::move(changed_values_);
  changed_devices_.clear();
  changed_values_.clear();
  changed_devices_set_.clear();
  changed_values_set_.clear();
  for (const auto& key : devices) {
    const DeviceRecord* record = hub_.find_device(key);
    if (!record) continue;
    broadcast("device", device_json(*record, false));
    remember(*record);
  }
  for (const auto& key : values) {
    if (std::find(devices.begin(), devices.end(), key) != devices.end()) continue;  // sent whole above
    if (const DeviceRecord* record = hub_.find_device(key)) broadcast("state", values_json(*record));
  }
}

// Once a tick: last seen and the cloud conversation of the devices heard since, devices that
// went (removed, renamed) or came without a word; the status every second tick.
void LiveFeed::on_tick() {
  update_log_threshold();
  if (!streams_.empty()) {
    const uint64_t generation = ++ticks_;
    json changed = json::object();
    std::vector<const DeviceRecord*> arrived;
    hub_.for_each_device([&](const DeviceRecord& record) {
      auto [it, added] = seen_.try_emplace(record.key);
      it->second.generation = generation;
      if (added) {
        arrived.push_back(&record);
        remember(record);
        return;
      }
      const Seen& seen = it->second;
      if (seen.last_heard == record.last_heard && seen.exchanges == record.cloud.exchanges &&
          seen.error == !record.cloud.error.is_null() && seen.error_at == record.cloud.error_at)
        return;
      const auto at = last_seen(record, std::chrono::steady_clock::now());
      changed[record.key] = {{"last_seen", at ? json(iso_time(*at)) : json(nullptr)},
                             {"online", record.online},
                             {"cloud", cloud_json(record.cloud)}};
      remember(record);
    });
    for (auto it = seen_.begin(); it != seen_.end();) {
      if (it->second.generation == generation) {
        ++it;
        continue;
      }
      broadcast("device_removed", {{"key", it->first}});
      it = seen_.erase(it);
    }
    for (const DeviceRecord* record : arrived) broadcast("device", device_json(*record, false));
    if (!changed.empty()) broadcast("seen", {{"devices", std::move(changed)}});
    if (ticks_ % 2 == 0) broadcast("status", status_());
  }
  timer_.expires_after(options_.tick);
  timer_.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
    if (ec) return;
    if (auto self = weak.lock(); self && self->started_) self->on_tick();
  });
}

// ---- the log --------------------------------------------------------------------------------

// The page shows what the log shows (log.level), and the protocol trace when log.trace is on
// (trace lines are debug lines): the observer listens that low only then.
void LiveFeed::update_log_threshold() {
  const Level wanted = log_settings::trace() ? Level::debug : log_settings::level();
  if (wanted == log_threshold_ || !log_observer_) return;
  log_threshold_ = wanted;
  set_log_observer_threshold(log_observer_, wanted);
}

void LiveFeed::observe_log(const LogRecord& record) {
  if (!record.trace && record.level < log_settings::level()) return;
  std::lock_guard lock(log_mutex_);
  if (log_pending_.size() >= kMaxPendingLogLines) {
    ++log_skipped_;
    return;
  }
  log_pending_.push_back(
      {record.time, record.level, record.trace, std::string(record.component), std::string(record.text)});
  if (log_flush_posted_) return;
  log_flush_posted_ = true;
  asio::post(io_, [weak = weak_from_this()] {
    if (auto self = weak.lock()) self->flush_log();
  });
}

json LiveFeed::log_json(const LogLine& line) {
  json out = {{"time", iso_time(line.time, true)},
              {"level", std::string(level_name(line.level))},
              {"component", line.component},
              {"text", line.text}};
  if (line.trace) out["trace"] = true;
  return out;
}

void LiveFeed::flush_log() {
  std::vector<LogLine> lines;
  size_t skipped = 0;
  {
    std::lock_guard lock(log_mutex_);
    lines.swap(log_pending_);
    skipped = log_skipped_;
    log_skipped_ = 0;
    log_flush_posted_ = false;
  }
  json batch = json::array();
  for (auto& line : lines) {
    if (!streams_.empty()) {
      batch.push_back(log_json(line));
      if (batch.size() == kLogLinesPerMessage) {
        broadcast("log", {{"lines", std::move(batch)}, {"skipped", 0}});
        batch = json::array();
      }
    }
    auto& recent = line.trace ? recent_trace_ : recent_log_;
    recent.push_back(std::move(line));
    if (recent.size() > options_.log_backlog) recent.pop_front();
  }
  if (!streams_.empty() && (!batch.empty() || skipped))
    broadcast("log", {{"lines", std::move(batch)}, {"skipped", skipped}});
}

}  // namespace lc::api
