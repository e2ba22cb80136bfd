"""Secrets stay secret and ids stay masked (SECURITY.md): every bridge runs at log.level debug
with log.trace on and log.mask_ids on, devices unnamed (so log lines could only name them by
id), through logins, keepalives, polls, commands, service API calls (right and wrong token),
Home Assistant's birth, a broker restart and a removal. Then the MQTT password, the miio token
and cloud key, the vesync service token and the outlet's login account appear in no log line,
no MQTT message (retained or not) and no API answer; the device ids appear in no log line.
Also: the API and the service API bind to loopback by default, and the service API refuses
requests without its token."""
import json
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import hardening_common as common  # noqa: E402
from hardening_common import harness, wait_until  # noqa: E402

SECRETS = {
    "mqtt password": common.MQTT_PASSWORD,
    "miio token": common.MIIO_TOKEN,
    "miio token (upper case)": common.MIIO_TOKEN.upper(),
    "miio cloud key": common.MIIO_CLOUD_KEY,
    "miio cloud key (hex)": common.MIIO_CLOUD_KEY.encode().hex(),
    "vesync service token": common.VESYNC_SERVICE_TOKEN,
    "vesync login account": '"1234567"',
}
IDS = {
    "miio did (hex)": common.MIIO_DID,
    "miio did (decimal)": str(int(common.MIIO_DID, 16)),
    "vesync id": common.VESYNC_ID,
    "vesync id (as the outlet writes it)": common.VESYNC_ID.upper(),
    "vesync id (first group)": common.VESYNC_ID.split("-")[0],
    "timeguard id": common.TIMEGUARD_ID,
}


