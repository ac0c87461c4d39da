#!/usr/bin/env bash
# fuzz.sh [SECONDS]: builds the libFuzzer harnesses of tests/fuzz in build-fuzz/ (clang,
# ASan+UBSan) and runs each for SECONDS (default 60), as many at once as there are CPUs.
# Each starts from its committed seeds (tests/fuzz/corpus/<name>, never written) plus
# what earlier runs found (build-fuzz/corpus/<name>). Prints the executions per harness;
# a crash, leak, timeout or property failure leaves its input in build-fuzz/crashes/<name>/
# and fails the run (replay it: build-fuzz/tests/fuzz/fuzz_<name> FILE).
set -eu
cd "$(dirname "$0")/.."
secs=${1:-60}
case $secs in '' | *[!0-9]*) echo "usage: tools/fuzz.sh [SECONDS]" >&2; exit 2 ;; esac
"$PWD/tools/deps.sh" --fuzz
fuzzers=(kubeconfig clusters clustercert cert glob clouds iam)
CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCCE_FUZZ=ON -DBUILD_TESTING=OFF >/dev/null
cmake --build build-fuzz -j"$(nproc)" --target "${fuzzers[@]/#/fuzz_}" -- --no-print-directory >/dev/null
out=build-fuzz/runs
rm -rf "$out"
mkdir -p "$out"

run() {
  local f=$1
  mkdir -p "build-fuzz/corpus/$f" "build-fuzz/crashes/$f"
  # -timeout: one input may take 10 s at most, which catches super-linear parsing or matching.
  local rc=0
  "build-fuzz/tests/fuzz/fuzz_$f" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="build-fuzz/crashes/$f/" "build-fuzz/corpus/$f" "tests/fuzz/corpus/$f" >"$out/$f.log" 2>&1 || rc=$?
  echo "$rc" >"$out/$f.rc"
}

running=0
for f in "${fuzzers[@]}"; do
  run "$f" &
  running=$((running + 1))
  if [ "$running" -ge "$(nproc)" ]; then wait -n || true; running=$((running - 1)); fi
done
wait || true

failed=0
printf '%-12s %12s %10s  %s\n' harness executions exec/s result
for f in "${fuzzers[@]}"; do
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out/$f.log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$out/$f.log" | tail -1)
  rc=$(cat "$out/$f.rc")
  result=ok
  if [ "$rc" != 0 ]; then
    failed=1
    result="FAILED (exit $rc): $(ls -t "build-fuzz/crashes/$f" | head -1 | sed "s|^|build-fuzz/crashes/$f/|"), log $out/$f.log"
  fi
  printf '%-12s %12s %10s  %s\n' "$f" "${execs:-?}" "${rate:-?}" "$result"
done
if [ "$failed" != 0 ]; then
  for f in "${fuzzers[@]}"; do
    [ "$(cat "$out/$f.rc")" = 0 ] || { echo "== $f"; grep -E "ERROR|property failed|SUMMARY" "$out/$f.log" | head -5; }
  done >&2
  exit 1
fi
