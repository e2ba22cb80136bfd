#!/bin/sh
# The localcloud benchmark (docs/bench.md): installs what it needs, builds the release daemon,
# the simulators and the load tools, then runs every scenario and prints one table.
#   ./bench/run.sh            the full run (about 30 minutes)
#   ./bench/run.sh --quick    one run per side, short phases (about 9 minutes)
#   ./bench/run.sh --only miio-udp,timeguard      some scenarios (bench/bench.py --help)
#   ./bench/run.sh --only timeguard-registered,miio-registered,vesync-registered,timeguard-changing,roundtrip-pages
#                             the registered-device rows of issue 15 (all are in the default set)
set -eu
cd "$(dirname "$0")/.."
if [ -z "${LOCALCLOUD_BENCH_NO_INSTALL:-}" ]; then
  scripts/install-deps.sh --bench
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
