"""The container files, checked statically (scripts/test-container.sh builds and runs them
with podman). Non-root user, the shared install script in both stages, the ports, the data
volume, a read-only root filesystem in compose, the config path, the health checks."""
import os
import re
import unittest

ROOT = os.environ.get("LOCALCLOUD_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", "..", ".."))


def read(path):
    with open(os.path.join(ROOT, path)) as f:
        return f.read()


class ContainerTest(unittest.TestCase):
    def setUp(self):
        self.dockerfile = read("docker/Dockerfile")
        self.compose = read("docker/compose.yaml")
        self.stages = re.split(r"^FROM ", self.dockerfile, flags=re.M)[1:]

    def test_two_bookworm_stages_using_the_install_script(self):
        self.assertEqual(len(self.stages), 2)
        for stage in self.stages:
            self.assertTrue(stage.startswith("debian:bookworm"), stage.splitlines()[0])
            self.assertIn("install-deps.sh", stage)
        self.assertIn("install-deps.sh --runtime", self.stages[1])
        self.assertTrue(os.access(os.path.join(ROOT, "scripts/install-deps.sh"), os.X_OK))

    def test_runs_as_non_root(self):
        users = re.findall(r"^USER\s+(\S+)", self.stages[1], flags=re.M)
        self.assertTrue(users, "no USER in the final stage")
        self.assertNotIn(users[-1], ("root", "0"))

    def test_ports_config_and_volume(self):
        exposed = set(re.findall(r"(\d+/(?:udp|tcp))", " ".join(re.findall(r"^EXPOSE .*$", self.dockerfile, re.M))))
        self.assertTrue({"8053/udp", "8053/tcp", "17273/tcp", "9997/udp"} <= exposed, exposed)
        self.assertIn("LOCALCLOUD_CONFIG=/config/localcloud.yaml", self.dockerfile)
        self.assertRegex(self.dockerfile, r'VOLUME \["/data"\]')
        self.assertRegex(self.dockerfile, r"ARG JOBS")
        self.assertIn("data_dir: /data", read("docker/localcloud.yaml"))
        self.assertIn("install -d -m 0700 -o localcloud -g localcloud /data", self.stages[1])
        self.assertRegex(self.stages[1], r'HEALTHCHECK .*CMD \["/usr/local/bin/localcloud", "healthcheck"\]')

    def test_compose_read_only_with_data_volume(self):
        service = self.compose[self.compose.index("  localcloud:"):]
        self.assertRegex(service, r"read_only:\s*true")
        self.assertRegex(service, r"-\s*\S+:/data\b")
        self.assertIn(":/config/localcloud.yaml:ro", service)
        # "${VAR:-HOST_PORT}:PORT": published on every address by default, the API on loopback only
        for port in ("8053}:8053/udp", "8053}:8053/tcp", "17273}:17273/tcp", "9997}:9997/udp",
                     ":-127.0.0.1:8080}:8080/tcp"):
            self.assertIn(port, service)
        self.assertRegex(service, r"depends_on:\s*mosquitto:\s*condition: service_healthy")
        self.assertIn('test: ["CMD", "/usr/local/bin/localcloud", "healthcheck"]', service)
        self.assertIn("eclipse-mosquitto:2", self.compose)
        self.assertIn("mosquitto_sub -t '$$SYS/#'", self.compose)


if __name__ == "__main__":
    unittest.main(verbosity=2)
