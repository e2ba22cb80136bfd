// A change feed out of the Hub for readers other than MQTT (the web page's live stream): told
// from where the Hub already reacts to a change in the registry, on the io_context thread.
// Observers read the record during the call and keep nothing but copies; they must not
// change the Hub from inside a callback.
#pragma once

#include <algorithm>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "app/hub/record.h"

namespace lc {

class HubObserver {
 public:
  virtual ~HubObserver() = default;
  // Registered, restored from the device database, or its description (model, firmware,
  // properties) changed.
  virtual void device_changed(const DeviceRecord& record) { (void)record; }
  virtual void availability_changed(const DeviceRecord& record) { (void)record; }
  // A property or the attributes changed (once per change: observers coalesce).
  virtual void values_changed(const DeviceRecord& record) { (void)record; }
  // A bridge/event message from a bridge (device_joined, device_error, ...), as published.
  virtual void event(const std::string& type, const std::string& key, const nlohmann::json& detail) {
    (void)type, (void)key, (void)detail;
  }
};

// The Hub's list of observers.
class HubObservers {
 public:
  void add(HubObserver& observer) { observers_.push_back(&observer); }
  void remove(HubObserver& observer) { std::erase(observers_, &observer); }
  // An observer that removes itself from inside a callback is not called again.
  template <class Call> void notify(Call call) const {
    for (size_t i = 0; i < observers_.size(); ++i) call(*observers_[i]);
  }
  bool empty() const { return observers_.empty(); }

 private:
  std::vector<HubObserver*> observers_;
};

}  // namespace lc
