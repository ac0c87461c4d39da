#!/bin/bash
# Benchmarks what logging in costs (issue 8): AK/SK signing per request, and what a warm
# token cache adds to a run.
#
# usage: tests/bench/bench_auth.sh [BUILD_DIR]   (default build/ of this tree)
# environment: RUNS (default 21; medians are shown)
#
# 1. bench_sign: CPU µs for the headers of one request, AK/SK-signed against the token
#    header alone (the baseline), in one process (target: signing < 20 µs).
# 2. One whole run, `cceauto -e 'client():clusters()'` against the simulator, wall time,
#    RUNS times each way, interleaved: with a token (the baseline: no IAM at all), with a
#    password and a warm cache (a cache file read, no IAM request), with AK/SK (signed),
#    and with a password and no cache (a login every run), for scale.  The figure for the
#    cache is the difference of medians (target: a warm cache adds < 5 ms).
# Reports, does not judge: exit 0 unless a run fails (1) or on a usage error (2).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../../build}
cceauto=$build/cceauto
runs=${RUNS:-21}
[ -x "$cceauto" ] && [ -x "$build/tests/bench_sign" ] || { echo "usage: $0 [BUILD_DIR with cceauto and tests/bench_sign]" >&2; exit 2; }

. "$here/sim.sh"
bench_sim_start --clusters 20

echo "auth benchmark: $(nproc) CPUs, load average at start $(cut -d' ' -f1-3 /proc/loadavg)"
echo
"$build/tests/bench_sign" 200000 5
echo

common=(env -u OS_CLOUD -u OS_AUTH_TOKEN -u OS_TOKEN -u OS_USERNAME -u OS_PASSWORD -u OS_ACCESS_KEY -u OS_SECRET_KEY
  -u OS_PROJECT_NAME CCE_ENDPOINT="$(get endpoint)" OS_AUTH_URL="$(get auth_url)" OS_CACERT="$(get ca_file)"
  OS_REGION_NAME=eu-de OS_PROJECT_ID="$(get project_id)" XDG_CACHE_HOME="$work/cache" CCEAUTO_LOG=error)
token=("${common[@]}" OS_AUTH_TOKEN="$(get token)")
password=("${common[@]}" OS_USERNAME="$(get user)" OS_PASSWORD="$(get password)" OS_USER_DOMAIN_NAME="$(get domain)")
aksk=("${common[@]}" OS_ACCESS_KEY="$(get ak)" OS_SECRET_KEY="$(get sk)")
prog='assert(require("cce").client():clusters())'

"${password[@]}" "$cceauto" -e "$prog"   # warms the cache

one() { # prints the wall ms of one run
  local t0 t1
  t0=$(date +%s%N)
  "$@" "$cceauto" -e "$prog" || { echo "a run failed: $*" >&2; exit 1; }
  t1=$(date +%s%N)
  echo $(((t1 - t0) / 1000))
}
t_tok=() t_warm=() t_aksk=() t_cold=()
for _ in $(seq "$runs"); do
  t_tok+=("$(one "${token[@]}")")
  t_warm+=("$(one "${password[@]}")")
  t_aksk+=("$(one "${aksk[@]}")")
  t_cold+=("$(one "${password[@]}" XDG_CACHE_HOME="$work/cold-$RANDOM$RANDOM")")
done
med() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { printf "%.2f", (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) / 1000 }'; }
rng() { printf '%s\n' "$@" | sort -n | awk 'NR == 1 { a = $1 } { b = $1 } END { printf "%.1f..%.1f", a / 1000, b / 1000 }'; }
logins=$(curl -sS --cacert "$(get ca_file)" "$(get endpoint)/_sim/stats" | "$py" -c 'import json,sys; print(json.load(sys.stdin)["requests"]["iam-tokens"])')
awk -v tok="$(med "${t_tok[@]}")" -v warm="$(med "${t_warm[@]}")" -v ak="$(med "${t_aksk[@]}")" -v cold="$(med "${t_cold[@]}")" \
    -v rt="$(rng "${t_tok[@]}")" -v rw="$(rng "${t_warm[@]}")" -v ra="$(rng "${t_aksk[@]}")" -v rc="$(rng "${t_cold[@]}")" \
    -v n="$runs" -v logins="$logins" 'BEGIN {
  printf "one run listing 20 clusters, wall ms, median of %d (range):\n", n
  printf "  token                      %7.2f  (%s)  baseline\n", tok, rt
  printf "  password, warm cache       %7.2f  (%s)  %+.2f ms  (target < 5 ms: %s)\n", warm, rw, warm - tok, (warm - tok < 5 ? "met" : "MISSED")
  printf "  AK/SK                      %7.2f  (%s)  %+.2f ms\n", ak, ra, ak - tok
  printf "  password, no cache         %7.2f  (%s)  %+.2f ms  (a login per run)\n", cold, rc, cold - tok
  printf "IAM logins seen by the simulator: %d (1 to warm the cache + %d cold runs)\n", logins, n
}'
