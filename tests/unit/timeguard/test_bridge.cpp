// The timeguard bridge against a FakeHub, with a loopback socket playing the device: state
// from pings, first-sight reads, commands with retries (protocols/timeguard.md §4.3), the
// select options, admission, and the relay mode's hands-off rule.
#include <doctest/doctest.h>

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <set>

#include "bridges/timeguard/bridge.h"
#include "core/durable_store.h"
#include "support.h"
#include "tests/support/fake_hub.h"

using namespace lc::timeguard;
using namespace lc::timeguard::test;
using lc::Json;
using TimeguardMode = lc::timeguard::Mode;

namespace {

constexpr uint32_t kId = 0x12345678;
const std::string kKey = "12345678";

Schedule named_schedule(uint8_t index, const std::string& name) {
  Schedule s;
  s.index = index;
  s.slots[0] = Slot{SlotTime::make(true, 270), SlotTime::make(true, 300), 0x7d, 0};
  s.set_name(name);
  return s;
}

struct Fixture {
  boost::asio::io_context io;
  lc::timeguard::Settings settings;
  lc::test::FakeHub hub;
  lc::Metrics metrics;
  std::filesystem::path dir;
  std::unique_ptr<lc::DurableStore> store;
  std::unique_ptr<lc::BridgeContext> context;
  std::unique_ptr<TimeguardBridge> bridge;
  std::unique_ptr<Peer> cloud;
  Peer device{io};
  std::vector<std::string> done;  // outcomes of commands ("" = ok)

  explicit Fixture(TimeguardMode mode = TimeguardMode::local, bool allow_raw = false, bool configured = true,
                   TimeguardBridge::Timing timing = {}) {
    settings.enabled = true;
    settings.listen = lc::Endpoint{"127.0.0.1", 0};
    settings.mode = mode;
    settings.allow_raw_commands = allow_raw;
    settings.timezone = "GMT0BST,M3.5.0/1,M10.5.0";
    if (configured) settings.devices.push_back({kId, "immersion_heater", {}});
    if (mode != TimeguardMode::local) {
      cloud = std::make_unique<Peer>(io);
      settings.upstream = lc::Endpoint{"127.0.0.1", cloud->address().port()};
    }
    dir = std::filesystem::temp_directory_path() / ("lc-tg-bridge-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    store = std::make_unique<lc::DurableStore>(io, dir);
    context = std::make_unique<lc::BridgeContext>(lc::BridgeContext{io, &settings, hub, metrics, *store});
    bridge = std::make_unique<TimeguardBridge>(*context, timing);
    bridge->start();
  }
  ~Fixture() {
    bridge->stop();
    bridge.reset();
    store.reset();
    std::filesystem::remove_all(dir);
  }

  udp::endpoint address() const { return bridge->endpoint().local_endpoint(); }

  void ping(uint8_t state = 0x2a, uint8_t work_mode = 0, BoostWord boost = {}, uint32_t uptime = 19804) {
    PingStatus s;
    s.state = state;
    s.unknown1 = {0, 0x64, 0};
    s.work_mode = work_mode;
    s.uptime_s = uptime;
    s.boost = boost;
    device.send(device_frame(kId, type::ping, flag::device_report, kDeviceSeq, encode(s)), address());
  }

  // The next frame the device receives that is not a ping reply.
  FrameView next_request(Bytes& storage, std::chrono::milliseconds timeout = 2000ms) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      auto got = device.receive(std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now()));
      if (!got) break;
      storage = *got;
      FrameView frame = parsed(storage);
      if (kind_of(frame.type, frame.flags) != Kind::ping_reply) return frame;
    }
    throw std::runtime_error("no request arrived");
  }

  void reply(const FrameView& request, uint8_t flags, const Bytes& params) {
    device.send(device_frame(kId, request.type, flags, request.seq, params), address());
  }

  // Answers the first-sight reads as a device with these schedule names would.
  std::vector<uint8_t> seqs;  // of every read answered by answer_reads
  void answer_reads(int count = 9, const std::vector<std::string>& names = {"Default", "Default", "", "Evenings", "", ""}) {
    Bytes storage;
    for (int i = 0; i < count; ++i) {
      const FrameView request = next_request(storage);
      seqs.push_back(request.seq);
      REQUIRE(request.flags == flag::read);
      switch (request.type) {
        case type::code_version:
          reply(request, flag::read_reply, encode(CodeVersion::from_text("4191717051001")));
          break;
        case type::active_schedule:
          reply(request, flag::read_reply, Bytes{0});
          break;
        case type::schedule:
          reply(request, flag::read_reply, encode(named_schedule(request.params[0], names.at(request.params[0]))));
          break;
        case type::holiday: {
          const Bytes captured = vector_bytes("readme_07_device_holiday_reply");
          const FrameView frame = parsed(captured);
          reply(request, flag::read_reply, Bytes(frame.params.begin(), frame.params.end()));
          break;
        }
        default:
          FAIL("unexpected request type ", int(request.type));
      }
    }
    run_until(io, [&] { return hub.attributes.count(kKey) && hub.attributes[kKey]["holiday"].is_object(); });
  }

  void command(const std::string& property, const Json& value) {
    bridge->command(kKey, property, value, [this](std::string error) { done.push_back(std::move(error)); });
  }
  bool wait_done(size_t count = 1, std::chrono::milliseconds timeout = 2000ms) {
    return run_until(io, [&] { return done.size() >= count; }, timeout);
  }
};

}  // namespace

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

