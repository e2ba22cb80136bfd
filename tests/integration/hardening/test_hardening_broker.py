"""Fault injection on the broker side, with all three real bridges and one simulated device each:
the broker down at start, the broker killed and restarted while devices report and commands
are in flight (no blind replay of a command published meanwhile), and a Home Assistant
restart (offline, then online on homeassistant/status)."""
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import hardening_common as common  # noqa: E402
from hardening_common import harness, wait_until  # noqa: E402

KEYS = ("strip", "desk", "heater")
NODES = {"strip": f"switch/localcloud_miio_{common.MIIO_DID}/power",
         "desk": f"switch/localcloud_vesync_{common.VESYNC_ID}/power",
         "heater": f"binary_sensor/localcloud_timeguard_{common.TIMEGUARD_ID}/relay"}


class BrokerFaultTest(common.ThreeBridgeTest):
    def everything_retained(self, obs, since=0.0, extra=lambda: True, bridge_state=True):
        """bridge state, and per device: discovery, availability online and a state."""
        def ok():
            if bridge_state and not obs.find("lc/bridge/state", lambda m: m.text() == "online", since=since):
                return False
            for key in KEYS:
                if not obs.find(f"homeassistant/{NODES[key]}/config", lambda m: m.payload, since=since):
                    return False
                if not obs.find(f"lc/{key}/availability", lambda m: m.text() == "online", since=since):
                    return False
                if not obs.find(f"lc/{key}", lambda m: m.payload.startswith(b"{"), since=since):
                    return False
            return extra()
        return ok

    def readyz(self):
        return common.http_get(self.api_address(), "/readyz", timeout=1)[0]

    def test_broker_down_at_start_devices_served_then_everything_appears(self):
        self.broker.stop()
        self.start_three()
        self.start_sims()
        # Keepalives are answered with no broker at all: miio time sync and pongs, vesync
        # /loginReply and /kr, timeguard ping replies; and they keep coming.
        self.miio.wait(lambda e: e.get("event") == "time_sync", what="miio time sync without a broker")
        self.vesync.wait(lambda e: e.get("uri") == "/loginReply", what="vesync login reply without a broker")
        self.wait_keepalives_grow(what="keepalives without a broker")
        self.wait_keepalives_grow(what="keepalives still answered without a broker")
        self.assertEqual(self.readyz(), 503)
        self.assertEqual(common.http_get(self.api_address(), "/healthz")[0], 200)

        self.broker.start()
        obs = self.observer()
        wait_until(self.everything_retained(obs), 15, interval=0.1,
                   what="bridge state, discovery, availability and state once the broker is up")
        state = obs.wait_json("lc/desk", lambda s: "power" in s)
        self.assertEqual(state["power"], "ON")
        self.assertEqual(self.readyz(), 200)

    def test_broker_killed_while_devices_report_and_commands_fly(self):
        obs = self.observer()
        self.start_three()
        self.start_sims()
        wait_until(self.everything_retained(obs), 15, interval=0.1, what="first sync")
        obs.wait_json("lc/strip", lambda s: s.get("power") == "ON")
        obs.wait_json("lc/desk", lambda s: s.get("power") == "ON")

        # Commands in flight when the broker dies.
        obs.publish("lc/desk/set/power", "TOGGLE")
        obs.publish("lc/strip/set/power", "TOGGLE")
        time.sleep(0.05)
        self.broker.kill()
        killed = time.monotonic()

        # Devices are served while the broker is away, and their state moves on.
        self.wait_keepalives_grow(what="keepalives while the broker is down")
        try:  # the broker may die before it forwards the command: then there is nothing to see
            self.vesync.wait(lambda e: e.get("event") == "relay" and e.get("cause") == "command", timeout=2,
                             what="the in-flight vesync command")
        except AssertionError:
            print("note: the in-flight command did not reach the device", file=sys.stderr)
        self.vesync.send(f"press {common.VESYNC_ID}")
        press = self.vesync.wait(lambda e: e.get("event") == "relay" and e.get("cause") == "press",
                                 what="button press")
        self.miio.send(f'set {common.MIIO_DID} power_consume_rate 77')
        time.sleep(max(0.0, 2.5 - (time.monotonic() - killed)))

        self.broker.start()
        up = time.monotonic()
        # A command published while localcloud is not connected is not replayed: neither a
        # plain one nor a retained one (which a reconnect would deliver).
        fresh = self.observer()
        if self.readyz() == 503:
            fresh.publish("lc/desk/set/power", "TOGGLE")
            fresh.publish("lc/strip/set/power", "TOGGLE", retain=True)
            sent_while_down = self.readyz() == 503
        else:
            sent_while_down = False
        relay_commands = self.count(self.vesync, lambda e: e.get("uri") == "/relay")
        miio_sets = self.count(self.miio, lambda e: e.get("method") == "set_power")

        reconnected = wait_until(lambda: self.readyz() == 200 and time.monotonic(), 10, interval=0.05,
                                 what="reconnect")
        expected_power = "ON" if press["relay"] == "open" else "OFF"

        def latest_state():
            desk = fresh.find("lc/desk", since=up)
            strip = fresh.find("lc/strip", since=up)
            return (desk is not None and desk.json().get("power") == expected_power and
                    strip is not None and strip.json().get("load_power") == 77)
        wait_until(self.everything_retained(fresh, since=up, extra=latest_state), 5, interval=0.05,
                   what="discovery, latest state and availability within 5 s of the reconnect")
        self.assertLess(time.monotonic() - reconnected, 5 * harness.SLOW)

        # Nothing replayed once connected and synced.
        time.sleep(3.0 * harness.SLOW)
        if sent_while_down:
            self.assertEqual(self.count(self.vesync, lambda e: e.get("uri") == "/relay"), relay_commands,
                             "a command published while disconnected reached the device")
            self.assertEqual(self.count(self.miio, lambda e: e.get("method") == "set_power"), miio_sets,
                             "a retained command was executed after the reconnect")
            self.assertRegex(self.daemon.log(), r"ignored a retained message on lc/strip/set/power")
        else:
            print("note: the daemon reconnected before the test could publish; no-replay part skipped",
                  file=sys.stderr)
        fresh.publish("lc/strip/set/power", "", retain=True)
        self.assertEqual(fresh.find("lc/desk").json()["power"], expected_power)
        # The state still follows commands after all this.
        since = time.monotonic()
        fresh.publish("lc/desk/set/power", "OFF" if expected_power == "ON" else "ON")
        fresh.wait_json("lc/desk", lambda s: s.get("power") != expected_power, since=since)

    def test_home_assistant_restart_republishes_discovery_and_state(self):
        obs = self.observer()
        self.start_three()
        self.start_sims()
        wait_until(self.everything_retained(obs), 15, interval=0.1, what="first sync")
        time.sleep(0.5)
        since = time.monotonic()
        obs.publish("homeassistant/status", "offline")
        time.sleep(0.2)
        obs.publish("homeassistant/status", "online")
        # Within 3 s (a random delay of at most 2 s), every device's discovery and state again.
        wait_until(self.everything_retained(obs, since=since, bridge_state=False), 3, interval=0.05,
                   what="discovery and state re-published after Home Assistant's birth")
        for key in KEYS:
            self.assertTrue(json.loads(obs.find(f"lc/{key}", since=since).payload))


if __name__ == "__main__":
    harness.main()
