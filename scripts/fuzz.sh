#!/usr/bin/env bash
# The fuzzing campaign: runs every libFuzzer target on its committed corpus until it reaches RUNS
# executions or SECONDS seconds, whichever comes first, FUZZ_JOBS targets at a time (2: one per
# core), and prints one Markdown table row per target as it ends (executions, exec/s, coverage and
# features when the corpus was loaded and at the end, corpus, crashes).
#   scripts/fuzz.sh [SECONDS] [RUNS]     defaults: 1200 s, 10,000,000 executions
# Environment: FUZZ_BUILD (the build tree, default build-fuzz: clang, ASan + UBSan at -O1,
# configured here when missing; the test command's build-asan is -O0 and 2-4x slower),
# FUZZ_TARGETS (a space-separated subset, e.g. "miio_codec api_http"), FUZZ_JOBS (targets at a
# time, 2), JOBS (build parallelism).
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
build="${FUZZ_BUILD:-build-fuzz}"
parallel="${FUZZ_JOBS:-2}"
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
# Two campaigns may share a tree: the lock keeps their builds from overlapping.
# shellcheck disable=SC2086
flock "$build/.fuzz-build.lock" cmake --build "$build" -j"${JOBS:-2}" --target $wanted >/dev/null
export ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1

# number_after KEY TEXT: the number after "KEY: " in TEXT (libFuzzer's status lines), or nothing.
number_after() { echo "$2" | grep -o "$1: *[0-9]*" | grep -o '[0-9]*$' || true; }

# run_target fuzz_NAME: one campaign run, its table row on stdout; fails on a crash.
run_target() {
  local name=$1 target=${1#fuzz_} binary scratch log start status=0 elapsed
  binary=$(find "$build/tests" -name "$name" -type f -perm -u+x | head -1)
  scratch="$build/fuzz-scratch/$target"; mkdir -p "$scratch"
  log="$build/fuzz-scratch/$target.log"
  start=$SECONDS
  "$binary" -max_total_time="$seconds" -runs="$runs" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
    -artifact_prefix="$scratch/" "$scratch" "tests/fuzz/corpus/$target" >"$log" 2>&1 || status=$?
  elapsed=$((SECONDS - start))
  local execs inited last crashes corp rate before
  execs=$(number_after stat::number_of_executed_units "$(grep stat::number_of_executed_units "$log" | tail -1)")
  inited=$(grep -E '#[0-9]+.*INITED.*cov:' "$log" | tail -1)
  last=$(grep -E '#[0-9]+.*(DONE|pulse|NEW|REDUCE).*cov:' "$log" | tail -1)
  corp=$(number_after corp "$last")
  crashes=$(ls "$scratch" | grep -c -E '^(crash|leak|timeout|oom)-' || true)
  rate=$(( ${execs:-0} / (elapsed > 0 ? elapsed : 1) ))
  if [ "${FUZZ_MERGE:-0}" = 1 ] && [ "$crashes" -eq 0 ]; then
    before=$(ls "tests/fuzz/corpus/$target" | wc -l)
    "$binary" -merge=1 -rss_limit_mb=2048 -timeout=10 "tests/fuzz/corpus/$target" "$scratch" >"$log.merge" 2>&1 || true
    corp="${corp:-?} (committed corpus $before -> $(ls "tests/fuzz/corpus/$target" | wc -l))"
  fi
  echo "| $target | ${execs:-?} | $rate | $elapsed | $(number_after cov "$inited") -> $(number_after cov "$last") |" \
       "$(number_after ft "$inited") -> $(number_after ft "$last") | ${corp:-?} | $crashes |"
  if [ "$status" -ne 0 ] || [ "$crashes" -ne 0 ]; then
    echo "  -> $target failed: see $log" >&2
    echo "$target" >>"$failures"
  fi
}

failures="$build/fuzz-scratch/failures.$$"
mkdir -p "$build/fuzz-scratch" && : >"$failures"
echo "| target | executions | exec/s | seconds | coverage (cov) start -> end | features (ft) start -> end | corpus | crashes |"
echo "|---|---|---|---|---|---|---|---|"
for name in $wanted; do
  while [ "$(jobs -rp | wc -l)" -ge "$parallel" ]; do wait -n || true; done
  while [ -e "$bench_lock" ]; do sleep 10; done
  run_target "$name" &
done
wait
failed=$(wc -l <"$failures")
rm -f "$failures"
[ "$failed" -eq 0 ]