class SecretsTest(common.ThreeBridgeTest):
    def assert_clean(self, text, where, forbidden):
        lowered = text.lower()
        for what, value in forbidden.items():
            at = lowered.find(value.lower())
            if at >= 0:
                start, end = text.rfind("\n", 0, at) + 1, text.find("\n", at)
                self.fail(f"{what} in {where}: {text[start:end if end >= 0 else None][:600]}")

    def test_no_secret_and_no_id_anywhere_at_debug_with_trace(self):
        config = self.config(names=False, offline_after="3s")
        config["mqtt"]["username"] = "localcloud"
        config["mqtt"]["password"] = common.MQTT_PASSWORD
        config["log"] = {"level": "debug", "trace": True, "mask_ids": True}
        obs = self.observer()
        daemon = self.start_three(config)
        self.start_sims()
        for key in (common.MIIO_KEY, common.VESYNC_KEY, common.TIMEGUARD_KEY):
            obs.wait(f"lc/{key}/availability", lambda m: m.text() == "online", timeout=15)
        obs.wait_json(f"lc/{common.MIIO_KEY}", lambda s: s.get("power") == "ON")

        # Commands, reads, a bad command, a command for an unknown key.
        for key, prop, value in ((common.MIIO_KEY, "power", "OFF"), (common.VESYNC_KEY, "power", "OFF"),
                                 (common.TIMEGUARD_KEY, "work_mode", "always_on")):
            since = time.monotonic()
            obs.publish(f"lc/{key}/set/{prop}", value)
            obs.wait_json(f"lc/{key}", lambda s: s.get(prop) == value, since=since)
            obs.publish(f"lc/{key}/get", "")
            obs.publish(f"lc/{key}/set", '{"nonsense": 1, "power": "maybe"}')
        obs.publish("lc/vesync_00000000-0000-4000-8000-000000000000/set/power", "ON")
        # The miio strip pushes its props to the cloud with its cloud key.
        self.miio.send(f"push {common.MIIO_DID}")

        # The service API: token in the header, in the query, wrong, missing.
        service = f"127.0.0.1:{self.service_port}"
        answers = [
            common.http_get(service, f"/api/power?id={common.VESYNC_ID}",
                            {"Authorization": f"Bearer {common.VESYNC_SERVICE_TOKEN}"}),
            common.http_get(service, f"/api/relay?id={common.VESYNC_ID}&on=1&token={common.VESYNC_SERVICE_TOKEN}"),
        ]
        self.assertEqual([a[0] for a in answers], [200, 200], answers)
        refused = [common.http_get(service, f"/api/power?id={common.VESYNC_ID}"),
                   common.http_get(service, f"/api/relay?id={common.VESYNC_ID}&on=0&token=wrong"),
                   common.http_get(service, f"/api/relay?id={common.VESYNC_ID}&on=0",
                                   {"Authorization": "Bearer " + common.VESYNC_SERVICE_TOKEN[:-1]}),
                   common.http_get(service, "/api/relay?name=nobody&on=0")]
        self.assertEqual([a[0] for a in refused], [401, 401, 401, 401], refused)
        answers += refused
        for path in ("/healthz", "/readyz", "/devices", "/metrics", "/nothing"):
            answers.append(common.http_get(self.api_address(), path))

        # Home Assistant's birth, a broker restart, a removal.
        obs.publish("homeassistant/status", "online")
        time.sleep(2.5)
        self.broker.kill()
        obs.close()
        time.sleep(1.5)
        self.broker.start()
        obs2 = self.observer()
        obs2.wait(f"lc/{common.VESYNC_KEY}/availability", lambda m: m.text() == "online", timeout=15)
        self.timeguard.stop()  # gone for good: nothing registers it again
        obs2.publish("lc/bridge/request/remove", json.dumps({"device": common.TIMEGUARD_KEY}))
        obs2.wait_json("lc/bridge/response/remove")
        # Commands for the key of the removed device.
        obs2.publish(f"lc/{common.TIMEGUARD_KEY}/set/work_mode", "auto")
        obs2.publish(f"lc/{common.TIMEGUARD_KEY}/set", "{}")
        daemon.wait_log(r"command for unknown device")
        self.vesync.send(f"pause {common.VESYNC_ID}")  # offline, a closed session
        obs2.wait(f"lc/{common.VESYNC_KEY}/availability", lambda m: m.text() == "offline", timeout=10)
        retained = harness.retained(self.broker.port, "#")

        log = daemon.log()
        self.assertRegex(log, r"\[vesync\] rx 127\.0\.0\.1")  # trace really was on
        self.assert_clean(log, "the log", {**SECRETS, **IDS})
        for message in obs.messages + obs2.messages:
            self.assert_clean(message.text(), f"MQTT {message.topic}", SECRETS)
        for topic, payload in retained.items():
            self.assert_clean(payload.decode("utf-8", "replace"), f"retained {topic}", SECRETS)
        for status, body in answers:
            self.assert_clean(body, f"an API answer ({status})", SECRETS)
        info = json.loads(retained["lc/bridge/info"])
        self.assertEqual(info["config"]["mqtt"]["password"], "<redacted>")
        self.assertEqual(info["config"]["vesync"]["service_token"], "<redacted>")
        self.assertEqual(info["config"]["miio"]["devices"][0]["token"], "<redacted>")
        self.assertEqual(info["config"]["miio"]["devices"][0]["cloud_key"], "<redacted>")
        daemon.stop()
        # A retained command waiting on the broker for the next start is ignored (and logged).
        obs2.publish(f"lc/{common.MIIO_KEY}/set/power", "OFF", retain=True)
        again = self.start_three(config)
        again.wait_log(r"ignored a retained message")
        obs2.publish(f"lc/{common.MIIO_KEY}/set/power", "", retain=True)
        again.stop()
        self.assert_clean(again.log(), "the log after shutdown and a restart", {**SECRETS, **IDS})

    def test_check_config_names_no_secret(self):
        config = self.config(names=False)
        config["mqtt"]["password"] = common.MQTT_PASSWORD
        config["miio"]["devices"][0]["token"] = common.MIIO_TOKEN[:-1] + "g"  # invalid: an error line
        path = os.path.join(self.workdir, "bad.yaml")
        with open(path, "w") as f:
            f.write(harness.to_yaml(config) + "\n")
        import subprocess
        result = subprocess.run([harness.BIN, "check-config", "--config", path], capture_output=True, text=True)
        self.assertEqual(result.returncode, 1)
        self.assert_clean(result.stdout + result.stderr, "check-config output",
                          SECRETS | {"miio token (as given)": config["miio"]["devices"][0]["token"]})