TEST_CASE("work_mode: a type-8 write with flags 0x0e, done after the ack, state from the device") {
  Fixture f;
  f.ping();
  f.answer_reads();
  f.command("work_mode", "always_on");
  Bytes storage;
  const FrameView write = f.next_request(storage);
  CHECK(write.type == type::work_mode);
  CHECK(write.flags == flag::write);
  CHECK(Bytes(write.params.begin(), write.params.end()) == Bytes{2});
  CHECK(write.seq <= kMaxServerSeq);
  CHECK(f.done.empty());
  // Byte-exact with the vector but for the seq.
  CHECK(storage == encode_request(type::work_mode, flag::write, write.seq, kId, Bytes{2}));
  f.reply(write, flag::write_ack, Bytes{2});
  REQUIRE(f.wait_done());
  CHECK(f.done[0] == "");
  CHECK(f.hub.value(kKey, "work_mode") == "always_on");
}

TEST_CASE("an unanswered command is resent with the same seq and bytes, then fails") {
  TimeguardBridge::Timing timing;
  timing.retry = 100ms;
  timing.give_up = 750ms;
  Fixture f(TimeguardMode::local, false, true, timing);
  f.ping();
  f.answer_reads();
  f.command("boost", "1h");
  std::vector<Bytes> sent;
  REQUIRE(run_until(f.io, [&] {
    if (auto got = f.device.receive(5ms)) sent.push_back(*got);
    return !f.done.empty();
  }, 3000ms));
  CHECK(f.done[0].find("no answer") != std::string::npos);
  // Every 100 ms for 750 ms: 8 sends, fewer when the machine is busy (timers fire late).
  REQUIRE(sent.size() >= 3);
  CHECK(sent.size() <= 9);
  for (const Bytes& frame : sent) CHECK(frame == sent[0]);
  CHECK(parsed(sent[0]).type == type::boost);
  CHECK(f.hub.value(kKey, "boost") == "off");  // unchanged: only the device's word counts
  // The next command goes out normally.
  f.command("advance", "ON");
  Bytes storage;
  const FrameView advance = f.next_request(storage);
  CHECK(advance.type == type::advance);
  CHECK(advance.seq != parsed(sent[0]).seq);
  f.reply(advance, flag::write_ack, Bytes{1});
  REQUIRE(f.wait_done(2));
  CHECK(f.done[1] == "");
  CHECK(f.hub.value(kKey, "advance") == "ON");
}

TEST_CASE("replies are matched by type and seq; a reply without the success bit fails") {
  Fixture f;
  f.ping();
  f.answer_reads();
  f.command("work_mode", "holiday");
  Bytes storage;
  const FrameView write = f.next_request(storage);
  // Wrong seq, wrong type: not ours.
  f.device.send(device_frame(kId, type::work_mode, flag::write_ack, static_cast<uint8_t>(write.seq + 1), Bytes{3}), f.address());
  f.device.send(device_frame(kId, type::boost, flag::write_ack, write.seq, Bytes(4, 0)), f.address());
  run_for(f.io, 100ms);
  CHECK(f.done.empty());
  f.reply(write, 0x06, Bytes{3});
  REQUIRE(f.wait_done());
  CHECK(f.done[0].find("success") != std::string::npos);
}

