#!/usr/bin/env bash
# Fleet benchmark (DESIGN.md's targets): certificates for 1,000 clusters with 50 ms of
# added latency at concurrency 32.  Prints, from one run:
#   - cceauto's batch wall time against the ideal 1000 / 32 x 50 ms (target: within 1.15x)
#   - against a sequential curl loop doing the same requests (target: at least 25x faster)
#   - client CPU time per certificate (target: under 0.5 ms) and peak memory
#   - rotate_all.lua end to end on the same fleet (fetch, merge, one save)
# usage: tests/bench/bench_fleet.sh [CCEAUTO]
# environment: N (1000), CONC (32), LATENCY_MS (50), RUNS (3), CURL_N (N: how many
# requests the sequential curl loop makes; a smaller sample is scaled up and said so)
# Exit status 0 whether or not a target is met; 1 when a run fails.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cceauto=${1:-$here/../../build/cceauto}
n=${N:-1000} conc=${CONC:-32} latency=${LATENCY_MS:-50} runs=${RUNS:-3} curl_n=${CURL_N:-$n}
py=/usr/bin/python3
work=$(mktemp -d)
sim_pid=
trap '[ -n "$sim_pid" ] && kill $sim_pid 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT

# Enough clusters that N of them are Available (the simulator makes 8 in 10 Available).
"$py" "$here/../sim/ccesim.py" --quiet --clusters $((n * 5 / 4 + 10)) --latency-ms "$latency" \
  --state-dir "$work/sim" >/dev/null 2>&1 &
sim_pid=$!
for _ in $(seq 400); do [ -s "$work/sim/info.json" ] && break; sleep 0.05; done
field() { "$py" -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$work/sim/info.json" "$1"; }
export CCE_ENDPOINT=$(field endpoint) OS_PROJECT_ID=$(field project_id) OS_AUTH_TOKEN=$(field token) OS_CACERT=$(field ca_file)
unset OS_REGION_NAME KUBECONFIG

echo "fleet benchmark: $n clusters, ${latency} ms added latency, concurrency $conc, $runs runs"
echo "  host: $(nproc) CPUs, load average at start $(cut -d' ' -f1-3 /proc/loadavg)"
ideal=$(awk -v n="$n" -v c="$conc" -v l="$latency" 'BEGIN { printf "%.3f", n / c * l / 1000 }')

walls=() cpus=() peaks=() bcpus=()
for r in $(seq "$runs"); do
  line=$("$cceauto" "$here/fleet_fetch.lua" "$n" "$conc")
  walls+=("$("$py" -c 'import json,sys; print(json.loads(sys.argv[1])["wall"])' "$line")")
  cpus+=("$("$py" -c 'import json,sys; print(json.loads(sys.argv[1])["cpu"])' "$line")")
  peaks+=("$("$py" -c 'import json,sys; print(json.loads(sys.argv[1])["peak_mb"])' "$line")")
  bcpus+=("$("$py" -c 'import json,sys; print(json.loads(sys.argv[1])["cpu_batch"])' "$line")")
  echo "  run $r: $line"
done
med() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { printf "%.3f", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
rng() { printf '%s\n' "$@" | sort -g | awk 'NR == 1 { a = $1 } { b = $1 } END { printf "%.3f..%.3f", a, b }'; }
wall=$(med "${walls[@]}") cpu=$(med "${cpus[@]}") peak=$(med "${peaks[@]}") bcpu=$(med "${bcpus[@]}")

# The simulator's own pace: the same batch with no added latency (what is left of the
# gap to the ideal above is mostly the simulator serving 32 requests at once in Python).
curl -sS --fail --cacert "$OS_CACERT" -X POST -d '{"latency_ms": 0}' "$CCE_ENDPOINT/_sim/config" >/dev/null
zero=$("$cceauto" "$here/fleet_fetch.lua" "$n" "$conc" | "$py" -c 'import json,sys; print(json.load(sys.stdin)["wall"])')
curl -sS --fail --cacert "$OS_CACERT" -X POST -d "{\"latency_ms\": $latency}" "$CCE_ENDPOINT/_sim/config" >/dev/null

# The baseline: a sequential curl loop, one process per request, as a shell script would do it.
ids=$("$cceauto" -e 'local n = 0 for _, c in ipairs(assert(require("cce").client():clusters())) do
  if c.phase == "Available" and n < tonumber(arg[1] or 0) then n = n + 1 print(c.id) end end' /dev/null "$curl_n" 2>/dev/null || true)
[ -n "$ids" ] || ids=$("$cceauto" - "$curl_n" <<<'local n = 0 for _, c in ipairs(assert(require("cce").client():clusters())) do
  if c.phase == "Available" and n < tonumber(arg[1]) then n = n + 1 print(c.id) end end')
t0=$(date +%s.%N)
for id in $ids; do
  curl -sS --fail -o /dev/null --cacert "$OS_CACERT" -H "X-Auth-Token: $OS_AUTH_TOKEN" -H 'Content-Type: application/json' \
    -d '{"duration": 30}' "$CCE_ENDPOINT/api/v3/projects/$OS_PROJECT_ID/clusters/$id/clustercert"
done
t1=$(date +%s.%N)
curl_wall=$(awk -v a="$t0" -v b="$t1" -v s="$curl_n" -v n="$n" 'BEGIN { printf "%.3f", (b - a) * n / s }')

# rotate_all.lua end to end: fetch, merge into a kubeconfig, one save.
kc=$work/kubeconfig
t0=$(date +%s.%N)
"$cceauto" rotate_all.lua --kubeconfig "$kc" --concurrency "$conc" --quiet --output json >"$work/rot.json" || true
t1=$(date +%s.%N)
rot_wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
rot_n=$("$py" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["summary"]["added"])' "$work/rot.json")

awk -v w="$wall" -v i="$ideal" -v c="$curl_wall" -v cpu="$cpu" -v n="$n" -v p="$peak" -v cn="$curl_n" \
    -v wr="$(rng "${walls[@]}")" -v rw="$rot_wall" -v rn="$rot_n" -v z="$zero" -v bc="$bcpu" -v cr="$(rng "${cpus[@]}")" 'BEGIN {
  printf "\ncceauto batch    median %.3f s (range %s)   ideal %.3f s   ratio %.2fx  (target <= 1.15x: %s)\n", w, wr, i, w / i, (w / i <= 1.15 ? "met" : "MISSED")
  printf "                 the same batch with 0 ms added latency takes %.3f s: the simulator'"'"'s own serving time\n", z
  printf "sequential curl  %.3f s for %d requests%s   cceauto is %.1fx faster  (target >= 25x: %s)\n", c, n, (cn < n ? " (scaled from " cn ")" : ""), c / w, (c / w >= 25 ? "met" : "MISSED")
  printf "client CPU       %.3f s user+sys (range %s) for %d certificates = %.3f ms each, start-up and listing the clusters included  (target < 0.5 ms: %s)\n", cpu, cr, n, cpu * 1000 / n, (cpu * 1000 / n < 0.5 ? "met" : "MISSED")
  printf "                 the batch alone: %.3f s = %.3f ms per certificate\n", bc, bc * 1000 / n
  printf "peak memory      %.1f MB (VmHWM)\n", p
  printf "rotate_all.lua   %.3f s end to end for %d clusters (%d added: fetch, merge, one save; every Available cluster of the simulator)\n", rw, rn, rn
}'
echo "  load average at end $(cut -d' ' -f1-3 /proc/loadavg)"
