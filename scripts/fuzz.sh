#!/usr/bin/env bash
# Runs every libFuzzer target of the clang sanitizer build (build-asan) on its committed corpus
# until it reaches RUNS executions or SECONDS seconds, whichever comes first, and prints one
# Markdown table row per target (executions, exec/s, coverage, features, corpus, crashes).
#   scripts/fuzz.sh [SECONDS] [RUNS]     defaults: 1200 s, 10,000,000 executions
# Environment: FUZZ_BUILD (the build tree, default build-asan; configured here when missing),
# FUZZ_TARGETS (a space-separated subset, e.g. "miio_codec api_http"), JOBS (build parallelism).
# While /tmp/localcloud-bench.lock exists (a benchmark is measuring) no target is started; the
# script waits and checks again before each target (FUZZ_BENCH_LOCK names another file). Run it
# under `nice -n 19` on a shared machine.
# New inputs found go to $FUZZ_BUILD/fuzz-scratch/<target>/; with FUZZ_MERGE=1 those that add
# coverage are merged into the committed corpus tests/fuzz/corpus/<target>/ afterwards
# (libFuzzer's -merge=1, which keeps the corpus small). A crash leaves crash-* in the scratch
# directory and fails the script: copy it into the corpus once fixed, as a regression input.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-1200}"
runs="${2:-10000000}"
build="${FUZZ_BUILD:-build-asan}"
bench_lock="${FUZZ_BENCH_LOCK:-/tmp/localcloud-bench.lock}"
if [ ! -f "$build/build.ninja" ]; then
  ./scripts/install-deps.sh --test
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang \
    -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" \
    -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -g1" -DLOCALCLOUD_SANITIZE=ON >/dev/null
fi
all_targets=$(ninja -C "$build" -t targets all | grep -o '^fuzz_[a-z0-9_]*' | sort -u)
if [ -n "${FUZZ_TARGETS:-}" ]; then
  wanted=""
  for target in $FUZZ_TARGETS; do wanted="$wanted fuzz_$target"; done
else
  wanted="$all_targets"
fi
# shellcheck disable=SC2086
cmake --build "$build" -j"${JOBS:-2}" --target $wanted >/dev/null
export ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
failed=0
echo "| target | executions | exec/s | seconds | coverage (cov) | features (ft) | corpus | crashes |"
echo "|---|---|---|---|---|---|---|---|"
for name in $wanted; do
  binary=$(find "$build/tests" -name "$name" -type f -perm -u+x | head -1)
  target=${name#fuzz_}
  while [ -e "$bench_lock" ]; do sleep 10; done
  scratch="$build/fuzz-scratch/$target"; mkdir -p "$scratch"
  log="$build/fuzz-scratch/$target.log"
  start=$SECONDS
  status=0
  "$binary" -max_total_time="$seconds" -runs="$runs" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
    -artifact_prefix="$scratch/" "$scratch" "tests/fuzz/corpus/$target" >"$log" 2>&1 || status=$?
  elapsed=$((SECONDS - start))
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  last=$(grep -E '#[0-9]+.*(DONE|pulse|NEW|REDUCE).*cov:' "$log" | tail -1)
  cov=$(echo "$last" | grep -o 'cov: [0-9]*' | grep -o '[0-9]*' || true)
  ft=$(echo "$last" | grep -o 'ft: [0-9]*' | grep -o '[0-9]*' || true)
  corp=$(echo "$last" | grep -o 'corp: [0-9]*' | grep -o '[0-9]*' || true)
  crashes=$(ls "$scratch" | grep -c -E '^(crash|leak|timeout|oom)-' || true)
  rate=$(( ${execs:-0} / (elapsed > 0 ? elapsed : 1) ))
  if [ "${FUZZ_MERGE:-0}" = 1 ] && [ "$crashes" -eq 0 ]; then
    before=$(ls "tests/fuzz/corpus/$target" | wc -l)
    "$binary" -merge=1 -rss_limit_mb=2048 -timeout=10 "tests/fuzz/corpus/$target" "$scratch" >"$log.merge" 2>&1 || true
    corp="${corp:-?} (committed corpus $before -> $(ls "tests/fuzz/corpus/$target" | wc -l))"
  fi
  echo "| $target | ${execs:-?} | $rate | $elapsed | ${cov:-?} | ${ft:-?} | ${corp:-?} | $crashes |"
  if [ "$status" -ne 0 ] || [ "$crashes" -ne 0 ]; then failed=1; echo "  -> $target failed: see $log" >&2; fi
done
exit "$failed"
