"""The foundation against a real mosquitto: bridge state and will, discovery, commands,
retained commands, broker restarts, Home Assistant's birth, bridge/info redaction, the API,
unknown-device limits and removal. The vendor side is the test-only "fake" bridge of
localcloud-testd (tests/support/fake_bridge.cpp), driven here over UDP."""
import json
import os
import signal
import socket
import sys
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import harness  # noqa: E402
from harness import wait_until  # noqa: E402


class FakeDevice:
    """The test's end of the fake bridge: sends reports, receives commands."""

    def __init__(self, port):
        self.address = ("127.0.0.1", port)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.05)
        self.received = []

    def send(self, **message):
        self.sock.sendto(json.dumps(message).encode(), self.address)

    def poll(self):
        try:
            while True:
                data, _ = self.sock.recvfrom(65536)
                self.received.append(json.loads(data))
        except socket.timeout:
            pass
        return self.received

    def wait(self, predicate, timeout=10, what="message from the fake bridge"):
        def found():
            for message in self.poll():
                if predicate(message):
                    return message
            return None
        return wait_until(found, timeout, what=what)

    def register(self, device_id, **extra):
        self.poll()
        self.received.clear()
        self.send(op="register", id=device_id, **extra)
        return self.wait(lambda m: m.get("op") == "registered" and m.get("id") == device_id)

    def close(self):
        self.sock.close()


