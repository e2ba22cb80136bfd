"""The timeguard bridge's fallback and relay modes end to end: the built daemon between a
`localcloud-sim timeguard` device and a second simulator acting as the upstream cloud
(`--cloud`, which answers like www.cloudwarm.net, junk padding included); docs/protocols/timeguard.md §5."""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import harness  # noqa: E402
from harness import wait_until  # noqa: E402

DEVICE = "12345678"
CLOUD_PADDING = "5f636f"  # "_co", as in the captured cloud reply (readme_02)


def received(kind):
    return lambda e: e.get("event") == "received" and e.get("kind") == kind


def sent(kind=None):
    return lambda e: e.get("event") == "sent" and (kind is None or e.get("kind") == kind)


def events(sim, predicate):
    with sim.cond:
        return [e for e in sim.events if predicate(e)]


class TimeguardForwardingTest(harness.DaemonTest):
    def assert_all_sent(self, sender, hexes):
        """Every frame in hexes is one the sender reported sending, byte for byte."""
        def missing():
            sent_by = {e["hex"] for e in events(sender, sent())}
            return [h for h in hexes if h not in sent_by]
        try:
            wait_until(lambda: not missing(), 3, what="the sender's report of every forwarded frame")
        except AssertionError:
            pass
        self.assertEqual(missing(), [])

    def start_all(self, mode):
        port = harness.free_port()
        cloud_port = harness.free_port()
        cloud = self.sim("timeguard", "--cloud", "--listen", f"127.0.0.1:{cloud_port}")
        cloud.wait(lambda e: e.get("event") == "started", what="cloud started")
        config = self.base_config(timeguard={
            "enabled": True, "listen": f"127.0.0.1:{port}", "mode": mode, "upstream": f"127.0.0.1:{cloud_port}",
            "devices": [{"id": DEVICE, "name": "heater"}]})
        self.daemon = self.start_daemon(config)
        device = self.sim("timeguard", "--server", f"127.0.0.1:{port}", "--id", DEVICE, "--ping-interval", "500ms")
        return cloud, device

    def test_fallback_forwards_byte_exact_and_suppresses_the_clouds_keepalive_replies(self):
        obs = self.observer()
        cloud, device = self.start_all("fallback")
        wait_until(lambda: len(events(cloud, sent("ping_reply"))) >= 3, 10, what="the cloud answering pings")
        wait_until(lambda: len(events(device, received("ping_reply"))) >= 3, 10, what="ping replies at the device")

        # Device -> cloud: every datagram the cloud got is one the device sent, byte for byte,
        # the version report and the pings among them.
        cloud_got = events(cloud, lambda e: e.get("event") == "received")
        self.assertTrue(cloud_got)
        self.assert_all_sent(device, [e["hex"] for e in cloud_got])
        self.assertTrue(events(cloud, received("code_version_report")))

        # The device's keepalive answers are ours (zero padding), never the cloud's copies.
        replies = events(device, received("ping_reply"))
        self.assertEqual({r["padding"] for r in replies}, {"000000"})
        self.assertTrue(all(r["flags"] == 0x0F for r in replies))
        self.assertEqual(len(events(device, received("code_version_ack"))), 1)
        self.assertTrue(events(cloud, sent("code_version_ack")))  # the cloud did answer: suppressed

        # Cloud -> device: its own request arrives unchanged and the answer goes back unchanged.
        cloud.send(f"frame {DEVICE} 4 12 161")
        read = device.wait(lambda e: received("unknown4_read")(e) and e["seq"] == 161, what="the cloud's type-4 read")
        self.assertEqual(read["hex"], events(cloud, sent("unknown4_read"))[-1]["hex"])
        answer = device.wait(lambda e: sent("unknown4_reply")(e), what="the device's type-4 reply")
        cloud.wait(lambda e: e.get("event") == "received" and e["hex"] == answer["hex"], what="the reply upstream")

        # A write from the cloud (the phone app) reaches the device, and MQTT learns the result.
        since = time.monotonic()
        cloud.send(f"frame {DEVICE} 8 14 162 02")
        device.wait(lambda e: e.get("event") == "applied" and e.get("what") == "work_mode", what="the cloud's write")
        obs.wait_json("lc/heater", lambda s: s.get("work_mode") == "always_on", since=since)
        # Our own first-sight reads were answered too, and the answers were forwarded upstream.
        obs.wait_json("lc/heater", lambda s: s.get("firmware") == "4191717051001")
        cloud.wait(received("schedule_reply"), what="schedule replies forwarded upstream")

    def test_relay_forwards_untouched_and_answers_nothing(self):
        obs = self.observer()
        cloud, device = self.start_all("relay")
        wait_until(lambda: len(events(device, received("ping_reply"))) >= 3, 10, what="the cloud's ping replies")
        # Everything the device got is exactly what the cloud sent: junk padding and all. The
        # two simulators report independently, so a datagram may reach the device before the
        # cloud's "sent" line is read: snapshot the receiver first and give the sender a moment.
        device_got = events(device, lambda e: e.get("event") == "received")
        self.assert_all_sent(cloud, [e["hex"] for e in device_got])
        self.assertEqual({r["padding"] for r in events(device, received("ping_reply"))}, {CLOUD_PADDING})
        self.assertEqual(len(events(device, received("code_version_ack"))), 1)
        # And everything the cloud got is what the device sent.
        self.assert_all_sent(device, [e["hex"] for e in events(cloud, lambda e: e.get("event") == "received")])
        # No reads of our own in relay mode; the state is learned from the passing pings.
        obs.wait_json("lc/heater", lambda s: s.get("relay") in ("ON", "OFF") and "uptime" in s)
        time.sleep(1.0)
        own = [e for e in events(device, lambda e: e.get("event") == "received") if e["kind"].endswith("_read")]
        self.assertEqual(own, [])

    def test_an_upstream_that_loops_back_to_us_is_refused(self):
        port = harness.free_port()
        config = self.base_config(timeguard={
            "enabled": True, "listen": f"0.0.0.0:{port}", "mode": "fallback", "upstream": f"127.0.0.1:{port}"})
        daemon = self.start_daemon(config, wait_ready=False)
        wait_until(lambda: not daemon.alive(), 10, what="the daemon to refuse the config")
        self.assertIn("reaches our own listener", daemon.log())


if __name__ == "__main__":
    harness.main()
