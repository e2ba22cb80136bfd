"""Shared pieces of the hardening tests: one real simulated device per bridge (miio, vesync,
timeguard) against the built daemon, the daemon's descriptors and memory from /proc, its
/metrics, and small raw-socket helpers for the fault injection."""
import json
import os
import re
import socket
import sys
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import harness  # noqa: E402
from harness import wait_until  # noqa: E402

MIIO_DID = "01020304"
MIIO_TOKEN = "00112233445566778899aabbccddeeff"
MIIO_CLOUD_KEY = "k3yFr0mFl4shDump"
VESYNC_ID = "443c878f-f675-4c90-98e8-2f4566914d39"
VESYNC_SERVICE_TOKEN = "svc-T0ken-never-logged-9f3a"
TIMEGUARD_ID = "12345678"
MQTT_PASSWORD = "mqtt-Pa55word-never-logged-71c2"

# The MQTT keys of the three devices when they have no configured name.
MIIO_KEY = f"miio_{MIIO_DID}"
VESYNC_KEY = f"vesync_{VESYNC_ID}"
TIMEGUARD_KEY = f"timeguard_{TIMEGUARD_ID}"


def small_quarantine():
    """Under AddressSanitizer freed memory is held in a quarantine of up to 256 MB, which
    makes RSS useless for leak checks: a small one keeps RSS meaningful (and still catches
    use-after-free of recently freed memory)."""
    if not harness.SANITIZED:
        return {}
    options = os.environ.get("ASAN_OPTIONS", "")
    return {"ASAN_OPTIONS": (options + ":" if options else "") + "quarantine_size_mb=16:thread_local_quarantine_size_kb=256"}


