#!/usr/bin/env bash
# The extended tests, beyond ./scripts/test.sh (docs/hardening.md). On a 2-core machine about
# 3 h in all: the TSan build ~25 min and its integration run ~10 min, the soak 30 min, the fuzzing
# campaign about 1.5 h (up to 20 min per target, two at a time).
#   tsan  build-tsan/ (clang, ThreadSanitizer): the daemon, the simulators and localcloud-testd,
#         then every integration test against them; any ThreadSanitizer report outside
#         tests/tsan.supp (which names only the Paho libraries) fails the run
#   soak  tests/soak/soak.py: 300 simulated devices across the three bridges for SOAK_MINUTES
#         (30) against the plain build (build/); RSS and descriptors printed every minute
#   fuzz  scripts/fuzz.sh FUZZ_SECONDS FUZZ_RUNS (1200 s or 10,000,000 executions per target)
#         in build-fuzz/ (ASan + UBSan at -O1), two targets at a time, under nice -n 19
#   container  scripts/test-container.sh: the image built with podman and run alone and with
#         docker/compose.yaml beside mosquitto, simulated devices switched through it (3-8 min
#         after a source change; 14 min when it must install podman and make the base images)
#   scripts/test-extended.sh [tsan] [soak] [fuzz] [container]   (no argument: all four, in that order)
# Build trees: TSAN_BUILD (build-tsan), SOAK_BUILD (build), FUZZ_BUILD (build-fuzz); JOBS (2).
set -euo pipefail
cd "$(dirname "$0")/.."
steps="${*:-tsan soak fuzz container}"
jobs="${JOBS:-2}"
started=$SECONDS
failed=""
./scripts/install-deps.sh --test

run_tsan() {
  local build="${TSAN_BUILD:-build-tsan}"
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g" -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -g" \
    -DLOCALCLOUD_TSAN=ON -DLOCALCLOUD_FUZZ=OFF >/dev/null
  cmake --build "$build" -j"$jobs" --target localcloud localcloud-sim localcloud-testd
  echo "== tsan build done after $((SECONDS - started)) s"
  local reports="$PWD/$build/tsan-reports"
  rm -rf "$reports" && mkdir -p "$reports"
  local tests
  tests=$(find tests/integration -name 'test_*.py' | sort)
  # Each process writes its reports to $reports/tsan.<pid>; halt_on_error=0 lets a test go on.
  export TSAN_OPTIONS="suppressions=$PWD/tests/tsan.supp:log_path=$reports/tsan:halt_on_error=0:history_size=4"
  export LOCALCLOUD_BIN="$build/app/localcloud" LOCALCLOUD_SIM="$build/app/localcloud-sim" \
    LOCALCLOUD_TESTD="$build/tests/localcloud-testd" LOCALCLOUD_SOURCE_DIR="$PWD" PYTHONDONTWRITEBYTECODE=1
  local log="$build/tsan-integration.log"
  : >"$log"
  local status=0
  # shellcheck disable=SC2086
  printf '%s\n' $tests | xargs -P 2 -I{} sh -c \
    'if /usr/bin/python3 {} >"$0/$(basename {} .py).out" 2>&1; then echo "passed {}"; else echo "FAILED {} (see $0/$(basename {} .py).out)"; fi' \
    "$reports" | tee -a "$log" || true
  grep -q '^FAILED' "$log" && status=1
  local found
  found=$(grep -l "WARNING: ThreadSanitizer" "$reports"/tsan.* 2>/dev/null || true)
  if [ -n "$found" ]; then
    echo "== ThreadSanitizer reports outside tests/tsan.supp:"
    for file in $found; do echo "---- $file"; head -60 "$file"; done
    status=1
  else
    echo "== no ThreadSanitizer report outside tests/tsan.supp"
  fi
  unset TSAN_OPTIONS
  echo "== tsan done after $((SECONDS - started)) s"
  return "$status"
}

run_soak() {
  local build="${SOAK_BUILD:-build}"
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$build" -j"$jobs" --target localcloud localcloud-sim
  LOCALCLOUD_BIN="$build/app/localcloud" LOCALCLOUD_SIM="$build/app/localcloud-sim" \
    /usr/bin/python3 tests/soak/soak.py --minutes "${SOAK_MINUTES:-30}"
  echo "== soak done after $((SECONDS - started)) s"
}

run_fuzz() {
  nice -n 19 ./scripts/fuzz.sh "${FUZZ_SECONDS:-1200}" "${FUZZ_RUNS:-10000000}"
  echo "== fuzzing done after $((SECONDS - started)) s"
}

for step in $steps; do
  case "$step" in
    tsan) run_tsan || failed="$failed tsan" ;;
    soak) run_soak || failed="$failed soak" ;;
    fuzz) run_fuzz || failed="$failed fuzz" ;;
    container) JOBS="$jobs" SIM_BUILD="${SOAK_BUILD:-build}" ./scripts/test-container.sh || failed="$failed container" ;;
    *) echo "usage: $0 [tsan] [soak] [fuzz] [container]" >&2; exit 2 ;;
  esac
done
if [ -n "$failed" ]; then
  echo "== extended tests FAILED:$failed (after $((SECONDS - started)) s)"
  exit 1
fi
echo "== extended tests passed in $((SECONDS - started)) s"
