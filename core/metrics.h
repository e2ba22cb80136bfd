// Counters and gauges for GET /metrics (Prometheus text format 0.0.4).
// Counters are registered once (at start or on first use) and then incremented through a
// reference: an increment is one relaxed atomic add, cheap enough for every packet.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

#include "core/log.h"

namespace lc {

class Counter {
 public:
  void inc(uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

using Labels = std::vector<std::pair<std::string, std::string>>;

class Metrics {
 public:
  // The same name and labels always return the same counter.
  Counter& counter(std::string_view name, std::string_view help, const Labels& labels = {});
  // A gauge read when /metrics is served (on the io_context thread).
  void gauge(std::string_view name, std::string_view help, const Labels& labels,
             std::function<double()> read);
  std::string prometheus_text() const;

 private:
  struct Family {
    std::string help;
    std::string type;
    std::map<std::string, std::unique_ptr<Counter>> counters;  // key: rendered labels
    std::map<std::string, std::function<double()>> gauges;
  };
  mutable std::mutex mutex_;
  std::map<std::string, Family, std::less<>> families_;
};

// The per-bridge packet counters every bridge uses, and the drop rule (docs/architecture.md "Bad input"):
// a malformed packet is counted, logged at debug, and at info the first time per peer.
class BridgeStats {
 public:
  BridgeStats(Metrics& metrics, std::string bridge);

  Counter& packets_in;   // localcloud_packets_total{bridge,direction="in"}
  Counter& packets_out;  // localcloud_packets_total{bridge,direction="out"}

  // Counts localcloud_packets_dropped_total{bridge,reason} and logs. `reason` is a short
  // snake_case constant (e.g. "bad_checksum"); `peer` an address (never a secret).
  void drop(std::string_view reason, std::string_view peer, std::string_view detail = {});
  Counter& dropped(std::string_view reason);

 private:
  Metrics& metrics_;
  std::string bridge_;
  Logger log_;
  std::mutex mutex_;
  std::map<std::string, Counter*, std::less<>> dropped_;
  std::unordered_set<std::string> peers_logged_;  // bounded: see kMaxPeersRemembered
};

}  // namespace lc