def fd_count(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def http_get(address, path, headers=None, timeout=5):
    """(status, body) of GET http://address/path; (None, error) when it cannot connect."""
    request = urllib.request.Request(f"http://{address}{path}", headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode("utf-8", "replace")
    except OSError as error:
        return None, str(error)


def metric(text, name, **labels):
    """The value of one Prometheus sample (labels matched exactly as given), or None."""
    for line in text.splitlines():
        if not line.startswith(name):
            continue
        match = re.match(r"^([a-zA-Z_:]+)(\{[^}]*\})?\s+(\S+)$", line)
        if not match or match.group(1) != name:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', match.group(2) or ""))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(match.group(3))
    return None


def metric_sum(text, name, **labels):
    """The sum of every sample of `name` whose labels include `labels`."""
    total = 0.0
    for line in text.splitlines():
        match = re.match(r"^([a-zA-Z_:]+)(\{[^}]*\})?\s+(\S+)$", line)
        if not match or match.group(1) != name:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', match.group(2) or ""))
        if all(found.get(k) == v for k, v in labels.items()):
            total += float(match.group(3))
    return total


class ThreeBridgeTest(harness.DaemonTest):
    """A daemon with all three bridges on free loopback ports and one simulated device each."""

    def setUp(self):
        super().setUp()
        self.miio_port = harness.free_port()
        self.miio_device_port = harness.free_port()
        self.vesync_port = harness.free_port(udp_too=False)
        self.service_port = harness.free_port(udp_too=False)
        self.timeguard_port = harness.free_port()

    # ---- config -------------------------------------------------------------------------------

    def three_bridges(self, names=True, offline_after="4s", **extra):
        """The miio, vesync and timeguard sections; names=False leaves the devices unnamed."""
        miio_device = {"host": "127.0.0.1", "port": self.miio_device_port, "token": MIIO_TOKEN,
                       "model": "qmi.powerstrip.v1", "did": int(MIIO_DID, 16), "cloud_key": MIIO_CLOUD_KEY}
        vesync_device = {"id": VESYNC_ID}
        timeguard_device = {"id": TIMEGUARD_ID}
        if names:
            miio_device["name"] = "strip"
            vesync_device["name"] = "desk"
            timeguard_device["name"] = "heater"
        sections = {
            "miio": {"enabled": True, "listen": f"127.0.0.1:{self.miio_port}", "poll_interval": "1s",
                     "offline_after": offline_after, "devices": [miio_device]},
            "vesync": {"enabled": True, "listen": f"127.0.0.1:{self.vesync_port}", "poll_interval": "2s",
                       "offline_after": offline_after, "service_listen": f"127.0.0.1:{self.service_port}",
                       "service_token": VESYNC_SERVICE_TOKEN, "max_unknown": 4, "devices": [vesync_device]},
            "timeguard": {"enabled": True, "listen": f"127.0.0.1:{self.timeguard_port}", "mode": "local",
                          "offline_after": offline_after, "max_unknown": 4, "devices": [timeguard_device]},
        }
        for name, overrides in extra.items():
            sections[name].update(overrides)
        return sections

    def config(self, names=True, offline_after="4s", **extra):
        return self.base_config(**self.three_bridges(names, offline_after, **extra))

    def api_address(self):
        return self.daemon_config["api"]["listen"]

    def start_three(self, config=None, wait_ready=True, env=None):
        self.daemon_config = config or self.config()
        self.daemon = self.start_daemon(self.daemon_config, wait_ready=wait_ready, env=env or small_quarantine())
        return self.daemon

    # ---- the simulated devices ----------------------------------------------------------------

    def miio_sim(self, *extra, transport="udp"):
        spec = f"model=qmi.powerstrip.v1,did={MIIO_DID},token={MIIO_TOKEN},port={self.miio_device_port}," \
               f"cloud_key={MIIO_CLOUD_KEY}"
        sim = self.sim("miio", "--device", spec, "--cloud", f"127.0.0.1:{self.miio_port}", "--transport", transport,
                       "--ping-interval", "1s", "--hello-retry", "300ms", *extra)
        sim.wait(lambda e: e.get("event") == "ready", what="miio simulator ready")
        return sim

    def vesync_sim(self, *extra):
        return self.sim("vesync", "--server", f"127.0.0.1:{self.vesync_port}", "--id", VESYNC_ID,
                        "--reconnect", "300ms", "--ka-period", "1s", "--report-delay", "200ms", *extra)

    def timeguard_sim(self, *extra):
        return self.sim("timeguard", "--server", f"127.0.0.1:{self.timeguard_port}", "--id", TIMEGUARD_ID,
                        "--ping-interval", "1s", *extra)

    def start_sims(self):
        self.miio = self.miio_sim()
        self.vesync = self.vesync_sim()
        self.timeguard = self.timeguard_sim()
        return self.miio, self.vesync, self.timeguard

    # ---- what the simulators saw --------------------------------------------------------------

    @staticmethod
    def count(sim, predicate):
        with sim.cond:
            return sum(1 for e in sim.events if predicate(e))

    def keepalive_counts(self):
        """Keepalive answers each simulator has had so far: miio pongs, vesync /kr (and
        /loginReply), timeguard ping replies."""
        return (self.count(self.miio, lambda e: e.get("event") == "pong"),
                self.count(self.vesync, lambda e: e.get("event") == "received" and
                           e.get("uri") in ("/kr", "/loginReply")),
                self.count(self.timeguard, lambda e: e.get("event") == "received" and e.get("kind") == "ping_reply"))

    def wait_keepalives_grow(self, timeout=10, what="keepalive answers"):
        before = self.keepalive_counts()
        return wait_until(lambda: all(a > b for a, b in zip(self.keepalive_counts(), before)), timeout,
                          interval=0.1, what=f"{what} (before: {before})")

    def metrics(self):
        status, body = http_get(self.api_address(), "/metrics")
        self.assertEqual(status, 200, body)
        return body


# ---- raw sockets ------------------------------------------------------------------------------

def udp_blast(port, payloads, count):
    """Sends `count` datagrams cycling through `payloads` to 127.0.0.1:port."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setblocking(False)
    sent = 0
    try:
        for i in range(count):
            try:
                sock.sendto(payloads[i % len(payloads)], ("127.0.0.1", port))
                sent += 1
            except (BlockingIOError, ConnectionRefusedError):
                time.sleep(0.001)
    finally:
        sock.close()
    return sent


def tcp_hit(port, payload, linger=False):
    """Connects, sends `payload`, closes (with a RST when linger). False when refused."""
    try:
        sock = socket.create_connection(("127.0.0.1", port), timeout=2)
    except OSError:
        return False
    try:
        if linger:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        if payload:
            sock.sendall(payload)
    except OSError:
        pass
    finally:
        sock.close()
    return True


def open_idle(port, first_bytes=b"", count=1):
    """`count` connections that send `first_bytes` and then stay silent; the open sockets."""
    sockets = []
    for _ in range(count):
        try:
            sock = socket.create_connection(("127.0.0.1", port), timeout=2)
            if first_bytes:
                sock.sendall(first_bytes)
            sockets.append(sock)
        except OSError:
            break
    return sockets


def close_all(sockets):
    for sock in sockets:
        try:
            sock.close()
        except OSError:
            pass
    sockets.clear()


def state_json(obs, key):
    message = obs.find(f"lc/{key}")
    if not message:
        return None
    try:
        return json.loads(message.payload)
    except ValueError:
        return None
