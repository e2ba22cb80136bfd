"""Shared pieces of the integration tests: a real mosquitto on a free loopback port, the
built daemon with a generated config, an MQTT observer (Debian's python3-paho-mqtt 1.6) and
the device simulators (localcloud-sim).

Run a test file directly with /usr/bin/python3; ctest passes LOCALCLOUD_BIN and
LOCALCLOUD_SIM (paths of the built binaries). Deadlines asserted here carry a 3x margin.
"""
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import paho.mqtt.client as mqtt

BIN = os.environ.get("LOCALCLOUD_BIN", "build/app/localcloud")
SIM = os.environ.get("LOCALCLOUD_SIM", "build/app/localcloud-sim")
# The daemon plus a test-only bridge (tests/support/fake_bridge.cpp), for the foundation tests.
TESTD = os.environ.get("LOCALCLOUD_TESTD", "build/tests/localcloud-testd")
SANITIZED = "asan" in BIN or "sanit" in BIN or "tsan" in BIN
# Sanitizer builds are several times slower: stretch every deadline for them.
SLOW = 3.0 if SANITIZED else 1.0


def free_port(udp_too=True):
    """A port free on 127.0.0.1 for TCP (and UDP when udp_too)."""
    for _ in range(200):
        tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        tcp.bind(("127.0.0.1", 0))
        port = tcp.getsockname()[1]
        try:
            if udp_too:
                udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                udp.bind(("127.0.0.1", port))
                udp.close()
            return port
        except OSError:
            continue
        finally:
            tcp.close()
    raise RuntimeError("no free port")


def wait_until(predicate, timeout, interval=0.02, what="condition"):
    deadline = time.monotonic() + timeout * SLOW
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout * SLOW:.1f}s waiting for {what}")


def port_open(port, host="127.0.0.1"):
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


class Mosquitto:
    """A private mosquitto on 127.0.0.1:<port>; stop() and start() keep the port."""

    def __init__(self, workdir, port=None):
        self.port = port or free_port(udp_too=False)
        self.conf = os.path.join(workdir, f"mosquitto-{self.port}.conf")
        with open(self.conf, "w") as f:
            f.write(f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
                    "log_dest stderr\nlog_type error\nlog_type warning\n")
        self.log_path = os.path.join(workdir, f"mosquitto-{self.port}.log")
        self.proc = None

    def start(self):
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(["mosquitto", "-c", self.conf], stdout=log, stderr=log)
        wait_until(lambda: port_open(self.port), 10, what=f"mosquitto on {self.port}")
        return self

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    @property
    def url(self):
        return f"mqtt://127.0.0.1:{self.port}"


def to_yaml(value, indent=0):
    """A small YAML writer for the configs the tests generate (dicts, lists, scalars)."""
    pad = "  " * indent
    if isinstance(value, dict):
        if not value:
            return "{}"
        lines = []
        for key, item in value.items():
            if isinstance(item, (dict, list)) and item:
                lines.append(f"{pad}{key}:\n{to_yaml(item, indent + 1)}")
            else:
                lines.append(f"{pad}{key}: {to_yaml(item)}")
        return "\n".join(lines)
    if isinstance(value, list):
        if not value:
            return "[]"
        lines = []
        for item in value:
            text = to_yaml(item, indent + 1)
            if isinstance(item, (dict, list)) and item:
                text = text.lstrip()
            lines.append(f"{pad}- {text}")
        return "\n".join(lines)
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return '""'
    if isinstance(value, (int, float)):
        return str(value)
    return json.dumps(str(value))


class Daemon:
    """The built localcloud with a config written from a dict."""

    def __init__(self, workdir, config, name="localcloud", binary=None, env=None):
        self.binary = binary or BIN
        self.env = env or {}
        self.workdir = workdir
        self.config = config
        self.path = os.path.join(workdir, f"{name}.yaml")
        self.log_path = os.path.join(workdir, f"{name}.log")
        self.proc = None
        self.write_config()

    def write_config(self):
        with open(self.path, "w") as f:
            f.write(to_yaml(self.config) + "\n")

    def start(self, extra_args=(), env=None):
        run_env = dict(os.environ)
        run_env.update(self.env)
        run_env.update(env or {})
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen([self.binary, "run", "--config", self.path, *extra_args],
                                         stdout=log, stderr=log, env=run_env)
        return self

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def wait_log(self, pattern, timeout=10):
        regex = re.compile(pattern)
        return wait_until(lambda: regex.search(self.log()), timeout, what=f"log /{pattern}/")

    def stop(self, sig=signal.SIGTERM, timeout=10):
        """Signals the daemon and returns its exit code."""
        if not self.proc:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout * SLOW)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("daemon did not exit after " + signal.Signals(sig).name)
        self.proc = None
        return code

    def kill(self):
        return self.stop(signal.SIGKILL)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None


class Message:
    __slots__ = ("topic", "payload", "retain", "at")

    def __init__(self, topic, payload, retain):
        self.topic, self.payload, self.retain, self.at = topic, payload, retain, time.monotonic()

    def text(self):
        return self.payload.decode("utf-8", "replace")

    def json(self):
        return json.loads(self.payload)

    def __repr__(self):
        return f"<{self.topic} {'R ' if self.retain else ''}{self.payload[:200]!r}>"


