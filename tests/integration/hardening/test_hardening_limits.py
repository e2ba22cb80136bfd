"""Limits: the daemon under `ulimit -n 256` with connection floods on every TCP port (the caps
hold, it keeps serving the real devices, MQTT and data_dir, a clear log line says why
connections are refused), and unknown-device floods on every bridge (the registry never grows
beyond max_unknown; bridge/request/remove forgets a device completely)."""
import json
import os
import random
import stat
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import hardening_common as common  # noqa: E402
from hardening_common import harness, wait_until  # noqa: E402

MAX_UNKNOWN = 4


class OpenFilesLimitTest(common.ThreeBridgeTest):
    def test_ulimit_256_caps_hold_and_everything_keeps_working(self):
        wrapper = os.path.join(self.workdir, "localcloud-ulimit.sh")
        with open(wrapper, "w") as f:
            f.write(f'#!/bin/sh\nulimit -n 256 || exit 99\nexec "{os.path.abspath(harness.BIN)}" "$@"\n')
        os.chmod(wrapper, stat.S_IRWXU)
        obs = self.observer()
        config = self.config()
        self.daemon_config = config
        daemon = self.start_daemon(config, binary=wrapper)
        pid = daemon.proc.pid
        self.start_sims()
        for key in ("strip", "desk", "heater"):
            obs.wait(f"lc/{key}/availability", lambda m: m.text() == "online", timeout=15)
        energy_before = obs.wait_json("lc/desk", lambda s: s.get("energy") is not None)["energy"]
        self.assertRegex(daemon.log(), r"only 256 open files allowed")
        with open(f"/proc/{pid}/limits") as f:
            self.assertRegex(f.read(), r"Max open files\s+256\s+256")

        # Floods far beyond what 256 descriptors allow, on every TCP port.
        api_port = int(self.api_address().split(":")[1])
        held = []
        self._cleanup.append(lambda: common.close_all(held))
        for port in (self.vesync_port, self.miio_port, api_port, self.service_port):
            held += common.open_idle(port, count=300)
        time.sleep(1.0)
        self.assertTrue(daemon.alive(), "the daemon died at its open-files limit")
        fds = common.fd_count(pid)
        self.assertLess(fds, 256 - 16, "no descriptors left for the broker and data_dir")

        # The real devices keep working, MQTT commands still arrive, data_dir is still written
        # (an energy report is published only once durable).
        self.wait_keepalives_grow(what="keepalives at the open-files limit")
        for key, value in (("desk", "OFF"), ("strip", "OFF"), ("desk", "ON")):
            since = time.monotonic()
            obs.publish(f"lc/{key}/set/power", value)
            obs.wait_json(f"lc/{key}", lambda s: s.get("power") == value, since=since)
        since = time.monotonic()
        obs.wait_json("lc/desk", lambda s: (s.get("energy") or 0) > energy_before, since=since, timeout=15)

        metrics_status, metrics = common.http_get(self.api_address(), "/metrics")
        log = daemon.log()
        self.assertRegex(log, r"\[vesync\].*connection cap .*reached")
        self.assertRegex(log, r"\[miio\].*connection cap .*reached")
        print(f"ulimit: daemon fds {fds} with {len(held)} connections attempted", file=sys.stderr)

        common.close_all(held)
        wait_until(lambda: common.http_get(self.api_address(), "/metrics")[0] == 200, 15, interval=0.3,
                   what="the API answering again")
        metrics = self.metrics()
        self.assertGreater(common.metric(metrics, "localcloud_packets_dropped_total", bridge="vesync",
                                         reason="too_many_connections") or 0, 0)
        self.assertGreater(common.metric(metrics, "localcloud_packets_dropped_total", bridge="miio",
                                         reason="tcp_too_many_connections") or 0, 0)
        self.assertGreater(common.metric_sum(metrics, "localcloud_http_connections_refused_total"), 0)
        # Once the flood is gone a new outlet connection is accepted again.
        self.vesync.send(f"drop {common.VESYNC_ID}")
        since = time.monotonic()
        self.vesync.wait(lambda e: e.get("uri") == "/loginReply" and
                         self.count(self.vesync, lambda x: x.get("uri") == "/loginReply") >= 2,
                         what="a new login after the flood")
        obs.wait("lc/desk/availability", lambda m: m.text() == "online")
        self.assertTrue(daemon.alive())
        del since


