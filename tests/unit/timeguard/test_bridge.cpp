// The timeguard bridge against a FakeHub (bridge_fixture.h): properties, registration and
// admission, state from pings (only what changed), first-sight reads, and the relay mode's
// hands-off rule. Commands and requests: test_bridge_commands.cpp.
#include <doctest/doctest.h>

#include <algorithm>
#include <set>

#include "bridge_fixture.h"

using namespace lc::timeguard;
using namespace lc::timeguard::test;
using lc::Json;

TEST_CASE("select options are schedule_1..schedule_6, whatever the names (they live in the attributes)") {
  const auto properties = device_properties(false);
  const auto it = std::find_if(properties.begin(), properties.end(), [](const auto& p) { return p.key == "active_schedule"; });
  REQUIRE(it != properties.end());
  CHECK(it->options == std::vector<std::string>{"schedule_1", "schedule_2", "schedule_3", "schedule_4", "schedule_5", "schedule_6"});
  CHECK(std::set<std::string>(it->options.begin(), it->options.end()).size() == it->options.size());
  CHECK(it->writable);
  CHECK(it->attributes);
}

TEST_CASE("properties per docs/timeguard.md; raw only with allow_raw_commands") {
  auto keys = [](const std::vector<lc::Property>& properties) {
    std::vector<std::string> out;
    for (const auto& p : properties) out.push_back(p.key);
    return out;
  };
  const auto properties = device_properties(false);
  CHECK(keys(properties) == std::vector<std::string>{"relay", "load_detected", "work_mode", "boost", "boost_remaining",
                                                     "advance", "active_schedule", "uptime", "firmware"});
  auto find = [&](const std::string& key) {
    return *std::find_if(properties.begin(), properties.end(), [&](const auto& p) { return p.key == key; });
  };
  CHECK(find("relay").component == lc::Component::binary_sensor);
  CHECK(!find("relay").writable);
  CHECK(find("load_detected").component == lc::Component::binary_sensor);
  CHECK(find("work_mode").options == std::vector<std::string>{"auto", "always_off", "always_on", "holiday"});
  CHECK(find("work_mode").attributes);
  CHECK(find("boost").options == std::vector<std::string>{"off", "1h", "2h"});
  CHECK(find("boost_remaining").unit == "min");
  CHECK(find("advance").component == lc::Component::switch_);
  CHECK(find("advance").writable);
  CHECK(find("uptime").diagnostic);
  CHECK(find("uptime").unit == "s");
  CHECK(!find("uptime").enabled_by_default);  // changes with every ping
  CHECK(find("firmware").enabled_by_default);
  CHECK(find("firmware").diagnostic);
  const auto with_raw = device_properties(true);
  REQUIRE(with_raw.back().key == "raw");
  CHECK(with_raw.back().writable);
}

TEST_CASE("configured devices are registered at start") {
  Fixture f;
  REQUIRE(f.hub.devices.count(kKey));
  const auto& info = f.hub.devices[kKey];
  CHECK(info.configured);
  CHECK(info.name == "immersion_heater");
  CHECK(info.manufacturer == "Timeguard");
  CHECK(info.model.empty());
  CHECK(f.bridge->policy().offline_after == std::chrono::seconds(150));
  REQUIRE(f.bridge->listeners().size() == 1);
  CHECK(f.bridge->listeners()[0].protocol == "udp");
}