TEST_CASE("boost, advance TOGGLE, and the boost ack") {
  Fixture f;
  f.ping(0x2a | 0x10);  // advance on
  f.answer_reads();
  f.command("advance", "TOGGLE");
  Bytes storage;
  const FrameView advance = f.next_request(storage);
  CHECK(advance.type == type::advance);
  CHECK(Bytes(advance.params.begin(), advance.params.end()) == Bytes{0});
  f.reply(advance, flag::write_ack, Bytes{0});
  REQUIRE(f.wait_done());
  CHECK(f.hub.value(kKey, "advance") == "OFF");

  f.command("boost", "2h");
  const FrameView boost = f.next_request(storage);
  CHECK(storage == encode_request(type::boost, flag::write, boost.seq, kId, Bytes{2}));
  const BoostWord word = BoostWord::make(BoostKind::two_hours, 100);
  f.reply(boost, flag::write_ack, encode_boost_ack(word, word));
  REQUIRE(f.wait_done(2));
  CHECK(f.done[1] == "");
  CHECK(f.hub.value(kKey, "boost") == "2h");
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

TEST_CASE("active_schedule: written, acknowledged, then read back") {
  Fixture f;
  f.ping();
  f.answer_reads();
  f.command("active_schedule", "schedule_4");
  Bytes storage;
  const FrameView write = f.next_request(storage);
  CHECK(write.type == type::active_schedule);
  CHECK(write.flags == flag::write);
  CHECK(Bytes(write.params.begin(), write.params.end()) == Bytes{3});
  f.reply(write, flag::write_ack, Bytes{3});
  const FrameView read = f.next_request(storage);
  CHECK(read.type == type::active_schedule);
  CHECK(read.flags == flag::read);
  f.reply(read, flag::read_reply, Bytes{3});
  REQUIRE(f.wait_done());
  CHECK(f.done[0] == "");
  CHECK(f.hub.value(kKey, "active_schedule") == "schedule_4");
  CHECK(f.hub.attributes[kKey]["active_schedule_name"] == "Evenings");
}

TEST_CASE("a rename acknowledged by the device (from the cloud or the app) makes us re-read that schedule") {
  Fixture f;
  f.ping();
  f.answer_reads();
  f.device.send(device_frame(kId, type::schedule_name, flag::write_ack, 0x40, Bytes{3}), f.address());
  Bytes storage;
  const FrameView read = f.next_request(storage);
  CHECK(read.type == type::schedule);
  CHECK(read.flags == flag::read);
  CHECK(Bytes(read.params.begin(), read.params.end()) == Bytes{3});
  f.reply(read, flag::read_reply, encode(named_schedule(3, "Mornings")));
  REQUIRE(run_until(f.io, [&] { return f.hub.attributes[kKey]["schedules"][3]["name"] == "Mornings"; }));
  // The select's options (so its discovery config) stay as they are: only the attributes change.
  const auto& options = std::find_if(f.hub.devices[kKey].properties.begin(), f.hub.devices[kKey].properties.end(),
                                     [](const auto& p) { return p.key == "active_schedule"; })->options;
  CHECK(options[3] == "schedule_4");
  CHECK(f.hub.value(kKey, "active_schedule") == "schedule_1");
}

TEST_CASE("commands go before the automatic reads") {
  Fixture f;
  f.ping();
  Bytes storage;
  const FrameView first = f.next_request(storage);  // the code version read is in flight
  f.command("work_mode", "always_off");
  f.reply(first, flag::read_reply, encode(CodeVersion::from_text("4190117051001")));
  const FrameView next = f.next_request(storage);
  CHECK(next.type == type::work_mode);
  CHECK(f.hub.devices[kKey].model == "FSTWIFI");
}

TEST_CASE("bad command values are refused at once") {
  Fixture f;
  f.ping();
  f.answer_reads();
  f.command("work_mode", "sometimes");
  f.command("boost", "3h");
  f.command("active_schedule", "schedule_7");
  f.command("active_schedule", "1: Default");  // the labels of old
  f.command("advance", "MAYBE");
  f.command("relay", "ON");
  f.command("raw", "fad4");  // raw is off
  f.command("work_mode", 2);
  REQUIRE(f.wait_done(8));
  for (const auto& error : f.done) CHECK(!error.empty());
  CHECK(f.device.collect(200ms).empty());
  bool unknown_device_failed = false;
  f.bridge->command("99999999", "work_mode", "auto", [&](std::string error) { unknown_device_failed = !error.empty(); });
  CHECK(unknown_device_failed);
}

TEST_CASE("raw frames with allow_raw_commands: sent as given, tracked when they are requests") {
  Fixture f(TimeguardMode::local, true);
  f.ping();
  f.answer_reads();
  const Bytes raw = vector_bytes("readme_06_server_holiday_read");  // seq 0xa2, junk padding
  f.command("raw", lc::hex(raw));
  Bytes storage;
  const FrameView read = f.next_request(storage);
  CHECK(storage == raw);
  f.reply(read, flag::read_reply, Bytes(12, 0));
  REQUIRE(f.wait_done());
  CHECK(f.done[0] == "");
  f.command("raw", "fa d4 00");
  Bytes other_device = raw;
  other_device[16] = 0x79;
  f.command("raw", lc::hex(other_device));
  REQUIRE(f.wait_done(3));
  CHECK(!f.done[1].empty());
  CHECK(!f.done[2].empty());
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

TEST_CASE("<key>/get reads everything that has a read again") {
  Fixture f;
  f.ping();
  f.answer_reads();
  f.bridge->read(kKey);
  std::vector<int> types;
  Bytes storage;
  for (int i = 0; i < 8; ++i) {
    const FrameView request = f.next_request(storage);
    CHECK(request.flags == flag::read);
    types.push_back(request.type);
    f.reply(request, flag::read_reply,
            request.type == type::schedule ? encode(named_schedule(request.params[0], "Again"))
            : request.type == type::holiday ? Bytes(12, 0)
                                            : Bytes{1});
  }
  CHECK(std::count(types.begin(), types.end(), type::schedule) == 6);
  CHECK(std::count(types.begin(), types.end(), type::active_schedule) == 1);
  CHECK(std::count(types.begin(), types.end(), type::holiday) == 1);
  CHECK(f.device.collect(200ms).empty());  // the code version is known: not asked again
  REQUIRE(run_until(f.io, [&] { return f.hub.attributes[kKey]["active_schedule_name"] == "Again"; }));
  CHECK(f.hub.value(kKey, "active_schedule") == "schedule_2");
}
