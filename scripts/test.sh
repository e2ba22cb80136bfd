#!/usr/bin/env bash
# Installs the dependencies and the test tools, then builds and runs every test:
#   build/       g++, RelWithDebInfo (the binary run.sh runs): unit tests, the fuzz corpora
#                replayed, and the web page's browser and many-pages tests (label "plain_only":
#                they need the daemon's real speed);
#   build-asan/  clang with AddressSanitizer + UndefinedBehaviorSanitizer (-O0 -g1: half the
#                compile time of -O1, and the tests wait on sockets, not on the CPU): unit,
#                integration and fault-injection tests, every libFuzzer target for 10 seconds.
# Each integration test runs once, in the tree where it proves most, to keep the whole run
# well inside 30 minutes on 2 cores.
# Both build trees are kept and reused by the next run. JOBS sets the build parallelism (2).
# The longer checks (TSan, soak, long fuzzing) are in scripts/test-extended.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh --test
jobs="${JOBS:-2}"
started=$SECONDS

cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$jobs"
echo "== plain build done after $((SECONDS - started)) s"
(cd build && ctest --output-on-failure -j2 --timeout 900 -L "unit|plain_only")
echo "== plain tests done after $((SECONDS - started)) s"

cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O0 -g1" -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O0 -g1" \
  -DLOCALCLOUD_SANITIZE=ON >/dev/null
cmake --build build-asan -j"$jobs"
echo "== sanitizer build done after $((SECONDS - started)) s"
(cd build-asan && ctest --output-on-failure -j2 --timeout 900 -LE plain_only)
echo "== all tests passed in $((SECONDS - started)) s"
