#include "core/log.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <random>

namespace lc {
namespace {

std::atomic<int> g_level{static_cast<int>(Level::info)};
std::atomic<bool> g_trace{false};
std::atomic<bool> g_mask_ids{true};
std::mutex g_write_mutex;

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

void write_log_line(Level level, std::string_view component, std::string_view text) {
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
  std::lock_guard lock(g_write_mutex);
  (void)!::write(STDERR_FILENO, line.data(), line.size());
}

}  // namespace lc
