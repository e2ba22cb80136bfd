#include "bridges/vesync/energy.h"

#include <cmath>

#include "bridges/vesync/outlet.h"
#include "bridges/vesync/readings.h"

namespace lc::vesync {

namespace {

constexpr std::string_view kRecordPrefix = "vesync-energy-";
// A retained energy total beyond this (kMaxPlausibleWatts for 285 years) is not a real counter.
constexpr double kMaxEnergyKwh = 1e7;

std::string record_name(const std::string& id) { return std::string(kRecordPrefix) + id; }

}  // namespace

EnergyCounters::EnergyCounters(DurableStore& store, Hub& hub, const Logger& log, Find find)
    : store_(store), hub_(hub), log_(log), find_(std::move(find)) {}

EnergyCounters::~EnergyCounters() { stop(); }

void EnergyCounters::stop() {
  *alive_ = false;
  alive_ = std::make_shared<bool>(false);
}

void EnergyCounters::load() {
  for (const auto& name : store_.list(kRecordPrefix)) {
    auto content = store_.load(name);
    if (!content) continue;
    Json record = Json::parse(*content, nullptr, false);
    if (record.is_object() && record.contains("energy_kwh") && record["energy_kwh"].is_number())
      stored_[name.substr(kRecordPrefix.size())] = record["energy_kwh"].get<double>();
  }
}

void EnergyCounters::restore(Outlet& outlet) {
  auto stored = stored_.find(outlet.id);
  if (stored == stored_.end()) return;
  outlet.energy_kwh = stored->second;
  outlet.energy_published = -1;
  outlet.energy_stored = true;
  stored_.erase(stored);
}

void EnergyCounters::add(Outlet& outlet, double kwh) {
  if (kwh <= 0) return;
  outlet.energy_kwh += kwh;
  persist(outlet);
}

void EnergyCounters::raise_to_retained(Outlet& outlet, const Json& state) {
  if (!state.is_object()) return;
  auto energy = state.find("energy");
  if (energy == state.end() || !energy->is_number()) return;
  const double retained = energy->get<double>();
  if (!std::isfinite(retained) || retained < 0 || retained > kMaxEnergyKwh) return;
  if (retained <= outlet.energy_kwh) return;
  log_.info(who(hub_, outlet), ": energy counter raised to the retained ", retained, " kWh (stored: ",
            outlet.energy_kwh, ")");
  outlet.energy_kwh = retained;
  persist(outlet);
}

void EnergyCounters::publish_stored(Outlet& outlet) {
  if (outlet.energy_stored && outlet.energy_published < outlet.energy_kwh) publish(outlet, outlet.energy_kwh);
}

void EnergyCounters::forget(Outlet& outlet) {
  outlet.energy_kwh = 0;
  outlet.energy_published = -1;
  outlet.energy_stored = false;
  store_.remove(record_name(outlet.id));
}

void EnergyCounters::persist(Outlet& outlet) {
  const double value = outlet.energy_kwh;
  outlet.energy_stored = true;
  const Json record = {{"energy_kwh", value}};
  store_.store(record_name(outlet.id), record.dump(),
               [this, alive = std::weak_ptr<bool>(alive_), id = outlet.id, value](bool ok) {
                 auto token = alive.lock();
                 if (!token || !*token) return;
                 if (!ok) {
                   log_.error("energy of ", hub_.log_name(id), " could not be made durable; not published");
                   return;
                 }
                 if (Outlet* outlet = find_(id)) publish(*outlet, value);
               });
}

void EnergyCounters::publish(Outlet& outlet, double kwh) {
  if (kwh <= outlet.energy_published) return;
  outlet.energy_published = kwh;
  if (outlet.admitted) hub_.state_changed(outlet.id, "energy", round_to(kwh, 1e6));
}

}  // namespace lc::vesync
