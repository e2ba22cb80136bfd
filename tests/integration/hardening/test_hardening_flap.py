"""A device flapping: the vesync outlet's websocket and the miio strip's cloud TCP connection
dropped and re-opened every second for a minute, while the timeguard device keeps pinging.
Afterwards no session, timer or descriptor is left over (/proc/<pid>/fd within 20 of before,
the websocket gauge back to one), memory is flat, and availability ends right: online while
the devices talk, offline once they stop."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import hardening_common as common  # noqa: E402
from hardening_common import harness, wait_until  # noqa: E402

FLAP_SECONDS = 60


class FlapTest(common.ThreeBridgeTest):
    def test_flapping_devices_leak_nothing_and_end_with_the_right_availability(self):
        obs = self.observer()
        daemon = self.start_three(self.config(offline_after="3s"))
        pid = daemon.proc.pid
        self.miio = self.miio_sim(transport="tcp")
        self.vesync = self.vesync_sim()
        self.timeguard = self.timeguard_sim()
        for key in ("strip", "desk", "heater"):
            obs.wait(f"lc/{key}/availability", lambda m: m.text() == "online", timeout=15)
        obs.wait_json("lc/desk", lambda s: "load_power" in s)
        time.sleep(2)
        fds_before = common.fd_count(pid)
        rss_before = common.rss_kb(pid)
        logins_before = self.count(self.vesync, lambda e: e.get("uri") == "/loginReply")
        syncs_before = self.count(self.miio, lambda e: e.get("event") == "time_sync")

        started = time.monotonic()
        flaps = 0
        while time.monotonic() - started < FLAP_SECONDS:
            self.vesync.send(f"drop {common.VESYNC_ID}")  # reconnects after 300 ms
            self.miio.send(f"resume {common.MIIO_DID}")   # closes its TCP connection, connects again
            flaps += 1
            time.sleep(1.0)
            self.assertTrue(daemon.alive(), "the daemon died while devices flapped")

        # Every flap was a new session that logged in and was answered.
        wait_until(lambda: self.count(self.vesync, lambda e: e.get("uri") == "/loginReply")
                   >= logins_before + flaps * 0.8, 10, what="a login reply per reconnect")
        self.assertGreaterEqual(self.count(self.miio, lambda e: e.get("event") == "time_sync"),
                                syncs_before + flaps * 0.5)

        # Settled: one websocket, descriptors back, memory flat.
        wait_until(lambda: common.metric(self.metrics(), "localcloud_vesync_connections") == 1, 10,
                   interval=0.2, what="one vesync session left")
        wait_until(lambda: common.fd_count(pid) <= fds_before + 20, 10, interval=0.2,
                   what=f"descriptors back within 20 of {fds_before}")
        rss_after = common.rss_kb(pid)
        print(f"flap: {flaps} flaps; fds {fds_before} -> {common.fd_count(pid)}; "
              f"RSS {rss_before} kB -> {rss_after} kB", file=sys.stderr)
        self.assertLess(rss_after, 2 * rss_before + 20 * 1024)

        # Availability ends right: online while they talk ...
        since = time.monotonic()
        time.sleep(1.5)
        for key in ("strip", "desk", "heater"):
            availability = obs.find(f"lc/{key}/availability")
            self.assertEqual(availability.text(), "online", key)
        self.assertIsNone(obs.find("lc/+/availability", lambda m: m.text() == "offline", since=since))
        # ... and offline once the outlet and the strip stop (offline_after 3 s); the timeguard
        # device, still pinging, stays online.
        since = time.monotonic()
        self.vesync.send(f"pause {common.VESYNC_ID}")
        self.miio.send(f"silence {common.MIIO_DID}")
        for key in ("strip", "desk"):
            obs.wait(f"lc/{key}/availability", lambda m: m.text() == "offline", since=since, timeout=10)
        self.assertEqual(obs.find("lc/heater/availability").text(), "online")
        wait_until(lambda: common.metric(self.metrics(), "localcloud_vesync_connections") == 0, 10,
                   interval=0.2, what="no vesync session left")
        self.assertEqual(common.metric(self.metrics(), "localcloud_devices_online", bridge="timeguard"), 1)


if __name__ == "__main__":
    harness.main()
