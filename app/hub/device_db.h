// The device database, devices.json in data_dir: every registered device with its
// description, so that devices seen before keep their discovery across restarts and
// configured devices that left the config have their topics cleared. Saved two seconds after
// a change, on the DurableStore's writer thread.
#pragma once

#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "app/hub/registry.h"
#include "bridges/device.h"
#include "core/durable_store.h"
#include "core/log.h"

namespace lc {

class DeviceDatabase {
 public:
  // A device the database holds that is not registered again: its topics are to be cleared.
  struct Stale {
    std::string bridge;
    DeviceInfo info;
    std::string key;
    bool renamed = false;  // the name came from device/rename
  };

  DeviceDatabase(boost::asio::io_context& io, DurableStore& store, Registry& registry);

  // At start, after the bridges registered their configured devices: fills in what those
  // cannot know yet (model, firmware, properties), gives a configured device without a name
  // in the config the name device/rename gave it, registers the unknown devices seen before
  // (within max_unknown, with their names), and returns the devices whose topics should be
  // cleared: those that left the config, and the old key of a device whose key changed (its
  // name in the config changed).
  std::vector<Stale> restore();
  void save_soon();
  // A rename: written now (the answer says it is kept).
  void save_now();
  // Shutdown: a pending save is written now.
  void save_if_pending();

 private:
  void save();

  DurableStore& store_;
  Registry& registry_;
  boost::asio::steady_timer timer_;
  bool dirty_ = false;
  Logger log_;
};

}  // namespace lc
