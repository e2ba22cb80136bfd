"""Many pages open at once: 300 simulated Timeguard switches report (a ping a second each, the
protocol trace on) while 50 pages read the event stream; the pages up to the cap (64) get a
stream, one more gets 503; pages that stop reading are dropped, the others go on, and the
daemon's RSS stays flat however many of them come and go."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import web_common as web  # noqa: E402
import hardening_common as common  # noqa: E402
from harness import SANITIZED, SLOW, wait_until  # noqa: E402

DEVICES = 300
FIRST_ID = 0x20000000
MAX_STREAMS = 64  # app/api/live.h LiveOptions::max_streams


class ManyPagesTest(common.ThreeBridgeTest):
    def test_fifty_pages_three_hundred_devices_the_cap_and_stalled_readers(self):
        config = self.base_config(timeguard={
            "enabled": True, "listen": f"127.0.0.1:{self.timeguard_port}", "mode": "local", "offline_after": "10s",
            "accept_unknown": False,
            "devices": [{"id": f"{FIRST_ID + i:08x}"} for i in range(DEVICES)]})
        config["log"] = {"level": "info", "trace": True, "mask_ids": True}
        daemon = self.start_three(config)
        address = self.api_address()
        self.sim("timeguard", "--server", f"127.0.0.1:{self.timeguard_port}", "--devices", DEVICES,
                 "--id", f"{FIRST_ID:08x}", "--ping-interval", "1s", "--quiet")
        wait_until(lambda: sum(d["online"] for d in web.get_json(address, "/api/devices")) == DEVICES, 30,
                   interval=0.5, what=f"{DEVICES} devices online")

        # 50 pages, each with the whole snapshot, then the changes as they come.
        streams = web.EventStreams(address)
        self._cleanup.append(streams.close)
        pages = streams.open(50)
        wait_until(lambda: all(p.snapshot is not None for p in pages), 20, interval=0.1, what="50 snapshots")
        self.assertTrue(all(p.status == 200 and len(p.snapshot["devices"]) == DEVICES for p in pages))

        # Pages that stop reading (a small receive window, nothing read): the daemon drops
        # them once they are 1 MB behind, round after round, and its memory stays flat. The
        # first round fills the kernel's buffers while the rest is checked.
        metrics = lambda: web.request(address, "GET", "/metrics")[2]  # noqa: E731
        dropped = lambda: common.metric(metrics(), "localcloud_api_event_streams_total", result="dropped") or 0  # noqa
        before = dropped()
        stalled = [streams.stall() for _ in range(6)]

        marks = [p.bytes for p in pages]
        time.sleep(2 * SLOW)
        self.assertTrue(all(p.bytes > mark for p, mark in zip(pages, marks)), "a page got nothing new")

        # Up to the cap, and one more: 503 with a reason.
        more = streams.open(MAX_STREAMS - len(pages) - len(stalled))
        wait_until(lambda: all(p.status == 200 for p in more), 20, interval=0.1, what="the pages up to the cap")
        status, headers, body = web.request(address, "GET", "/api/events")
        self.assertEqual(status, 503, body)
        self.assertIn("too many open pages", body)
        self.assertEqual(headers.get("retry-after"), "10")
        for page in more:
            page.close()

        rss = []
        for round in range(2):
            wait_until(lambda: dropped() >= before + len(stalled), 60, interval=0.5,
                       what=f"round {round + 1}: {len(stalled)} stalled pages dropped")
            wait_until(lambda: all(web.closed_by_peer(s) for s in stalled), 10, interval=0.2,
                       what="the stalled pages' connections closed")
            rss.append(common.rss_kb(daemon.proc.pid))
            for stream in stalled:
                stream.close()
            if round == 0:
                before = dropped()
                stalled = [streams.stall() for _ in range(6)]
        print(f"RSS after each round of stalled pages: {rss} kB", file=sys.stderr)
        allowed = 24 * 1024 if SANITIZED else 8 * 1024
        self.assertLess(rss[-1] - rss[0], allowed, f"RSS grew: {rss}")

        # The pages that read were never dropped and still get what changes.
        self.assertTrue(all(not p.closed for p in pages), "a page that reads was dropped")
        marks = [p.bytes for p in pages]
        time.sleep(1 * SLOW)
        self.assertTrue(all(p.bytes > mark for p, mark in zip(pages, marks)), "the reading pages stopped getting events")
        self.assertTrue(daemon.alive())


if __name__ == "__main__":
    common.harness.main()
