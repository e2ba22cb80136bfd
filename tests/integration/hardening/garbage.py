"""Garbage on every port, as a separate process (so that the test's own MQTT client and
simulator readers are not starved): random and crafted datagrams, random TCP bytes, half-open
websocket handshakes, slow clients sending one byte a second, oversized frames and connection
floods. Loopback only. Prints one JSON object with what it sent when done.

  garbage.py --duration 15 --udp 8053 --udp 9997 --tcp 8053 --ws 17273 --http 8080 \
             [--udp-rate 3000] [--tcp-rate 300] [--slow 10] [--half-open 40] [--flood 100]
"""
import argparse
import json
import os
import random
import socket
import struct
import threading
import time

HOST = "127.0.0.1"


def crafted_datagrams():
    """Datagrams that look almost right to one of the UDP parsers."""
    out = [b"", b"\x21", b"\x21\x31", b"\x21\x31\x00\x20" + b"\xff" * 8]  # micloudfaker: < 12 bytes
    hello = b"\x21\x31\x00\x20" + b"\xff" * 28
    out.append(hello[:31])                                       # a hello one byte short
    out.append(b"\x21\x31\xff\xff" + os.urandom(60))            # length field far beyond the datagram
    out.append(b"\x21\x31\x00\x10" + os.urandom(28))            # length field shorter than the header
    out.append(b"\x21\x31\x00\x40" + bytes(4) + os.urandom(56))  # did 0, random "encrypted" body
    out.append(b"\x21\x31\x00\x30" + b"\x01\x02\x03\x04" + os.urandom(40))  # random checksum for a known did
    out.append(os.urandom(9000))                                 # beyond the 4096-byte buffers
    # Timeguard-like frames (docs/protocols/timeguard.md §2): start bytes, random type and length.
    for length in (0, 1, 7, 30, 255):
        out.append(b"\xfa\xd4" + os.urandom(2) + bytes([length]) + os.urandom(max(0, length - 3)))
    out.append(b"\xfa\xd4" + os.urandom(200))
    return out


def websocket_frame(payload, opcode=1, length=None):
    """A masked client frame; `length` overrides the length field (oversized claims)."""
    size = len(payload) if length is None else length
    head = bytes([0x80 | opcode])
    if size < 126:
        head += bytes([0x80 | size])
    elif size < 65536:
        head += bytes([0x80 | 126]) + struct.pack(">H", size)
    else:
        head += bytes([0x80 | 127]) + struct.pack(">Q", size)
    mask = os.urandom(4)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


UPGRADE = (b"GET /gnws HTTP/1.1\r\nHost: server2.vesync.com:17273\r\nUpgrade: websocket\r\n"
           b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
           b"Sec-WebSocket-Version: 13\r\ndeviceVersion:5\r\n\r\n")


def tcp_payloads(kind):
    """Random and crafted first bytes for one kind of TCP port."""
    common = [os.urandom(random.randint(1, 3000)), b"\r\n\r\n", b"\x00" * 64]
    if kind == "ws":
        return common + [
            UPGRADE[:40],                                                    # half a head
            b"GET / HTTP/1.1\r\n\r\n",                                       # not an upgrade
            b"GET /gnws HTTP/1.1\r\nUpgrade: websocket\r\n" + b"X: " + b"a" * 9000 + b"\r\n\r\n",
            UPGRADE + websocket_frame(b"", length=1 << 62),                  # absurd length
            UPGRADE + websocket_frame(b"x" * 70000, opcode=2),               # oversized message
            UPGRADE + websocket_frame(os.urandom(100), opcode=2),            # bad AES frame
            UPGRADE + websocket_frame(b'{"uri":"/ka"}'),                     # no login first
            UPGRADE + websocket_frame(b'{"id":"' + b"9" * 200 + b'"}'),      # bad login
            UPGRADE + websocket_frame(os.urandom(20), opcode=random.choice([3, 7, 11])),
            UPGRADE + os.urandom(500),
        ]
    if kind == "http":
        return common + [
            b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n",
            b"POST /metrics HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n" + os.urandom(100),
            b"GET /api/relay?name=%zz&on=%%% HTTP/1.1\r\n\r\n",
            b"GET /api/power?" + b"a=1&" * 3000 + b" HTTP/1.1\r\n\r\n",
            b"GET /devices HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffff\r\n",
            b"GET " + b"/" * 10000 + b" HTTP/1.1\r\n\r\n",
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + os.urandom(200),  # a TLS hello
        ]
    # miio TCP: packets with their 2-byte length (§2.5)
    return common + [
        b"\x21\x31\xff\xff" + os.urandom(200),                            # length 65535, then nothing
        b"\x21\x31\x00\x05" + os.urandom(60),                             # length below the header
        (b"\x21\x31\x00\x20" + b"\xff" * 28) * 40,                        # many hellos at once
        b"\x21\x31\x04\x01" + os.urandom(1021),                           # micloudfaker: over 1024
        b"\x21\x31\x00\x20" + b"\xff" * 10,                               # half a hello
    ]


