#!/bin/sh
# Installs everything localcloud needs to build, run and test on Debian 12 (bookworm).
# Used by the README, .ci/run and docker/Dockerfile. Run as root (no sudo needed).
#   scripts/install-deps.sh          build + run dependencies
#   scripts/install-deps.sh --test   also the test tools (clang for sanitizers and libFuzzer,
#                                    python3 clients used by integration tests)
set -eu
export DEBIAN_FRONTEND=noninteractive
packages="build-essential cmake ninja-build pkg-config ca-certificates tzdata
  libpaho-mqttpp-dev libpaho-mqtt-dev libboost-dev nlohmann-json3-dev libyaml-cpp-dev
  doctest-dev libssl-dev mosquitto"
if [ "${1:-}" = "--test" ]; then
  packages="$packages mosquitto-clients clang libclang-rt-dev python3 python3-paho-mqtt
    python3-websocket procps iproute2"
fi
missing=""
for p in $packages; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  apt-get update
  apt-get install -y --no-install-recommends $missing
fi
