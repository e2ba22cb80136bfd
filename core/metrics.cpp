#include "core/metrics.h"

#include <cmath>
#include <cstdio>
#include <sstream>

namespace lc {
namespace {

std::string escape_label(std::string_view value) {
  std::string out;
  for (char c : value) {
    if (c == '\\' || c == '"') out.push_back('\\');
    if (c == '\n') {
      out.append("\\n");
      continue;
    }
    out.push_back(c);
  }
  return out;
}

std::string render_labels(const Labels& labels) {
  if (labels.empty()) return {};
  std::string out = "{";
  for (size_t i = 0; i < labels.size(); ++i) {
    if (i) out.push_back(',');
    out.append(labels[i].first).append("=\"").append(escape_label(labels[i].second)).append("\"");
  }
  out.push_back('}');
  return out;
}

constexpr size_t kMaxPeersRemembered = 4096;

}  // namespace

Counter& Metrics::counter(std::string_view name, std::string_view help, const Labels& labels) {
  std::lock_guard lock(mutex_);
  auto it = families_.find(name);
  if (it == families_.end()) it = families_.emplace(std::string(name), Family{std::string(help), "counter", {}, {}}).first;
  auto& slot = it->second.counters[render_labels(labels)];
  if (!slot) slot = std::make_unique<Counter>();
  return *slot;
}

void Metrics::gauge(std::string_view name, std::string_view help, const Labels& labels,
                    std::function<double()> read) {
  std::lock_guard lock(mutex_);
  auto it = families_.find(name);
  if (it == families_.end()) it = families_.emplace(std::string(name), Family{std::string(help), "gauge", {}, {}}).first;
  it->second.gauges[render_labels(labels)] = std::move(read);
}

std::string Metrics::prometheus_text() const {
  std::lock_guard lock(mutex_);
  std::ostringstream out;
  for (const auto& [name, family] : families_) {
    out << "# HELP " << name << ' ' << family.help << "\n# TYPE " << name << ' ' << family.type << '\n';
    for (const auto& [labels, counter] : family.counters) out << name << labels << ' ' << counter->value() << '\n';
    for (const auto& [labels, read] : family.gauges) {
      const double value = read();
      out << name << labels << ' ';
      if (std::isfinite(value) && value == std::floor(value) && std::fabs(value) < 1e15)
        out << static_cast<long long>(value);
      else
        out << value;
      out << '\n';
    }
  }
  return out.str();
}

BridgeStats::BridgeStats(Metrics& metrics, std::string bridge)
    : packets_in(metrics.counter("localcloud_packets_total", "Packets and frames by bridge and direction",
                                 {{"bridge", bridge}, {"direction", "in"}})),
      packets_out(metrics.counter("localcloud_packets_total", "Packets and frames by bridge and direction",
                                  {{"bridge", bridge}, {"direction", "out"}})),
      metrics_(metrics),
      bridge_(bridge),
      log_(bridge) {}

Counter& BridgeStats::dropped(std::string_view reason) {
  std::lock_guard lock(mutex_);
  auto it = dropped_.find(reason);
  if (it != dropped_.end()) return *it->second;
  Counter& counter = metrics_.counter("localcloud_packets_dropped_total", "Malformed or refused input by bridge and reason",
                                      {{"bridge", bridge_}, {"reason", std::string(reason)}});
  dropped_.emplace(std::string(reason), &counter);
  return counter;
}

void BridgeStats::drop(std::string_view reason, std::string_view peer, std::string_view detail) {
  dropped(reason).inc();
  bool first_from_peer = false;
  {
    std::lock_guard lock(mutex_);
    if (peers_logged_.size() < kMaxPeersRemembered) first_from_peer = peers_logged_.emplace(peer).second;
  }
  const Level level = first_from_peer ? Level::info : Level::debug;
  if (!Logger::enabled(level)) return;
  if (detail.empty())
    log_.at(level, "dropped input from ", peer, ": ", reason);
  else
    log_.at(level, "dropped input from ", peer, ": ", reason, " (", detail, ")");
}

}  // namespace lc
