"""The first minute of a Timeguard, a miio and a VeSync device as Home Assistant sees it (issue
13): everything published is captured (and written as JSON lines to $LOCALCLOUD_CAPTURE_FILE
when that is set), then checked:

* each discovery config goes out once per connection, plus once more after Home Assistant's
  birth; a config published again within a connection carries different content, and only
  because the device's description was learned (its model and firmware at first contact);
* every state is valid against the configs published before it (a select's value is one of
  its options, a switch's ON/OFF, a sensor's a number), and no state comes before its configs;
* every config is one Home Assistant accepts: no object_id, a valid default_entity_id, the
  bridge as via_device; chatty diagnostics disabled by default.

Two checks wait for fixes in the vendor folders (PENDING below): while a fix has not landed its
check only prints what it found; once it passes, the test says the condition can go.
"""
import json
import os
import re
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "hardening"))
import hardening_common as common  # noqa: E402
from hardening_common import harness, wait_until  # noqa: E402

CAPTURE_SECONDS = float(os.environ.get("LOCALCLOUD_CAPTURE_SECONDS", "60"))
BIRTH_AT = CAPTURE_SECONDS / 2

# Checks that depend on work in a vendor folder, by name: reported, not failed, until it lands.
PENDING = {
    # bridges/timeguard: stable options for active_schedule (names moved to attributes).
    "timeguard_schedule_options": "the Timeguard active_schedule select's options change as schedule names are read",
    # bridges/timeguard and bridges/vesync: Property::enabled_by_default = false.
    "chatty_diagnostics": "Timeguard uptime / VeSync rssi are not disabled by default",
}

VALID_ENTITY_ID = re.compile(r"^(?!.+__)(?!_)[\da-z_]+(?<!_)\.(?!_)[\da-z_]+(?<!_)$")
NUMERIC_SENSOR_KEYS = ("unit_of_measurement", "state_class")


def value_key(config):
    match = re.fullmatch(r"\{\{ value_json\.(\w+) \}\}", config.get("value_template", ""))
    return match.group(1) if match else None


def state_problem(config, value):
    """Why `value` is not a state Home Assistant accepts under `config`, or None."""
    if value is None:
        return None  # unknown
    component = config["_component"]
    if component == "select" and value not in config["options"]:
        return f"{value!r} is not one of the options {config['options']}"
    if component in ("switch", "binary_sensor") and value not in (config.get("payload_on", "ON"),
                                                                  config.get("payload_off", "OFF")):
        return f"{value!r} is neither payload_on nor payload_off"
    if component == "sensor" and any(k in config for k in NUMERIC_SENSOR_KEYS) and (
            isinstance(value, bool) or not isinstance(value, (int, float))):
        return f"{value!r} is not a number"
    if component == "number" and (isinstance(value, bool) or not isinstance(value, (int, float))
                                  or not config["min"] <= value <= config["max"]):
        return f"{value!r} is not a number within {config['min']}..{config['max']}"
    return None


def description_only(old, new):
    """True when two payloads of one config differ only in the device block's model,
    sw_version and manufacturer (learned at the device's first contact)."""
    a, b = dict(old), dict(new)
    device_a, device_b = dict(a.pop("device", {})), dict(b.pop("device", {}))
    for key in ("model", "sw_version", "manufacturer"):
        device_a.pop(key, None)
        device_b.pop(key, None)
    return a == b and device_a == device_b


