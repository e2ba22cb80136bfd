"""State that must not be lost: the vesync energy counter and the device database under
data_dir survive `kill -9` at any moment. In a loop the daemon is killed at a random time while
an outlet reports energy several times a second (every report is a durable write); the broker,
and with it every retained message, is killed too now and then, so that data_dir alone must
carry the counter. Every file in data_dir always parses, and no energy value published after a
restart is below one published before it."""
import json
import os
import random
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import hardening_common as common  # noqa: E402
from hardening_common import harness, wait_until  # noqa: E402

ROUNDS = 10


class DurableTest(common.ThreeBridgeTest):
    def check_data_dir(self, data_dir):
        """Every record parses; returns the stored energy (or None)."""
        energy = None
        for name in os.listdir(data_dir):
            if name.startswith("."):
                continue  # a temporary file of a write cut short; never read
            with open(os.path.join(data_dir, name)) as f:
                text = f.read()
            record = json.loads(text)  # a torn or empty record fails here
            if name.startswith("vesync-energy-"):
                energy = record["energy_kwh"]
            elif name == "devices.json":
                self.assertIsInstance(record["devices"], list)
        return energy

    def test_energy_and_device_database_survive_kill_9_at_any_moment(self):
        config = self.base_config(vesync=self.three_bridges()["vesync"])
        data_dir = config["data_dir"]
        self.daemon_config = config
        outlet = None
        highest = 0.0          # the highest energy ever published
        random.seed(os.getpid())
        for round_number in range(ROUNDS):
            if round_number % 3 == 2:  # the broker forgets every retained message
                self.broker.kill()
                self.broker.start()
            obs = harness.Observer(self.broker.port, ("lc/desk",))
            daemon = harness.Daemon(self.workdir, config)
            daemon.start()
            try:
                wait_until(lambda: "listening" in daemon.log() or not daemon.alive(), 10, what="daemon start")
                if outlet is None:
                    outlet = self.vesync_sim("--ka-period", "150ms", "--report-delay", "50ms")
                # Kill at a random moment: sometimes before the first report, mostly amid them.
                time.sleep(random.uniform(0.05, 2.0) * harness.SLOW)
                daemon.proc.send_signal(signal.SIGKILL)
                daemon.proc.wait(10)
            finally:
                if daemon.alive():
                    daemon.proc.kill()
                    daemon.proc.wait()
            time.sleep(0.2)
            obs.close()
            published = [m.json().get("energy") for m in obs.all("lc/desk") if m.payload]
            published = [value for value in published if value is not None]
            if published:
                self.assertGreaterEqual(min(published) + 1e-6, highest,
                                        f"round {round_number}: energy went back below {highest}: {published}")
                self.assertEqual(published, sorted(published), f"round {round_number}: not monotonic")
                highest = max(highest, max(published))
            stored = self.check_data_dir(data_dir)
            if highest > 0:
                self.assertIsNotNone(stored, f"round {round_number}: no energy record")
                self.assertGreaterEqual(stored + 1e-6, highest, f"round {round_number}: stored {stored} < "
                                                                f"published {highest}")
            print(f"round {round_number}: {len(published)} energy values, highest {highest}, stored {stored}",
                  file=sys.stderr)
        self.assertGreater(highest, 0, "no energy was ever published")

        # A last start with a fresh broker (nothing retained): the counter comes from data_dir.
        self.broker.kill()
        self.broker.start()
        obs = self.observer(("lc/desk",))
        self.start_daemon(config)
        state = obs.wait_json("lc/desk", lambda s: s.get("energy") is not None, timeout=15)
        self.assertGreaterEqual(state["energy"] + 1e-6, highest)
        # The device database is written a moment after a registration (app/hub/device_db.cpp).
        def saved_ids():
            try:
                with open(os.path.join(data_dir, "devices.json")) as f:
                    return [d["id"] for d in json.load(f)["devices"]]
            except FileNotFoundError:
                return []
        wait_until(lambda: common.VESYNC_ID in saved_ids(), 10, what="the outlet in devices.json")


if __name__ == "__main__":
    harness.main()
