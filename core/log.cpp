#include "core/log.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <random>
#include <vector>

namespace lc {
namespace {

std::atomic<int> g_level{static_cast<int>(Level::info)};
std::atomic<bool> g_trace{false};
std::atomic<bool> g_mask_ids{true};
std::mutex g_write_mutex;

struct Observer {
  int id;
  Level threshold;
  LogObserver observe;
};
std::mutex g_observers_mutex;
std::vector<Observer> g_observers;  // guarded by g_observers_mutex
int g_next_observer_id = 1;
std::atomic<int> g_lowest_observed{static_cast<int>(kLogOff)};
thread_local bool t_observing = false;

void update_lowest_observed() {  // with g_observers_mutex held
  int lowest = static_cast<int>(kLogOff);
  for (const auto& observer : g_observers) lowest = std::min(lowest, static_cast<int>(observer.threshold));
  g_lowest_observed = lowest;
}

uint64_t process_salt() {
  static const uint64_t salt = [] {
    std::random_device device;
    return (uint64_t{device()} << 32) ^ device();
  }();
  return salt;
}

}  // namespace

bool parse_level(std::string_view text, Level& out) {
  if (text == "debug") out = Level::debug;
  else if (text == "info") out = Level::info;
  else if (text == "warn" || text == "warning") out = Level::warn;
  else if (text == "error") out = Level::error;
  else return false;
  return true;
}

std::string_view level_name(Level level) {
  switch (level) {
    case Level::debug: return "debug";
    case Level::info: return "info";
    case Level::warn: return "warn";
    case Level::error: return "error";
  }
  return "?";
}

namespace log_settings {
void configure(Level level, bool trace, bool mask_ids) {
  g_level = static_cast<int>(level);
  g_trace = trace;
  g_mask_ids = mask_ids;
}
Level level() { return static_cast<Level>(g_level.load(std::memory_order_relaxed)); }
Level lowest() {
  return static_cast<Level>(std::min(g_level.load(std::memory_order_relaxed), g_lowest_observed.load(std::memory_order_relaxed)));
}
bool trace() { return g_trace.load(std::memory_order_relaxed); }
bool mask_ids() { return g_mask_ids.load(std::memory_order_relaxed); }
}  // namespace log_settings

std::string mask_id(std::string_view id) {
  if (!log_settings::mask_ids()) return std::string(id);
  // FNV-1a over salt and id: the same id gives the same tag for the life of the process,
  // and the tag does not reveal the id.
  uint64_t hash = 1469598103934665603ull ^ process_salt();
  for (char c : id) {
    hash ^= static_cast<uint8_t>(c);
    hash *= 1099511628211ull;
  }
  char tag[16];
  std::snprintf(tag, sizeof tag, "id#%06x", static_cast<unsigned>(hash & 0xffffff));
  return tag;
}

int add_log_observer(Level threshold, LogObserver observer) {
  std::lock_guard lock(g_observers_mutex);
  const int id = g_next_observer_id++;
  g_observers.push_back({id, threshold, std::move(observer)});
  update_lowest_observed();
  return id;
}

void set_log_observer_threshold(int id, Level threshold) {
  std::lock_guard lock(g_observers_mutex);
  for (auto& observer : g_observers)
    if (observer.id == id) observer.threshold = threshold;
  update_lowest_observed();
}

void remove_log_observer(int id) {
  std::lock_guard lock(g_observers_mutex);
  std::erase_if(g_observers, [id](const Observer& observer) { return observer.id == id; });
  update_lowest_observed();
}

void write_log_line(Level level, std::string_view component, std::string_view text, bool trace) {
  using namespace std::chrono;
  const auto now = system_clock::now();
  const std::time_t seconds = system_clock::to_time_t(now);
  const auto millis = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char stamp[64];  // room for any int the compiler can imagine in each field
  std::snprintf(stamp, sizeof stamp, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", utc.tm_year + 1900,
                utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, static_cast<int>(millis));
  std::string line;
  line.reserve(text.size() + component.size() + 48);
  line.append(stamp).append(" ").append(level_name(level));
  line.append(5 - level_name(level).size() + 1, ' ');
  line.append("[").append(component).append("] ");
  // One line per message: control characters from device data are escaped.
  for (char c : text) {
    if (c == '\n') line.append("\\n");
    else if (static_cast<unsigned char>(c) < 0x20 && c != '\t') line.append("?");
    else line.push_back(c);
  }
  line.push_back('\n');
  if (trace || level >= log_settings::level()) {  // trace lines are written whatever the level
    std::lock_guard lock(g_write_mutex);
    (void)!::write(STDERR_FILENO, line.data(), line.size());
  }
  if (t_observing || static_cast<int>(level) < g_lowest_observed.load(std::memory_order_relaxed)) return;
  // The observers get the text as escaped for stderr: between the "] " and the newline.
  const size_t text_at = line.find("] ") + 2;
  const LogRecord record{now, level, trace, component, std::string_view(line).substr(text_at, line.size() - text_at - 1)};
  t_observing = true;
  {
    std::lock_guard lock(g_observers_mutex);
    for (const auto& observer : g_observers) {
      if (level < observer.threshold) continue;
      try {
        observer.observe(record);
      } catch (const std::exception&) {  // an observer's failure must not take the logger down
      }
    }
  }
  t_observing = false;
}

}  // namespace lc
