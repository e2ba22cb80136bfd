// The outlets' energy counters (docs/protocols/vesync.md §4.4): the watt-seconds of each
// /report summed into kWh that never decrease. A counter is kept in data_dir as
// vesync-energy-<id> ({"energy_kwh":N}) and published only once the writer thread says it is
// durable; at start it comes back from there, and a larger retained value found on the broker
// raises it.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <unordered_map>

#include "bridges/bridge.h"
#include "core/durable_store.h"
#include "core/log.h"

namespace lc::vesync {

struct Outlet;

class EnergyCounters {
 public:
  // `find`: the outlet with that id now, or nullptr (a record may become durable after its
  // outlet was forgotten).
  using Find = std::function<Outlet*(const std::string& id)>;

  EnergyCounters(DurableStore& store, Hub& hub, const Logger& log, Find find);
  ~EnergyCounters();  // writes still queued publish nothing
  EnergyCounters(const EnergyCounters&) = delete;
  EnergyCounters& operator=(const EnergyCounters&) = delete;

  // Start-up: the counters made durable by earlier runs (taken by restore()).
  void load();
  // A new Outlet takes its stored counter, if there is one.
  void restore(Outlet& outlet);
  // Adds a report's energy (kWh > 0), made durable, then published.
  void add(Outlet& outlet, double kwh);
  // The retained state's energy on the broker, when larger than the counter, becomes it.
  void raise_to_retained(Outlet& outlet, const Json& state);
  // Publishes a stored counter not published yet (after the outlet is registered).
  void publish_stored(Outlet& outlet);
  // bridge/request/remove: the counter and its record go.
  void forget(Outlet& outlet);
  // No callback publishes anything from now on (the bridge stops).
  void stop();

 private:
  void persist(Outlet& outlet);
  void publish(Outlet& outlet, double kwh);

  DurableStore& store_;
  Hub& hub_;
  const Logger& log_;
  Find find_;
  std::unordered_map<std::string, double> stored_;  // records of outlets not seen yet
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace lc::vesync
