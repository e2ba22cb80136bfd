#!/bin/sh
# Installs what localcloud needs on Debian 12 (bookworm). Used by the README's commands,
# .ci/run and docker/Dockerfile. Run as root (no sudo needed); only missing packages are
# installed, so a second run is quick.
#   scripts/install-deps.sh            build and run (compiler, libraries, mosquitto)
#   scripts/install-deps.sh --test     also the test tools: clang (ASan/UBSan, libFuzzer),
#                                      mosquitto clients, Python MQTT/websocket clients, and a
#                                      headless Chromium with Selenium for the web page's tests
#   scripts/install-deps.sh --bench    also what the benchmarks use (Node.js for wsload.js; an
#                                      existing node + npm, e.g. NodeSource's, is kept: its nodejs
#                                      conflicts with Debian's npm package). For profiling add
#                                      linux-perf, valgrind or heaptrack by hand.
#   scripts/install-deps.sh --container  --test and podman, buildah, podman-compose, runc (the
#                                      runtime it uses), debootstrap, the CNI name resolution
#                                      compose service names need: scripts/test-container.sh
#   scripts/install-deps.sh --runtime  only the shared libraries the built binary needs
set -eu
export DEBIAN_FRONTEND=noninteractive
build="build-essential cmake ninja-build pkg-config ca-certificates tzdata
  libpaho-mqttpp-dev libpaho-mqtt-dev libboost-dev nlohmann-json3-dev libyaml-cpp-dev
  doctest-dev libssl-dev mosquitto"
runtime="libpaho-mqttpp3-1 libpaho-mqtt1.3 libyaml-cpp0.7 libssl3 ca-certificates tzdata"
testing="mosquitto-clients clang libclang-rt-dev python3 python3-paho-mqtt python3-websocket
  procps iproute2 rsync chromium chromium-driver python3-selenium"
bench="nodejs npm util-linux procps python3 python3-paho-mqtt"
container="podman buildah podman-compose runc debootstrap golang-github-containernetworking-plugin-dnsname
  file"
case "${1:-}" in
  "") packages="$build" ;;
  --test) packages="$build $testing" ;;
  --bench)
    if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
      bench=$(echo "$bench" | sed 's/nodejs npm //')
    fi
    packages="$build $bench" ;;
  --container) packages="$build $testing $container" ;;
  --runtime) packages="$runtime" ;;
  *) echo "usage: $0 [--test|--bench|--container|--runtime]" >&2; exit 2 ;;
esac
missing=""
for p in $packages; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "installing:$missing"
  apt-get update
  # shellcheck disable=SC2086
  apt-get install -y --no-install-recommends $missing
fi
