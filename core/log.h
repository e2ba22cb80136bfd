// Logging: one line per message on stderr, "<time> <level> [<component>] <text>".
// Bridges log through a Logger named after themselves; device ids go through mask_id().
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <span>
#include <sstream>
#include <string>
#include <string_view>

#include "core/hex.h"

namespace lc {

enum class Level { debug = 0, info = 1, warn = 2, error = 3 };

bool parse_level(std::string_view text, Level& out);
std::string_view level_name(Level level);

namespace log_settings {
void configure(Level level, bool trace, bool mask_ids);
Level level();
Level lowest();  // the lower of level() and the observers' thresholds
bool trace();
bool mask_ids();
}  // namespace log_settings

// The device id as it may appear in a log line: the id itself, or with mask_ids a short
// tag derived from it with a per-process salt ("id#3f9c1a"), stable for the process's life.
std::string mask_id(std::string_view id);

void write_log_line(Level level, std::string_view component, std::string_view text, bool trace = false);

// A log line as its observers get it: masked exactly as written to stderr.
struct LogRecord {
  std::chrono::system_clock::time_point time;
  Level level = Level::info;
  bool trace = false;  // a log.trace line (logged at debug)
  std::string_view component;
  std::string_view text;
};

// More readers of the log than stderr (<base>/bridge/logging, the web page's live log). An
// observer gets every line at or above its `threshold`, also lines below the stderr level,
// from whichever thread logged: it must be quick and thread-safe (copy the record and post
// it to its own thread). A line logged by an observer itself goes to stderr only.
using LogObserver = std::function<void(const LogRecord& record)>;
int add_log_observer(Level threshold, LogObserver observer);  // returns an id for removal
void set_log_observer_threshold(int id, Level threshold);
void remove_log_observer(int id);
// Observers hear nothing (Level::error + 1): for a threshold of "off".
inline constexpr Level kLogOff = static_cast<Level>(4);

class Logger {
 public:
  explicit Logger(std::string component) : component_(std::move(component)) {}

  // True when a line at `level` goes anywhere: stderr or an observer.
  static bool enabled(Level level) { return level >= log_settings::lowest(); }

  template <class... Parts> void debug(const Parts&... parts) const { emit(Level::debug, parts...); }
  template <class... Parts> void info(const Parts&... parts) const { emit(Level::info, parts...); }
  template <class... Parts> void warn(const Parts&... parts) const { emit(Level::warn, parts...); }
  template <class... Parts> void error(const Parts&... parts) const { emit(Level::error, parts...); }
  template <class... Parts> void at(Level level, const Parts&... parts) const { emit(level, parts...); }

  // log.trace: one line per packet/frame. Callers check log_settings::trace() first so that
  // nothing is formatted when trace is off.
  template <class... Parts> void trace(const Parts&... parts) const {
    if (log_settings::trace()) write_log_line(Level::debug, component_, concat(parts...), true);
  }

  const std::string& component() const { return component_; }

 private:
  template <class... Parts> static std::string concat(const Parts&... parts) {
    std::ostringstream out;
    (out << ... << parts);
    return out.str();
  }
  template <class... Parts> void emit(Level level, const Parts&... parts) const {
    if (enabled(level)) write_log_line(level, component_, concat(parts...));
  }

  std::string component_;
};

}  // namespace lc
