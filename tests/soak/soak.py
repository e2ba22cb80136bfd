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
import shutil
import sys
import tempfile
import time
import urllib.request

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
        # Configured, so that all are registered at once (unknown ones come one a second).
        "vesync": {"enabled": True, "listen": f"127.0.0.1:{vesync_port}", "poll_interval": "60s",
                   "offline_after": "10m",
                   "devices": [{"id": f"443c878f-f675-4c90-98e8-{i:012x}"} for i in range(args.devices)]},
        "timeguard": {"enabled": True, "listen": f"127.0.0.1:{timeguard_port}", "offline_after": "150s",
                      "devices": [{"id": f"{0x20000000 + i:08x}"} for i in range(args.devices)]},
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
    pending = []  # (key, property, value, deadline)
    samples = []
    status = 0
    flapper = "443c878f-f675-4c90-98e8-000000000000"  # dropped every 10 s, never commanded
    next_flap = next_command = started
    print(f"soak: {3 * args.devices} devices, {args.minutes} min, workdir {workdir}", flush=True)
    try:
        while time.monotonic() < end:
            now = time.monotonic()
            if not daemon.alive():
                print("soak: FAILED: the daemon died\n" + "\n".join(daemon.log().splitlines()[-40:]), flush=True)
                status = 1
                break
            # Commands answered (the state shows the value), or given up on after 30 s.
            still = []
            for key, prop, value, deadline in pending:
                message = obs.find(f"lc/{key}")
                try:
                    done = message is not None and json.loads(message.payload).get(prop) == value
                except ValueError:
                    done = False
                if done:
                    answered += 1
                elif now < deadline:
                    still.append((key, prop, value, deadline))
            pending = still
            # Every 5 s a command to three online devices (one per bridge when possible).
            devices = obs.find("lc/bridge/devices")
            if devices and now >= next_command and not pending:
                next_command = now + 5
                online = [d for d in devices.json() if d["online"] and flapper not in d["id"]]
                by_bridge = {}
                for d in online:
                    by_bridge.setdefault(d["bridge"], []).append(d)
                for bridge, candidates in by_bridge.items():
                    d = random.choice(candidates)
                    prop = "work_mode" if bridge == "timeguard" else "power"
                    current = obs.find(f"lc/{d['key']}")
                    try:
                        before = json.loads(current.payload).get(prop) if current else None
                    except ValueError:
                        before = None
                    choices = ["auto", "always_on"] if bridge == "timeguard" else ["ON", "OFF"]
                    value = next((c for c in choices if c != before), choices[0])
                    obs.publish(f"lc/{d['key']}/set/{prop}", value)
                    commands += 1
                    pending.append((d["key"], prop, value, now + 30))
            if now >= next_flap:
                outlets.send(f"drop {flapper}")
                next_flap = now + 10
            if now >= next_report:
                rss, fds = proc_stats(pid)
                metrics = ""
                try:
                    with urllib.request.urlopen(f"http://{api}/metrics", timeout=5) as r:
                        metrics = r.read().decode()
                except OSError:
                    pass
                online_count = "/".join("%.0f" % metric_sum(metrics, "localcloud_devices_online", f'bridge="{b}"')
                                        for b in ("miio", "vesync", "timeguard"))
                published = metric_sum(metrics, "localcloud_mqtt_messages_published_total")
                minute = (now - started) / 60
                samples.append((minute, rss, fds))
                if first is None and minute >= 2:
                    first = (rss, fds)  # after the start-up (admissions at one a second)
                print(f"soak: t={minute:5.1f} min  rss={rss} kB  fds={fds}  online miio/vesync/timeguard={online_count}  "
                      f"published={published:.0f}  commands answered={answered}/{commands}", flush=True)
                next_report += args.interval
                with obs.cond:  # keep the newest message per topic only
                    latest = {m.topic: m for m in obs.messages}
                    obs.messages[:] = sorted(latest.values(), key=lambda m: m.at)
            time.sleep(0.5)
        commands -= len(pending)  # still within their 30 s at the end: not counted
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
        shutil.rmtree(workdir, ignore_errors=True)
        if code not in (0, None):
            print(f"soak: the daemon exited with {code}", flush=True)
            status = 1
    sys.exit(status)


if __name__ == "__main__":
    main()