class Garbage:
    def __init__(self, args):
        self.args = args
        self.stop = threading.Event()
        self.counts = {"udp": 0, "tcp": 0, "tcp_refused": 0, "slow_bytes": 0, "half_open": 0, "flood": 0}
        self.lock = threading.Lock()
        self.held = []  # sockets held open until the end (half-open handshakes, floods)

    def add(self, key, n=1):
        with self.lock:
            self.counts[key] += n

    def udp(self):
        payloads = crafted_datagrams() + [os.urandom(random.randint(1, 1500)) for _ in range(200)]
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setblocking(False)
        period = 1.0 / self.args.udp_rate if self.args.udp_rate else 0
        next_at = time.monotonic()
        i = 0
        while not self.stop.is_set():
            for port in self.args.udp:
                try:
                    sock.sendto(payloads[i % len(payloads)], (HOST, port))
                    self.add("udp")
                except OSError:
                    pass
                i += 1
            next_at += period * len(self.args.udp)
            delay = next_at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            elif delay < -1:
                next_at = time.monotonic()
        sock.close()

    def tcp(self):
        targets = [(p, "miio") for p in self.args.tcp] + [(p, "ws") for p in self.args.ws] + \
                  [(p, "http") for p in self.args.http]
        payloads = {kind: tcp_payloads(kind) for kind in ("miio", "ws", "http")}
        period = 1.0 / self.args.tcp_rate if self.args.tcp_rate else 0
        next_at = time.monotonic()
        i = 0
        while not self.stop.is_set():
            port, kind = targets[i % len(targets)]
            choices = payloads[kind]
            payload = choices[(i // len(targets)) % len(choices)]
            i += 1
            try:
                sock = socket.create_connection((HOST, port), timeout=1)
            except OSError:
                self.add("tcp_refused")
                continue
            try:
                if i % 3 == 0:  # end with a reset instead of a FIN
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                sock.sendall(payload)
                if i % 5 == 0:
                    sock.settimeout(0.05)
                    try:
                        sock.recv(4096)
                    except OSError:
                        pass
                self.add("tcp")
            except OSError:
                pass
            finally:
                sock.close()
            next_at += period
            delay = next_at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            elif delay < -1:
                next_at = time.monotonic()

    def slow(self):
        """Slow clients: every second one more byte of a plausible request on each socket."""
        texts = {"miio": b"\x21\x31\x00\x20" + b"\xff" * 28, "ws": UPGRADE,
                 "http": b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n"}
        clients = []
        for kind, ports in (("miio", self.args.tcp), ("ws", self.args.ws), ("http", self.args.http)):
            for port in ports:
                for _ in range(self.args.slow):
                    try:
                        clients.append([socket.create_connection((HOST, port), timeout=1), texts[kind], 0])
                    except OSError:
                        pass
        while not self.stop.wait(1.0):
            for client in clients:
                sock, text, at = client
                if sock is None or at >= len(text):
                    continue
                try:
                    sock.sendall(text[at:at + 1])
                    client[2] += 1
                    self.add("slow_bytes")
                except OSError:  # the daemon gave up on it: that is fine
                    sock.close()
                    client[0] = None
        for client in clients:
            if client[0] is not None:
                client[0].close()

    def hold(self):
        """Half-open websocket handshakes and connection floods, held until the end."""
        for port in self.args.ws:
            for _ in range(self.args.half_open):
                try:
                    sock = socket.create_connection((HOST, port), timeout=1)
                    sock.sendall(UPGRADE[:random.randint(10, len(UPGRADE) - 4)])
                    self.held.append(sock)
                    self.add("half_open")
                except OSError:
                    pass
        for port in self.args.tcp + self.args.ws + self.args.http:
            for _ in range(self.args.flood):
                try:
                    self.held.append(socket.create_connection((HOST, port), timeout=1))
                    self.add("flood")
                except OSError:
                    pass

    def run(self):
        threads = [threading.Thread(target=f, daemon=True) for f in (self.udp, self.tcp, self.slow)]
        self.hold()
        for t in threads:
            t.start()
        time.sleep(self.args.duration)
        self.stop.set()
        for t in threads:
            t.join(10)
        for sock in self.held:
            sock.close()
        return self.counts


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=float, default=10)
    parser.add_argument("--udp", type=int, action="append", default=[])
    parser.add_argument("--tcp", type=int, action="append", default=[])
    parser.add_argument("--ws", type=int, action="append", default=[])
    parser.add_argument("--http", type=int, action="append", default=[])
    parser.add_argument("--udp-rate", type=float, default=3000)
    parser.add_argument("--tcp-rate", type=float, default=300)
    parser.add_argument("--slow", type=int, default=5)
    parser.add_argument("--half-open", type=int, default=20)
    parser.add_argument("--flood", type=int, default=50)
    args = parser.parse_args()
    counts = Garbage(args).run()
    print(json.dumps(counts), flush=True)


if __name__ == "__main__":
    main()