class UnknownFloodTest(common.ThreeBridgeTest):
    def registry(self):
        metrics = self.metrics()
        return {bridge: common.metric(metrics, "localcloud_devices", bridge=bridge)
                for bridge in ("miio", "vesync", "timeguard")}

    def test_unknown_device_floods_stay_within_max_unknown_and_remove_forgets(self):
        obs = self.observer()
        self.start_three()
        self.start_sims()
        for key in ("strip", "desk", "heater"):
            obs.wait(f"lc/{key}/availability", lambda m: m.text() == "online", timeout=15)

        # Random ids on every bridge: 40 outlets, 40 time switches, 2000 miio ids.
        prefix = "%08x-%04x-4%03x-8%03x-" % (random.getrandbits(32), random.getrandbits(16),
                                             random.getrandbits(12), random.getrandbits(12))
        outlets = self.sim("vesync", "--server", f"127.0.0.1:{self.vesync_port}", "--count", "40",
                           "--id-prefix", prefix, "--ka-period", "1s", "--reconnect", "1s", "--report-delay", "100ms")
        switches = self.sim("timeguard", "--server", f"127.0.0.1:{self.timeguard_port}", "--devices", "40",
                            "--id", "%08x" % random.getrandbits(31), "--ping-interval", "1s", "--quiet")
        miio_load = self.sim("miio", "--cloud", f"127.0.0.1:{self.miio_port}", "--load", "2000", "--rate", "2000",
                             "--duration", "8s")
        # Every one of them is answered (keepalive replies), registered or not.
        wait_until(lambda: self.count(outlets, lambda e: e.get("uri") == "/loginReply") >= 40, 15,
                   what="a login reply for every unknown outlet")
        load = miio_load.wait(lambda e: e.get("event") == "load" and e.get("final"), timeout=20,
                              what="miio load report")
        self.assertGreater(load["received"], 0.5 * load["sent"])
        # One new unknown device a second (timeguard retries a refused one after 10 s): the
        # registry fills up to max_unknown and never beyond.
        def full():
            registry = self.registry()
            self.assertEqual(registry["miio"], 1, registry)
            self.assertLessEqual(registry["vesync"], 1 + MAX_UNKNOWN, registry)
            self.assertLessEqual(registry["timeguard"], 1 + MAX_UNKNOWN, registry)
            return registry["vesync"] == registry["timeguard"] == 1 + MAX_UNKNOWN and registry
        registry = wait_until(full, 20, interval=0.25, what="max_unknown devices registered")
        print(f"unknown flood: registry {registry}", file=sys.stderr)
        devices = obs.wait_json("lc/bridge/devices", lambda d: len(d) == 3 + 2 * MAX_UNKNOWN)
        self.assertGreater(common.metric(self.metrics(), "localcloud_unknown_devices_refused_total"), 50)
        time.sleep(1.5)
        self.assertEqual(self.registry(), registry, "the registry grew beyond max_unknown")

        # Remove one admitted unknown outlet and one time switch while their devices are gone.
        outlets.send("pause all")
        switches.stop()
        removed = [d for d in devices if not d["configured"] and d["bridge"] in ("vesync", "timeguard")]
        victims = [next(d for d in removed if d["bridge"] == bridge) for bridge in ("vesync", "timeguard")]
        energy_record = os.path.join(self.daemon_config["data_dir"], "vesync-energy-" + victims[0]["id"])
        wait_until(lambda: os.path.exists(energy_record), 10, what="the outlet's energy record")
        for victim in victims:
            key = victim["key"]
            wait_until(lambda: f"lc/{key}" in harness.retained(self.broker.port, f"lc/{key}", settle=0.2), 10,
                       what=f"{key} state retained")
            obs.publish("lc/bridge/request/remove", json.dumps({"device": key, "transaction": key}))
            response = obs.wait_json("lc/bridge/response/remove", lambda r: r.get("transaction") == key)
            self.assertEqual(response["status"], "ok")
        time.sleep(2.5)  # the device database is saved within 2 s
        retained = harness.retained(self.broker.port, "#")
        status, listed = common.http_get(self.api_address(), "/devices")
        with open(os.path.join(self.daemon_config["data_dir"], "devices.json")) as f:
            database = json.load(f)
        data_files = os.listdir(self.daemon_config["data_dir"])
        for victim in victims:
            key, device_id = victim["key"], victim["id"]
            self.assertFalse([t for t in retained if key in t or device_id in t], f"{key} still retained")
            self.assertNotIn(device_id, [d["id"] for d in json.loads(listed)])
            self.assertNotIn(device_id, [d["id"] for d in database["devices"]])
            self.assertFalse([name for name in data_files if device_id in name], f"{device_id} still in data_dir")
        registry = self.registry()
        self.assertEqual(registry["vesync"], MAX_UNKNOWN)
        self.assertEqual(registry["timeguard"], MAX_UNKNOWN)

        # A forgotten outlet that comes back is a new device (a slot was freed).
        since = time.monotonic()
        outlets.send("resume all")
        joined = obs.wait_json("lc/bridge/event", lambda e: e.get("type") == "device_joined" and
                               e.get("bridge") == "vesync", since=since, timeout=15)
        self.assertFalse(joined["configured"])
        time.sleep(2)
        self.assertEqual(self.registry()["vesync"], 1 + MAX_UNKNOWN)


if __name__ == "__main__":
    harness.main()
