"""The JSON API (docs/web.md) against the built daemon with a simulated device of each bridge:
api.token (401 without, 200 with), 403 for every POST on a listener beyond loopback without a
token (and the start-up warning), Origin refusal, a command to an offline device answered
with an error (and the same command_failed event MQTT sees), the answers of management
requests, and no secret in any answer: the page, its files, the JSON API, the event stream,
health and metrics."""
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import web_common as web  # noqa: E402
import hardening_common as common  # noqa: E402
from harness import wait_until  # noqa: E402

API_TOKEN = "api-T0ken-never-shown-5e1d"
SECRETS = {
    "api token": API_TOKEN,
    "mqtt password": common.MQTT_PASSWORD,
    "miio token": common.MIIO_TOKEN,
    "miio cloud key": common.MIIO_CLOUD_KEY,
    "miio cloud key (hex)": common.MIIO_CLOUD_KEY.encode().hex(),
    "vesync service token": common.VESYNC_SERVICE_TOKEN,
    "vesync login account": '"1234567"',
}
PAGE_FILES = ["/", "/assets/app.js", "/assets/api.js", "/assets/devices.js", "/assets/bridge.js", "/assets/log.js",
              "/assets/dialogs.js", "/assets/format.js", "/assets/style.css", "/assets/favicon.svg"]


