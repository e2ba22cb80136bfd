#!/usr/bin/env python3
"""localcloud benchmark driver: every scenario of the benchmark issue in one run.

Started by bench/run.sh (which installs, builds the release tree and the load tools); see
docs/bench.md. The daemon runs on CPU 0, everything else (mosquitto, load generators,
simulators, this driver) on CPU 1. refserver, the floor for the UDP stand-ins, is measured in
the same run, alternating with the daemon (ref, daemon, daemon, ref, ...). Prints one table
and writes bench/results/<date>-<time>-<commit>.json.
"""
import argparse
import atexit
import datetime
import json
import os
import platform
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
from harness import free_port  # noqa: E402  (the same loopback port picker as the tests)
# LOCALCLOUD_BENCH_BUILD: another build tree (e.g. a RelWithDebInfo `build/` for short checks).
BUILD = os.environ.get("LOCALCLOUD_BENCH_BUILD") or os.path.join(ROOT, "build-release")
DAEMON = os.path.join(BUILD, "app", "localcloud")
SIM = os.path.join(BUILD, "app", "localcloud-sim")
TOOLS = os.path.join(BUILD, "bench-tools")
NODE_TOOLS = os.path.join(ROOT, "bench", "tools")
RESULTS = os.path.join(ROOT, "bench", "results")
LOCK = "/tmp/localcloud-bench.lock"
DAEMON_CPU, LOAD_CPU = "0", "1"

# The peers' figures (PEERS.md), for the targets that are stated against them.
PEER = {
    "timeguard_mqtt_replies_per_s": 1525,
    "micloudfaker_tcp_10k_rss_mb": 101.6,
    "micloudfaker_tcp_10k_accept_s": "16-20",
    "wsproxy_compiled_cpu_per_rtt_us": 91.0,
    "wsproxy_1k_rss_mb": 145.7,
}

PROFILES = {
    # runs: per side and row in the alternated UDP series; d/w: measured / warm-up seconds.
    "full": dict(runs=3, d=10, w=2, tcp_runs=3, tcp_d=30, ws_d=60, ws_sat_runs=3, ws_sat_d=20,
                 soak_pings=10_000_000, commands=600, idle_s=60, startups=5),
    "quick": dict(runs=1, d=4, w=1, tcp_runs=1, tcp_d=10, ws_d=15, ws_sat_runs=1, ws_sat_d=5,
                  soak_pings=2_000_000, commands=150, idle_s=15, startups=3),
}

_children = []  # every process this driver started (stopped by pid at exit)


