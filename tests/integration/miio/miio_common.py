"""Shared set-up of the miio integration tests: the daemon's miio section and the simulator."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import harness  # noqa: E402

DID = "01020304"
TOKEN = "00112233445566778899aabbccddeeff"
WRONG_TOKEN = "ffeeddccbbaa99887766554433221100"
CLOUD_KEY = "k3yFr0mFl4shDump"


class MiioTest(harness.DaemonTest):
    def setUp(self):
        super().setUp()
        self.cloud_port = harness.free_port()
        self.device_port = harness.free_port()

    def miio(self, devices, **extra):
        section = {
            "listen": f"127.0.0.1:{self.cloud_port}",
            "poll_interval": "1s",
            "offline_after": "4s",
            "devices": devices,
        }
        section.update(extra)
        return section

    def device(self, name="strip", token=TOKEN, model="qmi.powerstrip.v1", did=DID, **extra):
        entry = {"host": "127.0.0.1", "port": self.device_port, "token": token}
        if name:
            entry["name"] = name
        if model:
            entry["model"] = model
        if did:
            entry["did"] = int(did, 16)
        entry.update(extra)
        return entry

    def strip(self, *extra, model="qmi.powerstrip.v1", did=DID, token=TOKEN, device_extra="", port=None):
        spec = f"model={model},did={did},token={token},port={port or self.device_port}{device_extra}"
        sim = self.sim("miio", "--device", spec, "--cloud", f"127.0.0.1:{self.cloud_port}",
                       "--ping-interval", "1s", "--hello-retry", "300ms", *extra)
        sim.wait(lambda e: e.get("event") == "ready", what="simulator ready")
        return sim

    @staticmethod
    def events(sim, name, **match):
        with sim.cond:
            return [e for e in sim.events if e.get("event") == name and all(e.get(k) == v for k, v in match.items())]