class FoundationTest(harness.DaemonTest):
    def start_fake(self, config=None, env=None, wait_ready=True):
        self.fake_port = harness.free_port()
        env = dict(env or {})
        env["LOCALCLOUD_FAKE_BRIDGE"] = f"127.0.0.1:{self.fake_port}"
        self.config = config or self.base_config()
        daemon = self.start_daemon(self.config, binary=harness.TESTD, env=env, wait_ready=wait_ready)
        device = FakeDevice(self.fake_port)
        self._cleanup.append(device.close)
        return daemon, device

    def api(self, path):
        url = f"http://{self.config['api']['listen']}{path}"
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    # ---- bridge state and the will ----------------------------------------------------------

    def test_bridge_state_online_then_offline_on_sigterm(self):
        obs = self.observer()
        daemon, device = self.start_fake()
        device.register("dev1", name="plug")
        device.send(op="state", id="dev1", property="power", value="ON")
        obs.wait("lc/plug/availability", lambda m: m.text() == "online")
        retained = harness.retained(self.broker.port, "lc/bridge/state")
        self.assertEqual(retained.get("lc/bridge/state"), b"online")
        started = time.monotonic()
        self.assertEqual(daemon.stop(signal.SIGTERM), 0)
        self.assertLess(time.monotonic() - started, 2 * 3 * harness.SLOW)
        retained = harness.retained(self.broker.port, "lc/#")
        self.assertEqual(retained.get("lc/bridge/state"), b"offline")
        self.assertEqual(retained.get("lc/plug/availability"), b"offline")

    def test_will_publishes_offline_on_sigkill(self):
        daemon, _ = self.start_fake()
        wait_until(lambda: harness.retained(self.broker.port, "lc/bridge/state").get("lc/bridge/state") == b"online",
                   10, what="bridge online")
        daemon.kill()
        # The broker publishes the will after it notices the dead connection (immediately on
        # a closed socket).
        wait_until(lambda: harness.retained(self.broker.port, "lc/bridge/state").get("lc/bridge/state") == b"offline",
                   10, what="will offline")

    # ---- discovery ----------------------------------------------------------------------------

    def test_discovery_payloads(self):
        obs = self.observer()
        _, device = self.start_fake()
        device.register("dev1", name="plug")
        prefix = "homeassistant"
        switch = obs.wait_json(f"{prefix}/switch/localcloud_fake_dev1/power/config")
        self.assertEqual(switch["unique_id"], "localcloud_fake_dev1_power")
        self.assertEqual(switch["device"]["identifiers"], ["localcloud_fake_dev1"])
        for field in ("manufacturer", "model", "sw_version", "name"):
            self.assertIn(field, switch["device"])
        self.assertEqual(switch["device"]["name"], "plug")
        self.assertEqual(switch["origin"]["name"], "localcloud")
        self.assertEqual(switch["availability_mode"], "all")
        self.assertEqual([a["topic"] for a in switch["availability"]], ["lc/bridge/state", "lc/plug/availability"])
        self.assertEqual(switch["state_topic"], "lc/plug")
        self.assertEqual(switch["command_topic"], "lc/plug/set/power")
        self.assertIn("value_json.power", switch["value_template"])
        self.assertIsNone(switch["name"])  # the main feature is named after the device
        sensor = obs.wait_json(f"{prefix}/sensor/localcloud_fake_dev1/load_power/config")
        self.assertEqual((sensor["device_class"], sensor["unit_of_measurement"], sensor["state_class"]),
                         ("power", "W", "measurement"))
        self.assertNotIn("command_topic", sensor)
        select = obs.wait_json(f"{prefix}/select/localcloud_fake_dev1/mode/config")
        self.assertEqual(select["options"], ["green", "normal"])
        self.assertEqual(select["command_topic"], "lc/plug/set/mode")
        rssi = obs.wait_json(f"{prefix}/sensor/localcloud_fake_dev1/rssi/config")
        self.assertEqual(rssi["entity_category"], "diagnostic")
        self.assertTrue(obs.find(f"{prefix}/switch/localcloud_fake_dev1/power/config").retain or
                        harness.retained(self.broker.port, f"{prefix}/switch/#"))

    def test_home_assistant_birth_republishes_discovery(self):
        obs = self.observer()
        _, device = self.start_fake()
        device.register("dev1", name="plug")
        topic = "homeassistant/switch/localcloud_fake_dev1/power/config"
        obs.wait(topic)
        since = time.monotonic()
        obs.publish("homeassistant/status", "online")
        message = obs.wait(topic, since=since, timeout=3)
        self.assertLess(message.at - since, 3 * 3 * harness.SLOW)

    # ---- commands -----------------------------------------------------------------------------

    def test_set_reaches_bridge_and_state_follows_only_the_report(self):
        obs = self.observer()
        _, device = self.start_fake()
        device.register("dev1", name="plug")
        device.send(op="state", id="dev1", property="power", value="ON")
        obs.wait_json("lc/plug", lambda s: s["power"] == "ON")
        since = time.monotonic()
        obs.publish("lc/plug/set/power", "off")
        command = device.wait(lambda m: m.get("op") == "command")
        self.assertEqual((command["id"], command["property"], command["value"]), ("dev1", "power", "OFF"))
        time.sleep(0.3)
        self.assertIsNone(obs.find("lc/plug", lambda m: m.json()["power"] == "OFF", since=since),
                          "state changed before the device reported it")
        device.send(op="ack", id="dev1", error="")
        device.send(op="state", id="dev1", property="power", value="OFF")
        obs.wait_json("lc/plug", lambda s: s["power"] == "OFF", since=since)
        # A completed command that changes nothing is still answered with the state.
        since = time.monotonic()
        device.received.clear()
        obs.publish("lc/plug/set/power", "OFF")
        device.wait(lambda m: m.get("op") == "command")
        time.sleep(0.2)
        self.assertIsNone(obs.find("lc/plug", lambda m: True, since=since), "state published before the ack")
        device.send(op="ack", id="dev1", error="")
        obs.wait_json("lc/plug", lambda s: s["power"] == "OFF", since=since)
        # The JSON form and a select.
        device.received.clear()
        obs.publish("lc/plug/set", json.dumps({"mode": "green"}))
        command = device.wait(lambda m: m.get("op") == "command")
        self.assertEqual((command["property"], command["value"]), ("mode", "green"))

    def test_bad_commands_are_reported(self):
        obs = self.observer()
        _, device = self.start_fake()
        device.register("dev1", name="plug")
        device.send(op="state", id="dev1", property="power", value="ON")
        obs.wait("lc/plug/availability", lambda m: m.text() == "online")
        obs.publish("lc/plug/set/load_power", "5")
        event = obs.wait_json("lc/bridge/event", lambda e: e["type"] == "command_failed")
        self.assertIn("read-only", event["error"])
        obs.publish("lc/plug/set/mode", "turbo")
        obs.wait_json("lc/bridge/event", lambda e: e["type"] == "command_failed" and "green" in e["error"])
        obs.publish("lc/plug/set", "not json")
        obs.wait_json("lc/bridge/event", lambda e: e["type"] == "command_failed" and "JSON" in e["error"])
        # A device that does not acknowledge: the bridge reports the error it got.
        obs.publish("lc/plug/set/power", "TOGGLE")
        command = device.wait(lambda m: m.get("op") == "command")
        self.assertEqual(command["value"], "OFF")  # the Hub resolves TOGGLE from the reported "ON"
        device.send(op="ack", id="dev1", error="no acknowledgement")
        obs.wait_json("lc/bridge/event", lambda e: e["type"] == "command_failed" and e["error"] == "no acknowledgement")
        self.assertFalse([m for m in device.poll() if m.get("op") == "command" and m.get("property") != "power"])

    def test_retained_command_is_ignored(self):
        # A command left retained on the broker reaches the daemon with the retain flag when it
        # subscribes: it must not switch anything (Tasmota's "ghost switching").
        obs = self.observer()
        obs.publish("lc/plug/set/power", "OFF", retain=True)
        obs.publish("lc/plug/set", '{"power": "OFF"}', retain=True)
        daemon, device = self.start_fake()
        device.register("dev1", name="plug")
        device.send(op="state", id="dev1", property="power", value="ON")
        obs.wait("lc/plug/availability", lambda m: m.text() == "online")
        obs.publish("homeassistant/status", "online")  # any later traffic: the daemon is live
        daemon.wait_log("ignored a retained message on lc/plug/set/power")
        daemon.wait_log("ignored a retained message on lc/plug/set ")
        time.sleep(0.5)
        self.assertFalse([m for m in device.poll() if m.get("op") == "command"])
        obs.publish("lc/plug/set/power", "", retain=True)  # clear them from the broker
        obs.publish("lc/plug/set", "", retain=True)

    def test_get_asks_the_bridge(self):
        _, device = self.start_fake()
        device.register("dev1", name="plug")
        obs = self.observer()
        obs.publish("lc/plug/get", "")
        device.wait(lambda m: m.get("op") == "read" and m.get("id") == "dev1")

    # ---- broker restarts and availability -----------------------------------------------------

    def test_broker_restart_brings_everything_back(self):
        # A long offline_after: the device must stay online through the restart, however slow.
        _, device = self.start_fake(env={"LOCALCLOUD_FAKE_OFFLINE_AFTER_MS": "120000"})
        device.register("dev1", name="plug")
        device.send(op="state", id="dev1", property="load_power", value=12.5)
        wait_until(lambda: harness.retained(self.broker.port, "lc/plug").get("lc/plug"), 10, what="state")
        self.broker.kill()  # loses every retained message (persistence is off)
        time.sleep(1.0)
        self.broker.start()
        started = time.monotonic()
        device.send(op="heard", id="dev1")

        def everything_back():
            retained = harness.retained(self.broker.port, "#", settle=0.3)
            return (retained.get("lc/bridge/state") == b"online" and
                    retained.get("lc/plug/availability") == b"online" and
                    b"12.5" in retained.get("lc/plug", b"") and
                    "homeassistant/switch/localcloud_fake_dev1/power/config" in retained)
        wait_until(everything_back, 15, interval=0.3, what="state, availability and discovery after restart")
        self.assertLess(time.monotonic() - started, 15 * harness.SLOW)

    def test_broker_down_at_start(self):
        self.broker.stop()
        daemon, device = self.start_fake(wait_ready=False)
        # Every listener answers within 1 s of start, whatever the broker's state.
        status = wait_until(lambda: self._healthz_or_none(), 1 * 3, what="API answering")
        self.assertEqual(json.loads(status)["broker"], "disconnected")
        self.assertEqual(self.api("/readyz")[0], 503)
        device.register("dev1", name="plug")
        device.send(op="state", id="dev1", property="power", value="ON")
        self.broker.start()
        wait_until(lambda: harness.retained(self.broker.port, "lc/plug").get("lc/plug"), 15,
                   what="state published once the broker is up")
        wait_until(lambda: self.api("/readyz")[0] == 200, 10, what="readyz 200")

    def _healthz_or_none(self):
        try:
            status, body = self.api("/healthz")
            return body if status == 200 else None
        except OSError:
            return None

    def test_offline_after_silence(self):
        obs = self.observer()
        _, device = self.start_fake(env={"LOCALCLOUD_FAKE_OFFLINE_AFTER_MS": "1500"})
        device.register("dev1", name="plug")
        since = time.monotonic()
        device.send(op="state", id="dev1", property="power", value="ON")
        obs.wait("lc/plug/availability", lambda m: m.text() == "online")
        message = obs.wait("lc/plug/availability", lambda m: m.text() == "offline", since=since, timeout=6)
        self.assertGreater(message.at - since, 1.0)
        devices = obs.wait_json("lc/bridge/devices", lambda d: d and d[0]["online"] is False, since=since)
        self.assertEqual(devices[0]["key"], "plug")

    # ---- bridge/info, API, secrets ------------------------------------------------------------

    def test_bridge_info_and_api_hold_no_secrets(self):
        config = self.base_config()
        config["mqtt"]["password"] = "hunter2-secret"
        config["mqtt"]["username"] = "localcloud"
        obs = self.observer()
        daemon, device = self.start_fake(config)
        info = obs.wait_json("lc/bridge/info")
        self.assertIn("fake", info["bridges"])
        self.assertTrue(info["bridges"]["fake"]["listeners"])
        self.assertEqual(info["config"]["mqtt"]["password"], "<redacted>")
        for status, body in (self.api("/healthz"), self.api("/devices"), self.api("/metrics")):
            self.assertEqual(status, 200)
            self.assertNotIn("hunter2", body)
        for message in obs.messages:
            self.assertNotIn(b"hunter2", message.payload)
        self.assertNotIn("hunter2", daemon.log())

    def test_api(self):
        _, device = self.start_fake()
        device.register("dev1", name="plug")
        device.send(op="state", id="dev1", property="power", value="ON")
        wait_until(lambda: self.api("/readyz")[0] == 200, 10, what="ready")
        status, body = self.api("/healthz")
        health = json.loads(body)
        self.assertEqual((status, health["broker"]), (200, "connected"))
        self.assertIn("fake", health["bridges"])
        status, body = self.api("/devices")
        devices = json.loads(body)
        self.assertEqual(devices[0]["key"], "plug")
        self.assertTrue(devices[0]["online"])
        self.assertTrue(devices[0]["last_seen"].endswith("Z"))
        status, body = self.api("/metrics")
        self.assertIn('localcloud_devices_online{bridge="fake"} 1', body)
        self.assertIn("localcloud_mqtt_messages_published_total", body)
        self.assertEqual(self.api("/nope")[0], 404)
        # Oversized headers are refused, not crashed on.
        with socket.create_connection(("127.0.0.1", int(self.config["api"]["listen"].split(":")[1]))) as s:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n")
            reply = s.recv(100)
            self.assertTrue(reply.startswith(b"HTTP/1.1 4"), reply)
        self.assertEqual(self.api("/healthz")[0], 200)

    # ---- unknown devices and removal ----------------------------------------------------------

    def test_unknown_devices_limited_and_rate_limited(self):
        _, device = self.start_fake(env={"LOCALCLOUD_FAKE_MAX_UNKNOWN": "2"})
        first = device.register("u1", configured=False)
        self.assertTrue(first["admitted"])
        second = device.register("u2", configured=False)
        self.assertFalse(second["admitted"], "a second unknown device within a second was admitted")
        time.sleep(1.1)
        self.assertTrue(device.register("u2", configured=False)["admitted"])
        time.sleep(1.1)
        self.assertFalse(device.register("u3", configured=False)["admitted"], "max_unknown exceeded")
        # Configured devices are not limited.
        self.assertTrue(device.register("c1", configured=True)["admitted"])
        # An id that cannot be a topic level is refused.
        time.sleep(1.1)
        self.assertFalse(device.register("bad/#id", configured=False)["admitted"])

    def test_unknown_device_over_the_rate_is_admitted_by_the_hub(self):
        obs = self.observer()
        _, device = self.start_fake()
        self.assertTrue(device.register("u1", configured=False)["admitted"])
        self.assertFalse(device.register("u2", configured=False)["admitted"])
        # No second register: the Hub admits it in its turn and tells the bridge.
        device.wait(lambda m: m.get("op") == "admitted" and m.get("id") == "u2", timeout=5)
        obs.wait("homeassistant/switch/localcloud_fake_u2/power/config")
        obs.wait_json("lc/bridge/event", lambda e: e["type"] == "device_joined" and e["device"] == "fake_u2")

    def test_remove_forgets_device(self):
        obs = self.observer()
        _, device = self.start_fake()
        device.register("dev1", configured=False)
        device.send(op="state", id="dev1", property="power", value="ON")
        wait_until(lambda: "lc/fake_dev1" in harness.retained(self.broker.port, "lc/#"), 10, what="state")
        obs.publish("lc/bridge/request/remove", json.dumps({"device": "fake_dev1", "transaction": 7}))
        response = obs.wait_json("lc/bridge/response/remove")
        self.assertEqual((response["status"], response["transaction"]), ("ok", 7))
        device.wait(lambda m: m.get("op") == "forgotten" and m.get("id") == "dev1")
        time.sleep(0.5)
        retained = harness.retained(self.broker.port, "#")
        self.assertFalse([t for t in retained if "fake_dev1" in t], retained.keys())
        obs.publish("lc/bridge/request/remove", json.dumps({"device": "nothing"}))
        obs.wait_json("lc/bridge/response/remove", lambda r: r["status"] == "error")

    def test_device_remove_is_remove(self):
        obs = self.observer()
        _, device = self.start_fake()
        device.register("dev1", name="plug")
        obs.wait("lc/plug/availability")
        obs.publish("lc/bridge/request/device/remove", json.dumps({"device": "plug", "transaction": "x"}))
        response = obs.wait_json("lc/bridge/response/device/remove")
        self.assertEqual(response, {"status": "ok", "data": {"device": "plug"}, "transaction": "x"})
        device.wait(lambda m: m.get("op") == "forgotten" and m.get("id") == "dev1")


