// What the JSON API and the page's live stream say about a device and about the daemon: the
// device as the page shows it (state, availability, last_seen, properties with their units
// and controls, the cloud conversation), and the bridge's status (broker, version, uptime,
// listeners, devices, packets from the metrics). Nothing here holds a secret: device records
// carry none, and the status is built from counters and listener addresses only.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "app/hub/record.h"

namespace lc::api {

// "2024-05-01T12:00:03Z"; with millis "2024-05-01T12:00:03.250Z".
std::string iso_time(std::chrono::system_clock::time_point at, bool millis = false);

// When the device was last heard, as wall time; nullopt when never.
std::optional<std::chrono::system_clock::time_point> last_seen(const DeviceRecord& record,
                                                                std::chrono::steady_clock::time_point now);

// One device for /api/devices (with its attributes) and the stream (its "device" events and
// the snapshot, without: schedules and raw halves are kBs a device, the page asks for them
// with GET /api/devices/<key> when their details are opened).
nlohmann::json device_json(const DeviceRecord& record, bool with_attributes = true);
// Only what changes often: the state ("state" events).
nlohmann::json values_json(const DeviceRecord& record);
// Availability and last seen ("availability" events).
nlohmann::json presence_json(const DeviceRecord& record);
// The cloud conversation: {"received","answered","at","exchanges","error","error_at"}; null
// fields when nothing is known.
nlohmann::json cloud_json(const CloudConversation& cloud);

// The bridge's status for the page's header: version, uptime, broker, log settings, whether
// the page may change things, and per bridge its listeners, devices, devices online and
// packets in/out/dropped.
struct StatusInputs {
  bool broker_connected = false;
  nlohmann::json bridges;         // HubService::bridges_json()
  std::string_view metrics_text;  // Metrics::prometheus_text()
  std::chrono::steady_clock::time_point started;
  std::string_view changes;       // app/api/security.h changes()
  std::string_view base_topic;
};
nlohmann::json status_json(const StatusInputs& inputs);

// Packets in, out and dropped per bridge, summed from the Prometheus text of /metrics
// (localcloud_packets_total{bridge,direction} and localcloud_packets_dropped_total{bridge}).
struct PacketTotals {
  double in = 0, out = 0, dropped = 0;
};
std::map<std::string, PacketTotals, std::less<>> packet_totals(std::string_view prometheus_text);

}  // namespace lc::api
