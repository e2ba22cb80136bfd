"""Shared pieces of the web page tests: HTTP requests to the API, many server-sent event streams
read from one thread (also for the benchmarks: EventStreams(address).open(10), or run this file
as `python3 web_common.py HOST:PORT 10`), and a headless Chromium driven by Debian's
chromium-driver and python3-selenium."""
import http.client
import json
import os
import selectors
import shutil
import socket
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "hardening"))
import harness  # noqa: E402,F401


def request(address, method, path, body=None, headers=None, timeout=30):
    """(status, headers dict (lower-case names), body text) of one HTTP request."""
    host, port = address.rsplit(":", 1)
    connection = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        payload = None
        if body is not None:
            payload = body if isinstance(body, (bytes, str)) else json.dumps(body)
        send_headers = {"Content-Type": "application/json"} if payload is not None else {}
        send_headers.update(headers or {})
        connection.request(method, path, body=payload, headers=send_headers)
        response = connection.getresponse()
        text = response.read().decode("utf-8", "replace")
        return response.status, {k.lower(): v for k, v in response.getheaders()}, text
    finally:
        connection.close()


def post(address, path, body=None, headers=None, timeout=30):
    """(status, parsed JSON or text) of a POST."""
    status, _, text = request(address, "POST", path, body if body is not None else {}, headers, timeout)
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text


def get_json(address, path):
    status, _, text = request(address, "GET", path)
    if status != 200:
        raise AssertionError(f"GET {path}: {status} {text[:200]}")
    return json.loads(text)


class Stream:
    """One GET /api/events, read without blocking by EventStreams."""

    def __init__(self, address, receive_buffer=None):
        host, port = address.rsplit(":", 1)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if receive_buffer:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        self.sock.connect((host, int(port)))
        self.sock.sendall(f"GET /api/events HTTP/1.1\r\nHost: {address}\r\nAccept: text/event-stream\r\n\r\n".encode())
        self.sock.setblocking(False)
        self.head = b""
        self.status = None
        self.pending = b""  # the start of the body until the snapshot is complete
        self.snapshot = None
        self.bytes = 0
        self.events = 0
        self.closed = False
        self.lock = threading.Lock()

    def feed(self, data):
        with self.lock:
            self.bytes += len(data)
            if self.status is None:
                self.head += data
                end = self.head.find(b"\r\n\r\n")
                if end < 0:
                    return
                first_line = self.head[:self.head.find(b"\r\n")].decode("latin-1")
                self.status = int(first_line.split()[1])
                data = self.head[end + 4:]
                self.head = self.head[:end]
            self.events += data.count(b"\n\n")
            if self.snapshot is None:
                self.pending += data
                end = self.pending.find(b"event: snapshot\ndata: ")
                if end >= 0:
                    stop = self.pending.find(b"\n\n", end)
                    if stop >= 0:
                        line = self.pending[end + len(b"event: snapshot\ndata: "):stop]
                        self.snapshot = json.loads(line)
                        self.pending = b""

    def close(self):
        self.closed = True
        try:
            self.sock.close()
        except OSError:
            pass


class EventStreams:
    """N pages' event streams read by one thread: EventStreams(address).open(50), then
    .count_open(), .stall(...) for readers that stop reading, .close()."""

    def __init__(self, address):
        self.address = address
        self.selector = selectors.DefaultSelector()
        self.streams = []
        self.stalled = []
        self.running = True
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def open(self, n=1):
        opened = []
        for _ in range(n):
            stream = Stream(self.address)
            with self.lock:
                self.selector.register(stream.sock, selectors.EVENT_READ, stream)
                self.streams.append(stream)
            opened.append(stream)
        return opened

    def stall(self, receive_buffer=4096):
        """A stream whose reader never reads after the head: the daemon must drop it."""
        stream = Stream(self.address, receive_buffer=receive_buffer)
        self.stalled.append(stream)
        return stream

    def _run(self):
        while self.running:
            with self.lock:
                ready = self.selector.select(timeout=0.05) if self.selector.get_map() else []
            if not ready:
                time.sleep(0.01)
                continue
            for key, _ in ready:
                stream = key.data
                try:
                    data = stream.sock.recv(262144)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                if not data:
                    with self.lock:
                        self.selector.unregister(stream.sock)
                    stream.close()
                    continue
                stream.feed(data)

    def reading(self):
        return [s for s in self.streams if not s.closed]

    def close(self):
        self.running = False
        self.thread.join(5)
        for stream in self.streams + self.stalled:
            stream.close()


def closed_by_peer(stream):
    """True once the daemon has closed a stream we do not read (a stalled page)."""
    try:
        stream.sock.setblocking(False)
        # The socket's buffer may still hold data: read it away; EOF or a reset means closed.
        while True:
            data = stream.sock.recv(1 << 20)
            if not data:
                return True
    except BlockingIOError:
        return False
    except OSError:
        return True


# ---- the browser --------------------------------------------------------------------------------

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


def browser_available():
    """None when Chromium, chromedriver and selenium are there, else why not."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "python3-selenium is not installed (scripts/install-deps.sh --test)"
    for path in (CHROMIUM, CHROMEDRIVER):
        if not os.path.exists(path):
            return f"{path} is missing (scripts/install-deps.sh --test)"
    return None


def start_browser(width=1360, height=1000, dark=False):
    """A headless Chromium with a fresh profile; its console log is kept (goog:loggingPrefs)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="lc-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--hide-scrollbars", "--force-device-scale-factor=1",
                 f"--user-data-dir={profile}", f"--window-size={width},{height}"):
        options.add_argument(flag)
    if dark:
        options.add_argument("--force-dark-mode")
        options.add_argument("--blink-settings=preferredColorScheme=0")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(executable_path=CHROMEDRIVER, log_path=os.devnull)
    driver = webdriver.Chrome(service=service, options=options)
    driver.set_page_load_timeout(30)
    driver.lc_profile = profile
    return driver


def stop_browser(driver):
    try:
        driver.quit()
    finally:
        shutil.rmtree(getattr(driver, "lc_profile", ""), ignore_errors=True)


def console_errors(driver):
    """The browser console's SEVERE entries so far."""
    return [entry for entry in driver.get_log("browser") if entry.get("level") == "SEVERE"]


def main():
    """For the benchmarks (bench/run.sh's "command round trip with N pages open"):
    python3 tests/integration/web/web_common.py 127.0.0.1:8080 10
    holds 10 pages' event streams open, read as a browser reads them, until interrupted, and
    says once a second how many are open and how many events they got."""
    import argparse
    parser = argparse.ArgumentParser(description=main.__doc__.splitlines()[0])
    parser.add_argument("address", help="api.listen, HOST:PORT")
    parser.add_argument("pages", type=int, nargs="?", default=10)
    args = parser.parse_args()
    streams = EventStreams(args.address)
    streams.open(args.pages)
    try:
        while True:
            time.sleep(1)
            reading = streams.reading()
            print(f"{len(reading)} open, {sum(s.events for s in reading)} events, "
                  f"statuses {sorted({s.status for s in streams.streams if s.status})}", flush=True)
    except KeyboardInterrupt:
        pass
    finally:
        streams.close()


if __name__ == "__main__":
    main()
