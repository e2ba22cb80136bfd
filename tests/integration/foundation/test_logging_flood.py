"""bridge/logging under a flood (issue 13): garbage on every port of the three bridges while the
daemon logs at debug and log.mqtt is debug. The log fills with lines; bridge/logging carries at
most its rate (a burst, then 10 lines a second) plus one "N log lines dropped" line a second,
and, with mask_ids, no device id."""
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "hardening"))
import hardening_common as common  # noqa: E402
from hardening_common import harness, wait_until  # noqa: E402

GARBAGE = os.path.join(os.path.dirname(__file__), "..", "hardening", "garbage.py")
DURATION = 6
BURST = 20          # MqttLogging::kBurst
PER_SECOND = 10     # MqttLogging::kPerSecond


class LoggingFloodTest(common.ThreeBridgeTest):
    def test_garbage_at_debug_does_not_flood_bridge_logging(self):
        obs = self.observer(("lc/bridge/logging",))
        config = self.config(names=False)  # keys hold the ids: masked in the log and on MQTT
        config["log"] = {"level": "debug", "mask_ids": True, "mqtt": "debug"}
        daemon = self.start_three(config)
        self.start_sims()
        wait_until(lambda: obs.find("lc/bridge/logging"), 15, what="a first line on bridge/logging")
        time.sleep(3)  # the start's burst is over; the bucket refills while the devices settle
        log_lines_before = len(daemon.log().splitlines())

        since = time.monotonic()
        garbage = subprocess.Popen(
            [sys.executable, GARBAGE, "--duration", str(DURATION),
             "--udp", str(self.miio_port), "--udp", str(self.timeguard_port),
             "--tcp", str(self.miio_port), "--ws", str(self.vesync_port),
             "--udp-rate", "2000", "--tcp-rate", "100", "--slow", "0", "--half-open", "0", "--flood", "5"],
            stdout=subprocess.PIPE, text=True)
        self._cleanup.append(lambda: garbage.poll() is None and garbage.kill())
        garbage.communicate(timeout=60)
        time.sleep(2.5)  # the last "dropped" line
        elapsed = time.monotonic() - since
        self.assertTrue(daemon.alive())

        logged = len(daemon.log().splitlines()) - log_lines_before
        messages = [m for m in obs.all("lc/bridge/logging") if m.at >= since]
        lines = [m.json() for m in messages]
        notes = [l for l in lines if l["message"].endswith("lines a second)") and "log line" in l["message"]]
        dropped = sum(int(n["message"].split()[0]) for n in notes)
        print(f"flood: {logged} lines logged in {elapsed:.1f} s; {len(lines)} on bridge/logging "
              f"({len(notes)} notes for {dropped} dropped lines)", file=sys.stderr)
        self.assertGreater(logged, 1000, "the garbage did not make the daemon log much: no flood to test")
        # A burst, then the rate, plus at most one note a second.
        self.assertLessEqual(len(lines), BURST + (PER_SECOND + 1) * (elapsed + 1))
        self.assertGreaterEqual(len(notes), 1)
        self.assertGreater(dropped, logged // 2)
        for message in messages:
            self.assertFalse(message.retain)
            text = message.text()
            for device_id in (common.MIIO_DID, common.VESYNC_ID, common.TIMEGUARD_ID):
                self.assertNotIn(device_id, text)
        self.assertEqual({l["level"] for l in lines} - {"debug", "info", "warn", "error"}, set())


if __name__ == "__main__":
    harness.main()
