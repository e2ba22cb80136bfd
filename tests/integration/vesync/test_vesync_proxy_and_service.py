"""The vesync bridge's upstream proxy against a second simulator acting as the cloud, and the
vesync-wsproxy compatible service API."""
import json
import os
import sys
import urllib.error
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import harness  # noqa: E402
from harness import wait_until  # noqa: E402

DEVICE_ID = "443c878f-f675-4c90-98e8-2f4566914d39"
TOKEN = "pa55-w0rd"


def received(event, uri, side=None):
    return event.get("event") == "received" and event.get("uri") == uri and event.get("side") == side


class VesyncProxyTest(harness.DaemonTest):
    def start_cloud(self):
        cloud = self.sim("vesync", "--upstream-cloud", "127.0.0.1:0")
        listening = cloud.wait(lambda e: e.get("event") == "listening", what="cloud listening")
        return cloud, listening["address"]

    def test_proxy_whitelists_upgrade_blocked_state_synced(self):
        cloud, address = self.start_cloud()
        obs = self.observer()
        port = harness.free_port(udp_too=False)
        daemon = self.start_daemon(self.base_config(vesync={
            "enabled": True, "listen": f"127.0.0.1:{port}", "upstream": address,
            "devices": [{"id": DEVICE_ID, "name": "desk"}]}))
        device = self.sim("vesync", "--server", f"127.0.0.1:{port}", "--id", DEVICE_ID, "--encrypted",
                          "--ka-period", "500ms")
        # The device is served locally and its login reaches the cloud, still encrypted.
        device.wait(lambda e: received(e, "/loginReply"), what="local loginReply")
        login = cloud.wait(lambda e: received(e, "login", "cloud"), what="login at the cloud")
        self.assertTrue(login["binary"])
        self.assertEqual(login["message"]["id"], DEVICE_ID)
        connected = cloud.wait(lambda e: e.get("event") == "cloud_connected", what="cloud connection")
        self.assertEqual(connected["host"], "server2.vesync.com:17273")
        # /ka with rssi passes (vesync-wsproxy blocked it).
        ka = cloud.wait(lambda e: received(e, "/ka", "cloud"), what="/ka at the cloud")
        self.assertEqual(ka["message"]["rssi"], -45)

        # /upgrade from the cloud is blocked; a /relay that follows it is delivered.
        cloud.send(f"upgrade {DEVICE_ID}")
        cloud.send(f"send {DEVICE_ID} " + json.dumps({"uri": "/delDevice"}))
        cloud.send(f"relay {DEVICE_ID} break")
        device.wait(lambda e: received(e, "/relay") and e["message"]["action"] == "break", what="cloud /relay")
        self.assertIsNone(device.find(lambda e: received(e, "/upgrade")))
        self.assertIsNone(device.find(lambda e: received(e, "/delDevice")))
        daemon.wait_log(r"blocked /upgrade from the cloud")
        # The device's acknowledgement reaches both the cloud and MQTT.
        cloud.wait(lambda e: received(e, "/runtimeInfo", "cloud") and e["message"]["relay"] == "break",
                   what="/runtimeInfo at the cloud")
        obs.wait_json("lc/desk", lambda s: s.get("power") == "OFF")

        # A local command: the cloud hears a /state.
        obs.publish("lc/desk/set/power", "ON")
        state = cloud.wait(lambda e: received(e, "/state", "cloud"), what="/state at the cloud")
        self.assertEqual(state["message"]["relay"], "open")
        obs.wait_json("lc/desk", lambda s: s.get("power") == "ON")

        # The cloud goes away: the device is still served locally.
        cloud.stop()
        since = harness.time.monotonic()
        n = len([e for e in device.events if received(e, "/kr")])
        wait_until(lambda: len([e for e in device.events if received(e, "/kr")]) > n + 2, 10,
                   what="local /kr without the cloud")
        obs.publish("lc/desk/set/power", "OFF")
        obs.wait_json("lc/desk", lambda s: s.get("power") == "OFF", since=since)

    def test_upstream_looping_back_to_us_is_refused(self):
        port = harness.free_port(udp_too=False)
        daemon = self.start_daemon(self.base_config(vesync={
            "enabled": True, "listen": f"127.0.0.1:{port}", "upstream": f"127.0.0.1:{port}"}))
        daemon.wait_log(r"upstream 127\.0\.0\.1:%d refused: .*our own listener" % port)
        device = self.sim("vesync", "--server", f"127.0.0.1:{port}", "--id", DEVICE_ID, "--ka-period", "300ms")
        device.wait(lambda e: received(e, "/kr"), what="local /kr")
        self.assertEqual(len([e for e in device.events if e.get("event") == "connected"]), 1)


class VesyncServiceApiTest(harness.DaemonTest):
    def request(self, path, headers=None):
        req = urllib.request.Request(f"http://127.0.0.1:{self.service_port}{path}", headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=10 * harness.SLOW) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    def test_service_api(self):
        port = harness.free_port(udp_too=False)
        self.service_port = harness.free_port(udp_too=False)
        obs = self.observer()
        self.start_daemon(self.base_config(vesync={
            "enabled": True, "listen": f"127.0.0.1:{port}", "service_listen": f"127.0.0.1:{self.service_port}",
            "service_token": TOKEN, "devices": [{"id": DEVICE_ID, "name": "desk"}]}))
        auth = {"Authorization": f"Bearer {TOKEN}"}
        # Before the device connects.
        status, body = self.request("/api/relay?name=desk&on=1", auth)
        self.assertEqual(status, 503, body)
        device = self.sim("vesync", "--server", f"127.0.0.1:{port}", "--id", DEVICE_ID)
        device.wait(lambda e: received(e, "/loginReply"), what="loginReply")

        status, body = self.request("/api/relay?name=desk&on=0", auth)
        self.assertEqual((status, body), (200, "OK. relay=break"))
        device.wait(lambda e: received(e, "/relay") and e["message"]["action"] == "break", what="/relay break")
        obs.wait_json("lc/desk", lambda s: s.get("power") == "OFF")
        status, body = self.request(f"/api/relay?id={DEVICE_ID.upper()}&on=1&token={TOKEN}")
        self.assertEqual((status, body), (200, "OK. relay=open"))

        status, body = self.request("/api/power?name=desk", auth)
        self.assertEqual(status, 200, body)
        self.assertEqual(json.loads(body), {"relay": "open", "watts": 9.403, "volts": 121.402})

        for path, expected in (("/api/relay?name=desk&on=1", 401),
                               ("/api/relay?on=1&token=" + TOKEN, 400),
                               ("/api/relay?name=desk&token=" + TOKEN, 400),
                               ("/api/relay?name=desk&on=2&token=" + TOKEN, 400),
                               ("/api/relay?name=nobody&on=1&token=" + TOKEN, 404),
                               ("/api/power?id=00000000-0000-0000-0000-000000000000&token=" + TOKEN, 404),
                               ("/api/power?token=" + TOKEN, 400),
                               ("/api/nightlight?name=desk&token=" + TOKEN, 404)):
            status, body = self.request(path)
            self.assertEqual(status, expected, f"{path}: {body}")
            self.assertTrue(body.strip(), path)


if __name__ == "__main__":
    harness.main()
