"""Management over MQTT (issue 13) against a real mosquitto, with the test-only "fake" bridge of
localcloud-testd: device/rename (the retained topics before and after, Home Assistant discovery
moved with the same unique_id, the rename surviving a restart), permit_join admitting an unknown
device only while open, options changing the log level seen in the log and on bridge/logging,
the bridge device's discovery, and every request answered, a malformed one too."""
import json
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import harness  # noqa: E402
from harness import wait_until  # noqa: E402
from test_foundation import FakeDevice  # noqa: E402

NODE = "localcloud_fake_dev1"
POWER_CONFIG = f"homeassistant/switch/{NODE}/power/config"


class ManagementTest(harness.DaemonTest):
    def start_fake(self, config=None, env=None):
        if not hasattr(self, "fake_port"):
            self.fake_port = harness.free_port()
        run_env = dict(env or {})
        run_env["LOCALCLOUD_FAKE_BRIDGE"] = f"127.0.0.1:{self.fake_port}"
        self.config = config or self.base_config()
        daemon = self.start_daemon(self.config, binary=harness.TESTD, env=run_env)
        device = FakeDevice(self.fake_port)
        self._cleanup.append(device.close)
        return daemon, device

    def request(self, obs, name, payload, predicate=lambda r: True):
        """Publishes bridge/request/<name> and returns the answer (matched by transaction)."""
        transaction = f"t{time.monotonic_ns()}"
        if isinstance(payload, dict):
            payload = dict(payload, transaction=transaction)
            text = json.dumps(payload)
        else:
            text = payload
        since = time.monotonic()
        obs.publish(f"lc/bridge/request/{name}", text)
        if isinstance(payload, dict):
            return obs.wait_json(f"lc/bridge/response/{name}",
                                 lambda r: r.get("transaction") == transaction and predicate(r), since=since)
        return obs.wait_json(f"lc/bridge/response/{name}", predicate, since=since)

    def retained(self, topic_filter="#"):
        return harness.retained(self.broker.port, topic_filter)

    # ---- device/rename ------------------------------------------------------------------------

    def test_rename_moves_retained_topics_and_survives_a_restart(self):
        obs = self.observer()
        env = {"LOCALCLOUD_FAKE_OFFLINE_AFTER_MS": "120000"}
        daemon, device = self.start_fake(env=env)
        device.register("dev1", configured=False)  # an unknown device: key fake_dev1
        device.send(op="state", id="dev1", property="power", value="ON")
        device.send(op="attributes", id="dev1", value={"schedule": "weekdays"})

        def old_ones_present():
            r = self.retained()
            return all(t in r for t in ("lc/fake_dev1", "lc/fake_dev1/availability", "lc/fake_dev1/attributes",
                                        POWER_CONFIG)) and r
        before = wait_until(old_ones_present, 10, what="the device's retained topics")
        config_before = json.loads(before[POWER_CONFIG])
        self.assertEqual(config_before["state_topic"], "lc/fake_dev1")

        answer = self.request(obs, "device/rename", {"from": "fake_dev1", "to": "kitchen"})
        self.assertEqual(answer["status"], "ok", answer)
        self.assertEqual(answer["data"], {"from": "fake_dev1", "to": "kitchen"})

        def moved():
            r = self.retained()
            config = json.loads(r.get(POWER_CONFIG, b"{}") or b"{}")
            return (not [t for t in r if t.startswith("lc/fake_dev1")] and b'"ON"' in r.get("lc/kitchen", b"")
                    and r.get("lc/kitchen/availability") == b"online" and b"weekdays" in r.get("lc/kitchen/attributes", b"")
                    and config.get("state_topic") == "lc/kitchen") and r
        after = wait_until(moved, 10, interval=0.2, what="the topics moved to lc/kitchen")
        config_after = json.loads(after[POWER_CONFIG])
        self.assertEqual(config_after["unique_id"], config_before["unique_id"])
        self.assertEqual(config_after["command_topic"], "lc/kitchen/set/power")
        self.assertEqual(config_after["availability"][1]["topic"], "lc/kitchen/availability")
        self.assertEqual(config_after["device"]["name"], "kitchen")
        self.assertEqual(config_after["default_entity_id"], "switch.kitchen_power")
        # The old topics were cleared with empty retained messages, seen by a live subscriber.
        for topic in ("lc/fake_dev1", "lc/fake_dev1/availability", "lc/fake_dev1/attributes"):
            self.assertIsNotNone(obs.find(topic, lambda m: m.payload == b""), topic)
        # Commands follow the new key.
        device.send(op="heard", id="dev1")
        obs.publish("lc/kitchen/set/power", "OFF")
        device.wait(lambda m: m.get("op") == "command" and m.get("value") == "OFF")
        devices = obs.wait_json("lc/bridge/devices", lambda d: d and d[0]["key"] == "kitchen")
        self.assertEqual(devices[0]["name"], "kitchen")

        # Refusals change nothing.
        for payload, why in ((json.dumps({"from": "kitchen", "to": "bridge"}), "reserved"),
                             (json.dumps({"from": "kitchen", "to": "a/b"}), "invalid name"),
                             (json.dumps({"from": "kitchen", "to": "fake_other"}), "invalid name"),
                             (json.dumps({"from": "nobody", "to": "x"}), "no device"),
                             ("{not json", "device/rename takes"),
                             ("", "device/rename takes")):
            since = time.monotonic()
            obs.publish("lc/bridge/request/device/rename", payload)
            answer = obs.wait_json("lc/bridge/response/device/rename", lambda r: why in r.get("error", ""), since=since)
            self.assertEqual(answer["status"], "error")
        device.register("dev2", configured=False)
        obs.wait("lc/fake_dev2/availability")
        answer = self.request(obs, "device/rename", {"from": "fake_dev2", "to": "kitchen"})
        self.assertIn("in use", answer["error"])

        # A restart keeps the name (data_dir), and nothing comes back under the old key.
        self.assertEqual(daemon.stop(signal.SIGTERM), 0)
        obs.clear()
        daemon, device = self.start_fake(self.config, env=env)
        obs.wait(POWER_CONFIG, lambda m: json.loads(m.payload).get("state_topic") == "lc/kitchen", timeout=10)
        device.register("dev1", configured=False)
        device.send(op="state", id="dev1", property="power", value="ON")
        obs.wait("lc/kitchen/availability", lambda m: m.text() == "online")
        obs.wait_json("lc/kitchen", lambda s: s.get("power") == "ON")
        time.sleep(0.5)
        self.assertFalse([m for m in obs.messages if m.topic.startswith("lc/fake_dev1") and m.payload],
                         "something was published under the old key after the restart")
        self.assertFalse([t for t in self.retained() if t.startswith("lc/fake_dev1")])

    # ---- permit_join --------------------------------------------------------------------------

    def test_permit_join_admits_an_unknown_device_only_while_open(self):
        obs = self.observer()
        _, device = self.start_fake(env={"LOCALCLOUD_FAKE_ACCEPT_UNKNOWN": "false", "LOCALCLOUD_FAKE_MAX_UNKNOWN": "5"})
        info = obs.wait_json("lc/bridge/info")
        self.assertIs(info["permit_join"], False)
        self.assertIsNone(info["permit_join_end"])
        self.assertIs(info["bridges"]["fake"]["accept_unknown"], False)
        self.assertFalse(device.register("u1", configured=False)["admitted"])

        asked = time.time()
        answer = self.request(obs, "permit_join", {"time": 3})
        self.assertEqual(answer["status"], "ok", answer)
        self.assertEqual(answer["data"]["time"], 3)
        info = obs.wait_json("lc/bridge/info", lambda i: i["permit_join"] is True)
        self.assertAlmostEqual(info["permit_join_end"] / 1000, asked + 3, delta=1.5)
        self.assertIs(info["bridges"]["fake"]["permit_join"], True)
        self.assertTrue(device.register("u1", configured=False)["admitted"])
        obs.wait("homeassistant/switch/localcloud_fake_u1/power/config")
        obs.wait_json("lc/bridge/event", lambda e: e["type"] == "device_joined" and e["device"] == "fake_u1")

        # Its end is a timer: bridge/info says so without any further request.
        obs.wait_json("lc/bridge/info", lambda i: i["permit_join"] is False and i["permit_join_end"] is None,
                      since=time.monotonic(), timeout=6)
        self.assertFalse(device.register("u2", configured=False)["admitted"])
        obs.wait("lc/fake_u1/availability")  # what joined stays

        # Closed early with time 0, for one bridge.
        self.assertEqual(self.request(obs, "permit_join", {"time": 60, "bridge": "fake"})["status"], "ok")
        obs.wait_json("lc/bridge/info", lambda i: i["permit_join"] is True)
        self.assertEqual(self.request(obs, "permit_join", {"time": 0})["status"], "ok")
        obs.wait_json("lc/bridge/info", lambda i: i["permit_join"] is False)
        time.sleep(1.1)
        self.assertFalse(device.register("u3", configured=False)["admitted"])
        for payload, why in (({"time": -5}, "whole number"), ({"time": 10, "bridge": "nope"}, "no bridge 'nope'"),
                             ({"value": True}, "unknown key 'value'")):
            answer = self.request(obs, "permit_join", payload)
            self.assertEqual(answer["status"], "error")
            self.assertIn(why, answer["error"])

    # ---- options and bridge/logging ------------------------------------------------------------

    def test_options_change_the_log_level_seen_in_the_log_and_on_bridge_logging(self):
        obs = self.observer()
        config = self.base_config()
        config["log"] = {"level": "info", "mask_ids": True, "mqtt": "warn"}
        daemon, device = self.start_fake(config)
        device.register("dev1", name="plug")
        device.send(op="state", id="dev1", property="power", value="ON")
        obs.wait("lc/plug/availability", lambda m: m.text() == "online")
        self.assertEqual(obs.wait_json("lc/bridge/info")["log_level"], "info")

        # At info: a command's debug line is neither in the log nor on bridge/logging.
        obs.publish("lc/plug/set/power", "OFF")
        device.wait(lambda m: m.get("op") == "command")
        device.send(op="ack", id="dev1", error="")
        time.sleep(0.3)
        self.assertNotIn("command power=\"OFF\"", daemon.log())
        self.assertIsNone(obs.find("lc/bridge/logging", lambda m: m.json()["level"] == "debug"))

        answer = self.request(obs, "options", {"options": {"log": {"level": "debug", "mqtt": "debug"}}})
        self.assertEqual(answer["status"], "ok", answer)
        self.assertEqual(answer["data"]["options"]["log"], {"level": "debug", "trace": False, "mqtt": "debug"})
        info = obs.wait_json("lc/bridge/info", lambda i: i["log_level"] == "debug")
        self.assertEqual(info["options"]["log"]["mqtt"], "debug")
        self.assertEqual(info["config"]["log"]["level"], "info")  # the file's value: not rewritten
        device.received.clear()
        obs.publish("lc/plug/set/power", "ON")
        device.wait(lambda m: m.get("op") == "command")
        daemon.wait_log(r'debug +\[fake\] command power="ON" for plug')
        line = obs.wait_json("lc/bridge/logging", lambda l: l["level"] == "debug" and "command power" in l["message"])
        self.assertEqual(line, {"level": "debug", "bridge": "fake", "message": 'command power="ON" for plug'})
        device.send(op="ack", id="dev1", error="")

        # Back to warn: debug lines stop, in the log and on MQTT; a warning still goes out.
        self.assertEqual(self.request(obs, "options", {"options": {"log": {"level": "warn", "mqtt": "warn"}}})["status"],
                         "ok")
        obs.wait_json("lc/bridge/info", lambda i: i["log_level"] == "warn")
        since = time.monotonic()
        lines_before = daemon.log().count("command power")
        device.received.clear()
        obs.publish("lc/plug/set/power", "OFF")
        device.wait(lambda m: m.get("op") == "command")
        device.send(op="ack", id="dev1", error="no acknowledgement")  # a warning: command failed
        warning = obs.wait_json("lc/bridge/logging", lambda l: "failed" in l["message"], since=since)
        self.assertEqual(warning["level"], "warn")
        time.sleep(0.3)
        self.assertEqual(daemon.log().count("command power"), lines_before + 1)  # only the warning
        self.assertIsNone(obs.find("lc/bridge/logging", lambda m: m.json()["level"] == "debug", since=since))
        for message in obs.all("lc/bridge/logging"):
            self.assertFalse(message.retain)

        # Keys that cannot change at run time are refused by name.
        answer = self.request(obs, "options", {"options": {"log": {"mask_ids": False}}})
        self.assertIn("log.mask_ids", answer["error"])
        answer = self.request(obs, "options", {"options": {"mqtt": {"base_topic": "x"}}})
        self.assertIn("'mqtt'", answer["error"])

    # ---- every request answered; the bridge device ---------------------------------------------

    def test_every_request_is_answered_and_the_bridge_device_is_discovered(self):
        obs = self.observer()
        config = self.base_config()
        config["api"]["public_url"] = "http://192.168.1.10:8080"
        _, device = self.start_fake(config)
        device.register("dev1", name="plug")
        for name, payload in (("health_check", "{}"), ("device/rename", "[]"), ("device/remove", "7"),
                              ("permit_join", "null"), ("options", "{\"options\":"), ("nonsense", "{}"),
                              ("device/nonsense", "x"), ("options", b"\xff\xfe"), ("health_check", "")):
            since = time.monotonic()
            obs.publish(f"lc/bridge/request/{name}", payload)
            answer = obs.wait_json(f"lc/bridge/response/{name}", since=since)
            self.assertIn(answer["status"], ("ok", "error"), (name, payload))
            if answer["status"] == "error":
                self.assertTrue(answer["error"])
        self.assertEqual(self.request(obs, "health_check", {})["data"], {"healthy": True})

        client_id = self.config["mqtt"]["client_id"]
        node = "localcloud_bridge_" + "".join(c if c.isalnum() or c in "_-" else "_" for c in client_id)
        connection = obs.wait_json(f"homeassistant/binary_sensor/{node}/connection_state/config")
        self.assertEqual(connection["state_topic"], "lc/bridge/state")
        self.assertEqual(connection["device"]["identifiers"], [f"localcloud_bridge_{client_id}"])
        self.assertEqual(connection["device"]["configuration_url"], "http://192.168.1.10:8080")
        self.assertEqual(obs.wait_json(f"homeassistant/sensor/{node}/version/config")["state_topic"], "lc/bridge/info")
        select = obs.wait_json(f"homeassistant/select/{node}/log_level/config")
        switch = obs.wait_json(f"homeassistant/switch/{node}/permit_join/config")
        power = obs.wait_json(POWER_CONFIG)
        self.assertEqual(power["device"]["via_device"], f"localcloud_bridge_{client_id}")
        self.assertEqual(power["device"]["configuration_url"], "http://192.168.1.10:8080")
        self.assertNotIn("object_id", power)

        # What Home Assistant sends for the select and the switch works.
        since = time.monotonic()
        obs.publish(select["command_topic"], select["command_template"].replace("{{ value }}", "error"))
        obs.wait_json("lc/bridge/info", lambda i: i["log_level"] == "error", since=since)
        obs.publish(switch["command_topic"], switch["payload_on"])
        info = obs.wait_json("lc/bridge/info", lambda i: i["permit_join"] is True, since=since)
        self.assertEqual(json.loads(switch["payload_on"]), {"time": 300})
        self.assertGreater(info["permit_join_end"] / 1000, time.time() + 250)
        obs.publish(switch["command_topic"], switch["payload_off"])
        obs.wait_json("lc/bridge/info", lambda i: i["permit_join"] is False, since=time.monotonic())


if __name__ == "__main__":
    harness.main()
