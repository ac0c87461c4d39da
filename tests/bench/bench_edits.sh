#!/bin/bash
# Benchmarks whole-file kubeconfig edits: the cost per entry must not grow with the
# file (issue 7, section 4: "each operation O(1) or O(log n) amortised, the save O(N)").
#
# usage: tests/bench/bench_edits.sh [CCEAUTO [SIZES]]   (defaults build/cceauto of this tree, "1000 10000 30000")
# environment: RUNS (default 3; the median is shown); INSTRUCTIONS=1 also counts the
# instructions per context spent inside each C function (callgrind, inclusive), a
# figure that other work on the machine does not disturb (needs valgrind; slow:
# minutes at N = 30,000)
#
# For each size N it generates a kubeconfig of N contexts, clusters and users
# (gen_kubeconfig.py, real EC certificates) and runs tests/bench/edit_ops.lua, which
# times (CPU, os.clock) on its own copy of the file:
#   load         cce.kubeconfig.load
#   save-as      kc:save(new path)
#   rename-all   3 N renames (every context, cluster and user; references follow)
#     + save     the in-place save of that
#   remove-all   N remove_context (each takes its cluster and user along)
#     + save     the in-place save of that
# and checks the results (counts, order kept, references followed).  Prints the
# median CPU microseconds per context for each, and each figure over the first
# size's: a cost that does not grow with N stays near 1.0x (expect some rise from
# 1,000 to 10,000 as the data outgrows the CPU caches).
#
# A benchmark reports, it does not judge: exit 0 unless a run fails or gives a
# wrong result (1), or on a usage error (2).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cceauto=${1:-$here/../../build/cceauto}
sizes=${2:-1000 10000 30000}
runs=${RUNS:-3}
py=/usr/bin/python3

die() { echo "bench_edits: $1" >&2; exit "${2:-1}"; }
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive integer, not '$runs'" 2
[ -x "$cceauto" ] || die "no executable cceauto at '$cceauto' (build it: cmake --build build)" 2
[ -x "$py" ] || die "$py is needed to generate the kubeconfigs" 2
for n in $sizes; do [[ "$n" =~ ^[1-9][0-9]*$ ]] || die "sizes must be positive integers, not '$n'" 2; done

work=$(mktemp -d "${TMPDIR:-/tmp}/bench_edits.XXXXXX")
trap 'rm -rf "$work"' EXIT
load_start=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo n/a)

for n in $sizes; do
    "$py" "$here/gen_kubeconfig.py" "$work/k$n.yaml" "$n" 2>"$work/gen.log" || { cat "$work/gen.log" >&2; die "gen_kubeconfig.py failed" 2; }
    for r in $(seq "$runs"); do
        mkdir -p "$work/run"
        "$cceauto" "$here/edit_ops.lua" "$work/k$n.yaml" "$work/run" >>"$work/results.json" 2>"$work/err" ||
            { cat "$work/err" >&2; die "edit_ops.lua failed for N=$n (run $r)"; }
        rm -rf "$work/run"
    done
    if [ "${INSTRUCTIONS:-0}" = 1 ]; then
        command -v valgrind >/dev/null || die "INSTRUCTIONS=1 needs valgrind" 2
        for only in load save_as rename remove; do
            mkdir -p "$work/run"
            valgrind --tool=callgrind --callgrind-out-file="$work/cg.$n.$only" \
                "$cceauto" "$here/edit_ops.lua" "$work/k$n.yaml" "$work/run" "$only" >/dev/null 2>"$work/err" ||
                { cat "$work/err" >&2; die "edit_ops.lua $only under callgrind failed for N=$n"; }
            rm -rf "$work/run"
            callgrind_annotate --inclusive=yes "$work/cg.$n.$only" 2>/dev/null |
                awk -v n="$n" -v only="$only" '$NF ~ /:cce_kubeconfig_(load|save|rename|remove_context)$/ {
                    ir = $1; gsub(",", "", ir); fn = $NF; sub(/.*:/, "", fn)
                    printf "{\"n\": %d, \"only\": \"%s\", \"fn\": \"%s\", \"ir\": %s}\n", n, only, fn, ir }' \
                >>"$work/instr.json"
        done
    fi
    rm -f "$work/k$n.yaml"
done
load_end=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo n/a)

"$py" - "$work/results.json" "$runs" "$load_start" "$load_end" <<'PY'
import json, os, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
runs = int(sys.argv[2])
phases = [("load", "load", None), ("save-as", "save_as", None), ("rename-all", "rename", None),
          ("  + save", "rename_save", None), ("rename-all + save", "rename", "rename_save"),
          ("remove-all", "remove", None), ("  + save", "remove_save", None),
          ("remove-all + save", "remove", "remove_save")]
sizes = sorted({r["n"] for r in rows})
def us(n, a, b):
    xs = [(r[a] + (r[b] if b else 0)) / n * 1e6 for r in rows if r["n"] == n]
    return statistics.median(xs), min(xs), max(xs)
print("cceauto kubeconfig edits: CPU microseconds per context (median of %d runs, min..max)" % runs)
print("  host: %d CPUs; load average at start %s, at end %s" % (os.cpu_count(), sys.argv[3], sys.argv[4]))
print()
head = "%-20s" % "operation" + "".join("%26s" % ("N = %d" % n) for n in sizes)
print(head)
for label, a, b in phases:
    line = "%-20s" % label
    base = None
    for n in sizes:
        m, lo, hi = us(n, a, b)
        base = base or m
        line += "%26s" % ("%.1f (%.1f..%.1f) %.2fx" % (m, lo, hi, m / base))
    print(line)
print()
print("(Nx = the median over the first size's; a cost that does not grow with N stays near 1)")
PY

[ -s "$work/instr.json" ] || exit 0
"$py" - "$work/instr.json" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
sizes = sorted({r["n"] for r in rows})
want = [("load", "load", "cce_kubeconfig_load"), ("save-as", "save_as", "cce_kubeconfig_save"),
        ("rename-all (3 N)", "rename", "cce_kubeconfig_rename"), ("  + save", "rename", "cce_kubeconfig_save"),
        ("remove-all", "remove", "cce_kubeconfig_remove_context"), ("  + save", "remove", "cce_kubeconfig_save")]
print()
print("instructions per context inside the C call (callgrind, inclusive; each group in its own run:")
print("load; load + save-as; load + rename-all + save; load + remove-all + save)")
print("%-20s" % "operation" + "".join("%22s" % ("N = %d" % n) for n in sizes))
for label, only, fn in want:
    line, base = "%-20s" % label, None
    for n in sizes:
        irs = [r["ir"] for r in rows if r["n"] == n and r["only"] == only and r["fn"] == fn]
        if not irs:
            line += "%22s" % "n/a"
            continue
        v = irs[0] / n
        base = base or v
        line += "%22s" % ("%.0f %.2fx" % (v, v / base))
    print(line)
PY
