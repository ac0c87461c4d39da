#!/bin/bash
# Benchmarks the rotation check over a large kubeconfig against the design's target:
# "Rotation check over an existing kubeconfig of 10,000 contexts with nothing to renew:
# under 1.5 s and under 200 MB peak memory; faster than `kubectl config view --raw` on
# the same file."
#
# usage: tests/bench/bench_kubeconfig.sh [CCEAUTO [N]]    (defaults build/cceauto of this tree, 10000)
# environment: RUNS (default 5), RENEW_WITHIN_DAYS (default 21; the generated
# certificates have 30..400 days left, so nothing is due), POOL (distinct client
# certificates, reused round-robin; default 200, POOL=N gives every user its own -
# use that to check that a cache keyed on certificate bytes is not flattering the result)
#
# Generates one kubeconfig of N contexts (gen_kubeconfig.py) in a temporary directory,
# then runs, interleaved and after one untimed warm-up each, RUNS times
#   cceauto rotation_check.lua FILE RENEW_WITHIN_DAYS
#   kubectl --kubeconfig FILE config view --raw >/dev/null       (HOME = the temp dir)
# and prints a report.  Wall times come from `date +%s.%N` around each command; the
# phase breakdown (CPU seconds) and cceauto's peak memory (VmHWM) from the script's JSON
# line; kubectl's peak memory from `/usr/bin/time -f %M` when that exists.
#
# Exit status: 0 whether or not a target is met (a benchmark reports, it does not
# judge); 1 when cceauto fails, its counts are wrong (contexts != N, a certificate due
# for renewal, a file written by the unchanged save) or the file changed under it;
# 2 on a usage or setup error.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cceauto=${1:-$here/../../build/cceauto}
n=${2:-10000}
runs=${RUNS:-5}
window=${RENEW_WITHIN_DAYS:-21}
pool=${POOL:-200}
py=/usr/bin/python3

die() { echo "bench_kubeconfig: $1" >&2; exit "${2:-1}"; }
[[ "$n" =~ ^[1-9][0-9]*$ ]] || die "N must be a positive integer, not '$n'" 2
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive integer, not '$runs'" 2
[[ "$pool" =~ ^[1-9][0-9]*$ ]] || die "POOL must be a positive integer, not '$pool'" 2
[ -x "$cceauto" ] || die "no executable cceauto at '$cceauto' (build it: cmake --build build)" 2
[ -x "$py" ] || die "$py is needed to generate the kubeconfig" 2

loadavg_start=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo n/a)

work=$(mktemp -d "${TMPDIR:-/tmp}/bench_kubeconfig.XXXXXX")
trap 'rm -rf "$work"' EXIT
kc="$work/kubeconfig.yaml"

timebin=
[ -x /usr/bin/time ] && timebin=/usr/bin/time
kubectl=$(command -v kubectl || true)

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.4f\n", b - a }'; }
# median/min/max of the numbers on stdin, one a line: prints "median min max"
stats() {
    sort -g | awk '{ v[NR] = $1 } END {
        if (NR == 0) { print "n/a n/a n/a"; exit }
        m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
        printf "%.3f %.3f %.3f\n", m, v[1], v[NR] }'
}

# --- the file, once
t0=$(now)
"$py" "$here/gen_kubeconfig.py" "$kc" "$n" "$pool" 2>"$work/gen.log" || { cat "$work/gen.log" >&2; die "gen_kubeconfig.py failed" 2; }
t1=$(now)
gen_s=$(elapsed "$t0" "$t1")
gen_note=$(sed -e "s/^.*bytes; //" "$work/gen.log")
file_bytes=$(stat -c %s "$kc")
sum_before=$(sha256sum "$kc" | cut -d' ' -f1)
mtime_before=$(stat -c %Y.%y "$kc")