TEST_CASE("a ping becomes state; first-sight reads go one at a time and fill in the rest") {
  Fixture f;
  f.ping();
  auto reply = f.device.receive();
  REQUIRE(reply);
  CHECK(parsed(*reply).flags == flag::ping_reply);
  REQUIRE(run_until(f.io, [&] { return !f.hub.value(kKey, "uptime").is_null(); }));
  CHECK(f.hub.value(kKey, "relay") == "ON");
  CHECK(f.hub.value(kKey, "load_detected") == "ON");
  CHECK(f.hub.value(kKey, "work_mode") == "auto");
  CHECK(f.hub.value(kKey, "boost") == "off");
  CHECK(f.hub.value(kKey, "boost_remaining") == 0);
  CHECK(f.hub.value(kKey, "advance") == "OFF");
  CHECK(f.hub.value(kKey, "uptime") == 19804);
  CHECK(f.hub.heard_count[kKey] == 1);

  // The code version first; nothing else while it is unanswered.
  Bytes storage;
  const FrameView first = f.next_request(storage);
  const Bytes first_bytes = storage;
  CHECK(first.type == type::code_version);
  CHECK(first.flags == flag::read);
  CHECK(first.message_id == kServerMessageId);
  CHECK(first.padding == std::array<uint8_t, 3>{0, 0, 0});
  CHECK(first.seq <= kMaxServerSeq);
  CHECK(f.device.collect(300ms).empty());
  f.reply(parsed(first_bytes), flag::read_reply, encode(CodeVersion::from_text("4191717051001")));
  f.answer_reads(8);
  CHECK(f.device.collect(200ms).empty());  // nothing more to ask

  for (uint8_t seq : f.seqs) CHECK(seq <= kMaxServerSeq);
  CHECK(std::set<uint8_t>(f.seqs.begin(), f.seqs.end()).size() == f.seqs.size());
  const auto& info = f.hub.devices[kKey];
  CHECK(info.model == "NTTWIFI");
  CHECK(info.firmware == "4191717051001");
  CHECK(f.hub.value(kKey, "firmware") == "4191717051001");
  CHECK(f.hub.value(kKey, "active_schedule") == "schedule_1");
  const auto options = std::find_if(info.properties.begin(), info.properties.end(),
                                    [](const auto& p) { return p.key == "active_schedule"; })->options;
  CHECK(options == std::vector<std::string>{"schedule_1", "schedule_2", "schedule_3", "schedule_4", "schedule_5", "schedule_6"});
  const Json& attributes = f.hub.attributes[kKey];
  CHECK(attributes["active_schedule_index"] == 0);
  CHECK(attributes["active_schedule_name"] == "Default");
  CHECK(attributes["schedules"].size() == 6);
  CHECK(attributes["schedules"][3]["name"] == "Evenings");
  CHECK(attributes["schedules"][0]["slots"][0] ==
        Json({{"start", "04:30"}, {"start_enabled", true}, {"end", "05:00"}, {"end_enabled", true},
              {"days", {"sun", "tue", "wed", "thu", "fri", "sat"}}}));
  CHECK(attributes["holiday"]["active"] == false);
  CHECK(attributes["holiday"]["time_a"] == "2021-07-11 04:30:00");
  CHECK(attributes["holiday"]["time_b_raw"] == 1626048000);
  CHECK(attributes["holiday"]["unknown"] == "740000");
  CHECK(attributes["load_previously_detected"] == true);
}

TEST_CASE("boost_remaining comes from the ping's boost word in the configured time zone") {
  Fixture f;
  auto zone = TimeZone::from_posix("GMT0BST,M3.5.0/1,M10.5.0");
  const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::system_clock::now().time_since_epoch()).count();
  const int started = (minute_of_week(zone->to_local(now)) - 15 + kMinutesPerWeek) % kMinutesPerWeek;
  f.ping(0x2a, 0, BoostWord::make(BoostKind::one_hour, started));
  REQUIRE(run_until(f.io, [&] { return !f.hub.value(kKey, "boost_remaining").is_null(); }));
  const int remaining = f.hub.value(kKey, "boost_remaining").get<int>();
  CHECK(remaining >= 44);
  CHECK(remaining <= 45);
  CHECK(f.hub.value(kKey, "boost") == "1h");
}

TEST_CASE("an unknown device the Hub refuses gets its keepalives and nothing else") {
  Fixture f(TimeguardMode::local, false, false);
  f.hub.admit = false;
  const uint32_t stranger = 0xdeadbeef;
  f.device.send(device_frame(stranger, type::ping, flag::device_report, kDeviceSeq, Bytes(16, 0)), f.address());
  f.device.send(vector_bytes("syn_device_code_version_report"), f.address());
  const auto received = f.device.collect(400ms);
  REQUIRE(received.size() == 2);
  CHECK(parsed(received[0]).flags == flag::ping_reply);
  CHECK(parsed(received[1]).flags == flag::version_ack);
  CHECK(f.hub.devices.empty());
  CHECK(f.hub.heard_count.empty());
}

TEST_CASE("an unknown device the Hub admits is registered and read") {
  Fixture f(TimeguardMode::local, false, false);
  f.ping();
  Bytes storage;
  CHECK(f.next_request(storage).type == type::code_version);
  REQUIRE(f.hub.devices.count(kKey));
  CHECK(!f.hub.devices[kKey].configured);
  CHECK(f.hub.devices[kKey].name.empty());
}

