// The timeguard bridge's commands and requests against a FakeHub (bridge_fixture.h): writes
// with retries and the same seq (docs/protocols/timeguard.md §4.3), reply matching, the
// active-schedule read-back, re-reads after a rename, the order of commands and reads, bad
// values, raw frames and <key>/get.
#include <doctest/doctest.h>

#include <algorithm>
#include <set>

#include "bridge_fixture.h"

using namespace lc::timeguard;
using namespace lc::timeguard::test;
using lc::Json;

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

TEST_CASE("boost, advance, and the boost ack") {
  Fixture f;
  f.ping(0x2a | 0x10);  // advance on
  f.answer_reads();
  f.command("advance", "OFF");  // what the Hub makes of TOGGLE while advance is ON
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
  const int descriptions = f.hub.seen_calls;
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
  CHECK(f.hub.seen_calls == descriptions);
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
  f.command("advance", "TOGGLE");  // resolved by the Hub, never sent to a bridge
  f.command("relay", "ON");
  f.command("raw", "fad4");  // raw is off
  f.command("work_mode", 2);
  REQUIRE(f.wait_done(9));
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