class DefaultsTest(harness.DaemonTest):
    def test_api_and_service_api_bind_to_loopback_by_default_and_need_the_token(self):
        # The shipped config and the defaults: API on 127.0.0.1, the service API off.
        root = os.environ.get("LOCALCLOUD_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", "..", ".."))
        with open(os.path.join(root, "config", "localcloud.yaml")) as f:
            shipped = f.read()
        self.assertRegex(shipped, r"(?m)^\s*listen:\s*127\.0\.0\.1:8080")
        self.assertNotRegex(shipped, r"(?m)^\s*service_listen:\s*\S*[0-9]")
        self.assertRegex(shipped, r"(?m)^\s*allow_upgrade:\s*false")
        self.assertRegex(shipped, r"(?m)^\s*allow_raw_commands:\s*false")

        # A config without an api section: the API is on 127.0.0.1:8080 only (shown in
        # bridge/info), never on every interface.
        config = self.base_config(vesync={"enabled": True, "listen": f"127.0.0.1:{harness.free_port(False)}"})
        del config["api"]
        obs = self.observer(("lc/bridge/info",))
        daemon = self.start_daemon(config, wait_ready=False)
        wait_until(lambda: "listening" in daemon.log() or "8080" in daemon.log() or not daemon.alive(), 10,
                   what="daemon start")
        if daemon.alive():
            info = obs.wait_json("lc/bridge/info")
            self.assertEqual(info["config"]["api"]["listen"], "127.0.0.1:8080")
            self.assertIn(info["config"]["vesync"]["service_listen"], ("", None))
        else:  # 127.0.0.1:8080 taken on this machine: the error names the loopback address
            self.assertIn("127.0.0.1:8080", daemon.log())

    def test_service_api_beyond_loopback_without_token_is_warned_about(self):
        port, service = harness.free_port(False), harness.free_port(False)
        daemon = self.start_daemon(self.base_config(vesync={"enabled": True, "listen": f"127.0.0.1:{port}",
                                                            "service_listen": f"0.0.0.0:{service}"}))
        daemon.wait_log(r"warn .*service API listens on 0\.0\.0\.0:%d beyond loopback without "
                        r"vesync\.service_token" % service)

    def test_service_api_without_token_when_one_is_set(self):
        port, service = harness.free_port(False), harness.free_port(False)
        config = self.base_config(vesync={"enabled": True, "listen": f"127.0.0.1:{port}",
                                          "service_listen": f"127.0.0.1:{service}",
                                          "service_token": common.VESYNC_SERVICE_TOKEN,
                                          "devices": [{"id": common.VESYNC_ID, "name": "desk"}]})
        self.start_daemon(config)
        for path in ("/api/relay?name=desk&on=1", "/api/power?name=desk", "/relay?name=desk&on=0", "/nothing",
                     "/api/power?name=desk&token=", "/api/power?name=desk&token=" + common.VESYNC_SERVICE_TOKEN[:5]):
            status, body = common.http_get(f"127.0.0.1:{service}", path)
            self.assertEqual(status, 401, (path, body))
        for header in ("Basic " + common.VESYNC_SERVICE_TOKEN, "Bearer", "Bearer  " + common.VESYNC_SERVICE_TOKEN,
                       common.VESYNC_SERVICE_TOKEN):
            status, _ = common.http_get(f"127.0.0.1:{service}", "/api/power?name=desk", {"Authorization": header})
            self.assertEqual(status, 401, header)
        # With the token: past the check (the outlet is not connected: 503).
        status, _ = common.http_get(f"127.0.0.1:{service}", "/api/power?name=desk",
                                    {"Authorization": "Bearer " + common.VESYNC_SERVICE_TOKEN})
        self.assertEqual(status, 503)
        # Raw garbage on the service port gets an answer or a close, never a crash.
        with socket.create_connection(("127.0.0.1", service)) as sock:
            sock.sendall(b"\x00" * 100 + b"\r\n\r\n")
            sock.settimeout(5)
            self.assertTrue(sock.recv(100).startswith(b"HTTP/1.1 400"))


if __name__ == "__main__":
    harness.main()
