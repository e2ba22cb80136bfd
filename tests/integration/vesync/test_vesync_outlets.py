"""The vesync bridge end to end: a real mosquitto, the built daemon and `localcloud-sim vesync`
outlets speaking the real websocket protocol (plaintext and AES), as Home Assistant sees it."""
import datetime
import os
import signal
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import harness  # noqa: E402
from harness import wait_until  # noqa: E402

PLAIN_ID = "443C878F-f675-4c90-98e8-2f4566914d39"    # as the outlet writes it
ENCRYPTED_ID = "37ee4d4b-2920-458f-ae9e-c3c7297285d5"
UNKNOWN_ID = "5e1a0000-0000-4000-8000-000000000001"


def key_id(device_id):
    return device_id.lower()


class VesyncOutletTest(harness.DaemonTest):
    def vesync(self, **extra):
        self.port = harness.free_port(udp_too=False)
        section = {
            "enabled": True,
            "listen": f"127.0.0.1:{self.port}",
            "poll_interval": "60s",
            "offline_after": "10m",
            "devices": [{"id": PLAIN_ID, "name": "desk"}, {"id": ENCRYPTED_ID, "name": "attic"}],
        }
        section.update(extra)
        return section

    def outlet(self, device_id, *extra):
        return self.sim("vesync", "--server", f"127.0.0.1:{self.port}", "--id", device_id, "--reconnect", "300ms",
                        *extra)

    @staticmethod
    def count(sim, uri):
        with sim.cond:
            return sum(1 for e in sim.events if e.get("event") == "received" and e.get("uri") == uri)

    def test_login_plaintext_and_encrypted_with_todays_utc_date(self):
        obs = self.observer()
        self.start_daemon(self.base_config(vesync=self.vesync()))
        before = datetime.datetime.now(datetime.timezone.utc)
        plain = self.outlet(PLAIN_ID)
        encrypted = self.outlet(ENCRYPTED_ID, "--encrypted")
        for sim, binary in ((plain, False), (encrypted, True)):
            reply = sim.wait(lambda e: e.get("event") == "received" and e.get("uri") == "/loginReply",
                             what="loginReply")
            after = datetime.datetime.now(datetime.timezone.utc)
            self.assertEqual(reply["binary"], binary)
            message = reply["message"]
            dates = {(d.year, d.month, d.day, (d.weekday() + 1) % 7) for d in (before, after)}
            self.assertIn((message["year"], message["month"], message["day"], message["wd"]), dates)
            midnight = after.replace(hour=0, minute=0, second=0, microsecond=0)
            ms_now = (after - midnight).total_seconds() * 1000
            if len(dates) == 1:
                self.assertLessEqual(abs(message["ms"] - ms_now), 10000 * harness.SLOW)
            self.assertEqual([message[k] for k in ("error", "hh", "hl", "lh", "ll")], [0, 0, 0, 0, 0])
        # The encrypted outlet's state arrives like the plaintext one's.
        obs.wait_json("lc/attic", lambda s: s.get("power") == "ON" and "load_power" in s)
        state = obs.wait_json("lc/desk", lambda s: "voltage" in s and "load_power" in s)
        self.assertEqual(state["power"], "ON")
        self.assertAlmostEqual(state["load_power"], 9.403, places=3)  # the app's formula, first half
        self.assertAlmostEqual(state["voltage"], 121.402, places=3)
        attributes = obs.wait_json("lc/desk/attributes", lambda a: "power_raw" in a)
        self.assertEqual(attributes["power_raw"], "9193:9185")
        self.assertAlmostEqual(attributes["power_b"], 9.389, places=3)
        obs.wait("lc/desk/availability", lambda m: m.text() == "online")

    def test_discovery_switch_and_sensors(self):
        obs = self.observer()
        self.start_daemon(self.base_config(vesync=self.vesync()))
        node = f"localcloud_vesync_{key_id(PLAIN_ID)}"
        switch = obs.wait_json(f"homeassistant/switch/{node}/power/config")
        self.assertEqual(switch["command_topic"], "lc/desk/set/power")
        self.assertEqual(switch["device"]["manufacturer"], "Etekcity")
        expected = {
            "load_power": ("power", "W", "measurement"),
            "voltage": ("voltage", "V", "measurement"),
            "energy": ("energy", "kWh", "total_increasing"),
            "rssi": ("signal_strength", "dBm", "measurement"),
        }
        for prop, (device_class, unit, state_class) in expected.items():
            config = obs.wait_json(f"homeassistant/sensor/{node}/{prop}/config")
            self.assertEqual(config["device_class"], device_class, prop)
            self.assertEqual(config["unit_of_measurement"], unit, prop)
            self.assertEqual(config["state_class"], state_class, prop)
            self.assertEqual(config["state_topic"], "lc/desk")
        self.assertEqual(obs.wait_json(f"homeassistant/sensor/{node}/rssi/config")["entity_category"], "diagnostic")
        # Once the outlet logged in, its model and firmware are known.
        self.outlet(PLAIN_ID)
        obs.wait_json(f"homeassistant/switch/{node}/power/config",
                      lambda c: c["device"].get("model") == "ESW01-USA" and c["device"].get("sw_version") == "1.89")

    def test_off_command_button_press_and_keepalive(self):
        obs = self.observer()
        self.start_daemon(self.base_config(vesync=self.vesync()))
        sim = self.outlet(PLAIN_ID, "--ka-period", "500ms")
        obs.wait_json("lc/desk", lambda s: s.get("power") == "ON")
        since = harness.time.monotonic()
        polls = self.count(sim, "/getRuntime")
        obs.publish("lc/desk/set/power", "OFF")
        relay = sim.wait(lambda e: e.get("event") == "received" and e.get("uri") == "/relay", what="/relay")
        self.assertEqual(relay["message"]["action"], "break")
        self.assertEqual(relay["message"]["cid"], PLAIN_ID)
        obs.wait_json("lc/desk", lambda s: s.get("power") == "OFF", since=since)
        # The follow-up /getRuntime after the acknowledgement.
        wait_until(lambda: self.count(sim, "/getRuntime") > polls, 10, what="follow-up /getRuntime")
        # The button: /state from the outlet shows up as state.
        since = harness.time.monotonic()
        sim.send(f"press {PLAIN_ID}")
        obs.wait_json("lc/desk", lambda s: s.get("power") == "ON", since=since)
        # Every /ka gets a /kr; rssi is published.
        sim.wait(lambda e: e.get("event") == "received" and e.get("uri") == "/kr" and e["message"].get("year"),
                 what="/kr")
        obs.wait_json("lc/desk", lambda s: s.get("rssi") == -45)

    def test_command_to_a_disconnected_outlet_fails_at_once(self):
        obs = self.observer()
        self.start_daemon(self.base_config(vesync=self.vesync()))
        sim = self.outlet(PLAIN_ID)
        obs.wait("lc/desk/availability", lambda m: m.text() == "online")
        # Still online for the Hub (offline_after is 10 min), but the connection is gone.
        sim.send(f"pause {PLAIN_ID}")
        sim.wait(lambda e: e.get("event") == "disconnected", what="disconnect")
        harness.time.sleep(0.2)
        obs.publish("lc/desk/set/power", "OFF")
        event = obs.wait_json("lc/bridge/event", lambda e: e.get("type") == "command_failed", timeout=3)
        self.assertEqual(event["device"], "desk")
        self.assertIn("not connected", json_text(event))
        self.assertIsNone(sim.find(lambda e: e.get("uri") == "/relay"))

    def test_energy_survives_a_daemon_restart(self):
        obs = self.observer()
        config = self.base_config(vesync=self.vesync())
        daemon = self.start_daemon(config)
        sim = self.outlet(PLAIN_ID, "--ka-period", "300ms", "--report-delay", "50ms")
        first = obs.wait_json("lc/desk", lambda s: s.get("energy", 0) >= 3 * 804 / 3.6e6)["energy"]
        daemon.stop(signal.SIGTERM)
        sim.send(f"pause {PLAIN_ID}")
        last = max(m.json().get("energy", 0) for m in obs.all("lc/desk"))
        obs.clear()
        self.start_daemon(config, name="second")
        sim.send(f"resume {PLAIN_ID}")
        after = obs.wait_json("lc/desk", lambda s: s.get("energy", 0) > last)["energy"]
        self.assertGreater(after, first)
        values = [m.json()["energy"] for m in obs.all("lc/desk") if "energy" in m.json()]
        self.assertTrue(all(v >= last for v in values), values)
        self.assertEqual(values, sorted(values))

    def test_dropped_connection_goes_offline_after_offline_after(self):
        obs = self.observer()
        self.start_daemon(self.base_config(vesync=self.vesync(offline_after="2s")))
        sim = self.outlet(PLAIN_ID, "--ka-period", "500ms")
        obs.wait("lc/desk/availability", lambda m: m.text() == "online")
        since = harness.time.monotonic()
        sim.send(f"pause {PLAIN_ID}")
        sim.wait(lambda e: e.get("event") == "disconnected", what="disconnect")
        obs.wait("lc/desk/availability", lambda m: m.text() == "offline", timeout=2 + 3, since=since)
        # Back when it reconnects.
        since = harness.time.monotonic()
        sim.send(f"resume {PLAIN_ID}")
        obs.wait("lc/desk/availability", lambda m: m.text() == "online", since=since)

    def test_unknown_outlet_registers_and_trace_masks_ids(self):
        obs = self.observer()
        config = self.base_config(vesync=self.vesync())
        config["log"] = {"level": "debug", "trace": True, "mask_ids": True}
        daemon = self.start_daemon(config)
        sim = self.outlet(UNKNOWN_ID, "--ka-period", "300ms")
        key = f"vesync_{UNKNOWN_ID}"
        obs.wait_json(f"lc/{key}", lambda s: s.get("power") == "ON")
        sim.wait(lambda e: e.get("uri") == "/kr", what="/kr")
        daemon.wait_log(r"rx .* text login ")
        daemon.wait_log(r"tx .* text keepalive reply ")
        log = daemon.log()
        self.assertNotIn(UNKNOWN_ID, log)
        self.assertNotIn("1234567", log)  # the login's account is redacted in the trace


def json_text(value):
    import json
    return json.dumps(value)


if __name__ == "__main__":
    harness.main()
