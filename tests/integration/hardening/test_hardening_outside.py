"""The three holes found from outside (issue 15, part 0), replayed against the built daemon:
a request nested 50,000 deep on bridge/request/<name>; a retained state nested 200,000 deep
left on a device's topic, then the device logging in; and a flood of commands to a miio device
that stays online through its cloud pings but never answers locally. Each crashed the daemon
or grew it without bound before."""
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import hardening_common as common  # noqa: E402
from hardening_common import harness, wait_until  # noqa: E402


class OutsideTest(common.ThreeBridgeTest):
    def test_deep_request_is_answered_not_crashed_on(self):
        obs = self.observer()
        daemon = self.start_three()
        obs.wait("lc/bridge/state", lambda m: m.text() == "online", timeout=15)
        deep = '{"transaction":' + "[" * 50000 + "1" + "]" * 50000 + "}"
        for name in ("health_check", "remove", "no_such_request"):
            since = time.monotonic()
            obs.publish(f"lc/bridge/request/{name}", deep)
            answer = obs.wait_json(f"lc/bridge/response/{name}", lambda j: j.get("status") == "error",
                                   since=since, timeout=10)
            self.assertIn("4096 bytes", answer["error"])
        since = time.monotonic()
        obs.publish("lc/bridge/request/health_check", '{"transaction":' + "[" * 100 + "]" * 100 + "}")
        answer = obs.wait_json("lc/bridge/response/health_check", since=since)
        self.assertEqual(answer, {"status": "error", "error": "request nested too deep"})
        since = time.monotonic()
        obs.publish("lc/bridge/request/health_check", '{"transaction":[[7]]}')
        answer = obs.wait_json("lc/bridge/response/health_check", since=since)
        self.assertEqual(answer["transaction"], [[7]])
        self.assertEqual(answer["data"], {"healthy": True})
        self.assertTrue(daemon.alive())
        dropped = common.metric_sum(self.metrics(), "localcloud_mqtt_messages_dropped_total")
        self.assertEqual(dropped, 4)

    def test_deep_retained_state_then_login(self):
        obs = self.observer()
        key = common.VESYNC_KEY
        obs.publish(f"lc/{key}", '{"energy":1,"x":' + "[" * 200000 + "]" * 200000 + "}", retain=True)
        daemon = self.start_three(self.config(names=False))
        self.start_sims()
        obs.wait(f"lc/{key}/availability", lambda m: m.text() == "online", timeout=15)
        state = obs.wait_json(f"lc/{key}", lambda s: s.get("power") == "ON", timeout=15)
        self.assertTrue(daemon.alive())
        self.assertLess(state.get("energy") or 0, 1)
        self.assertGreaterEqual(common.metric_sum(self.metrics(), "localcloud_mqtt_messages_dropped_total",
                                                  reason="too_large"), 1)

    def test_command_flood_to_a_device_that_never_answers_locally(self):
        obs = self.observer()
        daemon = self.start_three()
        # The simulated strip answers its cloud pings (so it is online) but has another token.
        spec = f"model=qmi.powerstrip.v1,did={common.MIIO_DID},token={'ab' * 16},port={self.miio_device_port}"
        sim = self.sim("miio", "--device", spec, "--cloud", f"127.0.0.1:{self.miio_port}",
                       "--ping-interval", "1s", "--hello-retry", "300ms")
        sim.wait(lambda e: e.get("event") == "ready", what="miio simulator ready")
        obs.wait("lc/strip/availability", lambda m: m.text() == "online", timeout=15)
        time.sleep(1)
        rss_before = common.rss_kb(daemon.proc.pid)
        flood = 5000
        for _ in range(flood):
            obs.client.publish("lc/strip/set/power", "OFF", qos=0)
        # The broker may drop some of 5,000 events on their way to this observer (its queue
        # for one client is bounded), so the count comes from the daemon's own metrics.
        refused = lambda: common.metric_sum(self.metrics(), "localcloud_packets_dropped_total",  # noqa: E731
                                            bridge="miio", reason="queue_full")
        wait_until(lambda: refused() >= flood - 16, 30, interval=0.2,
                   what="commands beyond the queue failed at once")
        event = obs.wait_json("lc/bridge/event", lambda e: "too many requests" in e.get("error", ""))
        self.assertEqual(event["type"], "command_failed")
        self.assertEqual(event["device"], "strip")
        rss_after = common.rss_kb(daemon.proc.pid)
        print(f"flood: {refused():.0f} of {flood} refused at once; RSS {rss_before} -> {rss_after} kB",
              file=sys.stderr)
        self.assertLess(rss_after, 2 * rss_before + 20 * 1024)  # the bound test_hardening_garbage uses
        self.assertTrue(daemon.alive())


if __name__ == "__main__":
    harness.main()