class Observer:
    """An MQTT client that records every message on `topics` (default '#')."""

    def __init__(self, broker_port, topics=("#",), client_id=None):
        self.messages = []
        self.cond = threading.Condition()
        self.client = mqtt.Client(client_id=client_id or f"observer-{os.getpid()}-{id(self)}")
        self.client.on_message = self._on_message
        self.connected = threading.Event()
        self.client.on_connect = lambda c, u, f, rc: (c.subscribe([(t, 1) for t in topics]), self.connected.set())
        self.client.connect("127.0.0.1", broker_port, keepalive=30)
        self.client.loop_start()
        if not self.connected.wait(10):
            raise AssertionError("observer could not connect")
        time.sleep(0.1)

    def _on_message(self, client, userdata, msg):
        with self.cond:
            self.messages.append(Message(msg.topic, msg.payload, bool(msg.retain)))
            self.cond.notify_all()

    def close(self):
        self.client.loop_stop()
        self.client.disconnect()

    def clear(self):
        with self.cond:
            self.messages.clear()

    def find(self, topic, predicate=None, since=0.0):
        with self.cond:
            for m in reversed(self.messages):
                if m.at >= since and (m.topic == topic or mqtt.topic_matches_sub(topic, m.topic)) and (
                        predicate is None or predicate(m)):
                    return m
        return None

    def all(self, topic):
        with self.cond:
            return [m for m in self.messages if m.topic == topic or mqtt.topic_matches_sub(topic, m.topic)]

    def wait(self, topic, predicate=None, timeout=10, since=0.0):
        """The newest message on topic (a filter may have wildcards) that satisfies predicate."""
        return wait_until(lambda: self.find(topic, predicate, since), timeout,
                          what=f"MQTT {topic}" + (" matching predicate" if predicate else ""))

    def wait_json(self, topic, predicate=lambda j: True, timeout=10, since=0.0):
        def ok(m):
            try:
                return predicate(m.json())
            except (ValueError, KeyError, TypeError):
                return False
        return self.wait(topic, ok, timeout, since).json()

    def publish(self, topic, payload, retain=False, qos=1):
        info = self.client.publish(topic, payload, qos=qos, retain=retain)
        info.wait_for_publish()


def retained(broker_port, topic_filter, settle=0.5):
    """Everything retained under topic_filter, as {topic: payload bytes}, from a fresh client."""
    obs = Observer(broker_port, (topic_filter,))
    time.sleep(settle)
    obs.close()
    return {m.topic: m.payload for m in obs.messages if m.retain}


class Sim:
    """localcloud-sim <vendor> ...: events arrive as JSON lines on its stdout, commands are
    written as lines to its stdin."""

    def __init__(self, vendor, *args):
        self.events = []
        self.cond = threading.Condition()
        self.proc = subprocess.Popen([SIM, vendor, *map(str, args)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=sys.stderr, bufsize=0)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stdout:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            with self.cond:
                self.events.append(event)
                self.cond.notify_all()

    def send(self, line):
        self.proc.stdin.write((line + "\n").encode())
        self.proc.stdin.flush()

    def find(self, predicate):
        with self.cond:
            for event in self.events:
                if predicate(event):
                    return event
        return None

    def wait(self, predicate, timeout=10, what="simulator event"):
        return wait_until(lambda: self.find(predicate), timeout, what=what)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class DaemonTest(unittest.TestCase):
    """Base class: a temporary directory, a broker, and cleanup of whatever was started."""

    broker_needed = True

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="lc-it-")
        self.workdir = self.tmp.name
        self._cleanup = []
        if self.broker_needed:
            self.broker = Mosquitto(self.workdir).start()
            self._cleanup.append(self.broker.stop)

    def tearDown(self):
        for fn in reversed(self._cleanup):
            try:
                fn()
            except Exception as error:  # cleanup must go on
                print("cleanup:", error, file=sys.stderr)
        self.tmp.cleanup()

    def base_config(self, **sections):
        """A config with the broker, the API on a free port and every bridge off."""
        config = {
            "mqtt": {"url": self.broker.url if self.broker_needed else "mqtt://127.0.0.1:1",
                     "client_id": f"lc-test-{os.getpid()}", "base_topic": "lc"},
            "homeassistant": {"discovery": True, "prefix": "homeassistant"},
            "log": {"level": "debug", "mask_ids": False},
            "api": {"listen": f"127.0.0.1:{free_port(udp_too=False)}"},
            "data_dir": os.path.join(self.workdir, "data"),
        }
        config.update(sections)
        return config

    def start_daemon(self, config, name="localcloud", wait_ready=True, binary=None, env=None):
        daemon = Daemon(self.workdir, config, name, binary=binary, env=env)
        daemon.start()
        self._cleanup.append(lambda: daemon.alive() and daemon.kill())
        self._cleanup.append(lambda: self._dump_log_on_failure(daemon))
        if wait_ready:
            wait_until(lambda: not daemon.alive() or "listening" in daemon.log(), 10, what="daemon start")
            if not daemon.alive():
                raise AssertionError("daemon exited at start:\n" + daemon.log())
        return daemon

    def _dump_log_on_failure(self, daemon):
        if os.environ.get("LOCALCLOUD_TEST_VERBOSE") or not self._test_passed():
            sys.stderr.write(f"---- {daemon.log_path} (last 80 lines) ----\n")
            sys.stderr.write("\n".join(daemon.log().splitlines()[-80:]) + "\n")

    def _test_passed(self):
        outcome = getattr(self, "_outcome", None)
        if outcome is None:
            return True
        errors = getattr(outcome, "errors", None)
        if errors:
            return all(exc is None for _, exc in errors)
        result = getattr(outcome, "result", None)
        if result is not None:
            return not (result.failures or result.errors)
        return True

    def observer(self, topics=("#",)):
        obs = Observer(self.broker.port, topics)
        self._cleanup.append(obs.close)
        return obs

    def sim(self, vendor, *args):
        sim = Sim(vendor, *args)
        self._cleanup.append(sim.stop)
        return sim


def main():
    unittest.main(verbosity=2)
