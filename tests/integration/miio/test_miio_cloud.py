"""The miio bridge's cloud side and identity end to end: wrong tokens, TCP keepalives, the
model learned with miIO.info, cloud_key pushes, and devices that are not configured."""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import harness  # noqa: E402
from miio_common import CLOUD_KEY, DID, TOKEN, WRONG_TOKEN, MiioTest  # noqa: E402


class MiioCloudTest(MiioTest):
    def test_a_wrong_token_is_reported_once_as_a_clear_error_without_a_crash(self):
        obs = self.observer()
        sim = self.strip(token=TOKEN)
        daemon = self.start_daemon(self.base_config(miio=self.miio([self.device(token=WRONG_TOKEN)])))
        sim.wait(lambda e: e.get("event") == "bad_checksum", timeout=10, what="a request with the wrong token")
        # 1 + 3 tries of 5 s each (python-miio's timing), then the report.
        event = obs.wait_json("lc/bridge/event", lambda e: e.get("type") == "device_error", timeout=35)
        self.assertEqual(event["device"], "strip")
        self.assertIn("token", event["message"])
        daemon.wait_log(r"strip.*token is probably wrong", timeout=5)
        self.assertTrue(daemon.alive())
        self.assertEqual(len([m for m in obs.all("lc/bridge/event") if b"device_error" in m.payload]), 1)
        log = daemon.log()
        self.assertNotIn(WRONG_TOKEN, log)
        self.assertNotIn(TOKEN, log)
        # The cloud side keeps serving the strip all the while.
        self.assertTrue(self.events(sim, "pong"))

    def test_tcp_keepalives_and_the_model_learned_with_miio_info(self):
        obs = self.observer()
        sim = self.strip("--transport", "tcp", "--cloud-delay", "1500ms")
        daemon = self.start_daemon(self.base_config(
            log={"level": "debug", "mask_ids": False, "trace": True},
            miio=self.miio([self.device(name="", model="", did="")])))
        sim.wait(lambda e: e.get("event") == "cloud_synced", timeout=10, what="time sync and pong over TCP")
        sim.wait(lambda e: e.get("event") == "received" and e.get("method") == "miIO.info", timeout=10,
                 what="miIO.info once the cloud session is up")
        # The did comes from the handshake: the key is miio_<did>.
        state = obs.wait_json(f"lc/miio_{DID}", lambda s: s.get("power") == "ON", timeout=10)
        self.assertAlmostEqual(state["voltage"], 230.57)
        switch = obs.wait_json(f"homeassistant/switch/localcloud_miio_{DID}/power/config",
                               lambda c: c["device"].get("model") == "qmi.powerstrip.v1")
        self.assertEqual(switch["device"].get("sw_version"), "3.4.2_71")
        # No miIO.info before the cloud session; each get_prop after it is not empty.
        with sim.cond:
            order = [e["event"] if e["event"] != "received" else e["method"] for e in sim.events
                     if e.get("event") in ("cloud_synced", "received")]
        self.assertLess(order.index("cloud_synced"), order.index("miIO.info"))
        pongs = len(self.events(sim, "pong"))
        sim.wait(lambda e: len(self.events(sim, "pong")) >= pongs + 2, timeout=5, what="more pongs over TCP")
        # Trace: every packet as hex with its decode; the token never appears.
        log = daemon.log()
        self.assertRegex(log, r"tcp in \S+ 2131.* hello")
        self.assertRegex(log, r"ping, echoed")
        self.assertNotIn(TOKEN, log)
        self.assertIn("<redacted>", log)

    def test_cloud_key_answers_otc_info_and_props_pushes_are_published_at_once(self):
        obs = self.observer()
        sim = self.strip("--otc-info", device_extra=f",cloud_key={CLOUD_KEY}")
        daemon = self.start_daemon(self.base_config(
            miio=self.miio([self.device(cloud_key=CLOUD_KEY)], poll_interval="60s")))
        sim.wait(lambda e: e.get("event") == "cloud_synced", timeout=10, what="time sync and pong")
        obs.publish("lc/strip/get", "")  # read now rather than at the next poll in 60 s
        obs.wait_json("lc/strip", lambda s: s.get("power") == "ON", timeout=10)
        info = sim.wait(lambda e: e.get("event") == "cloud_reply" and "otc_list" in str(e.get("message")),
                        timeout=10, what="the _otc.info answer")
        server = info["message"]["result"]["otc_list"][0]
        self.assertEqual(server, {"ip": "127.0.0.1", "port": self.cloud_port})
        # The strip is switched at the device (the button): it pushes props to the cloud, and the
        # state changes long before the next poll.
        sim.send(f'set {DID} power "off"')
        obs.wait_json("lc/strip", lambda s: s.get("power") == "OFF", timeout=5)
        ack = sim.wait(lambda e: e.get("event") == "cloud_reply" and e["message"].get("result") == "ok",
                       what="the props acknowledgement")
        self.assertIsInstance(ack["message"]["id"], int)
        self.assertNotIn(CLOUD_KEY, daemon.log())

    def test_devices_not_in_the_config_get_keepalives_but_are_not_published(self):
        obs = self.observer()
        other_port = harness.free_port()
        self.start_daemon(self.base_config(miio=self.miio([self.device()])))
        stranger = self.strip(did="0a0b0c0d", port=other_port, token="0" * 32)
        stranger.wait(lambda e: e.get("event") == "cloud_synced", timeout=10, what="keepalives for a stranger")
        pongs = len(self.events(stranger, "pong"))
        stranger.wait(lambda e: len(self.events(stranger, "pong")) > pongs, timeout=5, what="another pong")
        devices = obs.wait_json("lc/bridge/devices", lambda d: len(d) >= 1)
        self.assertEqual([d["id"] for d in devices], [DID])
        self.assertIsNone(obs.find("homeassistant/+/localcloud_miio_0a0b0c0d/+/config"))
        self.assertFalse(self.events(stranger, "received"))


if __name__ == "__main__":
    harness.main()
