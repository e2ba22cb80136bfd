#!/usr/bin/env bash
# Installs the dependencies and the test tools, then builds and runs every test twice:
#   build/       g++, RelWithDebInfo: unit, integration, and the fuzz corpora replayed
#   build-asan/  clang with AddressSanitizer + UndefinedBehaviorSanitizer: unit, integration,
#                and every libFuzzer target for LOCALCLOUD_FUZZ_SECONDS (10) seconds
# Both build trees are kept and reused by the next run. JOBS sets the build parallelism (2).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh --test
jobs="${JOBS:-2}"
started=$SECONDS

cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$jobs"
echo "== plain build done after $((SECONDS - started)) s"
(cd build && ctest --output-on-failure -j2 --timeout 900)
echo "== plain tests done after $((SECONDS - started)) s"

cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -g1" \
  -DLOCALCLOUD_SANITIZE=ON >/dev/null
cmake --build build-asan -j"$jobs"
echo "== sanitizer build done after $((SECONDS - started)) s"
(cd build-asan && ctest --output-on-failure -j2 --timeout 900)
echo "== all tests passed in $((SECONDS - started)) s"
