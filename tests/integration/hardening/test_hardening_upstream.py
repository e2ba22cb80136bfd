"""Upstream modes connect only to the configured upstream, never to an address taken from
traffic: a vesync outlet whose upgrade request names another host (Host header) and whose
login names another server is still proxied to the configured cloud only; an upstream that
is one of our own listeners is refused; in timeguard fallback mode a cloud frame from any
address but the upstream's reaches no device. And raw Timeguard writes (<key>/set/raw) do not
exist unless allow_raw_commands is true."""
import json
import os
import socket
import sys
import time

import websocket

sys.path.insert(0, os.path.dirname(__file__))
import hardening_common as common  # noqa: E402
from hardening_common import harness, wait_until  # noqa: E402

TIMEGUARD_CLOUD_PADDING = "5f636f"  # "_co": the stand-in cloud's ping replies, not ours


class UpstreamTest(harness.DaemonTest):
    def test_vesync_proxy_goes_to_the_configured_upstream_only(self):
        decoy = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        decoy.bind(("127.0.0.1", 0))
        decoy.listen(16)
        decoy.settimeout(0.1)
        self._cleanup.append(decoy.close)
        decoy_address = "127.0.0.1:%d" % decoy.getsockname()[1]
        cloud = self.sim("vesync", "--upstream-cloud", "127.0.0.1:0")
        cloud_address = cloud.wait(lambda e: e.get("event") == "listening", what="cloud")["address"]
        port = harness.free_port(udp_too=False)
        self.start_daemon(self.base_config(vesync={"enabled": True, "listen": f"127.0.0.1:{port}",
                                                   "upstream": cloud_address}))
        ws = websocket.create_connection(f"ws://127.0.0.1:{port}/gnws", host=decoy_address,
                                         header=["deviceVersion:5"], timeout=10)
        self._cleanup.append(ws.close)
        ws.send(json.dumps({"id": common.VESYNC_ID, "type": "wifi-switch", "relay": "open",
                            "serverIP": "127.0.0.1", "server": decoy_address, "upstream": decoy_address}))
        self.assertEqual(json.loads(ws.recv())["uri"], "/loginReply")
        ws.send(json.dumps({"uri": "/ka", "rssi": -50}))
        cloud.wait(lambda e: e.get("event") == "received" and e.get("side") == "cloud" and e.get("uri") == "/ka",
                   what="/ka proxied to the configured cloud")
        connected = cloud.wait(lambda e: e.get("event") == "cloud_connected", what="cloud connection")
        self.assertEqual(connected["host"], decoy_address)  # the header is repeated, not followed
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            try:
                conn, _ = decoy.accept()
                conn.close()
                self.fail("the daemon connected to an address taken from the device's traffic")
            except socket.timeout:
                pass

    def test_upstream_that_is_our_own_listener_is_refused(self):
        port = harness.free_port(udp_too=False)
        daemon = self.start_daemon(self.base_config(vesync={"enabled": True, "listen": f"127.0.0.1:{port}",
                                                            "upstream": f"127.0.0.1:{port}"}))
        daemon.wait_log(r"upstream 127\.0\.0\.1:%d refused: .*our own listener" % port)
        outlet = self.sim("vesync", "--server", f"127.0.0.1:{port}", "--id", common.VESYNC_ID,
                          "--ka-period", "500ms")
        outlet.wait(lambda e: e.get("uri") == "/kr", what="served locally all the same")
        time.sleep(1.0)
        # One outlet connection, never a second one from ourselves.
        self.assertEqual(self.count_connections(outlet), 1)
        self.assertEqual(common.metric(common.http_get(self.config_api, "/metrics")[1],
                                       "localcloud_vesync_connections"), 1)

    def count_connections(self, outlet):
        with outlet.cond:
            return sum(1 for e in outlet.events if e.get("event") == "connected")

    def start_daemon(self, config, **kwargs):
        self.config_api = config["api"]["listen"]
        return super().start_daemon(config, **kwargs)

    def test_timeguard_cloud_frames_only_from_the_upstream(self):
        port, cloud_port = harness.free_port(), harness.free_port()
        cloud = self.sim("timeguard", "--cloud", "--listen", f"127.0.0.1:{cloud_port}")
        cloud.wait(lambda e: e.get("event") == "started", what="cloud started")
        self.start_daemon(self.base_config(timeguard={
            "enabled": True, "listen": f"127.0.0.1:{port}", "mode": "fallback", "upstream": f"127.0.0.1:{cloud_port}",
            "devices": [{"id": common.TIMEGUARD_ID, "name": "heater"}]}))
        device = self.sim("timeguard", "--server", f"127.0.0.1:{port}", "--id", common.TIMEGUARD_ID,
                          "--ping-interval", "300ms")
        # A frame the real cloud sends (its ping reply), replayed from another address.
        reply = cloud.wait(lambda e: e.get("event") == "sent" and e.get("kind") == "ping_reply", what="cloud reply")
        spoofer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._cleanup.append(spoofer.close)
        for _ in range(50):
            spoofer.sendto(bytes.fromhex(reply["hex"]), ("127.0.0.1", port))
            time.sleep(0.01)
        wait_until(lambda: (common.metric(common.http_get(self.config_api, "/metrics")[1],
                                          "localcloud_packets_dropped_total", bridge="timeguard",
                                          reason="server_frame_from_device") or 0) >= 50, 10,
                   what="the spoofed cloud frames dropped")
        time.sleep(0.5)
        with device.cond:
            foreign = [e for e in device.events if e.get("event") == "received" and e.get("kind") == "ping_reply"
                       and e.get("padding") == TIMEGUARD_CLOUD_PADDING]
        self.assertEqual(foreign, [], "a cloud frame from a non-upstream address reached the device")

    def test_raw_timeguard_writes_only_when_allowed(self):
        port = harness.free_port()
        obs = self.observer()
        self.start_daemon(self.base_config(timeguard={
            "enabled": True, "listen": f"127.0.0.1:{port}", "mode": "local",
            "devices": [{"id": common.TIMEGUARD_ID, "name": "heater"}]}))
        device = self.sim("timeguard", "--server", f"127.0.0.1:{port}", "--id", common.TIMEGUARD_ID,
                          "--ping-interval", "500ms")
        obs.wait("lc/heater/availability", lambda m: m.text() == "online")
        node = f"localcloud_timeguard_{common.TIMEGUARD_ID}"
        obs.wait(f"homeassistant/select/{node}/work_mode/config")
        self.assertIsNone(obs.find(f"homeassistant/+/{node}/raw/config"))
        # A whole frame (a type-8 work mode write) in hex: refused, nothing reaches the device.
        frame = "fad4180000000000080e0100fe000000785634120243782ddf"
        since = time.monotonic()
        obs.publish("lc/heater/set/raw", frame)
        obs.publish("lc/heater/set", json.dumps({"raw": frame}))
        failed = obs.wait_json("lc/bridge/event", lambda e: e.get("type") == "command_failed", since=since)
        self.assertIn("raw", failed["error"])
        time.sleep(1.0)
        with device.cond:
            writes = [e for e in device.events if e.get("event") == "received" and e.get("kind") == "work_mode_write"]
        self.assertEqual(writes, [])


if __name__ == "__main__":
    harness.main()
