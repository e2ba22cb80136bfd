"""The miio bridge end to end: a real mosquitto, the built daemon and `localcloud-sim miio`
speaking the real wire protocol (cloud side on UDP/TCP, local side on UDP), as Home Assistant
sees it."""
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import harness  # noqa: E402
from miio_common import DID, MiioTest  # noqa: E402

NODE = f"localcloud_miio_{DID}"


class MiioStripTest(MiioTest):
    def test_v1_reports_empty_slots_until_the_cloud_endpoint_answered_then_state_and_discovery(self):
        obs = self.observer()
        # The strip starts first and holds back its cloud talk, so that the daemon's first polls
        # meet a strip without a cloud session (python-miio#334).
        sim = self.strip("--cloud-delay", f"{int(2500 * harness.SLOW)}ms")
        self.start_daemon(self.base_config(miio=self.miio([self.device()])))

        sim.wait(lambda e: e.get("event") == "get_prop" and e.get("empty") is True, timeout=10,
                 what="an empty get_prop answer")
        state = obs.find("lc/strip")
        if state is not None:  # published as unknown, never as values
            self.assertTrue(all(v is None for v in state.json().values()), state)

        # The daemon's cloud endpoint answers the hello and the ping: the strip is synced ...
        sim.wait(lambda e: e.get("event") == "cloud_synced", timeout=10, what="time sync and pong from the daemon")
        self.assertTrue(self.events(sim, "time_sync"))
        # ... and from then on reports values, which reach <base>/<key>.
        state = obs.wait_json("lc/strip", lambda s: s.get("power") == "ON" and s.get("voltage") is not None,
                              timeout=10)
        self.assertAlmostEqual(state["voltage"], 230.57)
        self.assertAlmostEqual(state["current"], 0.215)
        self.assertEqual(state["load_power"], 29)
        self.assertEqual(state["temperature"], 38.5)
        self.assertEqual(state["mode"], "normal")
        with sim.cond:
            kinds = [e for e in sim.events if e.get("event") in ("get_prop", "cloud_synced")]
        synced_at = next(i for i, e in enumerate(kinds) if e["event"] == "cloud_synced")
        self.assertTrue(all(e["empty"] for e in kinds[:synced_at] if e["event"] == "get_prop"))
        self.assertTrue(any(e["event"] == "get_prop" and not e["empty"] for e in kinds[synced_at:]))
        # v1 is only ever asked for its own eight names.
        for request in self.events(sim, "received", method="get_prop"):
            self.assertNotIn("wifi_led", request["params"])
            self.assertNotIn("power_price", request["params"])
            self.assertEqual(len(request["params"]), 8)

        obs.wait("lc/strip/availability", lambda m: m.text() == "online")
        switch = obs.wait_json(f"homeassistant/switch/{NODE}/power/config")
        self.assertEqual(switch["command_topic"], "lc/strip/set/power")
        self.assertEqual(switch["state_topic"], "lc/strip")
        self.assertEqual(switch["device_class"], "outlet")
        self.assertEqual(switch["device"]["model"], "qmi.powerstrip.v1")
        self.assertEqual(switch["device"]["manufacturer"], "Xiaomi")
        expected = {
            "voltage": ("voltage", "V"),
            "current": ("current", "A"),
            "load_power": ("power", "W"),
            "temperature": ("temperature", "°C"),
        }
        for key, (device_class, unit) in expected.items():
            sensor = obs.wait_json(f"homeassistant/sensor/{NODE}/{key}/config")
            self.assertEqual(sensor["device_class"], device_class, key)
            self.assertEqual(sensor["unit_of_measurement"], unit, key)
            self.assertEqual(sensor["state_class"], "measurement", key)
            self.assertEqual(sensor["unique_id"], f"{NODE}_{key}")
            self.assertNotIn("command_topic", sensor)
        select = obs.wait_json(f"homeassistant/select/{NODE}/mode/config")
        self.assertEqual(sorted(select["options"]), ["green", "normal"])
        self.assertEqual(select["command_topic"], "lc/strip/set/mode")

    def test_off_on_the_switch_sends_set_power_off_and_the_state_follows(self):
        obs = self.observer()
        sim = self.strip()
        self.start_daemon(self.base_config(miio=self.miio([self.device()], poll_interval="30s")))
        obs.wait_json("lc/strip", lambda s: s.get("power") == "ON", timeout=15)

        obs.publish("lc/strip/set/power", "OFF")
        received = sim.wait(lambda e: e.get("event") == "received" and e.get("method") == "set_power",
                            what="set_power at the strip")
        self.assertEqual(received["params"], ["off"])
        # Read back at once (poll_interval is 30 s): the state shows what the strip reports.
        obs.wait_json("lc/strip", lambda s: s.get("power") == "OFF", timeout=5)

        obs.publish("lc/strip/set/power", "TOGGLE")
        sim.wait(lambda e: e.get("event") == "received" and e.get("method") == "set_power"
                 and e.get("params") == ["on"], what="set_power on after TOGGLE")
        obs.wait_json("lc/strip", lambda s: s.get("power") == "ON", timeout=5)

        obs.publish("lc/strip/set", '{"mode":"green"}')
        received = sim.wait(lambda e: e.get("event") == "received" and e.get("method") == "set_power_mode",
                            what="set_power_mode at the strip")
        self.assertEqual(received["params"], ["green"])
        obs.wait_json("lc/strip", lambda s: s.get("mode") == "green", timeout=5)

    def test_a_strip_that_stops_answering_goes_offline_and_comes_back(self):
        obs = self.observer()
        sim = self.strip()
        daemon = self.start_daemon(self.base_config(miio=self.miio([self.device()])))
        obs.wait("lc/strip/availability", lambda m: m.text() == "online", timeout=15)
        since = harness.time.monotonic()
        sim.send(f"silence {DID}")  # no local answers, no cloud pings
        obs.wait("lc/strip/availability", lambda m: m.text() == "offline", timeout=12, since=since)
        self.assertTrue(daemon.alive())
        since = harness.time.monotonic()
        sim.send(f"resume {DID}")
        obs.wait("lc/strip/availability", lambda m: m.text() == "online", timeout=12, since=since)


if __name__ == "__main__":
    harness.main()