# --- one cceauto run: appends its wall time and JSON line; dies on any failure
cce_run() { # $1 = run label ("warmup" or a number)
    local out="$work/cce.$1.json" err="$work/cce.$1.err" rss="$work/cce.$1.rss" s e rc=0 copy=()
    # The warm-up also writes the whole document to a copy (its own figure, not part of the check).
    [ "$1" = warmup ] && copy=("$work/copy.yaml")
    s=$(now)
    if [ -n "$timebin" ]; then
        "$timebin" -f %M -o "$rss" "$cceauto" "$here/rotation_check.lua" "$kc" "$window" "${copy[@]}" >"$out" 2>"$err" || rc=$?
    else
        "$cceauto" "$here/rotation_check.lua" "$kc" "$window" "${copy[@]}" >"$out" 2>"$err" || rc=$?
    fi
    e=$(now)
    if [ "$rc" -ne 0 ]; then
        cat "$err" >&2
        die "cceauto run $1 failed (exit $rc)"
    fi
    # The counts must be right, whatever the timings.
    if "$py" - "$out" "$n" "$1" <<'EOF'
import json, sys
r = json.loads(open(sys.argv[1]).read())
n = int(sys.argv[2])
bad = []
want_full = 1 if sys.argv[3] == "warmup" else -1
for key, want in (("contexts", n), ("checked", n), ("renew", 0),
                  ("save_unchanged_files_written", 0), ("full_write_files_written", want_full)):
    if r.get(key) != want:
        bad.append("%s = %r, expected %r" % (key, r.get(key), want))
if want_full == 1 and r.get("full_write_bytes", 0) <= 0:
    bad.append("the forced full write produced an empty file")
for b in bad:
    sys.stderr.write("bench_kubeconfig: " + b + "\n")
sys.exit(1 if bad else 0)
EOF
    then :; else
        sed -e 's/^/  /' "$out" >&2
        die "cceauto run $1: wrong result (above, with its JSON line)"
    fi
    [ "$1" = warmup ] || elapsed "$s" "$e" >>"$work/cce.wall"
}

kubectl_run() {
    local rss="$work/kubectl.$1.rss" s e rc=0
    s=$(now)
    if [ -n "$timebin" ]; then
        HOME="$work" "$timebin" -f %M -o "$rss" "$kubectl" --kubeconfig "$kc" config view --raw >/dev/null 2>"$work/kubectl.err" || rc=$?
    else
        HOME="$work" "$kubectl" --kubeconfig "$kc" config view --raw >/dev/null 2>"$work/kubectl.err" || rc=$?
    fi
    e=$(now)
    if [ "$rc" -ne 0 ]; then
        echo "bench_kubeconfig: kubectl run $1 failed (exit $rc), leaving it out:" >&2
        sed -e 's/^/  /' "$work/kubectl.err" >&2
        return 0
    fi
    [ "$1" = warmup ] || elapsed "$s" "$e" >>"$work/kubectl.wall"
}

# --- the runs, interleaved so that drift in the machine's load hits both alike
: >"$work/cce.wall"
: >"$work/kubectl.wall"
cce_run warmup
if [ -n "$kubectl" ]; then kubectl_run warmup; fi
for i in $(seq "$runs"); do
    cce_run "$i"
    if [ -n "$kubectl" ]; then kubectl_run "$i"; fi
done
loadavg_end=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo n/a)

# The unchanged saves must not have touched the file.
sum_after=$(sha256sum "$kc" | cut -d' ' -f1)
mtime_after=$(stat -c %Y.%y "$kc")
[ "$sum_before" = "$sum_after" ] || die "the kubeconfig's content changed during the runs"
file_note="unchanged (same sha256 and mtime)"
[ "$mtime_before" = "$mtime_after" ] || file_note="content unchanged, but its mtime changed"

read -r cce_med cce_min cce_max < <(stats <"$work/cce.wall")
read -r k_med k_min k_max < <(stats <"$work/kubectl.wall")

k_rss="n/a"
cce_rss_ext="n/a"
if [ -n "$timebin" ]; then
    # %M is in kB
    cce_rss_ext=$(cat "$work"/cce.[0-9]*.rss 2>/dev/null | awk '$1 ~ /^[0-9]+$/ { if ($1 > m) m = $1 } END { if (m) printf "%.1f", m / 1024; else print "n/a" }')
    if [ "$(wc -l <"$work/kubectl.wall")" -gt 0 ]; then
        k_rss=$(cat "$work"/kubectl.[0-9]*.rss 2>/dev/null | awk '$1 ~ /^[0-9]+$/ { if ($1 > m) m = $1 } END { if (m) printf "%.1f", m / 1024; else print "n/a" }')
    fi
fi

