#!/bin/sh
# The localcloud benchmark (docs/bench.md): installs what it needs, builds the release daemon,
# the simulators and the load tools, then runs every scenario and prints one table.
#   ./bench/run.sh            the full run (about 20 minutes)
#   ./bench/run.sh --quick    one run per side, short phases (about 6 minutes)
#   ./bench/run.sh --only miio-udp,timeguard      some scenarios (bench/bench.py --help)
set -eu
cd "$(dirname "$0")/.."
if [ -z "${LOCALCLOUD_BENCH_NO_INSTALL:-}" ]; then
  if command -v npm >/dev/null 2>&1 &&
     ! dpkg-query -W -f='${Status}' npm 2>/dev/null | grep -q "install ok installed"; then
    # Node.js from outside Debian (NodeSource's nodejs carries npm and conflicts with Debian's
    # npm package): the build dependencies, and the MQTT client the driver needs.
    scripts/install-deps.sh
    /usr/bin/python3 -c "import paho.mqtt.client" 2>/dev/null ||
      { apt-get update && apt-get install -y --no-install-recommends python3-paho-mqtt; }
  else
    scripts/install-deps.sh --bench
  fi
fi
cmake -S . -B build-release -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_CXX_FLAGS_RELEASE="-O2 -g -DNDEBUG" -DLOCALCLOUD_TESTS=OFF >/dev/null
cmake --build build-release -j2 --target localcloud localcloud-sim
mkdir -p build-release/bench-tools
for tool in udpload tcpconns refserver; do
  if [ ! -x "build-release/bench-tools/$tool" ] || [ "bench/tools/$tool.c" -nt "build-release/bench-tools/$tool" ] ||
     [ bench/tools/proto.h -nt "build-release/bench-tools/$tool" ]; then
    cc -O2 -Wall -o "build-release/bench-tools/$tool" "bench/tools/$tool.c"
  fi
done
if [ ! -d bench/tools/node_modules/ws ]; then
  (cd bench/tools && npm install --no-audit --no-fund --loglevel=error)
fi
# 10,000 connections on each side need more descriptors than the usual soft limit.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
# Debian's python3 (python3-paho-mqtt), not whatever python3 comes first on PATH.
exec /usr/bin/python3 bench/bench.py "$@"
