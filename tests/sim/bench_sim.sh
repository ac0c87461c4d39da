#!/bin/bash
# Measures the CCE simulator's clustercert request rate: REQUESTS POSTs from PARALLEL
# concurrent keep-alive connections (curl --parallel), against a fresh simulator.
#
# usage: tests/sim/bench_sim.sh [REQUESTS [PARALLEL]]     (defaults 3000 and 32)
# prints: simulator: N requests in S s = R req/s
set -euo pipefail

requests=${1:-3000}
parallel=${2:-32}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
sim_pid=
cleanup() {
    if [ -n "$sim_pid" ]; then
        kill "$sim_pid" 2>/dev/null || true
        wait "$sim_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

/usr/bin/python3 "$here/ccesim.py" --quiet >"$work/ready" &
sim_pid=$!
for _ in $(seq 100); do
    [ -s "$work/ready" ] && break
    kill -0 "$sim_pid" 2>/dev/null || { echo "bench_sim: simulator died" >&2; exit 1; }
    sleep 0.1
done
[ -s "$work/ready" ] || { echo "bench_sim: simulator not ready after 10 s" >&2; exit 1; }

read -r endpoint ca_file token project < <(/usr/bin/python3 -c '
import json, sys
info = json.loads(sys.stdin.readline())
print(info["endpoint"], info["ca_file"], info["token"], info["project_id"])' <"$work/ready")
base="$endpoint/api/v3/projects/$project"
cluster=$(curl -sS --fail --cacert "$ca_file" -H "X-Auth-Token: $token" "$base/clusters" |
    /usr/bin/python3 -c '
import json, sys
print(next(c["metadata"]["uid"] for c in json.load(sys.stdin)["items"]
           if c["status"]["phase"] == "Available"))')

# The ?n=[1-N] glob makes N requests; the simulator ignores the query string.
start=$(date +%s.%N)
curl --http1.1 --parallel --parallel-max "$parallel" --no-progress-meter --show-error \
    --cacert "$ca_file" -H "X-Auth-Token: $token" -H "Content-Type: application/json" \
    --data '{"duration": 30}' --output /dev/null \
    --write-out '%{http_code} %{num_connects}\n' \
    "$base/clusters/$cluster/clustercert?n=[1-$requests]" >"$work/results"
end=$(date +%s.%N)

read -r ok connections < <(awk '$1 == 200 { ok++ } { conns += $2 } END { print ok + 0, conns + 0 }' \
    "$work/results")
if [ "$ok" -ne "$requests" ]; then
    echo "bench_sim: only $ok of $requests requests answered 200:" >&2
    sort "$work/results" | uniq -c >&2
    exit 1
fi
echo "bench_sim: $connections TLS connections for $requests requests" >&2
awk -v n="$requests" -v s="$start" -v e="$end" \
    'BEGIN { printf "simulator: %d requests in %.2f s = %.0f req/s\n", n, e - s, n / (e - s) }'
