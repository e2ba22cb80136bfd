"""The soak of the extended command (scripts/test-extended.sh): the built daemon against a real
mosquitto and 300 simulated devices across the three bridges (100 miio strips over UDP and
TCP, 100 vesync outlets, 100 timeguard switches) for --minutes (30), with a command to a few
devices of each bridge every few seconds and a flapping outlet. Every --interval it prints
the daemon's RSS, open descriptors, devices online and MQTT messages published; at the end a
summary line. No timed assertion: it fails only when the daemon dies, a command stops being
answered for good, or RSS/descriptors grow past generous bounds (a leak, not noise).

  LOCALCLOUD_BIN=build/app/localcloud LOCALCLOUD_SIM=build/app/localcloud-sim \
      /usr/bin/python3 tests/soak/soak.py --minutes 30
"""
import argparse
import json
import os
import random
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
import harness  # noqa: E402

PER_BRIDGE = 100


def proc_stats(pid):
    with open(f"/proc/{pid}/status") as f:
        rss = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
    return rss, len(os.listdir(f"/proc/{pid}/fd"))


def metric_sum(text, name, label=""):
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and label in line and not line.startswith("#"):
            total += float(line.rsplit(" ", 1)[1])
    return total


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--interval", type=float, default=60, help="seconds between two reports")
    parser.add_argument("--devices", type=int, default=PER_BRIDGE, help="devices per bridge")
    args = parser.parse_args()

    workdir = tempfile.mkdtemp(prefix="lc-soak-")
    broker = harness.Mosquitto(workdir).start()
    miio_port, vesync_port, timeguard_port = harness.free_port(), harness.free_port(False), harness.free_port()
    api = f"127.0.0.1:{harness.free_port(False)}"
    sims = []

    def sim(vendor, *sim_args):
        s = harness.Sim(vendor, *sim_args)
        sims.append(s)
        return s

    # miio: the devices' local ports are known once the simulators are up; half over TCP.
    miio_devices = []
    for transport, first in (("udp", 0), ("tcp", args.devices // 2)):
        specs = []
        for i in range(first, first + args.devices // 2):
            did = 0x10000000 + i
            specs += ["--device", f"model=qmi.powerstrip.v1,did={did:08x},token={did:08x}" + "0" * 24 + ",port=0"]
        s = sim("miio", *specs, "--cloud", f"127.0.0.1:{miio_port}", "--transport", transport,
                "--ping-interval", "15s", "--hello-retry", "2s")
        harness.wait_until(lambda: sum(1 for e in s.events if e.get("event") == "ready") >= args.devices // 2, 30,
                           what="miio simulators ready")
        for e in s.events:
            if e.get("event") == "ready":
                miio_devices.append({"host": "127.0.0.1", "port": e["port"], "token": e["device"] + "0" * 24,
                                     "did": int(e["device"], 16), "model": "qmi.powerstrip.v1",
                                     "name": f"strip_{e['device']}"})
    config = {
        "mqtt": {"url": broker.url, "client_id": f"lc-soak-{os.getpid()}", "base_topic": "lc"},
        "homeassistant": {"discovery": True},
        "log": {"level": "info", "mask_ids": True},
        "api": {"listen": api},
        "data_dir": os.path.join(workdir, "data"),
        "miio": {"enabled": True, "listen": f"127.0.0.1:{miio_port}", "poll_interval": "30s",
                 "offline_after": "90s", "devices": miio_devices},
        "vesync": {"enabled": True, "listen": f"127.0.0.1:{vesync_port}", "poll_interval": "60s",
                   "offline_after": "10m", "max_unknown": args.devices + 8},
        "timeguard": {"enabled": True, "listen": f"127.0.0.1:{timeguard_port}", "offline_after": "150s",
                      "max_unknown": args.devices + 8},
    }
    daemon = harness.Daemon(workdir, config)
    daemon.start()
    harness.wait_until(lambda: "listening" in daemon.log() or not daemon.alive(), 20, what="daemon start")
    pid = daemon.proc.pid
    outlets = sim("vesync", "--server", f"127.0.0.1:{vesync_port}", "--count", str(args.devices),
                  "--rate", "50", "--ka-period", "60s", "--report-delay", "2s", "--reconnect", "2s", "--quiet",
                  "--stats", "60s")
    switches = sim("timeguard", "--server", f"127.0.0.1:{timeguard_port}", "--devices", str(args.devices),
                   "--id", "20000000", "--ping-interval", "30s", "--quiet")
    obs = harness.Observer(broker.port, ("lc/+", "lc/bridge/devices", "lc/bridge/event"))

    started = time.monotonic()
    end = started + args.minutes * 60
    next_report = started
    first = None
    commands = answered = 0
    samples = []
    status = 0
    print(f"soak: {3 * args.devices} devices, {args.minutes} min, workdir {workdir}", flush=True)
    try:
        while time.monotonic() < end:
            if not daemon.alive():
                print("soak: FAILED: the daemon died\n" + "\n".join(daemon.log().splitlines()[-40:]), flush=True)
                status = 1
                break
            # A few commands to devices of each bridge, and one outlet flapping.
            devices = obs.find("lc/bridge/devices")
            if devices:
                registered = [d for d in devices.json() if d["online"]]
                for d in random.sample(registered, min(3, len(registered))):
                    prop, value = {"miio": ("power", random.choice(["ON", "OFF"])),
                                   "vesync": ("power", random.choice(["ON", "OFF"])),
                                   "timeguard": ("work_mode", random.choice(["auto", "always_on"]))}[d["bridge"]]
                    since = time.monotonic()
                    obs.publish(f"lc/{d['key']}/set/{prop}", value)
                    commands += 1
                    try:
                        obs.wait_json(f"lc/{d['key']}", lambda s: s.get(prop) == value, timeout=15, since=since)
                        answered += 1
                    except AssertionError:
                        pass
            outlets.send(f"drop 443c878f-f675-4c90-98e8-{random.randrange(args.devices):012x}")
            if time.monotonic() >= next_report:
                rss, fds = proc_stats(pid)
                _, metrics = 200, ""
                try:
                    import urllib.request
                    with urllib.request.urlopen(f"http://{api}/metrics", timeout=5) as r:
                        metrics = r.read().decode()
                except OSError:
                    pass
                online = metric_sum(metrics, "localcloud_devices_online")
                published = metric_sum(metrics, "localcloud_mqtt_messages_published_total")
                minute = (time.monotonic() - started) / 60
                samples.append((minute, rss, fds))
                if first is None and minute >= 2:
                    first = (rss, fds)  # after the start-up (admissions at one a second)
                print(f"soak: t={minute:5.1f} min  rss={rss} kB  fds={fds}  online={online:.0f}  "
                      f"published={published:.0f}  commands={answered}/{commands}", flush=True)
                next_report += args.interval
            obs.clear()
            time.sleep(2)
        if status == 0:
            rss, fds = proc_stats(pid)
            base = first or (samples[0][1], samples[0][2])
            print(json.dumps({"soak": "done", "minutes": args.minutes, "devices": 3 * args.devices,
                              "rss_kb": {"after_start": base[0], "end": rss, "max": max(s[1] for s in samples)},
                              "fds": {"after_start": base[1], "end": fds, "max": max(s[2] for s in samples)},
                              "commands": commands, "answered": answered}), flush=True)
            if rss > 2 * base[0] + 50 * 1024 or fds > base[1] + 200:
                print("soak: FAILED: memory or descriptors kept growing", flush=True)
                status = 1
            if commands and answered < 0.9 * commands:
                print("soak: FAILED: commands stopped being answered", flush=True)
                status = 1
    finally:
        obs.close()
        code = daemon.stop() if daemon.alive() else None
        for s in sims:
            s.stop()
        broker.stop()
        if code not in (0, None):
            print(f"soak: the daemon exited with {code}", flush=True)
            status = 1
    sys.exit(status)


if __name__ == "__main__":
    main()
