"""MIoT plugs end to end (docs/protocols/miio.md "MIoT over the local protocol"): a shipped
definition, a user definition from miio.models, and an unknown model that is probed, each with
a real mosquitto, the built daemon and `localcloud-sim miio` answering from the same data."""
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import harness  # noqa: E402
from miio_common import DID, MiioTest  # noqa: E402

NODE = f"localcloud_miio_{DID}"

# A user definition: in the daemon's miio.models and in the simulator's --models file.
USER_MODEL = {
    "model": "acme.plug.p1",
    "protocol": "miot",
    "description": "a plug defined in the config",
    "properties": [
        {"key": "power", "component": "switch", "siid": 2, "piid": 1, "format": "bool", "main": True,
         "device_class": "outlet"},
        {"key": "load_power", "component": "sensor", "siid": 11, "piid": 2, "format": "uint32", "scale": 0.01,
         "device_class": "power", "unit": "W", "state_class": "measurement"},
    ],
}


class MiotPlugTest(MiioTest):
    def check_plug(self, obs, sim, model, sensors):
        """Discovery with the switch and sensors, OFF and ON through set_properties, power scaled."""
        switch = obs.wait_json(f"homeassistant/switch/{NODE}/power/config", timeout=15)
        self.assertEqual(switch["command_topic"], "lc/plug/set/power")
        self.assertEqual(switch["device"]["model"], model)
        for key, (device_class, unit) in sensors.items():
            sensor = obs.wait_json(f"homeassistant/sensor/{NODE}/{key}/config")
            self.assertEqual(sensor["device_class"], device_class, key)
            self.assertEqual(sensor["unit_of_measurement"], unit, key)
        obs.wait_json("lc/plug", lambda s: s.get("power") == "ON", timeout=15)
        for request in self.events(sim, "received", method="get_properties"):
            self.assertLessEqual(len(request["params"]), 15)
            self.assertTrue(all(isinstance(e["did"], str) and e["did"] for e in request["params"]))

        obs.publish("lc/plug/set/power", "OFF")
        received = sim.wait(lambda e: e.get("event") == "received" and e.get("method") == "set_properties",
                            what="set_properties at the plug")
        self.assertEqual([(e["siid"], e["piid"], e["value"]) for e in received["params"]], [(2, 1, False)])
        obs.wait_json("lc/plug", lambda s: s.get("power") == "OFF", timeout=5)
        obs.publish("lc/plug/set/power", "ON")
        sim.wait(lambda e: e.get("event") == "received" and e.get("method") == "set_properties"
                 and e["params"][0].get("value") is True, what="set_properties power true")
        obs.wait_json("lc/plug", lambda s: s.get("power") == "ON", timeout=5)

    def test_a_shipped_miot_plug(self):
        obs = self.observer()
        sim = self.strip(model="cuco.plug.cp1m")
        self.start_daemon(self.base_config(miio=self.miio([self.device(name="plug", model="cuco.plug.cp1m")])))
        self.check_plug(obs, sim, "cuco.plug.cp1m", {"load_power": ("power", "W"), "voltage": ("voltage", "V"),
                                                      "current": ("current", "A"), "energy": ("energy", "kWh")})
        sim.send(f"set {DID} load_power 2305")  # uint16, scale 0.1
        obs.wait_json("lc/plug", lambda s: s.get("load_power") == 230.5, timeout=5)

    def test_a_user_defined_model_from_the_config(self):
        models = os.path.join(self.workdir, "models.yaml")
        with open(models, "w") as f:
            f.write(harness.to_yaml({"models": [USER_MODEL]}) + "\n")
        obs = self.observer()
        sim = self.strip("--models", models, model="acme.plug.p1")
        self.start_daemon(self.base_config(miio=self.miio([self.device(name="plug", model="acme.plug.p1")],
                                                          models=[USER_MODEL])))
        self.check_plug(obs, sim, "acme.plug.p1", {"load_power": ("power", "W")})
        sim.send(f"set {DID} load_power 12345")  # scale 0.01
        obs.wait_json("lc/plug", lambda s: s.get("load_power") == 123.45, timeout=5)

    def test_an_unknown_miot_model_gets_the_probed_power_switch_and_a_warning(self):
        obs = self.observer()
        sim = self.strip(model="acme.plug.x9", device_extra=",protocol=miot")
        daemon = self.start_daemon(self.base_config(miio=self.miio([self.device(name="plug", model="acme.plug.x9")])))
        switch = obs.wait_json(f"homeassistant/switch/{NODE}/power/config", timeout=15)
        self.assertEqual(switch["device"]["model"], "acme.plug.x9")
        obs.wait_json("lc/plug", lambda s: s.get("power") == "ON", timeout=10)
        daemon.wait_log(r'model "acme\.plug\.x9" has no definition and does not answer the fallback read')
        self.assertIn("- { model: acme.plug.x9, protocol: miot", daemon.log())
        self.assertEqual(daemon.log().count("answers MIoT get_properties siid 2 piid 1"), 1)
        obs.publish("lc/plug/set/power", "OFF")
        sim.wait(lambda e: e.get("event") == "received" and e.get("method") == "set_properties",
                 what="set_properties at the probed plug")
        obs.wait_json("lc/plug", lambda s: s.get("power") == "OFF", timeout=5)


if __name__ == "__main__":
    harness.main()
