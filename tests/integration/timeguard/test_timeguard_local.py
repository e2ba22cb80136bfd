"""The timeguard bridge in local mode, end to end: a real mosquitto, the built daemon and
`localcloud-sim timeguard` devices on the binary UDP protocol (docs/protocols/timeguard.md), as Home
Assistant sees it."""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import harness  # noqa: E402
from harness import wait_until  # noqa: E402

DEVICE = "12345678"
VERSION = "4191717051001"  # an NTTWIFI
NODE = f"localcloud_timeguard_{DEVICE}"
SCHEDULE_OPTIONS = [f"schedule_{n}" for n in range(1, 7)]  # the names are attributes


def received(kind):
    return lambda e: e.get("event") == "received" and e.get("kind") == kind


class TimeguardLocalTest(harness.DaemonTest):
    def timeguard(self, **extra):
        self.port = harness.free_port()
        section = {
            "enabled": True,
            "listen": f"127.0.0.1:{self.port}",
            "mode": "local",
            "offline_after": "150s",
            "devices": [{"id": DEVICE, "name": "immersion_heater"}],
        }
        section.update(extra)
        return section

    def device(self, *extra):
        return self.sim("timeguard", "--server", f"127.0.0.1:{self.port}", "--id", DEVICE, "--ping-interval", "1s",
                        "--code-version", VERSION, *extra)

    @staticmethod
    def events(sim, predicate):
        with sim.cond:
            return [e for e in sim.events if predicate(e)]

    def wait_first_sight(self, obs):
        """Until the device's reads (code version, active schedule, schedules, holiday) are in."""
        obs.wait_json("lc/immersion_heater/attributes",
                      lambda a: a.get("holiday") is not None and None not in a.get("schedules", [None]), timeout=15)
        return obs.wait_json("lc/immersion_heater", lambda s: s.get("firmware") == VERSION
                             and s.get("active_schedule") == "schedule_1" and "uptime" in s)

    def test_keepalive_replies_state_and_discovery(self):
        obs = self.observer()
        self.start_daemon(self.base_config(timeguard=self.timeguard()))
        sim = self.device()
        ack = sim.wait(received("code_version_ack"), what="version ack")
        self.assertEqual(ack["flags"], 0x0B)
        self.assertEqual(ack["seq"], 0xFF)
        self.assertEqual(ack["message_id"], 0xFFFFFFFF)
        self.assertEqual(bytes.fromhex(ack["params"]).decode(), VERSION)
        reply = sim.wait(received("ping_reply"), what="ping reply")
        self.assertEqual((reply["type"], reply["flags"], reply["seq"]), (0, 0x0F, 0xFF))
        self.assertEqual(reply["padding"], "000000")
        self.assertLessEqual(abs(reply["time"] - time.time()), 5 * harness.SLOW)

        state = self.wait_first_sight(obs)
        self.assertIn(state["relay"], ("ON", "OFF"))
        self.assertEqual(state["load_detected"], state["relay"])  # the simulated load is connected
        self.assertEqual(state["work_mode"], "auto")
        self.assertEqual(state["boost"], "off")
        self.assertEqual(state["boost_remaining"], 0)
        self.assertEqual(state["advance"], "OFF")
        self.assertIsInstance(state["uptime"], int)
        attributes = obs.wait_json("lc/immersion_heater/attributes")
        self.assertEqual(attributes["schedules"][0]["name"], "Default")
        self.assertEqual(attributes["schedules"][0]["slots"][0]["start"], "04:30")
        self.assertEqual(attributes["schedules"][0]["slots"][0]["days"], ["sun", "tue", "wed", "thu", "fri", "sat"])
        self.assertEqual(attributes["holiday"]["time_b_raw"], 1626048000)
        self.assertEqual(attributes["active_schedule_name"], "Default")
        obs.wait("lc/immersion_heater/availability", lambda m: m.text() == "online")

        # Discovery: binary sensors, selects, the switch, sensors; no raw without allow_raw_commands.
        for prop in ("relay", "load_detected"):
            config = obs.wait_json(f"homeassistant/binary_sensor/{NODE}/{prop}/config")
            self.assertNotIn("command_topic", config)
            self.assertEqual(config["state_topic"], "lc/immersion_heater")
        work_mode = obs.wait_json(f"homeassistant/select/{NODE}/work_mode/config")
        self.assertEqual(work_mode["options"], ["auto", "always_off", "always_on", "holiday"])
        self.assertEqual(work_mode["command_topic"], "lc/immersion_heater/set/work_mode")
        self.assertEqual(work_mode["json_attributes_topic"], "lc/immersion_heater/attributes")
        boost = obs.wait_json(f"homeassistant/select/{NODE}/boost/config")
        self.assertEqual(boost["options"], ["off", "1h", "2h"])
        schedule_topic = f"homeassistant/select/{NODE}/active_schedule/config"
        schedule = obs.wait_json(schedule_topic, lambda c: c["device"].get("model") == "NTTWIFI")
        self.assertEqual(schedule["options"], SCHEDULE_OPTIONS)
        # The options never changed, though the schedule names were read after the first config.
        self.assertEqual({tuple(m.json()["options"]) for m in obs.all(schedule_topic) if m.payload},
                         {tuple(SCHEDULE_OPTIONS)})
        self.assertEqual(schedule["device"]["model"], "NTTWIFI")
        self.assertEqual(schedule["device"]["sw_version"], VERSION)
        self.assertEqual(schedule["device"]["manufacturer"], "Timeguard")
        advance = obs.wait_json(f"homeassistant/switch/{NODE}/advance/config")
        self.assertEqual(advance["command_topic"], "lc/immersion_heater/set/advance")
        remaining = obs.wait_json(f"homeassistant/sensor/{NODE}/boost_remaining/config")
        self.assertEqual(remaining["unit_of_measurement"], "min")
        for prop in ("uptime", "firmware"):
            self.assertEqual(obs.wait_json(f"homeassistant/sensor/{NODE}/{prop}/config")["entity_category"],
                             "diagnostic")
        # The uptime changes with every ping: not enabled in Home Assistant until the user wants it.
        self.assertIs(obs.wait_json(f"homeassistant/sensor/{NODE}/uptime/config")["enabled_by_default"], False)
        self.assertIsNone(obs.find(f"homeassistant/sensor/{NODE}/raw/config"))

    def test_work_mode_boost_and_schedule_commands(self):
        obs = self.observer()
        self.start_daemon(self.base_config(timeguard=self.timeguard()))
        sim = self.device()
        self.wait_first_sight(obs)

        since = time.monotonic()
        obs.publish("lc/immersion_heater/set/work_mode", "always_on")
        write = sim.wait(received("work_mode_write"), what="type-8 write")
        self.assertEqual((write["type"], write["flags"], write["params"]), (8, 0x0E, "02"))
        self.assertLessEqual(write["seq"], 0xFD)
        self.assertEqual(write["message_id"], 0xFFFFFFFF)
        self.assertEqual(write["padding"], "000000")
        state = obs.wait_json("lc/immersion_heater", lambda s: s.get("work_mode") == "always_on"
                              and s.get("relay") == "ON", since=since)
        self.assertEqual(state["load_detected"], "ON")

        since = time.monotonic()
        obs.publish("lc/immersion_heater/set", '{"boost": "1h"}')
        boost = sim.wait(received("boost_write"), what="type-13 write")
        self.assertEqual((boost["flags"], boost["params"]), (0x0E, "01"))
        state = obs.wait_json("lc/immersion_heater", lambda s: s.get("boost") == "1h"
                              and isinstance(s.get("boost_remaining"), int) and s["boost_remaining"] > 0, since=since)
        self.assertGreaterEqual(state["boost_remaining"], 58)
        self.assertLessEqual(state["boost_remaining"], 60)

        since = time.monotonic()
        obs.publish("lc/immersion_heater/set/active_schedule", "schedule_3")
        select = sim.wait(received("active_schedule_write"), what="type-11 write")
        self.assertEqual((select["flags"], select["params"]), (0x0E, "02"))
        obs.wait_json("lc/immersion_heater", lambda s: s.get("active_schedule") == "schedule_3", since=since)
        # ... and read back afterwards.
        reads = lambda: [e for e in self.events(sim, received("active_schedule_read")) if e["seq"] != select["seq"]]
        wait_until(lambda: len(reads()) >= 2, 10, what="the read after the write")

        since = time.monotonic()
        obs.publish("lc/immersion_heater/set/advance", "ON")
        advance = sim.wait(received("advance_write"), what="type-12 write")
        self.assertEqual((advance["flags"], advance["params"]), (0x0E, "01"))
        obs.wait_json("lc/immersion_heater", lambda s: s.get("advance") == "ON", since=since)

    def test_unanswered_command_is_resent_every_2s_then_failed(self):
        obs = self.observer()
        self.start_daemon(self.base_config(timeguard=self.timeguard()))
        sim = self.device()
        self.wait_first_sight(obs)
        sim.send(f"mute {DEVICE}")  # pings go on, requests stay unanswered
        time.sleep(0.3)
        since = time.monotonic()
        obs.publish("lc/immersion_heater/set/boost", "2h")
        failed = obs.wait_json("lc/bridge/event", lambda e: e.get("type") == "command_failed"
                               and e.get("device") == "immersion_heater", timeout=20, since=since)
        # The failure's time on the simulator's clock: it stamps the ping we ask for right now.
        marks = len(self.events(sim, lambda e: e.get("event") == "sent" and e.get("kind") == "ping"))
        sim.send(f"ping {DEVICE}")
        wait_until(lambda: len(self.events(sim, lambda e: e.get("event") == "sent" and e.get("kind") == "ping")) > marks,
                   5, what="the marker ping")
        failed_t = self.events(sim, lambda e: e.get("event") == "sent" and e.get("kind") == "ping")[-1]["t"]
        self.assertEqual(failed.get("property"), "boost")
        writes = self.events(sim, received("boost_write"))
        self.assertGreaterEqual(len(writes), 7)
        self.assertLessEqual(len(writes), 9)
        self.assertEqual({w["seq"] for w in writes}, {writes[0]["seq"]})
        self.assertEqual({w["hex"] for w in writes}, {writes[0]["hex"]})  # the same bytes every time
        # Every 2 s, then given up about 15 s after the first attempt.
        times = [w["t"] for w in writes]
        for gap in (b - a for a, b in zip(times, times[1:])):
            self.assertGreater(gap, 1.5)
            self.assertLess(gap, 2.0 + 0.5 * harness.SLOW)
        self.assertGreater(failed_t - times[0], 14.0)
        self.assertLess(failed_t - times[0], 15.0 + 2.0 * harness.SLOW)
        self.assertEqual(obs.wait_json("lc/immersion_heater")["boost"], "off")

    def test_bad_datagrams_are_dropped_and_keepalives_go_on(self):
        obs = self.observer()
        daemon = self.start_daemon(self.base_config(timeguard=self.timeguard()))
        sim = self.device()
        self.wait_first_sight(obs)
        for garbage in ("fad4", "00" * 64, "fad41c003e02000000061000ff000000785634122a0064000000"
                        "00005c4d0000000000002ee82ddf", "fad4ffff" + "00" * 40):
            sim.send(f"send {DEVICE} {garbage}")
        # An unknown type is kept and logged, not answered; a ping with a reserved flag bit is answered.
        sim.send(f"frame {DEVICE} 7 6 255 0102")
        sim.send(f"frame {DEVICE} 0 0x16 255 " + "00" * 16)
        count = len(self.events(sim, received("ping_reply")))
        wait_until(lambda: len(self.events(sim, received("ping_reply"))) >= count + 2, 10, what="more ping replies")
        daemon.wait_log(r"dropped input from 127\.0\.0\.1:\d+: (short_datagram|bad_magic|bad_checksum|bad_length)")
        self.assertTrue(daemon.alive())


class TimeguardTraceTest(harness.DaemonTest):
    def test_trace_lines_mask_the_device_id(self):
        port = harness.free_port()
        secret_id = "a1b2c3d4"
        config = self.base_config(timeguard={"enabled": True, "listen": f"127.0.0.1:{port}",
                                             "devices": [{"id": secret_id, "name": "spur"}]})
        config["log"] = {"level": "debug", "trace": True, "mask_ids": True}
        daemon = self.start_daemon(config)
        sim = self.sim("timeguard", "--server", f"127.0.0.1:{port}", "--id", secret_id, "--ping-interval", "500ms")
        sim.wait(received("ping_reply"))
        daemon.wait_log(r"\[127\.0\.0\.1:\d+ -> local\] \[parsing:success\] fad41c00")
        daemon.wait_log(r"\[internal -> 127\.0\.0\.1:\d+\] \[parsing:success\] fad41000ffffffff000f0400ff00000078563412")
        log = daemon.log()
        self.assertNotIn(secret_id, log)
        self.assertNotIn("d4c3b2a1", log)  # the id as it is on the wire
        # On the wire the id is the real one.
        self.assertEqual(sim.find(received("ping_reply"))["device"], secret_id)


if __name__ == "__main__":
    harness.main()