# --- the report
"$py" - "$work" "$runs" <<EOF
import glob, json, os, statistics, sys
work, runs = sys.argv[1], int(sys.argv[2])
rs = [json.load(open(p)) for p in sorted(glob.glob(os.path.join(work, "cce.[0-9]*.json")))]
warm = json.load(open(os.path.join(work, "cce.warmup.json")))
n, file_bytes = $n, $file_bytes
cce_med, cce_min, cce_max = $cce_med, $cce_min, $cce_max
k = "$k_med $k_min $k_max".split()
k_med, k_min, k_max = (None, None, None) if k[0] == "n/a" else map(float, k)
k_rss = "$k_rss"
peaks = [r["peak_mb"] for r in rs]
peak = max(peaks)

def mmm(xs):
    return statistics.median(xs), min(xs), max(xs)

print("cceauto kubeconfig benchmark")
print("  host: %d CPUs; load average at start %s, at end %s" % (os.cpu_count(), "$loadavg_start", "$loadavg_end"))
print("  file: %d contexts/clusters/users, %d bytes (%.1f MB); generated in %s s" % (n, file_bytes, file_bytes / 1e6, "$gen_s"))
print("        %s" % "$gen_note")
print("        after all runs: %s" % "$file_note")
print("  runs: %d of each, interleaved, after one untimed warm-up each; wall time from date +%%s.%%N" % runs)
print()
print("cceauto rotation_check.lua (renew window %g days): $cceauto" % rs[0]["renew_within_days"])
print("  wall      median %.3f s   (min %.3f .. max %.3f, spread %.0f%% of the median)"
      % (cce_med, cce_min, cce_max, 100 * (cce_max - cce_min) / cce_med))
print("  counts    contexts %d, certificates checked %d, due for renewal %d; days left %.1f..%.1f"
      % (rs[0]["contexts"], rs[0]["checked"], rs[0]["renew"], rs[0]["min_days_left"], rs[0]["max_days_left"]))
print("  saves     unchanged save wrote %d files (nothing to renew, so nothing is written)"
      % rs[0]["save_unchanged_files_written"])
print("  peak mem  VmHWM median %.1f MB, max %.1f MB  (/usr/bin/time maxrss: %s MB)"
      % (statistics.median(peaks), peak, "$cce_rss_ext"))
print("  phases    CPU s (os.clock) median (min..max)   | wall s, /proc/uptime, 10 ms res. | VmHWM after, MB")
phases = list(rs[0]["cpu_s"].keys())
for ph in phases:
    c = mmm([r["cpu_s"][ph] for r in rs])
    w = statistics.median([r["wall_s_10ms"][ph] for r in rs])
    h = statistics.median([r["vmhwm_kb_after"][ph] for r in rs]) / 1024
    print("    %-15s %6.3f (%.3f..%.3f)            | %6.2f                            | %6.1f" % (ph, c[0], c[1], c[2], w, h))
c = mmm([r["cpu_total_s"] for r in rs])
print("    %-15s %6.3f (%.3f..%.3f)" % ("total", c[0], c[1], c[2]))
print("  (the rest of the wall time is process start-up, the runtime's set-up and exit)")
print("  full write of the whole document (warm-up run only, not part of the check): CPU %.3f s, %d bytes"
      % (warm["cpu_s"]["full_write"], warm["full_write_bytes"]))
print()
if k_med is None:
    print("kubectl config view --raw: n/a (kubectl not found or every run failed)")
else:
    print("kubectl --kubeconfig FILE config view --raw >/dev/null: $kubectl")
    print("  wall      median %.3f s   (min %.3f .. max %.3f, spread %.0f%% of the median)"
          % (k_med, k_min, k_max, 100 * (k_max - k_min) / k_med))
    print("  peak mem  %s MB (/usr/bin/time maxrss)" % k_rss)
print()
ratio = None if k_med is None else k_med / cce_med
print("ratio kubectl/cceauto (median wall): %s" % ("n/a" if ratio is None else "%.2fx" % ratio))
print()
def verdict(ok):
    return "n/a" if ok is None else ("MET" if ok else "MISSED")
print("targets (N=%d%s):" % (n, "" if n == 10000 else "; the targets are stated for N=10000"))
print("  wall < 1.5 s          %-7s median %.3f s (min %.3f, max %.3f)" % (verdict(cce_med < 1.5), cce_med, cce_min, cce_max))
print("  peak < 200 MB         %-7s max VmHWM %.1f MB" % (verdict(peak < 200), peak))
print("  faster than kubectl   %-7s %s" % (verdict(None if ratio is None else ratio > 1),
      "n/a" if ratio is None else "kubectl %.3f s / cceauto %.3f s = %.2fx" % (k_med, cce_med, ratio)))
EOF
exit 0
