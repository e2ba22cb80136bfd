// A Hub that records what a bridge reports, for unit tests of bridges without MQTT.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "bridges/bridge.h"

namespace lc::test {

class FakeHub : public Hub {
 public:
  struct Event {
    std::string type;
    std::string id;
    Json detail;
  };

  bool admit = true;  // what device_seen answers
  std::map<std::string, DeviceInfo> devices;
  std::map<std::string, Json> state;       // id -> {property: value}
  std::map<std::string, Json> attributes;  // id -> attributes
  std::map<std::string, int> heard_count;
  std::vector<std::string> lost;
  std::vector<Event> events;
  struct Exchange {
    std::string received, answered;
    int count = 0;
  };
  std::map<std::string, Exchange> cloud;  // id -> the last cloud_exchange

  bool device_seen(const DeviceInfo& info) override {
    if (!admit && !info.configured) return false;
    devices[info.id] = info;
    return true;
  }
  bool known(std::string_view id) const override { return devices.count(std::string(id)) != 0; }
  void heard(std::string_view id) override { ++heard_count[std::string(id)]; }
  void state_changed(std::string_view id, std::string_view property, Json value) override {
    state[std::string(id)][std::string(property)] = std::move(value);
  }
  void attributes_changed(std::string_view id, Json value) override {
    attributes[std::string(id)] = std::move(value);
  }
  void device_lost(std::string_view id) override { lost.emplace_back(id); }
  void event(std::string_view type, std::string_view id, Json detail) override {
    events.push_back({std::string(type), std::string(id), std::move(detail)});
  }
  void cloud_exchange(std::string_view id, std::string_view received, std::string_view answered) override {
    auto& exchange = cloud[std::string(id)];
    exchange.received = received;
    exchange.answered = answered;
    ++exchange.count;
  }
  std::string log_name(std::string_view id) const override { return std::string(id); }

  // The value last reported for a property, or null.
  Json value(const std::string& id, const std::string& property) const {
    auto it = state.find(id);
    if (it == state.end() || !it->second.contains(property)) return nullptr;
    return it->second.at(property);
  }
};

}  // namespace lc::test