class CheckConfigTest(harness.DaemonTest):
    broker_needed = False

    def run_check(self, text):
        path = os.path.join(self.workdir, "c.yaml")
        with open(path, "w") as f:
            f.write(text)
        import subprocess
        result = subprocess.run([harness.BIN, "check-config", "--config", path], capture_output=True, text=True)
        return path, result

    def test_valid_config(self):
        _, result = self.run_check("mqtt:\n  url: mqtt://127.0.0.1:1883\n")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("ok", result.stdout)
        self.assertEqual(len(result.stdout.strip().splitlines()), 1)

    def test_every_error_listed(self):
        path, result = self.run_check("mqtt:\n  url: mqtt://127.0.0.1:1883\n  bogus: 1\n"
                                      "miio:\n  poll_interval: soon\n  listen: nowhere\n")
        self.assertEqual(result.returncode, 1)
        lines = result.stderr.strip().splitlines()
        self.assertEqual(len(lines), 3, lines)
        self.assertTrue(lines[0].startswith(f"{path}:3:3: "), lines[0])
        self.assertTrue(lines[1].startswith(f"{path}:5:18: "), lines[1])
        self.assertTrue(lines[2].startswith(f"{path}:6:11: "), lines[2])

    def test_run_refuses_bad_config(self):
        path = os.path.join(self.workdir, "bad.yaml")
        with open(path, "w") as f:
            f.write("mqtt: [1, 2]\n")
        import subprocess
        result = subprocess.run([harness.BIN, "run", "--config", path], capture_output=True, text=True, timeout=10)
        self.assertEqual(result.returncode, 1)
        self.assertTrue(result.stderr.startswith(f"{path}:1:"), result.stderr)

    def test_shipped_configs_are_valid(self):
        import subprocess
        root = os.environ.get("LOCALCLOUD_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", "..", ".."))
        for path in ("config/localcloud.yaml", "docker/localcloud.yaml"):
            result = subprocess.run([harness.BIN, "check-config", "--config", os.path.join(root, path)],
                                    capture_output=True, text=True)
            self.assertEqual(result.returncode, 0, path + ": " + result.stderr)

    def test_version(self):
        import subprocess
        result = subprocess.run([harness.BIN, "--version"], capture_output=True, text=True)
        self.assertEqual(result.returncode, 0)
        self.assertTrue(result.stdout.startswith("localcloud "))


if __name__ == "__main__":
    harness.main()
