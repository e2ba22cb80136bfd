#!/usr/bin/env bash
# Installs the dependencies, builds localcloud and runs it with config/localcloud.yaml
# (or $LOCALCLOUD_CONFIG). When nothing listens on 127.0.0.1:1883, a local mosquitto is
# started there first. Extra arguments go to `localcloud run` (e.g. --log-level debug).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"${JOBS:-2}" --target localcloud

listening() { timeout 1 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }
if ! listening 1883; then
  echo "no broker on 127.0.0.1:1883: starting mosquitto there"
  mosquitto -d -c scripts/mosquitto-local.conf
  for _ in $(seq 50); do listening 1883 && break; sleep 0.1; done
fi
exec build/app/localcloud run --config "${LOCALCLOUD_CONFIG:-config/localcloud.yaml}" "$@"