TEST_CASE("a device the Hub did not register is not asked again; admitted() starts its reports") {
  Fixture f(TimeguardMode::local, false, false);
  f.hub.admit = false;
  f.ping();
  REQUIRE(f.device.receive());  // the ping reply
  CHECK(f.hub.seen_calls == 1);
  f.hub.admit = true;  // the Hub keeps it waiting for its turn
  f.ping();
  REQUIRE(f.device.receive());
  run_for(f.io, 50ms);
  CHECK(f.hub.seen_calls == 1);
  CHECK(f.hub.devices.empty());
  CHECK(f.hub.heard_count.empty());
  // Its turn: the Hub registers it and tells the bridge, which reads it at once.
  lc::DeviceInfo info;
  info.id = kKey;
  f.hub.devices[kKey] = info;
  f.bridge->admitted(kKey);
  Bytes storage;
  CHECK(f.next_request(storage).type == type::code_version);
  f.ping();
  REQUIRE(run_until(f.io, [&] { return f.hub.value(kKey, "relay") == "ON"; }));
  CHECK(f.hub.heard_count[kKey] == 1);
  CHECK(f.hub.seen_calls == 1);
}

TEST_CASE("after a removal the devices the Hub refused are asked once more") {
  Fixture f(TimeguardMode::local, false, false);
  f.hub.admit = false;
  f.ping();
  REQUIRE(f.device.receive());
  f.hub.admit = true;
  f.bridge->forget("0badc0de");  // another device was removed: there may be room now
  f.ping();
  REQUIRE(run_until(f.io, [&] { return f.hub.devices.count(kKey) == 1; }));
  CHECK(f.hub.seen_calls == 2);
}

TEST_CASE("a ping that changed nothing reports nothing, and the Hub hears of the device at most once a second") {
  Fixture f;
  f.ping();
  f.answer_reads();
  run_for(f.io, 50ms);
  const int states = f.hub.state_calls;
  const int heard = f.hub.heard_calls;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 20; ++i) {
    f.ping();
    REQUIRE(f.device.receive());  // its reply: the ping was handled
  }
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - start);
  CHECK(f.hub.state_calls == states);
  CHECK(f.hub.heard_calls - heard <= 1 + seconds.count());
  // The uptime, which ticks with every ping, goes to the Hub at most once a minute.
  f.ping(0x2a, 0, {}, 19805);
  REQUIRE(f.device.receive());
  run_for(f.io, 20ms);
  CHECK(f.hub.value(kKey, "uptime") == 19804);
  CHECK(f.hub.state_calls == states);
  // What changes is reported, and only that.
  f.ping(0x21, 0, {}, 19805);  // relay OFF, no load now
  REQUIRE(run_until(f.io, [&] { return f.hub.value(kKey, "relay") == "OFF"; }));
  run_for(f.io, 20ms);
  CHECK(f.hub.value(kKey, "load_detected") == "OFF");
  CHECK(f.hub.state_calls == states + 2);
  // An ack reports through the same record: the next ping that agrees with it is quiet.
  f.command("work_mode", "always_on");
  Bytes storage;
  const FrameView write = f.next_request(storage);
  f.reply(write, flag::write_ack, Bytes{2});
  REQUIRE(f.wait_done());
  CHECK(f.hub.value(kKey, "work_mode") == "always_on");
  CHECK(f.hub.state_calls == states + 3);
  f.ping(0x21, 2, {}, 19805);
  REQUIRE(f.device.receive());
  run_for(f.io, 20ms);
  CHECK(f.hub.state_calls == states + 3);
}

TEST_CASE("relay mode: no automatic reads, state still learned from the traffic") {
  Fixture f(TimeguardMode::relay);
  f.ping();
  REQUIRE(f.cloud->receive());
  CHECK(f.device.collect(300ms).empty());  // neither a ping reply nor a read
  CHECK(f.hub.value(kKey, "relay") == "ON");
  // The device's answer to the cloud's read still updates us.
  f.device.send(vector_bytes("syn_device_code_version_reply"), f.address());
  REQUIRE(run_until(f.io, [&] { return f.hub.devices[kKey].model == "FSTWIFI"; }));
}

TEST_CASE("forget: a forgotten device that shows up again is registered again") {
  Fixture f(TimeguardMode::local, false, false);
  f.ping();
  REQUIRE(run_until(f.io, [&] { return f.hub.devices.count(kKey) == 1; }));
  f.hub.devices.clear();
  f.bridge->forget(kKey);
  f.ping();
  REQUIRE(run_until(f.io, [&] { return f.hub.devices.count(kKey) == 1; }));
}

