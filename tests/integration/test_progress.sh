#!/usr/bin/env bash
# The progress line: on a terminal, done/total, failures, rate and time left on
# stderr; nothing when stderr is not a terminal, nothing with --quiet.
set -u
. "$(dirname "$0")/lib.sh"
command -v script >/dev/null || { echo "script(1) not found (Debian package bsdutils)"; exit 1; }
sim_start --clusters 60 --latency-ms 50
export CCE_ENDPOINT=$SIM_ENDPOINT OS_PROJECT_ID=$SIM_PROJECT OS_AUTH_TOKEN=$SIM_TOKEN OS_CACERT=$SIM_CA
run_tty() { script -qec "$1" /dev/null </dev/null; }

out=$(run_tty "'$CCEAUTO' rotate_all.lua --kubeconfig '$WORK/a' --concurrency 4 --output json 2>&1 >/dev/null")
check "on a terminal: a progress line with done/total and failures" grep -q "cceauto: 48/48 done, 0 failed" <<<"$out"
check "on a terminal: the rate is shown" grep -Eq "[0-9]+/s" <<<"$out"
check "on a terminal: time left is shown while it runs" grep -q "s left" <<<"$out"
check "the line is redrawn in place (carriage returns)" grep -q $'\r' <<<"$out"

out=$(run_tty "'$CCEAUTO' rotate_all.lua --kubeconfig '$WORK/b' --concurrency 4 --quiet --output json 2>&1 >/dev/null")
check "--quiet: no progress line" bash -c "! grep -q 'done,' <<<'$out'"

"$CCEAUTO" rotate_all.lua --kubeconfig "$WORK/c" --concurrency 4 --output json >/dev/null 2>"$WORK/err"
check "stderr not a terminal: no progress line" bash -c "! grep -q 'done,' '$WORK/err'"
check "... and the run itself succeeded" test -s "$WORK/c"
finish
