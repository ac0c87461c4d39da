#!/bin/bash
# Benchmarks a warm call of the kubectl exec plugin (issue 9: under 5 ms wall from exec to
# exit on a warm cache).
#
# usage: tests/bench/bench_credential.sh [BUILD_DIR]   (default build/ of this tree)
# environment: RUNS (default 101; medians are shown)
#
# Starts the simulator, fills the plugin's cache for one cluster (one cold call), then
# times, interleaved, RUNS runs each of:
#   cceauto -e ''                          the bare interpreter: the floor (baseline)
#   cceauto credential.lua --cluster-id ID a warm call: the ExecCredential from the cache
#   cceauto -e 'require "cce"'             what loading the full module (libcurl, OpenSSL's
#                                          TLS) would cost, which the warm path avoids
# Wall time of fork+exec+exit, measured by a small Python loop around each process.
# Reports, does not judge: exit 0 unless a run fails (1) or on a usage error (2).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../../build}
cceauto=$build/cceauto
runs=${RUNS:-101}
[ -x "$cceauto" ] || { echo "usage: $0 [BUILD_DIR with cceauto]" >&2; exit 2; }

. "$here/sim.sh"
bench_sim_start --clusters 3
export CCE_ENDPOINT=$(get endpoint) OS_CACERT=$(get ca_file) OS_REGION_NAME=eu-de OS_PROJECT_ID=$(get project_id)
export OS_AUTH_TOKEN=$(get token) XDG_CACHE_HOME=$work/cache
unset OS_CLOUD KUBERNETES_EXEC_INFO
id=$("$cceauto" -e 'for _, c in ipairs(assert(require("cce").client():clusters())) do
  if c.phase == "Available" then print(c.id) break end end')
"$cceauto" credential.lua --cluster-id "$id" >/dev/null   # the cold call fills the cache

echo "exec plugin benchmark: $(nproc) CPUs, load average at start $(cut -d' ' -f1-3 /proc/loadavg)"
"$py" - "$cceauto" "$id" "$runs" <<'PY'
import subprocess, sys, time
cceauto, cid, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
cmds = {
    "bare": [cceauto, "-e", ""],
    "warm": [cceauto, "credential.lua", "--cluster-id", cid],
    "cce": [cceauto, "-e", "require 'cce'"],
}
times = {k: [] for k in cmds}
for _ in range(runs):
    for k, cmd in cmds.items():
        t0 = time.perf_counter()
        r = subprocess.run(cmd, stdout=subprocess.DEVNULL)
        times[k].append((time.perf_counter() - t0) * 1000)
        if r.returncode != 0:
            sys.exit("a run failed: %s" % " ".join(cmd))
def med(v):
    v = sorted(v)
    return v[len(v) // 2]
def rng(v):
    v = sorted(v)
    return "%.2f..%.2f" % (v[len(v) // 10], v[len(v) * 9 // 10])
b, w, c = med(times["bare"]), med(times["warm"]), med(times["cce"])
print("wall ms per process, median of %d (10th..90th percentile):" % runs)
print("  cceauto -e ''                  %6.2f  (%s)  baseline" % (b, rng(times["bare"])))
print("  credential.lua, warm cache     %6.2f  (%s)  %.2fx the baseline, +%.2f ms  (target < 5 ms: %s)"
      % (w, rng(times["warm"]), w / b, w - b, "met" if w < 5 else "MISSED"))
print("  cceauto -e 'require \"cce\"'     %6.2f  (%s)  what loading libcurl and TLS would add" % (c, rng(times["cce"])))
PY