class WebApiTest(common.ThreeBridgeTest):
    def wait_online(self, keys, timeout=20):
        address = self.api_address()

        def all_online():
            devices = {d["key"]: d for d in web.get_json(address, "/api/devices")}
            return all(devices.get(key, {}).get("online") for key in keys) and devices
        return wait_until(all_online, timeout, interval=0.1, what=f"{keys} online in /api/devices")

    def assert_no_secret(self, text, where):
        lowered = text.lower()
        for what, value in SECRETS.items():
            self.assertNotIn(value.lower(), lowered, f"{what} in {where}")

    def test_token_origin_offline_and_no_secret_anywhere(self):
        config = self.config(offline_after="3s")
        config["api"]["token"] = API_TOKEN
        config["mqtt"]["username"] = "localcloud"
        config["mqtt"]["password"] = common.MQTT_PASSWORD
        config["log"] = {"level": "debug", "trace": True, "mask_ids": True}
        obs = self.observer(("lc/bridge/event",))
        self.start_three(config)
        miio, vesync, timeguard = self.start_sims()
        address = self.api_address()
        self.wait_online(["strip", "desk", "heater"])
        wait_until(lambda: {d["key"]: d for d in web.get_json(address, "/api/devices")}["strip"]["state"].get("power"),
                   15, interval=0.1, what="the strip's power read")
        devices = {d["key"]: d for d in web.get_json(address, "/api/devices")}
        self.assertEqual(devices["strip"]["bridge"], "miio")
        self.assertIn("power", devices["strip"]["state"])
        self.assertTrue(any(p["key"] == "load_power" and p["unit"] == "W" for p in devices["strip"]["properties"]))
        self.assertIsNotNone(devices["desk"]["last_seen"])

        # api.token: 401 without, 200 with; the command reaches the outlet.
        status, answer = web.post(address, "/api/devices/desk/set", {"power": "OFF"})
        self.assertEqual(status, 401, answer)
        status, answer = web.post(address, "/api/devices/desk/set", {"power": "OFF"},
                                  {"Authorization": "Bearer wrong-token"})
        self.assertEqual(status, 401, answer)
        status, answer = web.post(address, "/api/request/health_check", {})
        self.assertEqual(status, 401, answer)
        bearer = {"Authorization": f"Bearer {API_TOKEN}"}
        status, answer = web.post(address, "/api/devices/desk/set", {"power": "OFF"}, bearer)
        self.assertEqual((status, answer), (200, {"status": "ok"}))
        vesync.wait(lambda e: e.get("event") == "received" and e.get("uri") == "/relay", what="/relay at the outlet")
        status, answer = web.post(address, "/api/request/health_check", {"transaction": 5}, bearer)
        self.assertEqual(status, 200)
        self.assertEqual(answer, {"status": "ok", "data": {"healthy": True}, "transaction": 5})

        # Another site's page is refused even with the token; the page's own origin is not.
        status, answer = web.post(address, "/api/devices/desk/set", {"power": "ON"},
                                  {**bearer, "Origin": "http://evil.example"})
        self.assertEqual(status, 403, answer)
        status, answer = web.post(address, "/api/devices/desk/set", {"power": "ON"},
                                  {**bearer, "Origin": f"http://{address}"})
        self.assertEqual(status, 200, answer)

        # A bad command: the Hub's checks, the same command_failed event as over MQTT.
        status, answer = web.post(address, "/api/devices/heater/set", {"relay": "ON"}, bearer)
        self.assertEqual(status, 400, answer)
        self.assertIn("read-only", answer["error"])
        status, answer = web.post(address, "/api/devices/nobody/set", {"power": "ON"}, bearer)
        self.assertEqual(status, 404, answer)

        # Every answer a reader can get, while everything runs at debug with the trace on.
        streams = web.EventStreams(address)
        self._cleanup.append(streams.close)
        stream = streams.open(1)[0]
        wait_until(lambda: stream.snapshot is not None, 10, what="the snapshot")
        self.assertEqual(stream.status, 200)
        for path in PAGE_FILES + ["/api/devices", "/api/devices/strip", "/api/bridge", "/devices", "/healthz",
                                  "/readyz", "/metrics"]:
            status, _, body = web.request(address, "GET", path)
            self.assertIn(status, (200, 503), path)
            self.assert_no_secret(body, path)
        status, _, page = web.request(address, "GET", "/")
        self.assertIn("<title>localcloud</title>", page)
        self.assertIn('data-panel="log"', page)
        self.assert_no_secret(json.dumps(stream.snapshot), "the event stream's snapshot")
        bridge = web.get_json(address, "/api/bridge")
        self.assertEqual(bridge["changes"], "token")
        self.assertGreater(bridge["bridges"]["miio"]["packets"]["in"], 0)

        # The device goes silent: a command to it is answered with an error, and MQTT sees the
        # same command_failed event as for a command from MQTT.
        timeguard.stop()
        vesync.stop()
        wait_until(lambda: not {d["key"]: d for d in web.get_json(address, "/api/devices")}["desk"]["online"], 15,
                   interval=0.2, what="desk offline")
        status, answer = web.post(address, "/api/devices/desk/set", {"power": "ON"}, bearer)
        self.assertEqual(status, 409, answer)
        self.assertEqual(answer, {"status": "error", "error": "device offline"})
        obs.wait_json("lc/bridge/event", lambda e: e.get("type") == "command_failed" and e.get("device") == "desk"
                      and e.get("error") == "device offline")
        time.sleep(1.2)  # a few seconds of the stream at debug with trace
        with stream.lock:
            self.assertGreater(stream.events, 5)
        self.assert_no_secret(self.daemon.log(), "the daemon's log")

    def test_beyond_loopback_without_token_every_post_is_refused(self):
        config = self.config()
        port = config["api"]["listen"].rsplit(":", 1)[1]
        config["api"]["listen"] = f"0.0.0.0:{port}"
        daemon = self.start_three(config)
        address = f"127.0.0.1:{port}"
        daemon.wait_log(r"api\.listen 0\.0\.0\.0:\d+ is reachable beyond loopback and no api\.token is set")
        self.vesync_sim()
        wait_until(lambda: any(d["key"] == "desk" and d["online"] for d in web.get_json(address, "/api/devices")), 15,
                   interval=0.2, what="desk online")
        for path, body in (("/api/devices/desk/set", {"power": "OFF"}), ("/api/request/health_check", {}),
                           ("/api/request/device/remove", {"device": "desk"})):
            status, answer = web.post(address, path, body)
            self.assertEqual(status, 403, (path, answer))
            self.assertIn("api.token", answer["error"])
        self.assertTrue(any(d["key"] == "desk" for d in web.get_json(address, "/api/devices")))
        self.assertEqual(web.get_json(address, "/api/bridge")["changes"], "refused")
        status, _, _ = web.request(address, "GET", "/")
        self.assertEqual(status, 200)

    def test_loopback_without_token_refuses_other_host_names_and_answers_requests(self):
        daemon = self.start_three(self.config())
        address = self.api_address()
        status, answer = web.post(address, "/api/request/health_check", {})
        self.assertEqual((status, answer["status"]), (200, "ok"))
        # A page on another name that resolves to 127.0.0.1 (DNS rebinding) is not the user.
        status, answer = web.post(address, "/api/request/health_check", {}, {"Host": "rebind.example"})
        self.assertEqual(status, 403, answer)
        # Bodies are bounded; request names are MQTT levels.
        status, answer = web.post(address, "/api/request/health_check", "[" * 40 + "]" * 40)
        self.assertEqual(status, 400, answer)
        status, _, _ = web.request(address, "POST", "/api/request/health_check", "x" * 5000)
        self.assertEqual(status, 413)
        status, answer = web.post(address, "/api/request/remove", {"device": "nobody"})
        self.assertEqual(status, 400, answer)
        self.assertEqual(answer["status"], "error")
        status, answer = web.post(address, "/api/request/no_such_request", {})
        self.assertEqual(status, 404, answer)
        self.assertTrue(answer["error"].startswith("unknown request"), answer)
        self.assertTrue(daemon.alive())

    def test_management_requests_through_the_api(self):
        """device/rename, permit_join and options (issue 13) through POST /api/request/<request>:
        the answers bridge/response/<request> carries, and their effect where MQTT sees it."""
        obs = self.observer(("lc/bridge/devices", "lc/bridge/info", "lc/desk_lamp/availability"))
        daemon = self.start_three(self.config(names=False))
        address = self.api_address()
        self.vesync_sim()
        key = common.VESYNC_KEY
        wait_until(lambda: any(d["key"] == key and d["online"] for d in web.get_json(address, "/api/devices")), 15,
                   interval=0.2, what=f"{key} online")

        # device/rename: the device under its new key in /api/devices and on MQTT.
        status, answer = web.post(address, "/api/request/device/rename", {"from": key, "to": "desk_lamp",
                                                                          "transaction": "r1"})
        self.assertEqual((status, answer), (200, {"status": "ok", "data": {"from": key, "to": "desk_lamp"},
                                                  "transaction": "r1"}))
        keys = {d["key"] for d in web.get_json(address, "/api/devices")}
        self.assertIn("desk_lamp", keys)
        self.assertNotIn(key, keys)
        obs.wait("lc/desk_lamp/availability", lambda m: m.text() == "online")
        obs.wait_json("lc/bridge/devices", lambda d: any(x["key"] == "desk_lamp" for x in d))
        status, answer = web.post(address, "/api/request/device/rename", {"from": "desk_lamp", "to": "bridge"})
        self.assertEqual(status, 400, answer)
        self.assertIn("reserved", answer["error"])
        status, answer = web.post(address, "/api/request/device/rename", {"from": "nobody", "to": "x"})
        self.assertEqual(status, 400, answer)

        # permit_join for one bridge, then closed; a bad payload is answered with its usage.
        status, answer = web.post(address, "/api/request/permit_join", {"time": 60, "bridge": "timeguard"})
        self.assertEqual(status, 200, answer)
        self.assertEqual((answer["data"]["time"], answer["data"]["bridge"]), (60, "timeguard"))
        obs.wait_json("lc/bridge/info", lambda i: i.get("bridges", {}).get("timeguard", {}).get("permit_join") is True)
        status, answer = web.post(address, "/api/request/permit_join", {"time": 0, "bridge": "timeguard"})
        self.assertEqual((status, answer["data"]["time"]), (200, 0))
        status, answer = web.post(address, "/api/request/permit_join", {"value": True})
        self.assertEqual(status, 400, answer)

        # options: the log level at run time, seen in /api/bridge and in the log.
        status, answer = web.post(address, "/api/request/options", {"options": {"log": {"level": "debug"}}})
        self.assertEqual(status, 200, answer)
        self.assertEqual(answer["data"]["options"]["log"]["level"], "debug")
        daemon.wait_log(r"options: log level debug")
        self.assertEqual(web.get_json(address, "/api/bridge")["log"]["level"], "debug")
        status, answer = web.post(address, "/api/request/options", {"options": {"mqtt": {"url": "x"}}})
        self.assertEqual(status, 400, answer)
        self.assertIn("cannot be changed at run time", answer["error"])
        self.assertTrue(daemon.alive())


if __name__ == "__main__":
    common.harness.main()