class FirstMinuteTest(common.ThreeBridgeTest):
    def setUp(self):
        super().setUp()
        self.pending_seen = {}

    def check(self, ok, name, message):
        """A check; when `name` is PENDING, a failure is reported instead of failing."""
        if name in PENDING:
            found = self.pending_seen.setdefault(name, [])
            if not ok:
                found.append(message)
            return
        self.assertTrue(ok, message)

    def test_first_minute_of_three_devices(self):
        obs = self.observer()
        config = self.config(names=True, offline_after="150s")
        config["api"]["public_url"] = "http://127.0.0.1:8080"
        daemon = self.start_three(config)
        obs.wait("lc/bridge/devices", timeout=10)  # connected and synced: the devices' first minute starts
        started = time.monotonic()
        self.start_sims()
        obs.wait_json("lc/heater", lambda s: s.get("work_mode") == "auto", timeout=20)
        obs.wait_json("lc/desk", lambda s: s.get("power") == "ON", timeout=20)
        obs.wait_json("lc/strip", lambda s: s.get("power") == "ON", timeout=20)
        # Some traffic a user makes: commands, whose states are read back.
        for key, prop, value in (("desk", "power", "OFF"), ("strip", "power", "OFF"), ("heater", "work_mode", "always_on"),
                                 ("desk", "power", "ON"), ("strip", "power", "ON"), ("heater", "work_mode", "auto")):
            since = time.monotonic()
            obs.publish(f"lc/{key}/set/{prop}", value)
            obs.wait_json(f"lc/{key}", lambda s: s.get(prop) == value, since=since, timeout=15)
        time.sleep(max(0.0, started + BIRTH_AT - time.monotonic()))
        birth = time.monotonic()
        obs.publish("homeassistant/status", "online")
        time.sleep(max(0.0, started + CAPTURE_SECONDS - time.monotonic()))
        self.assertTrue(daemon.alive())
        retained = harness.retained(self.broker.port, "#")

        messages = [m for m in obs.messages if m.topic != "homeassistant/status"]
        if os.environ.get("LOCALCLOUD_CAPTURE_FILE"):
            with open(os.environ["LOCALCLOUD_CAPTURE_FILE"], "w") as capture:
                for m in messages:
                    capture.write(json.dumps({"at": round(m.at - started, 3), "topic": m.topic, "retain": m.retain,
                                              "payload": m.payload.decode("utf-8", "replace")}) + "\n")
        self.check_discovery_once(messages, birth)
        self.check_states_valid(messages)
        self.check_configs(retained)
        for name, found in self.pending_seen.items():
            if found:
                print(f"first minute: PENDING '{name}' ({PENDING[name]}): {len(found)} findings, e.g. {found[0]}",
                      file=sys.stderr)
            else:
                print(f"first minute: the pending check '{name}' passes now: drop it from PENDING", file=sys.stderr)

    # ---- each config once per connection ----------------------------------------------------------

    def check_discovery_once(self, messages, birth):
        configs = {}
        for m in messages:
            if m.topic.startswith("homeassistant/") and m.topic.endswith("/config"):
                configs.setdefault(m.topic, []).append(m)
        self.assertTrue(configs, "no discovery at all")
        devices = {"strip": "miio", "desk": "vesync", "heater": "timeguard"}
        for key, bridge in devices.items():
            self.assertTrue([t for t in configs if f"/localcloud_{bridge}_" in t], f"no discovery for {key}")
        for topic, published in configs.items():
            for segment, (begin, end) in (("before the birth", (0, birth)), ("after the birth", (birth, float("inf")))):
                seen = [m for m in published if begin <= m.at < end]
                if segment == "after the birth":
                    # The birth's re-publication: every config once more.
                    self.assertGreaterEqual(len(seen), 1, f"{topic}: not published again after Home Assistant's birth")
                previous = None
                learned = 0
                for m in seen:
                    self.assertTrue(m.payload, f"{topic}: cleared")
                    payload = m.json()
                    if previous is not None:
                        self.assertNotEqual(payload, previous, f"{topic}: published again unchanged {segment}")
                        if "/active_schedule/" in topic and payload.get("options") != previous.get("options"):
                            self.check(False, "timeguard_schedule_options",
                                       f"{topic}: options {previous.get('options')} -> {payload.get('options')}")
                        else:
                            learned += 1
                            self.assertTrue(description_only(previous, payload),
                                            f"{topic}: published again {segment} with other changes than the "
                                            f"device's model and firmware: {previous} -> {payload}")
                    previous = payload
                self.assertLessEqual(learned, 1, f"{topic}: the device's description changed {learned} times {segment}")
            if "/active_schedule/" in topic:
                self.check(len({json.dumps(m.json().get("options")) for m in published}) == 1,
                           "timeguard_schedule_options", f"{topic}: several option lists in the first minute")

    # ---- every state valid against the configs before it --------------------------------------------

    def check_states_valid(self, messages):
        eventual = {}  # state topic -> every property that has a config at some time
        for m in messages:
            if m.topic.startswith("homeassistant/") and m.topic.endswith("/config") and m.payload:
                config = m.json()
                eventual.setdefault(config.get("state_topic"), set()).add(value_key(config))
        latest = {}  # config topic -> config (with _component)
        by_state_topic = {}  # state topic -> {config topic}
        checked = 0
        for m in messages:
            if m.topic.startswith("homeassistant/") and m.topic.endswith("/config"):
                if not m.payload:
                    continue
                config = m.json()
                config["_component"] = m.topic.split("/")[1]
                latest[m.topic] = config
                by_state_topic.setdefault(config.get("state_topic"), set()).add(m.topic)
                continue
            key = m.topic.split("/")[1] if m.topic.count("/") == 1 else None
            if not key or key == "bridge" or not m.payload:
                continue
            state = m.json()
            entities = [latest[t] for t in by_state_topic.get(m.topic, ())]
            self.assertTrue(entities, f"{m.topic}: a state before any config of the device: {state}")
            described = {value_key(c) for c in entities}
            for config in entities:
                prop = value_key(config)
                if prop is None or prop not in state:
                    continue
                problem = state_problem(config, state[prop])
                name = "timeguard_schedule_options" if prop == "active_schedule" else "state"
                self.check(problem is None, name, f"{m.topic} {prop}: {problem} (config {config})")
                checked += 1
            # Every property with a value and an entity (at any time) had its config out before.
            for prop, value in state.items():
                if value is not None and prop in eventual.get(m.topic, ()) and prop not in described:
                    self.fail(f"{m.topic}: {prop}={value!r} published before its config")
        self.assertGreater(checked, 20, "hardly any state checked")
        # The bridge's entities: log_level is one of the select's options.
        for m in messages:
            if m.topic == "lc/bridge/info" and m.payload:
                self.assertIn(m.json()["log_level"], ("debug", "info", "warn", "error"))

    # ---- what is retained at the end --------------------------------------------------------------

    def check_configs(self, retained):
        client_id = self.daemon_config["mqtt"]["client_id"]
        bridge_id = f"localcloud_bridge_{client_id}"
        configs = {t: json.loads(p) for t, p in retained.items() if t.startswith("homeassistant/") and p}
        self.assertTrue([t for t in configs if "/localcloud_bridge_" in t], "no bridge device")
        for topic, config in configs.items():
            self.assertNotIn("object_id", config, topic)
            self.assertRegex(config["default_entity_id"], VALID_ENTITY_ID, topic)
            self.assertTrue(config["default_entity_id"].startswith(topic.split("/")[1] + "."), topic)
            self.assertEqual(config["device"].get("configuration_url"), "http://127.0.0.1:8080", topic)
            if "/localcloud_bridge_" in topic:
                self.assertEqual(config["device"]["identifiers"], [bridge_id])
            else:
                self.assertEqual(config["device"]["via_device"], bridge_id, topic)
                state = json.loads(retained.get(config["state_topic"], b"{}") or b"{}")
                prop = value_key(config)
                config["_component"] = topic.split("/")[1]
                if prop in state:
                    problem = state_problem(config, state[prop])
                    name = "timeguard_schedule_options" if prop == "active_schedule" else "retained state"
                    self.check(problem is None, name, f"retained {config['state_topic']} {prop}: {problem}")
        for topic in ("homeassistant/sensor/localcloud_timeguard_12345678/uptime/config",
                      f"homeassistant/sensor/localcloud_vesync_{common.VESYNC_ID}/rssi/config"):
            self.assertIn(topic, configs)
            self.check(configs[topic].get("enabled_by_default") is False, "chatty_diagnostics",
                       f"{topic}: enabled_by_default is {configs[topic].get('enabled_by_default', True)}")


if __name__ == "__main__":
    harness.main()