def log(*parts):
    print(time.strftime("%H:%M:%S"), *parts, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------
# processes, ports, /proc


def spawn(cmd, cpu, **kwargs):
    proc = subprocess.Popen(["taskset", "-c", cpu] + cmd, **kwargs)
    _children.append(proc)
    return proc


def stop(proc, timeout=10):
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def stop_children():
    for proc in reversed(_children):
        try:
            stop(proc, 5)
        except Exception:  # noqa: BLE001 - best effort at exit
            pass


def run_tool(cmd, timeout, cpu=LOAD_CPU):
    """Runs a load tool on the load CPU; returns its stdout (raises with stderr on failure)."""
    proc = spawn(cmd, cpu, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise RuntimeError(f"{os.path.basename(cmd[0])} timed out: {err.strip()[-500:]}")
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}: {err.strip()[-500:]}")
    return out


def free_udp_range(count):
    """A base port with `count` consecutive UDP ports free on 127.0.0.1, below the ephemeral
    range: the daemon's miio clients (one socket per device) take ephemeral ports as they start."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            ephemeral_low = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        ephemeral_low = 32768
    for _ in range(100):
        base = random.randint(10000, max(10001, ephemeral_low - count - 1))
        held = []
        try:
            for port in range(base, base + count):
                sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                held.append(sock)
                sock.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for sock in held:
                sock.close()
    raise RuntimeError("no free UDP port range")


def port_open(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


TICK = os.sysconf("SC_CLK_TCK")


def proc_sample(pid):
    """CPU seconds so far, RSS, peak RSS (KB) and threads of a process, from /proc."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    sample = {"cpu_s": (int(fields[11]) + int(fields[12])) / TICK}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                sample["rss_kb" if key == "VmRSS" else "hwm_kb"] = int(value.split()[0])
            elif key == "Threads":
                sample["threads"] = int(value)
    return sample


def cpu_times():
    """Busy and total jiffies per CPU from /proc/stat."""
    times = {}
    with open("/proc/stat") as f:
        for line in f:
            if re.match(r"cpu\d", line):
                name, *values = line.split()
                values = [int(v) for v in values]
                idle = values[3] + values[4]
                steal = values[7] if len(values) > 7 else 0
                times[name] = (sum(values) - idle, sum(values), steal)
    return times


class CpuWindow:
    """Busy percentage of each CPU over a window (other load shows up here)."""

    def __init__(self):
        self.start = cpu_times()

    def result(self):
        end = cpu_times()
        out = {}
        for name, (busy, total, steal) in end.items():
            b0, t0, s0 = self.start.get(name, (0, 0, 0))
            out[f"{name}_busy_pct"] = round(100.0 * (busy - b0) / max(total - t0, 1), 1)
            # Time the hypervisor ran someone else on this vCPU: the UDP tails follow it.
            out[f"{name}_steal_pct"] = round(100.0 * (steal - s0) / max(total - t0, 1), 2)
        return out


class Others(threading.Thread):
    """CPU used by processes outside this driver's tree while the benchmark runs."""

    def __init__(self):
        super().__init__(daemon=True)
        self.seen = {}  # pid -> (comm, cpu seconds at last look)
        self.used = {}  # comm -> cpu seconds used during the run
        self.lock = threading.Lock()
        self.running = True
        self.look(initial=True)

    def ours(self, pid, parents):
        me = os.getpid()
        for _ in range(64):
            if pid == me:
                return True
            pid = parents.get(pid)
            if not pid:
                return False
        return False

    def look(self, initial=False):
        parents, current = {}, {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat") as f:
                    text = f.read()
            except OSError:
                continue
            comm = text[text.find("(") + 1:text.rfind(")")]
            fields = text.rsplit(")", 1)[1].split()
            pid = int(entry)
            parents[pid] = int(fields[1])
            current[pid] = (comm, (int(fields[11]) + int(fields[12])) / TICK)
        with self.lock:
            for pid, (comm, cpu) in current.items():
                if self.ours(pid, parents):
                    continue
                if pid in self.seen:
                    used = cpu - self.seen[pid][1]
                elif initial:
                    used = 0.0
                else:
                    used = cpu  # started since the last look
                if used > 0:
                    self.used[comm] = self.used.get(comm, 0.0) + used
            self.seen = current

    def run(self):
        while self.running:
            time.sleep(2)
            self.look()

    def snapshot(self):
        with self.lock:
            return dict(self.used)

    def summary(self, since=None, top=6):
        now = self.snapshot()
        since = since or {}
        diff = {k: round(v - since.get(k, 0.0), 1) for k, v in now.items()}
        return {k: v for k, v in sorted(diff.items(), key=lambda kv: -kv[1])[:top] if v >= 0.5}


QUIET = {"max_wait_s": 0}


def settle():
    """Waits (up to --wait-quiet seconds) until neither CPU is busy with someone else's work."""
    deadline = time.monotonic() + QUIET["max_wait_s"]
    said = False
    while True:
        window = CpuWindow()
        time.sleep(1)
        busy = window.result()
        if max(busy.values()) < 15 or time.monotonic() >= deadline:
            return busy
        if not said:
            log(f"  waiting for a quiet machine ({busy})")
            said = True
        time.sleep(2)


def parse_kv(text):
    """key=value tokens; on a line that starts with a bare word, keys get it as a prefix."""
    out = {}
    for line in text.splitlines():
        words = line.split()
        if not words:
            continue
        prefix = "" if "=" in words[0] else words[0] + "."
        for word in words:
            key, sep, value = word.partition("=")
            if not sep:
                continue
            try:
                out[prefix + key] = float(value) if re.fullmatch(r"-?\d+(\.\d+)?", value) else value
            except ValueError:
                out[prefix + key] = value
    return out


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def span(values):
    values = [v for v in values if v is not None]
    return [min(values), max(values)] if values else None


# ---------------------------------------------------------------------------------------
# mosquitto + localcloud


def yaml_of(value, indent=0):
    pad = "  " * indent
    if isinstance(value, dict):
        lines = []
        for key, item in value.items():
            if isinstance(item, (dict, list)) and item:
                lines.append(f"{pad}{key}:\n{yaml_of(item, indent + 1)}")
            else:
                lines.append(f"{pad}{key}: {yaml_of(item)}")
        return "\n".join(lines)
    if isinstance(value, list):
        if not value:
            return "[]"
        lines = []
        for item in value:
            text = yaml_of(item, indent + 1)
            lines.append(f"{pad}- {text.lstrip()}")
        return "\n".join(lines)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    return str(value)


class Stack:
    """A private mosquitto (load CPU) and localcloud (daemon CPU) on free loopback ports."""

    def __init__(self, workdir, name, devices=None, broker_nodelay=False, options=None):
        self.dir = os.path.join(workdir, name)
        self.broker_nodelay = broker_nodelay
        self.options = options or {}  # per bridge, merged into its config section
        os.makedirs(self.dir, exist_ok=True)
        self.mqtt_port = free_port(udp_too=False)
        self.api_port = free_port(udp_too=False)
        self.miio_port = free_port()
        self.vesync_port = free_port(udp_too=False)
        self.timeguard_port = free_port()
        self.devices = devices or {}
        self.mosquitto = None
        self.daemon = None
        self.listening_at = None
        self.log_lines = 0

    def config(self):
        miio = {"enabled": True, "listen": f"127.0.0.1:{self.miio_port}", "devices": self.devices.get("miio", [])}
        vesync = {"enabled": True, "listen": f"127.0.0.1:{self.vesync_port}",
                  "devices": self.devices.get("vesync", [])}
        timeguard = {"enabled": True, "listen": f"127.0.0.1:{self.timeguard_port}",
                     "devices": self.devices.get("timeguard", [])}
        for name, section in (("miio", miio), ("vesync", vesync), ("timeguard", timeguard)):
            section.update(self.options.get(name, {}))
        return {
            "mqtt": {"url": f"mqtt://127.0.0.1:{self.mqtt_port}", "client_id": "localcloud-bench"},
            "log": {"level": os.environ.get("LC_BENCH_LOG", "info"), "trace": False},
            "api": {"listen": f"127.0.0.1:{self.api_port}"},
            "data_dir": os.path.join(self.dir, "data"),
            "miio": miio,
            "vesync": vesync,
            "timeguard": timeguard,
        }

    def start_broker(self):
        conf = os.path.join(self.dir, "mosquitto.conf")
        with open(conf, "w") as f:
            f.write(f"listener {self.mqtt_port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
                    "max_queued_messages 100000\nlog_dest stderr\nlog_type error\nlog_type warning\n")
            if self.broker_nodelay:
                # Off by default in mosquitto: its small writes then wait for the client's
                # delayed ACK of the previous one (docs/bench.md, the round trip).
                f.write("set_tcp_nodelay true\n")
        with open(os.path.join(self.dir, "mosquitto.log"), "ab") as out:
            self.mosquitto = spawn(["mosquitto", "-c", conf], LOAD_CPU, stdout=out, stderr=out)
        deadline = time.monotonic() + 10
        while not port_open(self.mqtt_port):
            if time.monotonic() > deadline:
                raise RuntimeError("mosquitto did not start")
            time.sleep(0.02)

    def start_daemon(self, timeout=60):
        path = os.path.join(self.dir, "localcloud.yaml")
        with open(path, "w") as f:
            f.write(yaml_of(self.config()) + "\n")
        listening = threading.Event()
        log_file = open(os.path.join(self.dir, "localcloud.log"), "a")
        started = time.monotonic()
        self.daemon = spawn([DAEMON, "run", "--config", path], DAEMON_CPU, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)

        def read():
            for line in self.daemon.stderr:
                if not listening.is_set() and "listening" in line:
                    self.listening_at = time.monotonic()
                    listening.set()
                self.log_lines += 1
                log_file.write(line)
            log_file.close()

        threading.Thread(target=read, daemon=True).start()
        deadline = time.monotonic() + timeout
        while not listening.wait(0.1) and self.daemon.poll() is None and time.monotonic() < deadline:
            pass
        if not listening.is_set() or self.daemon.poll() is not None:
            stop(self.daemon)
            raise RuntimeError(f"localcloud did not start (see {self.dir}/localcloud.log)")
        return self.listening_at - started

    @property
    def pid(self):
        return self.daemon.pid

    def start(self):
        self.start_broker()
        for attempt in range(3):
            try:
                return self.start_daemon()
            except RuntimeError:
                # A port picked free can be taken before the daemon binds it, e.g. by the
                # ephemeral ports of its own miio client sockets (one per configured device).
                with open(os.path.join(self.dir, "localcloud.log")) as f:
                    in_use = "Address already in use" in f.read()[-2000:]
                if not in_use or attempt == 2:
                    raise
                log(f"  {os.path.basename(self.dir)}: a port was taken before the daemon bound it; other ports")
                self.api_port = free_port(udp_too=False)
                self.miio_port = free_port()
                self.vesync_port = free_port(udp_too=False)
                self.timeguard_port = free_port()

    def stop_daemon(self):
        stop(self.daemon)

    def stop(self):
        stop(self.daemon)
        stop(self.mosquitto)


# ---------------------------------------------------------------------------------------
# UDP: miio hello/ping and timeguard ping, alternating with refserver


def alternation(runs):
    """ref, daemon, daemon, ref, ref, daemon, ...: `runs` of each."""
    order, counts = [], {"ref": 0, "daemon": 0}
    pattern = ["ref", "daemon", "daemon", "ref"]
    i = 0
    while counts["ref"] < runs or counts["daemon"] < runs:
        side = pattern[i % 4]
        i += 1
        if counts[side] < runs:
            order.append(side)
            counts[side] += 1
    return order


def start_refserver(mode):
    proc = spawn([os.path.join(TOOLS, "refserver"), "-l", "900", mode, "127.0.0.1", "0"], DAEMON_CPU,
                 stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = proc.stdout.readline()
    match = re.search(r"listen=127\.0\.0\.1:(\d+)", line)
    if not match:
        stop(proc)
        raise RuntimeError(f"refserver did not start: {line!r}")
    return proc, int(match.group(1))


def udpload(mode, port, pid, profile, rate=None, extra=(), before=None, api_port=None):
    """One udpload run. `before` runs after the machine settled, right before the load (the
    registered rows bring their devices online there); with `api_port` the daemon's MQTT
    publishes over the run are counted from /metrics."""
    cmd = [os.path.join(TOOLS, "udpload"), "-k", "16", "-w", "8", "-d", str(profile["d"]), "-W", str(profile["w"]),
           "-P", str(pid)]
    if rate:
        cmd += ["-r", str(rate)]
    if mode == "timeguard-ping":
        cmd += ["-t", "2000"]
    cmd += list(extra) + stamp_args(mode, extra) + [mode, "127.0.0.1", str(port)]
    settle()
    online = before() if before else None
    published = mqtt_published(api_port) if api_port else None
    window = CpuWindow()
    t0 = time.monotonic()
    result = parse_kv(run_tool(cmd, timeout=profile["d"] + profile["w"] + 30))
    seconds = time.monotonic() - t0
    stamp_used(result)
    result.update(window.result())
    if online is not None:
        result["online_at_start"] = online
    if published is not None:
        after = mqtt_published(api_port)
        # Over the whole udpload run (its warm-up included): the state messages the load caused.
        result["mqtt_msgs_per_s"] = round((after - published) / seconds, 1) if after is not None else None
    replies = result.get("replies_per_s") or 0
    cpu = result.get("server_cpu_pct")
    result["cpu_per_reply_us"] = round(cpu / 100 * 1e6 / replies, 3) if isinstance(cpu, float) and replies else None
    return result


# miio pings are echoed only when their stamp is newer than the last one of that device id:
# runs that reuse the configured ids go on from the previous run's last stamp.
MIIO_STAMP = {"next": int(time.time())}


def stamp_args(mode, extra):
    return ["-S", str(MIIO_STAMP["next"])] if mode == "miio-ping" and "-i" in extra else []


def stamp_used(result):
    if isinstance(result.get("stamp_end"), float):
        MIIO_STAMP["next"] = max(MIIO_STAMP["next"], int(result["stamp_end"]) + 1)


def udp_series(name, mode, ref_mode, port, daemon_pid, profile, rate=None, extra=(), before_daemon=None,
               api_port=None):
    """One row: refserver and the daemon in turns; medians of each side. `extra` (udpload
    options) goes to both sides; `before_daemon` and `api_port` as in udpload()."""
    runs = {"ref": [], "daemon": []}
    for side in alternation(profile["runs"]):
        if side == "ref":
            proc, ref_port = start_refserver(ref_mode)
            try:
                result = udpload(mode, ref_port, proc.pid, profile, rate, extra)
            finally:
                stop(proc)
        else:
            result = udpload(mode, port, daemon_pid, profile, rate, extra, before_daemon, api_port)
        keep = {k: result.get(k) for k in ("replies_per_s", "cpu_per_reply_us", "server_cpu_pct", "gen_cpu_pct",
                                           "p50_us", "p99_us", "p999_us", "max_us", "lost", "bad", "other",
                                           "server_rss_kb", "cpu0_busy_pct", "cpu1_busy_pct", "cpu0_steal_pct",
                                           "cpu1_steal_pct", "ids", "online_at_start", "mqtt_msgs_per_s")}
        runs[side].append(keep)
        log(f"  {name} {side}: {keep['replies_per_s']:.0f}/s, {keep['cpu_per_reply_us']} us/reply, "
            f"server {keep['server_cpu_pct']}%, gen {keep['gen_cpu_pct']}%, p99 {keep['p99_us']} us, "
            f"lost {keep['lost']}, CPU 0 steal {keep['cpu0_steal_pct']}%"
            + (f", {keep['online_at_start']} ids online at start, {keep['mqtt_msgs_per_s']} MQTT msgs/s"
               if side == "daemon" and keep["online_at_start"] is not None else ""))
    row = {"runs": runs}
    for side in ("ref", "daemon"):
        for key in ("replies_per_s", "cpu_per_reply_us", "p99_us", "server_cpu_pct", "gen_cpu_pct", "p50_us",
                    "cpu0_steal_pct"):
            values = [r[key] for r in runs[side]]
            row[f"{side}_{key}"] = median(values)
            row[f"{side}_{key}_range"] = span(values)
    row["lost"] = sum((r["lost"] or 0) for r in runs["daemon"])
    row["daemon_mqtt_msgs_per_s"] = median([r["mqtt_msgs_per_s"] for r in runs["daemon"]])
    online = [r["online_at_start"] for r in runs["daemon"] if r["online_at_start"] is not None]
    row["daemon_online_at_start_min"] = min(online) if online else None
    return row


def scenario_miio_udp(workdir, profile, results):
    stack = Stack(workdir, "miio-udp")
    stack.start()
    try:
        for mode in ("miio-hello", "miio-ping"):
            for rate in (None, 10000):
                key = f"{mode}-{'sat' if rate is None else '10k'}"
                results[key] = udp_series(key, mode, "miio", stack.miio_port, stack.pid, profile, rate)
        results["miio_udp_daemon_rss_kb"] = proc_sample(stack.pid)["rss_kb"]
    finally:
        stack.stop()


def scenario_timeguard(workdir, profile, results):
    stack = Stack(workdir, "timeguard")
    stack.start()
    try:
        results["timeguard-sat"] = udp_series("timeguard-sat", "timeguard-ping", "timeguard", stack.timeguard_port,
                                              stack.pid, profile)
        results["timeguard-500"] = udp_series("timeguard-500", "timeguard-ping", "timeguard", stack.timeguard_port,
                                              stack.pid, profile, rate=500)
    finally:
        stack.stop()
    # The soak's 128 device ids are configured, so that all are registered before it starts:
    # unknown ones are admitted one at a time (max_unknown), each adding its registry entry,
    # discovery and first-sight reads to RSS while the pings go on.
    first = 7000
    soak_devices = {"timeguard": [{"id": f"{first + i:08x}", "name": f"soak{i:03d}"} for i in range(128)]}
    stack = Stack(workdir, "timeguard-soak", soak_devices)
    stack.start()
    try:
        results["timeguard-soak"] = timeguard_soak(stack, profile, results["timeguard-sat"]["daemon_replies_per_s"],
                                                   first)
    finally:
        stack.stop()


def timeguard_soak(stack, profile, rate, first_id):
    """RSS while sending soak_pings pings at saturation (a fixed set of device ids)."""
    # First sight of the 128 devices (a ping each, the reads that follow) before the soak.
    run_tool([os.path.join(TOOLS, "udpload"), "-k", "16", "-w", "8", "-d", "2", "-W", "0", "-t", "2000", "-i",
              str(first_id), "timeguard-ping", "127.0.0.1", str(stack.timeguard_port)], timeout=30)
    time.sleep(5)
    pings = profile["soak_pings"]
    seconds = min(300, max(10, int(pings / max(rate or 100000, 10000) * 1.15) + 1))
    cmd = [os.path.join(TOOLS, "udpload"), "-k", "16", "-w", "8", "-d", str(seconds), "-W", "0", "-t", "2000",
           "-i", str(first_id), "-P", str(stack.pid), "timeguard-ping", "127.0.0.1", str(stack.timeguard_port)]
    proc = spawn(cmd, LOAD_CPU, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    samples = []
    started = time.monotonic()
    while proc.poll() is None:
        try:
            sample = proc_sample(stack.pid)
            samples.append((round(time.monotonic() - started, 1), sample["rss_kb"]))
        except OSError:
            break
        time.sleep(1)
    out, _ = proc.communicate()
    result = parse_kv(out)
    replies = int(result.get("replies", 0))
    # RSS once the first tenth of the pings went through, against the end.
    early_t = seconds * 0.1
    early = next((rss for t, rss in samples if t >= early_t), samples[0][1] if samples else None)
    end = proc_sample(stack.pid)["rss_kb"]
    soak = {"pings": replies, "seconds": seconds, "replies_per_s": result.get("replies_per_s"),
            "rss_kb_after_10pct": early, "rss_kb_end": end, "growth_kb": end - early if early else None,
            "lost": result.get("lost"), "samples": samples}
    log(f"  timeguard soak: {replies} pings in {seconds}s, RSS {early} -> {end} KB")
    return soak


# ---------------------------------------------------------------------------------------
# miio TCP


def fd_count(pid):
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None


def tcpconns_accepting(cmd, pid, n, timeout):
    """Runs tcpconns and watches the daemon's descriptors: how many connections it accepted
    (not only queued by the kernel) and how long after tcpconns' start it held them all."""
    base = fd_count(pid) or 0
    proc = spawn(cmd, LOAD_CPU, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    started = time.monotonic()
    samples = []
    outputs = {}

    def drain(name, stream):
        outputs[name] = stream.read()

    readers = [threading.Thread(target=drain, args=(k, s), daemon=True)
               for k, s in (("out", proc.stdout), ("err", proc.stderr))]
    for reader in readers:
        reader.start()
    while proc.poll() is None:
        elapsed = time.monotonic() - started
        if elapsed > timeout:
            proc.kill()
            break
        if elapsed < 20 and (not samples or samples[-1][1] < n):
            count = fd_count(pid)
            if count is not None:
                samples.append((round(elapsed, 2), count - base))
            time.sleep(0.05)
        else:
            time.sleep(0.5)
    proc.wait()
    for reader in readers:
        reader.join(5)
    if proc.returncode != 0:
        raise RuntimeError(f"tcpconns exited {proc.returncode}: {outputs.get('err', '').strip()[-500:]}")
    peak = max((c for _, c in samples), default=None)
    accept = {
        "accepted_s": next((t for t, c in samples if c >= n), None),
        "accepted_peak": peak,
        "accepted_peak_s": next((t for t, c in samples if c == peak), None),
    }
    return parse_kv(outputs.get("out", "")), accept


def scenario_miio_tcp(workdir, profile, results):
    for n, runs in ((1000, 1), (10000, profile["tcp_runs"])):
        series = []
        for i in range(runs):
            stack = Stack(workdir, f"miio-tcp-{n}-{i}")
            stack.start()
            try:
                idle = proc_sample(stack.pid)["rss_kb"]
                cmd = [os.path.join(TOOLS, "tcpconns"), "-n", str(n), "-c", "256", "-s", "5", "-d", str(profile["tcp_d"]),
                       "-w", "2", "-t", "5000", "-P", str(stack.pid), "127.0.0.1", str(stack.miio_port)]
                settle()
                window = CpuWindow()
                r, accept = tcpconns_accepting(cmd, stack.pid, n, timeout=profile["tcp_d"] + 120)
                r.update(window.result())
                run = {
                    "connect_s": r.get("connect_phase.seconds"), **accept,
                    "open": r.get("connect_phase.open"),
                    "failed": r.get("connect_phase.failed"), "idle_rss_kb": idle,
                    "rss_kb_after_connect": r.get("server_after_connect.rss_kb"),
                    "rss_kb_at_end": r.get("server_at_end.rss_kb"), "hwm_kb": r.get("server_at_end.hwm_kb"),
                    "threads": r.get("server_at_end.threads"), "pings_sent": r.get("ping_phase.pings_sent"),
                    "answered": r.get("ping_phase.answered"), "lost": r.get("ping_phase.lost"),
                    "open_at_end": r.get("open_at_end"), "all_answered": r.get("all_answered"),
                    "closed_by_peer": r.get("closed_by_peer"), "rtt_p50_us": r.get("rtt_us.p50", r.get("p50")),
                    "rtt_p99_us": r.get("rtt_us.p99", r.get("p99")), "gen_cpu_s": r.get("rtt_us.gen_cpu_s"),
                    "server_cpu_s_ping_phase": r.get("server_cpu_s_ping_phase"),
                    "cpu0_busy_pct": r.get("cpu0_busy_pct"), "cpu1_busy_pct": r.get("cpu1_busy_pct"),
                }
                series.append(run)
                log(f"  tcp {n}: connected {run['open']:.0f} in {run['connect_s']} s, daemon held {run['accepted_peak']} "
                    f"after {run['accepted_peak_s']} s, all answered "
                    f"{run['all_answered']}, RSS {run['rss_kb_after_connect']} / {run['rss_kb_at_end']} KB, "
                    f"p99 {run['rtt_p99_us']} us")
            finally:
                stack.stop()
        row = {"runs": series}
        for key in ("connect_s", "accepted_s", "accepted_peak", "accepted_peak_s", "rss_kb_after_connect", "rss_kb_at_end", "hwm_kb", "rtt_p99_us",
                    "all_answered", "open"):
            row[key] = median([r[key] for r in series])
            row[key + "_range"] = span([r[key] for r in series])
        results[f"miio-tcp-{n}"] = row


# ---------------------------------------------------------------------------------------
# vesync websockets


def wsload(port, pid, conns, interval, duration, warmup=0, id_prefix=None, when_logged_in=None):
    """One wsload run. With `when_logged_in`, wsload waits after the logins (--go-stdin) until
    that function returned (e.g. every outlet online on MQTT), then starts the keepalives."""
    cmd = ["node", os.path.join(NODE_TOOLS, "wsload.js"), "--url", f"ws://127.0.0.1:{port}/gnws", "-n", str(conns),
           "--interval", str(interval), "--duration", str(duration), "--warmup", str(warmup),
           "--ka", '{"uri":"/ka","rssi":-39}', "--connect-timeout", "120", "--pid", str(pid), "--json"]
    if id_prefix:
        cmd += ["--id-prefix", id_prefix]
    settle()
    if when_logged_in:
        out = wsload_held(cmd + ["--go-stdin"], when_logged_in, timeout=duration + warmup + 200)
        window = None
    else:
        window = CpuWindow()
        out = run_tool(cmd, timeout=duration + warmup + 200)
    result = json.loads([line for line in out.splitlines() if line.startswith("{")][-1])
    result.update(result.pop("_window") if window is None else window.result())
    proc = result["procs"][0]
    result["server_cpu_s"] = proc.get("cpu_s")
    result["server_cpu_pct"] = proc.get("cpu_pct")
    result["server_rss_kb"] = proc.get("rss_kb")
    result["server_hwm_kb"] = proc.get("hwm_kb")
    answered = result.get("answered") or 0
    result["cpu_per_rtt_us"] = round(proc["cpu_s"] * 1e6 / answered, 2) if answered and "cpu_s" in proc else None
    result.pop("procs", None)
    return result


def wsload_held(cmd, when_logged_in, timeout):
    """Runs wsload --go-stdin: once it reports every outlet logged in (a `ready` line on stderr),
    runs when_logged_in() and lets the keepalives start. Returns stdout; the CPU window starts at go."""
    proc = spawn(cmd, LOAD_CPU, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ready = threading.Event()
    out, err = [], []

    def read_err():
        for line in proc.stderr:
            err.append(line)
            if line.startswith("ready"):
                ready.set()

    readers = [threading.Thread(target=lambda: out.append(proc.stdout.read()), daemon=True),
               threading.Thread(target=read_err, daemon=True)]
    for reader in readers:
        reader.start()
    window = None
    try:
        if not ready.wait(150) or proc.poll() is not None:
            raise RuntimeError(f"wsload did not log its outlets in: {''.join(err).strip()[-500:]}")
        when_logged_in()
        window = CpuWindow()
        proc.stdin.write("go\n")
        proc.stdin.flush()
        proc.wait(timeout)
    except Exception:
        stop(proc)
        raise
    for reader in readers:
        reader.join(5)
    if proc.returncode != 0:
        raise RuntimeError(f"wsload exited {proc.returncode}: {''.join(err).strip()[-500:]}")
    text = "".join(out)
    # The CPU window of the measured part rides along in the JSON line (wsload() takes it out).
    lines = text.splitlines()
    last = max(i for i, line in enumerate(lines) if line.startswith("{"))
    obj = json.loads(lines[last])
    obj["_window"] = window.result()
    lines[last] = json.dumps(obj)
    return "\n".join(lines)


def scenario_vesync(workdir, profile, results):
    for n in (1000, 10000):
        stack = Stack(workdir, f"vesync-{n}")
        stack.start()
        try:
            r = wsload(stack.vesync_port, stack.pid, n, 5, profile["ws_d"])
            log(f"  vesync {n}: logged in {r['logged_in']}, open at end {r['open_at_end']}, answered "
                f"{r['answered']}/{r['ka_sent']}, RSS {r['server_rss_kb']} KB, {r['cpu_per_rtt_us']} us/rtt, "
                f"p99 {r['rtt_ms_p99']} ms")
            results[f"vesync-{n}"] = r
        finally:
            stack.stop()
    series = []
    for i in range(profile["ws_sat_runs"]):
        stack = Stack(workdir, f"vesync-sat-{i}")
        stack.start()
        try:
            r = wsload(stack.vesync_port, stack.pid, 100, 0, profile["ws_sat_d"], warmup=min(5, profile["ws_sat_d"]))
            log(f"  vesync saturation: {r['answers_per_s']}/s, {r['cpu_per_rtt_us']} us/rtt, server "
                f"{r['server_cpu_pct']}%, gen {r['gen_cpu_pct']}%, p99 {r['rtt_ms_p99']} ms")
            series.append(r)
        finally:
            stack.stop()
    row = {"runs": series}
    for key in ("answers_per_s", "cpu_per_rtt_us", "server_cpu_pct", "gen_cpu_pct", "rtt_ms_p99", "server_rss_kb"):
        row[key] = median([r.get(key) for r in series])
        row[key + "_range"] = span([r.get(key) for r in series])
    results["vesync-sat"] = row


# ---------------------------------------------------------------------------------------
# devices online: simulators, MQTT observer, command round trip, idle


class SimOutput(threading.Thread):
    """Reads a simulator's JSON lines; remembers when each device last received a command."""

    def __init__(self, proc, bridge, log_path):
        super().__init__(daemon=True)
        self.proc, self.bridge = proc, bridge
        self.received = {}  # device -> monotonic time of the last command it received
        self.log = open(log_path, "w")

    def run(self):
        for line in self.proc.stdout:
            now = time.monotonic()
            try:
                event = json.loads(line)
            except ValueError:
                continue
            kind = event.get("event")
            if self.bridge == "miio" and kind == "received" and str(event.get("method", "")).startswith("set_"):
                self.received[str(event.get("device")).lower()] = now
            elif self.bridge == "vesync" and kind == "relay" and event.get("cause") == "command":
                self.received[str(event.get("device")).lower()] = now
            elif self.bridge == "timeguard" and kind == "applied":
                self.received[str(event.get("device")).lower()] = now
            elif kind not in ("received", "sent", "pong", "time_sync", "get_prop"):
                self.log.write(line)
        self.log.close()


def fleet(per_bridge, vesync_prefix="b3c4a000-0000-4000-8000-"):
    """Configured devices: miio (local port, token, did), vesync ids, timeguard ids."""
    miio_base = free_udp_range(per_bridge["miio"])
    miio, vesync, timeguard = [], [], []
    for i in range(per_bridge["miio"]):
        did = 0x50000000 + i
        miio.append({"name": f"m{i:04d}", "host": "127.0.0.1", "port": miio_base + i,
                     "token": f"{did:08x}" * 4, "model": "chuangmi.plug.m1", "did": f"0x{did:08x}"})
    for i in range(per_bridge["vesync"]):
        vesync.append({"id": f"{vesync_prefix}{i:012x}", "name": f"v{i:04d}"})
    for i in range(per_bridge["timeguard"]):
        timeguard.append({"id": f"{0x60000000 + i:08x}", "name": f"t{i:04d}"})
    return {"miio": miio, "vesync": vesync, "timeguard": timeguard, "vesync_prefix": vesync_prefix}


def start_simulators(stack, devices):
    sims = []
    miio_cmd = [SIM, "miio", "--cloud", f"127.0.0.1:{stack.miio_port}", "--ping-interval", "15s"]
    for d in devices["miio"]:
        miio_cmd += ["--device", f"model={d['model']},did={d['did'][2:]},token={d['token']},port={d['port']}"]
    vesync_cmd = [SIM, "vesync", "--server", f"127.0.0.1:{stack.vesync_port}", "--count", str(len(devices["vesync"])),
                  "--id-prefix", devices["vesync_prefix"], "--rate", "200"]
    timeguard_cmd = [SIM, "timeguard", "--server", f"127.0.0.1:{stack.timeguard_port}", "--devices",
                     str(len(devices["timeguard"])), "--id", devices["timeguard"][0]["id"], "--ping-interval", "30s"]
    for bridge, cmd in (("miio", miio_cmd), ("vesync", vesync_cmd), ("timeguard", timeguard_cmd)):
        proc = spawn(cmd, LOAD_CPU, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                     stderr=open(os.path.join(stack.dir, f"sim-{bridge}.err"), "w"), text=True)
        reader = SimOutput(proc, bridge, os.path.join(stack.dir, f"sim-{bridge}.log"))
        reader.start()
        sims.append(reader)
    return sims


class Observer:
    """An MQTT client: latest state and availability of every device, arrival times."""

    def __init__(self, port, base="localcloud", states=True):
        import paho.mqtt.client as mqtt  # python3-paho-mqtt (install-deps.sh --bench)

        self.base = base
        self.state, self.online = {}, set()
        self.cond = threading.Condition()
        self.client = mqtt.Client(client_id=f"bench-observer-{os.getpid()}-{port}", clean_session=True)
        self.client.on_message = self.on_message
        # states=False: availability only (the saturation rows keep this driver off CPU 1's load).
        topics = [(f"{base}/+/availability", 0)] + ([(f"{base}/+", 0)] if states else [])
        self.client.on_connect = lambda c, u, f, rc: c.subscribe(topics)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def on_message(self, client, userdata, message):
        now = time.monotonic()
        parts = message.topic.split("/")
        with self.cond:
            if len(parts) == 2 and parts[1] != "bridge":
                try:
                    self.state[parts[1]] = (json.loads(message.payload), now)
                except ValueError:
                    pass
            elif len(parts) == 3 and parts[2] == "availability":
                if message.payload == b"online":
                    self.online.add(parts[1])
                else:
                    self.online.discard(parts[1])
            self.cond.notify_all()

    def wait(self, predicate, timeout):
        deadline = time.monotonic() + timeout
        with self.cond:
            while not predicate():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.cond.wait(left)
            return True

    def publish(self, topic, payload):
        self.client.publish(topic, payload, qos=0)

    def close(self):
        self.client.loop_stop()
        self.client.disconnect()


def bring_online(workdir, name, per_bridge, broker_nodelay=False):
    devices = fleet(per_bridge)
    stack = Stack(workdir, name, devices, broker_nodelay)
    try:
        stack.start()
    except Exception:
        stack.stop()
        raise
    observer, sims, online_s = fleet_online(stack, devices, per_bridge)
    return stack, observer, sims, devices, online_s


def fleet_online(stack, devices, per_bridge):
    """The observer and the simulators on a started stack; waits until the fleet is online."""
    try:
        observer = Observer(stack.mqtt_port)
        sims = start_simulators(stack, devices)
    except Exception:
        stack.stop()
        raise
    total = sum(per_bridge.values())
    started = time.monotonic()
    if not observer.wait(lambda: len(observer.online) >= total, 180):
        log(f"  only {len(observer.online)} of {total} devices online after 180 s")
    online_s = round(time.monotonic() - started, 1)
    return observer, sims, online_s


def scenario_roundtrip(workdir, profile, results):
    """Twice: mosquitto with its defaults, then with set_tcp_nodelay true."""
    for nodelay in (False, True):
        roundtrip(workdir, profile, results, nodelay)


def roundtrip(workdir, profile, results, broker_nodelay):
    name = "roundtrip-nodelay" if broker_nodelay else "roundtrip"
    per_bridge = {"miio": 334, "vesync": 333, "timeguard": 333}
    stack, observer, sims, devices, online_s = bring_online(workdir, name, per_bridge, broker_nodelay)
    try:
        log(f"  {len(observer.online)} devices online after {online_s} s")
        time.sleep(10)  # the first-sight reads (timeguard) and discovery settle
        row = {"broker_nodelay": broker_nodelay, **command_loop(stack, observer, sims, devices, profile["commands"]),
               "online_after_s": online_s}
        log(f"  {name}: p50 {row['p50_ms']} ms, p99 {row['p99_ms']} ms, failed {row['failed']} "
            + ", ".join(f"{b} p99 {row[b]['p99_ms']}" for b in ("miio", "vesync", "timeguard")))
        results[name] = row
    finally:
        observer.close()
        for sim in sims:
            stop(sim.proc)
        stack.stop()


def command_loop(stack, observer, sims, devices, commands, seed=6):
    """`commands` commands, 5-20 ms apart, each waiting for the state topic to show it."""
    by_bridge = {"miio": [], "vesync": [], "timeguard": []}
    device_leg = {"miio": [], "vesync": [], "timeguard": []}
    failures = {"miio": 0, "vesync": 0, "timeguard": 0}
    sim_of = {s.bridge: s for s in sims}
    targets = []
    for bridge, prop, values in (("miio", "power", ("ON", "OFF")), ("vesync", "power", ("ON", "OFF")),
                                 ("timeguard", "work_mode", ("always_on", "auto"))):
        for d in devices[bridge]:
            sim_id = {"miio": lambda d: d["did"][2:], "vesync": lambda d: d["id"],
                      "timeguard": lambda d: d["id"]}[bridge](d)
            targets.append((bridge, d["name"], prop, values, sim_id.lower()))
    random.seed(seed)
    settle()
    window = CpuWindow()
    cpu0 = proc_sample(stack.pid)["cpu_s"]
    for i in range(commands):
        bridge, key, prop, values, sim_id = targets[(i * 7919) % len(targets)]
        with observer.cond:
            current = observer.state.get(key, ({}, 0))[0].get(prop)
        want = values[1] if current == values[0] else values[0]
        sent = time.monotonic()
        observer.publish(f"localcloud/{key}/set/{prop}", want)
        ok = observer.wait(lambda: observer.state.get(key, ({}, 0))[0].get(prop) == want
                           and observer.state[key][1] >= sent, 5)
        if not ok:
            failures[bridge] += 1
            continue
        arrived = observer.state[key][1]
        by_bridge[bridge].append((arrived - sent) * 1000)
        got = sim_of[bridge].received.get(sim_id)
        if got and got >= sent:
            device_leg[bridge].append((got - sent) * 1000)
        time.sleep(random.uniform(0.005, 0.02))
    daemon_cpu = proc_sample(stack.pid)["cpu_s"] - cpu0
    everything = sorted(v for values in by_bridge.values() for v in values)

    def pct(values, q):
        values = sorted(values)
        return round(values[min(len(values) - 1, int(q * len(values)))], 2) if values else None

    row = {"devices_online": len(observer.online), "commands": commands, "answered": len(everything),
           "failed": sum(failures.values()), "p50_ms": pct(everything, 0.5), "p99_ms": pct(everything, 0.99),
           "max_ms": round(everything[-1], 2) if everything else None,
           "daemon_cpu_s": round(daemon_cpu, 2), "daemon_rss_kb": proc_sample(stack.pid)["rss_kb"]}
    row.update(window.result())
    for bridge in by_bridge:
        row[bridge] = {"p50_ms": pct(by_bridge[bridge], 0.5), "p99_ms": pct(by_bridge[bridge], 0.99),
                       "to_device_p50_ms": pct(device_leg[bridge], 0.5),
                       "to_device_p99_ms": pct(device_leg[bridge], 0.99), "failed": failures[bridge],
                       "n": len(by_bridge[bridge])}
    return row


def scenario_idle(workdir, profile, results):
    per_bridge = {"miio": 34, "vesync": 33, "timeguard": 33}
    stack, observer, sims, _, online_s = bring_online(workdir, "idle", per_bridge)
    try:
        time.sleep(5)
        settle()
        before = proc_sample(stack.pid)
        window = CpuWindow()
        t0 = time.monotonic()
        time.sleep(profile["idle_s"])
        after = proc_sample(stack.pid)
        seconds = time.monotonic() - t0
        row = {"devices_online": len(observer.online), "online_after_s": online_s, "seconds": round(seconds, 1),
               "cpu_pct": round(100 * (after["cpu_s"] - before["cpu_s"]) / seconds, 2),
               "rss_kb": after["rss_kb"], "hwm_kb": after["hwm_kb"], "threads": after["threads"]}
        row.update(window.result())
        log(f"  idle: {row['devices_online']} online, {row['cpu_pct']}% CPU, RSS {row['rss_kb']} KB")
        results["idle"] = row
    finally:
        observer.close()
        for sim in sims:
            stop(sim.proc)
        stack.stop()


def scenario_startup(workdir, profile, results):
    stack = Stack(workdir, "startup")
    stack.start_broker()
    times = []
    try:
        for _ in range(profile["startups"]):
            times.append(round(stack.start_daemon() * 1000, 1))
            stack.stop_daemon()
    finally:
        stack.stop()
    # The same with 1,000 configured devices (the config, the device database, the simulators off).
    devices = fleet({"miio": 334, "vesync": 333, "timeguard": 333})
    big = Stack(workdir, "startup-1000", devices)
    big.start_broker()
    big_times = []
    try:
        for _ in range(profile["startups"]):
            big_times.append(round(big.start_daemon() * 1000, 1))
            big.stop_daemon()
    finally:
        big.stop()
    results["startup"] = {"ms": median(times), "runs_ms": times, "ms_1000_devices": median(big_times),
                          "runs_ms_1000_devices": big_times}
    log(f"  start-up: {results['startup']['ms']} ms (1,000 configured devices: {results['startup']['ms_1000_devices']} ms)")


# ---------------------------------------------------------------------------------------
# Registered devices: every id in the config and online before the load (issue 15 part 1)

REGISTERED = 128            # configured device ids per UDP row: udpload -k 16 with 8 ids per socket
TG_FIRST_ID = 0x10000000    # timeguard ids TG_FIRST_ID .. +127 (socket k, slot j: + 8k + j)
MIIO_FIRST_DID = 0x51000000  # miio dids, the same layout (udpload -I 8)
VESYNC_PREFIX = "b3c4a000-0000-4000-8000-"
VESYNC_REGISTERED = 100     # outlets of the vesync rows (the figure of today, 12.5 us, was 100 unknown ones)
PAGES = 10                  # event streams open in roundtrip-pages
# Devices stay online through a whole series (settle() may wait minutes between runs); each
# daemon run still checks that all of them are online before its load starts.
KEEP_ONLINE = "1h"


def registered_timeguard():
    return [{"id": f"{TG_FIRST_ID + i:08x}", "name": f"tg{i:03d}"} for i in range(REGISTERED)]


def registered_miio():
    """Configured miio devices with tokens (the id, 4 times: udpload -T id) and dids. Their local
    ports are free ones nobody answers on: the daemon's polls of them fail, the cloud pings are
    what keeps them online, as for a device whose token is configured but whose LAN side is slow."""
    base = free_udp_range(REGISTERED)
    return [{"name": f"mi{i:03d}", "host": "127.0.0.1", "port": base + i, "token": f"{MIIO_FIRST_DID + i:08x}" * 4,
             "model": "chuangmi.plug.m1", "did": f"0x{MIIO_FIRST_DID + i:08x}"} for i in range(REGISTERED)]


def udp_ids(mode):
    """udpload options that send from the REGISTERED configured ids (16 sockets x 8 ids)."""
    if mode == "timeguard-ping":
        return ["-i", str(TG_FIRST_ID), "-I", "8"]
    return ["-i", str(MIIO_FIRST_DID), "-I", "8", "-T", "id"]


def mqtt_published(api_port):
    """localcloud_mqtt_messages_published_total from the daemon's /metrics (None if unreadable)."""
    try:
        with socket.create_connection(("127.0.0.1", api_port), timeout=5) as sock:
            sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            data = b""
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
    except OSError:
        return None
    match = re.search(rb"^localcloud_mqtt_messages_published_total(?:\{[^}]*\})?\s+([0-9.e+]+)", data, re.M)
    return float(match.group(1)) if match else None


class OnlineIds:
    """Brings a stack's configured UDP devices online and checks they still are before each
    daemon run: a short low-rate udpload from the same ids, then every `<base>/<key>/availability`
    online on MQTT (registered, first ping answered, the Hub told)."""

    def __init__(self, stack, mode, port, names):
        self.stack, self.mode, self.port = stack, mode, port
        self.names = set(names)
        self.observer = Observer(stack.mqtt_port, states=False)
        self.warmups = 0

    def count(self):
        with self.observer.cond:
            return len(self.names & self.observer.online)

    def __call__(self):
        if self.count() < len(self.names):
            self.warmups += 1
            started = time.monotonic()
            cmd = [os.path.join(TOOLS, "udpload"), "-k", "16", "-w", "8", "-d", "1", "-W", "0", "-r", "2000",
                   "-t", "2000"] + udp_ids(self.mode) + stamp_args(self.mode, udp_ids(self.mode))
            stamp_used(parse_kv(run_tool(cmd + [self.mode, "127.0.0.1", str(self.port)], timeout=30)))
            if not self.observer.wait(lambda: self.names <= self.observer.online, 30):
                raise RuntimeError(f"only {self.count()} of {len(self.names)} configured ids online after the warm-up")
            log(f"  {len(self.names)} configured ids online {time.monotonic() - started:.1f} s after the warm-up began")
            time.sleep(2)  # their discovery, availability and first states are published
        return self.count()

    def close(self):
        self.observer.close()


def registered_udp_row(workdir, profile, results, key, mode, ref_mode, bridge, devices, extra=()):
    names = [d["name"] for d in devices]
    stack = Stack(workdir, key, {bridge: devices}, options={bridge: {"offline_after": KEEP_ONLINE}})
    stack.start()
    online = None
    try:
        port = stack.timeguard_port if bridge == "timeguard" else stack.miio_port
        online = OnlineIds(stack, mode, port, names)
        online()
        row = udp_series(key, mode, ref_mode, port, stack.pid, profile, extra=udp_ids(mode) + list(extra),
                         before_daemon=online, api_port=stack.api_port)
        row["ids"] = len(names)
        row["warmups"] = online.warmups
        results[key] = row
    finally:
        if online:
            online.close()
        stack.stop()


def scenario_timeguard_registered(workdir, profile, results):
    registered_udp_row(workdir, profile, results, "timeguard-registered", "timeguard-ping", "timeguard", "timeguard",
                       registered_timeguard())


def scenario_miio_registered(workdir, profile, results):
    registered_udp_row(workdir, profile, results, "miio-ping-registered", "miio-ping", "miio", "miio",
                       registered_miio())


def scenario_timeguard_changing(workdir, profile, results):
    """The timeguard row with the uptime of every ping new (udpload -u, both sides)."""
    registered_udp_row(workdir, profile, results, "timeguard-changing", "timeguard-ping", "timeguard", "timeguard",
                       registered_timeguard(), extra=["-u"])


def scenario_vesync_registered(workdir, profile, results):
    """100 configured outlets in a closed loop of /ka, alternating with 100 unknown ones (the
    shape of the 12.5 us figure) on a daemon without devices, so that both are from this run."""
    devices = [{"id": f"{VESYNC_PREFIX}{i:012x}", "name": f"vs{i:03d}"} for i in range(VESYNC_REGISTERED)]
    names = {d["name"] for d in devices}
    runs = {"unknown": [], "registered": []}
    for i, side in enumerate(alternation(profile["ws_sat_runs"])):
        side = "unknown" if side == "ref" else "registered"
        stack = Stack(workdir, f"vesync-{side}-{i}", {"vesync": devices} if side == "registered" else None,
                      options={"vesync": {"offline_after": KEEP_ONLINE}})
        stack.start()
        observer = Observer(stack.mqtt_port, states=False) if side == "registered" else None
        online = {}

        def when_logged_in():
            ok = observer.wait(lambda: names <= observer.online, 30)
            with observer.cond:
                online["count"] = len(names & observer.online)
            if not ok:
                raise RuntimeError(f"only {online['count']} of {len(names)} configured outlets online after login")
            time.sleep(1)

        try:
            r = wsload(stack.vesync_port, stack.pid, VESYNC_REGISTERED, 0, profile["ws_sat_d"],
                       warmup=min(5, profile["ws_sat_d"]),
                       id_prefix=VESYNC_PREFIX if side == "registered" else None,
                       when_logged_in=when_logged_in if observer else None)
            r["online_at_start"] = online.get("count")
            log(f"  vesync {side}: {r['answers_per_s']}/s, {r['cpu_per_rtt_us']} us/rtt, server "
                f"{r['server_cpu_pct']}%, gen {r['gen_cpu_pct']}%, p99 {r['rtt_ms_p99']} ms"
                + (f", {r['online_at_start']} outlets online at start" if observer else ""))
            runs[side].append(r)
        finally:
            if observer:
                observer.close()
            stack.stop()
    row = {"runs": runs, "outlets": VESYNC_REGISTERED}
    for side in runs:
        for key in ("answers_per_s", "cpu_per_rtt_us", "server_cpu_pct", "gen_cpu_pct", "rtt_ms_p99", "lost"):
            row[f"{side}_{key}"] = median([r.get(key) for r in runs[side]])
            row[f"{side}_{key}_range"] = span([r.get(key) for r in runs[side]])
    results["vesync-registered"] = row


def open_event_stream(port, timeout=5):
    """GET /api/events; returns (socket, status line, status, content type, bytes after the head)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    sock.sendall(b"GET /api/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n")
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(4096)
        if not chunk:
            break
        head += chunk
    head, _, rest = head.partition(b"\r\n\r\n")
    first = head.split(b"\r\n", 1)[0].decode(errors="replace")
    parts = first.split(" ", 2)
    status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
    content_type = next((line.split(b":", 1)[1].strip().decode(errors="replace")
                         for line in head.split(b"\r\n")[1:] if line.lower().startswith(b"content-type:")), "")
    return sock, first, status, content_type, rest


# The open pages are read by a process of their own (on the load CPU), not by threads of this
# driver: their wake-ups must not delay the observer's MQTT thread, which times the round trip.
PAGES_READER = r"""
import json, selectors, socket, sys
sys.path.insert(0, sys.argv[1])
from bench import open_event_stream
streams, sel = [], selectors.DefaultSelector()
for _ in range(int(sys.argv[3])):
    sock, line, status, ctype, rest = open_event_stream(int(sys.argv[2]))
    s = {"sock": sock, "status": status, "open": status == 200, "events": rest.count(b"\n\n"), "bytes": len(rest),
         "tail": rest[-1:]}
    sock.setblocking(False)
    sel.register(sock, selectors.EVENT_READ, s)
    streams.append(s)
sel.register(sys.stdin, selectors.EVENT_READ, None)
print("ready", json.dumps([s["status"] for s in streams]), flush=True)
done = False
while not done:
    for key, _ in sel.select():
        s = key.data
        if s is None:
            done = True
            break
        try:
            chunk = s["sock"].recv(65536)
        except BlockingIOError:
            continue
        except OSError:
            chunk = b""
        if not chunk:
            s["open"] = False
            sel.unregister(s["sock"])
            continue
        s["bytes"] += len(chunk)
        s["events"] += (s["tail"] + chunk).count(b"\n\n") - s["tail"].count(b"\n\n")
        s["tail"] = chunk[-1:]
print(json.dumps({"open": sum(s["open"] for s in streams), "events": [s["events"] for s in streams],
                  "bytes": sum(s["bytes"] for s in streams)}), flush=True)
"""


class Pages:
    """`count` pages open on the API port: event streams read to the end by a child process."""

    def __init__(self, port, count):
        self.proc = spawn(["/usr/bin/python3", "-c", PAGES_READER, os.path.dirname(os.path.abspath(__file__)),
                           str(port), str(count)], LOAD_CPU, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("ready"):
            stop(self.proc)
            raise RuntimeError(f"the event streams did not open: {line.strip()} {self.proc.stderr.read()[-300:]}")
        self.statuses = json.loads(line.split(" ", 1)[1])

    def close(self):
        """Stops reading; returns {open (still open at the end), events per stream, bytes}."""
        try:
            self.proc.stdin.close()
            out = self.proc.stdout.read()
            self.proc.wait(10)
            return json.loads(out.strip().splitlines()[-1])
        except (OSError, ValueError, IndexError, subprocess.TimeoutExpired):
            stop(self.proc)
            return {"open": 0, "events": [], "bytes": 0}


def events_endpoint(port):
    """None when GET /api/events opens an event stream, else why not."""
    try:
        sock, line, status, content_type, _ = open_event_stream(port)
        sock.close()
    except OSError as error:
        return f"GET /api/events: {error}"
    if status != 200:
        return f"GET /api/events answered {line or 'nothing'}"
    if "text/event-stream" not in content_type:
        return f"GET /api/events answered 200 with {content_type or 'no content type'}, not an event stream"
    return None


def scenario_roundtrip_pages(workdir, profile, results):
    """The round trip (1,000 devices, mosquitto with set_tcp_nodelay), without and with PAGES event
    streams open on the API port, alternating; skipped when the daemon has no /api/events."""
    per_bridge = {"miio": 334, "vesync": 333, "timeguard": 333}
    devices = fleet(per_bridge)
    stack = Stack(workdir, "roundtrip-pages", devices, broker_nodelay=True)
    stack.start()
    observer, sims = None, []
    try:
        why_not = events_endpoint(stack.api_port)
        if why_not:
            results["roundtrip-pages"] = {"skipped": why_not}
            log(f"  roundtrip-pages skipped: {why_not}")
            return
        observer, sims, online_s = fleet_online(stack, devices, per_bridge)
        log(f"  {len(observer.online)} devices online after {online_s} s")
        time.sleep(10)
        runs = {"without": [], "with": []}
        for i, side in enumerate(alternation(profile["runs"])):
            side = "without" if side == "ref" else "with"
            pages = Pages(stack.api_port, PAGES) if side == "with" else None
            try:
                r = command_loop(stack, observer, sims, devices, profile["commands"], seed=6 + i)
            finally:
                read = pages.close() if pages else None
            if read:
                r["streams_open"] = read["open"]
                r["stream_events"] = read["events"]
                r["stream_bytes"] = read["bytes"]
            log(f"  roundtrip {side} {PAGES} pages: p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms, failed {r['failed']}"
                + (f", {r['streams_open']} streams open to the end, {min(r['stream_events'] or [0])}-"
                   f"{max(r['stream_events'] or [0])} events each" if read else ""))
            runs[side].append(r)
        row = {"runs": runs, "pages": PAGES, "devices_online": len(observer.online), "online_after_s": online_s}
        for side in runs:
            for key in ("p50_ms", "p99_ms", "failed", "answered", "daemon_cpu_s"):
                row[f"{side}_{key}"] = median([r.get(key) for r in runs[side]])
                row[f"{side}_{key}_range"] = span([r.get(key) for r in runs[side]])
        row["streams_open_min"] = min(r["streams_open"] for r in runs["with"])
        row["commands"] = profile["commands"]
        results["roundtrip-pages"] = row
    finally:
        if observer:
            observer.close()
        for sim in sims:
            stop(sim.proc)
        stack.stop()


# ---------------------------------------------------------------------------------------
# targets and the table


def targets(r):
    rows = []

    def add(name, target, figure, met, note=""):
        rows.append({"target": name, "goal": target, "figure": figure, "met": met, "note": note})

    def ratio(a, b):
        return round(a / b, 2) if a is not None and b else None

    for mode in ("miio-hello", "miio-ping"):
        sat, fixed = r.get(f"{mode}-sat"), r.get(f"{mode}-10k")
        if sat:
            q = ratio(sat["daemon_cpu_per_reply_us"], sat["ref_cpu_per_reply_us"])
            add(f"{mode} CPU per reply (saturation)", "<= 1.25x refserver",
                f"{sat['daemon_cpu_per_reply_us']} us vs {sat['ref_cpu_per_reply_us']} us = {q}x "
                f"({sat['daemon_replies_per_s']:.0f}/s at {sat['daemon_server_cpu_pct']}%, gen {sat['daemon_gen_cpu_pct']}%)",
                q is not None and q <= 1.25)
        if fixed:
            q = ratio(fixed["daemon_p99_us"], fixed["ref_p99_us"])
            add(f"{mode} p99 at 10,000/s", "<= 1.5x refserver",
                f"{fixed['daemon_p99_us'] / 1000:.2f} ms vs {fixed['ref_p99_us'] / 1000:.2f} ms = {q}x",
                q is not None and q <= 1.5)
    for n, accept in ((1000, None), (10000, 3.0)):
        t = r.get(f"miio-tcp-{n}")
        if not t:
            continue
        held = max(v for v in (t["rss_kb_after_connect"], t["rss_kb_at_end"]) if v is not None) / 1024
        ok = t["open"] == n and t["all_answered"] == n
        if accept:
            # Accepted = the daemon holds the descriptors (the kernel completes handshakes for
            # the listen queue before the daemon accepts them).
            took = t.get("accepted_s")
            held_by_daemon = (f"{took} s" if took is not None else
                              f"only {t.get('accepted_peak') or 0:.0f} accepted (after {t.get('accepted_peak_s')} s)")
            add(f"miio TCP {n:,} connections accepted", "<= 3 s, all answering",
                f"{held_by_daemon} (client connected {t['open']:.0f} in {t['connect_s']} s), "
                f"{t['all_answered']:.0f} answered every ping",
                ok and took is not None and took <= accept)
            add(f"miio TCP {n:,} connections held", "< 40 MB RSS",
                f"{held:.1f} MB with {t['all_answered']:.0f} connections answering", ok and held < 40)
        else:
            add(f"miio TCP {n:,} connections", "all answering (info)",
                f"accepted in {t.get('accepted_s')} s, {t['all_answered']:.0f} answered every ping, {held:.1f} MB", ok)
    v10 = r.get("vesync-10000")
    if v10:
        ok = v10["open_at_end"] == 10000 and v10["lost"] == 0 and v10["answered"] > 0
        add("vesync 10,000 devices held", "< 60 MB RSS",
            f"{v10['server_rss_kb'] / 1024:.1f} MB, {v10['open_at_end']} open, {v10['answered']}/{v10['ka_sent']} "
            f"answered, p99 {v10['rtt_ms_p99']} ms", ok and v10["server_rss_kb"] / 1024 < 60)
    v1 = r.get("vesync-1000")
    if v1:
        add("vesync 1,000 devices, /ka every 5 s", "info (wsproxy: 145.7 MB, p99 17.9 ms)",
            f"{v1['server_rss_kb'] / 1024:.1f} MB, p99 {v1['rtt_ms_p99']} ms, {v1['cpu_per_rtt_us']} us/rtt",
            v1["open_at_end"] == 1000 and v1["lost"] == 0)
    vs = r.get("vesync-sat")
    if vs:
        add("vesync CPU per keepalive round trip (100 devices, saturation)", "<= 18 us",
            f"{vs['cpu_per_rtt_us']} us ({vs['answers_per_s']:.0f}/s at {vs['server_cpu_pct']}%, gen {vs['gen_cpu_pct']}%)",
            vs["cpu_per_rtt_us"] is not None and vs["cpu_per_rtt_us"] <= 18)
    ts = r.get("timeguard-sat")
    if ts:
        rate, ref = ts["daemon_replies_per_s"], ts["ref_replies_per_s"]
        add("timeguard replies/s (saturation)", f">= 100x timeguard-mqtt ({100 * PEER['timeguard_mqtt_replies_per_s']:,}/s)",
            f"{rate:,.0f}/s = {rate / PEER['timeguard_mqtt_replies_per_s']:.0f}x ({ts['daemon_server_cpu_pct']}% CPU, "
            f"gen {ts['daemon_gen_cpu_pct']}%)", rate >= 100 * PEER["timeguard_mqtt_replies_per_s"])
        q = ratio(rate, ref)
        add("timeguard replies/s vs refserver", ">= 0.6x refserver",
            f"{rate:,.0f} vs {ref:,.0f}/s = {q}x (CPU per reply {ts['daemon_cpu_per_reply_us']} vs "
            f"{ts['ref_cpu_per_reply_us']} us)", q is not None and q >= 0.6)
    t5 = r.get("timeguard-500")
    if t5:
        q = ratio(t5["daemon_p99_us"], t5["ref_p99_us"])
        add("timeguard p99 at 500/s", "<= 1.5x refserver",
            f"{t5['daemon_p99_us'] / 1000:.2f} ms vs {t5['ref_p99_us'] / 1000:.2f} ms = {q}x", q is not None and q <= 1.5)
    soak = r.get("timeguard-soak")
    if soak:
        flat = soak["growth_kb"] is not None and soak["growth_kb"] <= 256
        add(f"timeguard RSS after {soak['pings'] / 1e6:.1f} M pings", "flat (growth <= 256 KB after the first 10 %)",
            f"{soak['rss_kb_after_10pct']} -> {soak['rss_kb_end']} KB ({soak['growth_kb']:+} KB)", flat)
    for key, broker in (("roundtrip", "mosquitto defaults"), ("roundtrip-nodelay", "mosquitto set_tcp_nodelay true")):
        rt = r.get(key)
        if not rt:
            continue
        add(f"command round trip, {rt['devices_online']} devices online ({broker})", "p99 < 10 ms",
            f"p50 {rt['p50_ms']} ms, p99 {rt['p99_ms']} ms ({rt['answered']}/{rt['commands']} answered)",
            rt["p99_ms"] is not None and rt["p99_ms"] < 10 and rt["failed"] == 0 and rt["devices_online"] >= 1000)
    for key, what in (("timeguard-registered", "timeguard pings"), ("miio-ping-registered", "miio pings")):
        row = r.get(key)
        if not row:
            continue
        online = f"{row['daemon_online_at_start_min']:.0f}/{row['ids']}"
        all_online = row["daemon_online_at_start_min"] == row["ids"]
        q = ratio(row["daemon_replies_per_s"], row["ref_replies_per_s"])
        add(f"{what}, {row['ids']} configured ids online: replies/s", ">= 0.9x refserver",
            f"{row['daemon_replies_per_s']:,.0f} vs {row['ref_replies_per_s']:,.0f}/s = {q}x (server "
            f"{row['daemon_server_cpu_pct']}% vs {row['ref_server_cpu_pct']}%, gen {row['daemon_gen_cpu_pct']}%; "
            f"online at start {online})", q is not None and q >= 0.9 and all_online)
        q = ratio(row["daemon_cpu_per_reply_us"], row["ref_cpu_per_reply_us"])
        add(f"{what}, {row['ids']} configured ids online: CPU per reply", "<= 1.1x refserver",
            f"{row['daemon_cpu_per_reply_us']} us vs {row['ref_cpu_per_reply_us']} us = {q}x "
            f"({row['daemon_mqtt_msgs_per_s']} MQTT msgs/s)", q is not None and q <= 1.1 and all_online)
    tc = r.get("timeguard-changing")
    if tc:
        all_online = tc["daemon_online_at_start_min"] == tc["ids"]
        q = ratio(tc["daemon_cpu_per_reply_us"], tc["ref_cpu_per_reply_us"])
        qr = ratio(tc["daemon_replies_per_s"], tc["ref_replies_per_s"])
        add(f"timeguard pings, {tc['ids']} configured ids, uptime new in every ping: CPU per reply", "<= 1.25x refserver",
            f"{tc['daemon_cpu_per_reply_us']} us vs {tc['ref_cpu_per_reply_us']} us = {q}x; {tc['daemon_replies_per_s']:,.0f} "
            f"vs {tc['ref_replies_per_s']:,.0f}/s = {qr}x; {tc['daemon_mqtt_msgs_per_s']} MQTT msgs/s; online at start "
            f"{tc['daemon_online_at_start_min']:.0f}/{tc['ids']}"
            + (f"; unchanged pings in this run: {r['timeguard-registered']['daemon_cpu_per_reply_us']} us"
               if r.get("timeguard-registered") else ""), q is not None and q <= 1.25 and all_online)
    vr = r.get("vesync-registered")
    if vr:
        cpu = vr["registered_cpu_per_rtt_us"]
        add(f"vesync CPU per keepalive round trip, {vr['outlets']} configured outlets online", "<= 12.5 us",
            f"{cpu} us ({vr['registered_answers_per_s']}/s at {vr['registered_server_cpu_pct']}%, gen "
            f"{vr['registered_gen_cpu_pct']}%); {vr['outlets']} unknown outlets in this run: "
            f"{vr['unknown_cpu_per_rtt_us']} us", cpu is not None and cpu <= 12.5 and not vr["registered_lost"])
    rp = r.get("roundtrip-pages")
    if rp:
        if "skipped" in rp:
            add(f"command round trip with {PAGES} pages open (event streams)", "no worse than without",
                f"skipped: {rp['skipped']}", None)
        else:
            q = ratio(rp["with_p99_ms"], rp["without_p99_ms"])
            add(f"command round trip, {rp['devices_online']} devices, {rp['pages']} pages open (set_tcp_nodelay)",
                "no worse than without (p99 <= 1.1x)",
                f"p50 {rp['with_p50_ms']} / p99 {rp['with_p99_ms']} ms vs without p50 {rp['without_p50_ms']} / p99 "
                f"{rp['without_p99_ms']} ms = {q}x; {rp['streams_open_min']}/{rp['pages']} streams open to the end; "
                f"failed {rp['with_failed']:.0f}",
                q is not None and q <= 1.1 and rp["with_failed"] == 0 and rp["streams_open_min"] == rp["pages"])
    idle = r.get("idle")
    if idle:
        add(f"idle, {idle['devices_online']} devices", "< 20 MB RSS, < 1 % CPU",
            f"{idle['rss_kb'] / 1024:.1f} MB, {idle['cpu_pct']} % CPU",
            idle["rss_kb"] / 1024 < 20 and idle["cpu_pct"] < 1 and idle["devices_online"] >= 100)
    st = r.get("startup")
    if st:
        add("start-up to all listeners bound", "info", f"{st['ms']} ms ({st['ms_1000_devices']} ms with 1,000 devices)",
            True)
    return rows


def table(rows):
    lines = ["| target | goal | figure | met |", "|---|---|---|---|"]
    for row in rows:
        met = "met" if row["met"] else "**not met**"
        if row["met"] is None:
            met = "skipped"
        elif row["goal"].startswith("info"):
            met = "—" if row["met"] else "**failed**"
        lines.append(f"| {row['target']} | {row['goal']} | {row['figure']} | {met} |")
    return "\n".join(lines)


def details(r):
    """The alternated UDP series as a second table."""
    lines = ["| row | side | replies/s | CPU per reply | server CPU | generator CPU | p50 | p99 [range] | CPU 0 steal |",
             "|---|---|---|---|---|---|---|---|---|"]
    for key in ("miio-hello-sat", "miio-ping-sat", "miio-hello-10k", "miio-ping-10k", "timeguard-sat", "timeguard-500",
                "timeguard-registered", "miio-ping-registered", "timeguard-changing"):
        row = r.get(key)
        if not row:
            continue
        for side in ("ref", "daemon"):
            rng = row[f"{side}_cpu_per_reply_us_range"] or ["—", "—"]
            p99 = row[f"{side}_p99_us_range"] or [0, 0]
            lines.append(
                f"| {key} | {'refserver' if side == 'ref' else 'localcloud'} | {row[f'{side}_replies_per_s']:,.0f} | "
                f"{row[f'{side}_cpu_per_reply_us']} µs [{rng[0]}–{rng[1]}] | {row[f'{side}_server_cpu_pct']} % | "
                f"{row[f'{side}_gen_cpu_pct']} % | {row[f'{side}_p50_us']:.0f} µs | {row[f'{side}_p99_us']:.0f} µs "
                f"[{p99[0]:.0f}–{p99[1]:.0f}] | {row.get(f'{side}_cpu0_steal_pct')} % |")
    return "\n".join(lines)


def machine():
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            model = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "")
    except OSError:
        pass
    with open("/proc/meminfo") as f:
        mem_kb = int(f.readline().split()[1])
    return {"cpu": model, "cores": os.cpu_count(), "kernel": platform.release(), "memory_gb": round(mem_kb / 2**20, 1),
            "open_files": " / ".join(str(v) for v in __import__("resource").getrlimit(__import__("resource").RLIMIT_NOFILE))}


def git(*args):
    try:
        return subprocess.run(["git", "-C", ROOT] + list(args), capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


# ---------------------------------------------------------------------------------------


def take_lock():
    waited = False
    while subprocess.run(["pgrep", "fuzz_"], capture_output=True).returncode == 0:
        if not waited:
            log("waiting for the fuzz_* processes to finish")
            waited = True
        time.sleep(2)
    with open(LOCK, "w") as f:
        f.write(f"{os.getpid()}\n")
    atexit.register(lambda: os.path.exists(LOCK) and open(LOCK).read().strip() == str(os.getpid()) and os.remove(LOCK))


SCENARIOS = {
    "startup": scenario_startup,
    "idle": scenario_idle,
    "miio-udp": scenario_miio_udp,
    "timeguard": scenario_timeguard,
    "miio-tcp": scenario_miio_tcp,
    "vesync": scenario_vesync,
    "roundtrip": scenario_roundtrip,
    # issue 15: registered devices on the hot path
    "timeguard-registered": scenario_timeguard_registered,
    "miio-registered": scenario_miio_registered,
    "vesync-registered": scenario_vesync_registered,
    "timeguard-changing": scenario_timeguard_changing,
    "roundtrip-pages": scenario_roundtrip_pages,
}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="one run per side, short durations (~9 min)")
    parser.add_argument("--only", default="", help="comma-separated scenarios: " + ", ".join(SCENARIOS))
    parser.add_argument("--no-lock", action="store_true", help="do not take /tmp/localcloud-bench.lock")
    parser.add_argument("--wait-quiet", type=float, default=120, metavar="S",
                        help="before each measured run wait up to S seconds for both CPUs to be idle (default 120)")
    args = parser.parse_args()
    QUIET["max_wait_s"] = args.wait_quiet
    profile = dict(PROFILES["quick" if args.quick else "full"])
    chosen = [s for s in args.only.split(",") if s] or list(SCENARIOS)
    for name in chosen:
        if name not in SCENARIOS:
            parser.error(f"unknown scenario {name}")
    for path in (DAEMON, SIM, os.path.join(TOOLS, "udpload")):
        if not os.path.exists(path):
            sys.exit(f"{path} is missing: run bench/run.sh (it builds everything)")

    os.sched_setaffinity(0, {int(LOAD_CPU)})
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    atexit.register(stop_children)
    if not args.no_lock:
        take_lock()
    stamp = datetime.datetime.now(datetime.timezone.utc)
    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    workdir = os.path.join(RESULTS, "tmp", stamp.strftime("%Y%m%d-%H%M%S"))
    os.makedirs(workdir, exist_ok=True)
    log(f"localcloud benchmark ({'quick' if args.quick else 'full'}), commit {commit}, work files in {workdir}")

    others = Others()
    others.start()
    results, timing, failures = {}, {}, {}
    began = time.monotonic()
    for name in chosen:
        log(f"scenario {name}")
        t0, before = time.monotonic(), others.snapshot()
        try:
            SCENARIOS[name](workdir, profile, results)
        except Exception as error:  # noqa: BLE001 - report and go on with the next scenario
            failures[name] = str(error)
            log(f"  {name} FAILED: {error}")
        timing[name] = {"seconds": round(time.monotonic() - t0, 1), "other_processes_cpu_s": others.summary(before)}
    others.running = False

    rows = targets(results)
    report = {
        "date": stamp.isoformat(timespec="seconds"),
        "commit": commit,
        "uncommitted_changes": bool(git("status", "--porcelain", "--untracked-files=no")),
        "profile": "quick" if args.quick else "full",
        "machine": machine(),
        "placement": {"daemon_cpu": DAEMON_CPU, "load_cpu": LOAD_CPU},
        "duration_s": round(time.monotonic() - began, 1),
        "other_processes_cpu_s": others.summary(top=10),
        "scenario_timing": timing,
        "failures": failures,
        "targets": rows,
        "results": results,
        "peers": PEER,
    }
    # The time in the name: a second run of the same commit (e.g. --only) must not replace the first.
    name = f"{stamp.strftime('%Y-%m-%d-%H%M')}-{commit}{'-quick' if args.quick else ''}"
    os.makedirs(RESULTS, exist_ok=True)
    with open(os.path.join(RESULTS, name + ".json"), "w") as f:
        json.dump(report, f, indent=1)
    text = table(rows)
    with open(os.path.join(RESULTS, name + ".md"), "w") as f:
        m = report["machine"]
        f.write(f"Date {report['date']}, commit {commit}{' (uncommitted changes)' if report['uncommitted_changes'] else ''}, "
                f"{report['profile']} run of {report['duration_s']:.0f} s. Machine: {m['cpu']}, {m['cores']} CPUs, "
                f"kernel {m['kernel']}, {m['memory_gb']} GB, open files {m['open_files']}. Other processes' CPU "
                f"during the run: {report['other_processes_cpu_s'] or 'none'}.\n\n{text}\n\n{details(results)}\n")
    print(text)
    print()
    print(details(results))
    if failures:
        print("\nfailed scenarios: " + "; ".join(f"{k}: {v}" for k, v in failures.items()))
    print(f"\nwritten: bench/results/{name}.json (and .md); {report['duration_s']:.0f} s")
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main())
