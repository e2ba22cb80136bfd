// <base>/bridge/logging (docs/mqtt.md "<base>/bridge/logging"): every log line at or above log.mqtt, masked
// exactly like the log (core/log.h observers get the text as written to stderr), as
// {"level":"warn","bridge":"<component>","message":"..."}.
//
// Never recursive: a line logged while a logging line is being published (a failed publish
// logs) is not published, and a line the observer itself would log goes to stderr only.
// Rate-limited: a token bucket lets kBurst lines through at once and kPerSecond a second after
// that; what it drops is counted and replaced, at most once a second, by one line
// "<N> log lines dropped ...", so a flood of warnings cannot flood the broker.
#pragma once

#include <chrono>
#include <deque>
#include <memory>
#include <mutex>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "app/hub/publisher.h"
#include "core/log.h"

namespace lc {

class MqttLogging {
 public:
  static constexpr double kPerSecond = 10;
  static constexpr double kBurst = 20;
  static constexpr size_t kMaxPending = 200;  // lines waiting for the io_context thread

  // `threshold`: kLogOff publishes nothing.
  MqttLogging(boost::asio::io_context& io, Publisher& publisher, std::string topic, Level threshold);
  ~MqttLogging();
  MqttLogging(const MqttLogging&) = delete;
  MqttLogging& operator=(const MqttLogging&) = delete;

  void set_threshold(Level threshold);
  Level threshold() const;

 private:
  struct Line {
    Level level;
    std::string component;
    std::string text;
  };
  // What the observer (any thread) and the io_context thread share.
  struct Shared {
    std::mutex mutex;
    std::deque<Line> pending;
    size_t dropped = 0;
    double tokens = kBurst;
    std::chrono::steady_clock::time_point refilled = std::chrono::steady_clock::now();
    bool flush_posted = false;
    bool note_posted = false;
    MqttLogging* owner = nullptr;  // null once destroyed
  };

  void observe(const LogRecord& record);  // any thread
  void flush();                           // io_context thread
  void note_dropped();                    // io_context thread

  boost::asio::io_context& io_;
  Publisher& publisher_;
  const std::string topic_;
  Level threshold_;
  std::shared_ptr<Shared> shared_ = std::make_shared<Shared>();
  boost::asio::steady_timer note_timer_;
  int observer_id_ = 0;
};

}  // namespace lc
