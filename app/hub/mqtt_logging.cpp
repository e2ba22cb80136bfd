#include "app/hub/mqtt_logging.h"

#include <algorithm>

#include <boost/asio/post.hpp>
#include <nlohmann/json.hpp>

namespace lc {

namespace {

// Set while this thread publishes logging lines: a line logged meanwhile (a failed publish
// logs at debug) is not published, or publishing would feed itself.
thread_local bool t_publishing_log = false;

struct PublishingLog {
  PublishingLog() { t_publishing_log = true; }
  ~PublishingLog() { t_publishing_log = false; }
};

std::string line_json(std::string_view level, std::string_view component, std::string_view text) {
  return dump_json({{"level", level}, {"bridge", component}, {"message", text}});
}

}  // namespace

MqttLogging::MqttLogging(boost::asio::io_context& io, Publisher& publisher, std::string topic, Level threshold)
    : io_(io), publisher_(publisher), topic_(std::move(topic)), threshold_(threshold), note_timer_(io) {
  shared_->owner = this;
  // The observer is removed in the destructor, before `this` goes (removal waits for a call
  // in progress).
  observer_id_ = add_log_observer(threshold, [this](const LogRecord& record) { observe(record); });
}

MqttLogging::~MqttLogging() {
  remove_log_observer(observer_id_);
  {
    std::lock_guard lock(shared_->mutex);
    shared_->owner = nullptr;
  }
  note_timer_.cancel();
}

void MqttLogging::set_threshold(Level threshold) {
  threshold_ = threshold;
  set_log_observer_threshold(observer_id_, threshold);
}

Level MqttLogging::threshold() const { return threshold_; }

void MqttLogging::observe(const LogRecord& record) {
  if (t_publishing_log) return;
  Shared& shared = *shared_;
  std::lock_guard lock(shared.mutex);
  const auto now = std::chrono::steady_clock::now();
  const double elapsed = std::chrono::duration<double>(now - shared.refilled).count();
  shared.tokens = std::min(kBurst, shared.tokens + elapsed * kPerSecond);
  shared.refilled = now;
  const std::weak_ptr<Shared> weak = shared_;
  if (shared.tokens < 1 || shared.pending.size() >= kMaxPending) {
    ++shared.dropped;
    if (!shared.note_posted) {
      shared.note_posted = true;
      boost::asio::post(io_, [weak] {
        auto alive = weak.lock();
        MqttLogging* owner = nullptr;
        if (alive) {
          std::lock_guard owner_lock(alive->mutex);
          owner = alive->owner;
        }
        if (!owner) return;
        owner->note_timer_.expires_after(std::chrono::seconds(1));
        owner->note_timer_.async_wait([owner](const boost::system::error_code& ec) {
          if (!ec) owner->note_dropped();
        });
      });
    }
    return;
  }
  shared.tokens -= 1;
  shared.pending.push_back({record.level, std::string(record.component), std::string(record.text)});
  if (shared.flush_posted) return;
  shared.flush_posted = true;
  boost::asio::post(io_, [weak] {
    auto alive = weak.lock();
    MqttLogging* owner = nullptr;
    if (alive) {
      std::lock_guard owner_lock(alive->mutex);
      owner = alive->owner;
    }
    if (owner) owner->flush();
  });
}

void MqttLogging::flush() {
  std::deque<Line> lines;
  {
    std::lock_guard lock(shared_->mutex);
    lines.swap(shared_->pending);
    shared_->flush_posted = false;
  }
  PublishingLog publishing;
  for (const auto& line : lines) publisher_.publish(topic_, line_json(level_name(line.level), line.component, line.text), false);
}

void MqttLogging::note_dropped() {
  size_t dropped = 0;
  {
    std::lock_guard lock(shared_->mutex);
    dropped = shared_->dropped;
    shared_->dropped = 0;
    shared_->note_posted = false;
  }
  if (dropped == 0) return;
  PublishingLog publishing;
  publisher_.publish(topic_,
                     line_json("warn", "localcloud",
                               std::to_string(dropped) + " log line" + (dropped == 1 ? "" : "s") +
                                   " dropped (bridge/logging carries at most " +
                                   std::to_string(static_cast<int>(kPerSecond)) + " lines a second)"),
                     false);
}

}  // namespace lc
