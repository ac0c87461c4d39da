#!/usr/bin/env bash
# test_crash.sh - a kubeconfig save is never left half-written, whatever moment the writer dies.
#
#   test_crash.sh SAVE_LOOP CRASH_RENAME_SO [KILLS]
#
# SAVE_LOOP is tests/unit/save_loop.c built, CRASH_RENAME_SO tests/unit/crash_rename.c
# built as a shared library.  (a) the writer dies between writing and renaming:
# the target is unchanged and the lock it left is broken at once.  (b) the writer
# is killed with SIGKILL at random moments (KILLS times, default 100): after each
# kill the target is a complete version (its checksum verifies) and the next
# writer is not blocked by the lock the dead one left.
set -u

SAVE=${1:?usage: test_crash.sh SAVE_LOOP CRASH_RENAME_SO [KILLS]}
SHIM=${2:?usage: test_crash.sh SAVE_LOOP CRASH_RENAME_SO [KILLS]}
KILLS=${3:-100}
case $SHIM in /*) ;; *) SHIM=$PWD/$SHIM ;; esac  # LD_PRELOAD wants a path, not a name

passed=0 failed=0
ok() { passed=$((passed + 1)); }
bad() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }
check() { # check DESCRIPTION COMMAND...
    local what=$1; shift
    if "$@" >/dev/null; then ok; else bad "$what"; fi
}
now_ms() { local t; t=$(date +%s%N); echo $((t / 1000000)); }

work=$(mktemp -d "${TMPDIR:-/tmp}/cce_crash.XXXXXX") || exit 2
trap 'rm -rf "$work"' EXIT
target=$work/config
# A sanitized save_loop refuses to start when a preloaded library comes before the ASan runtime.
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0

# temporary files a killed writer can leave: .config.tmp-* (a save), .config.lock-* (a lock being made)
count_tmp() { local n=0 f; for f in "$work"/$1; do [[ -e $f ]] && n=$((n + 1)); done; echo $n; }
leftovers() { echo "$(count_tmp '.config.tmp-*') save temporaries, $(count_tmp '.config.lock-*') lock temporaries"; }
seq_of() { "$SAVE" --check "$1" | sed -n 's/^ok seq=\([0-9]*\) .*/\1/p'; }

# ---------------------------------------------------------------- (a) crash at rename
check "initial saves" "$SAVE" "$target" 3
cp -p "$target" "$work/before"
check "initial version verifies" "$SAVE" --check "$target"

# (in a subshell, whose stderr takes bash's "Killed" notice)
( LD_PRELOAD=$SHIM CCE_CRASH_AT_RENAME=1 "$SAVE" "$target" 1 2>"$work/shim.err"; echo $? >"$work/rc" ) 2>/dev/null
rc=$(cat "$work/rc")
check "writer killed at rename (exit $rc, want 137)" test "$rc" -eq 137
check "the shim did it: $(head -c 300 "$work/shim.err")" grep -q "crash_rename: SIGKILL instead of rename" "$work/shim.err"
check "target byte-identical after a crash before rename" cmp -s "$target" "$work/before"
check "the dead writer's lock file is there" test -e "$target.lock"
echo "(a) the crash left $(leftovers) behind (expected: the one it wrote)"
rm -f "$work"/.config.tmp-* "$work"/.config.lock-*

t0=$(now_ms)
"$SAVE" "$target" 1 0 2>"$work/a.err"  # timeout 0: the stale lock must be broken at once
rc=$?
dt=$(($(now_ms) - t0))
check "next writer not blocked by the dead one's lock (rc $rc: $(cat "$work/a.err"))" test $rc -eq 0
check "the next version verifies" "$SAVE" --check "$target"
check "and is a new one" test "$(seq_of "$target")" = 4
check "no lock file left" test ! -e "$target.lock"
echo "(a) lock broken and saved in ${dt} ms"

# pass-through: the shim without the variable renames normally
LD_PRELOAD=$SHIM "$SAVE" "$target" 2 2>"$work/pass.err"
check "shim passes rename through without CCE_CRASH_AT_RENAME ($(cat "$work/pass.err"))" test "$(seq_of "$target")" = 6

# ---------------------------------------------------------------- (b) kill -9 at random moments
t0=$(now_ms)
first=$(seq_of "$target")
bad_kills=0 blocked=0 empty_locks=0 exited=0
for ((i = 1; i <= KILLS; i++)); do
    "$SAVE" "$target" 1000000 5000 2>>"$work/b.err" &
    pid=$!
    # 0-120 ms: sometimes before the first save, mostly in the middle of one
    sleep "0.$(printf '%03d' $((RANDOM % 121)))"
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    rc=$?
    if [[ $rc -ne 137 ]]; then
        exited=$((exited + 1))
        echo "kill $i: writer exited by itself with $rc: $(tail -n 1 "$work/b.err")" >&2
    fi
    if [[ -e $target.lock && ! -s $target.lock ]]; then
        empty_locks=$((empty_locks + 1))  # would look like kubectl's and be waited for 30 s
        echo "kill $i: the dead writer left an empty lock file" >&2
    fi
    if ! out=$("$SAVE" --check "$target"); then
        bad_kills=$((bad_kills + 1))
        echo "kill $i: $out" >&2
        cp "$target" "$work/corrupt.$i"
    fi
    # the lock the dead writer left (if any) is broken at once: one more save with timeout 0
    if ! "$SAVE" "$target" 1 0 2>"$work/next.err"; then
        blocked=$((blocked + 1))
        echo "kill $i: next writer: $(cat "$work/next.err")" >&2
        rm -f "$target.lock"
    fi
done
last=$(seq_of "$target")
dt=$(($(now_ms) - t0))
check "target complete after every one of $KILLS kills ($bad_kills bad)" test $bad_kills -eq 0
check "no writer failed on its own ($exited)" test $exited -eq 0
check "after every kill the next writer got the lock at once ($blocked blocked)" test $blocked -eq 0
check "no kill left an empty lock file ($empty_locks)" test $empty_locks -eq 0
check "the writers made progress (seq $first -> $last)" test "${last:-0}" -gt "${first:-0}"
echo "(b) $KILLS kills in ${dt} ms: versions $first -> $last, the kills left $(leftovers), empty locks: $empty_locks"

"$SAVE" "$target" 1 0 2>"$work/final.err"
rc=$?
check "after the last kill the lock is broken at once (rc $rc: $(cat "$work/final.err"))" test $rc -eq 0
check "final version verifies" "$SAVE" --check "$target"

echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
