#!/usr/bin/env bash
# kc:save() never loses data: failed saves leave the old file byte-identical,
# crashes and kill -9 never leave a partial file, concurrent writers lose nothing,
# a held lock is waited for and reported.
set -u
. "$(dirname "$0")/lib.sh"
SHIM=${CRASH_SHIM:?CRASH_SHIM: the crash_rename.so LD_PRELOAD shim}
F=$WORK/dir/config
mkdir -p "$WORK/dir"

# A kubeconfig of 300 contexts (about 150 KB), so that a save takes a while.
"$CCEAUTO" - "$F" <<'LUA'
local cce = require "cce"
local kc = cce.kubeconfig.new()
local pad = ("QUJD"):rep(100)
for i = 1, 300 do
  local n = string.format("base-%03d", i)
  kc:set_cluster(n, { server = "https://10.0.0." .. (i % 250) .. ":5443", ["certificate-authority-data"] = pad })
  kc:set_user(n, { token = "t" .. i })
  kc:set_context(n, { cluster = n, user = n, namespace = "ns" .. i })
end
kc:use_context("base-001")
assert(kc:save(arg[1]))
LUA
check "fixture written" test -s "$F"
cp "$F" "$WORK/golden"

# save.lua PATH NAME [COUNT]: adds COUNT contexts NAME-1.. (one save each) to the file.
cat >"$WORK/save.lua" <<'LUA'
local cce = require "cce"
local path, name, count = arg[1], arg[2], tonumber(arg[3] or 1)
local kc = assert(cce.kubeconfig.load(path))
for i = 1, count do
  assert(kc:set_context(name .. "-" .. i, { cluster = "base-001", user = "base-001" }))
  local ok, err = kc:save()
  if not ok then io.stderr:write(tostring(err), "\n") os.exit(1) end
end
LUA
leftovers() { ls -A "$WORK/dir" | grep -v '^config$' | tr '\n' ' '; }

# ------------------------------------------------ a failing save changes nothing
# read-only directory (as root, permissions do not bind root: run as nobody)
chmod 0555 "$WORK/dir"
if [ "$(id -u)" -eq 0 ]; then
  chmod o+rx "$WORK"; chmod o+r "$F"
  out=$(setpriv --reuid=nobody --regid=nogroup --clear-groups "$CCEAUTO" "$WORK/save.lua" "$F" ro 2>&1); rc=$?
else
  out=$("$CCEAUTO" "$WORK/save.lua" "$F" ro 2>&1); rc=$?
fi
chmod 0755 "$WORK/dir"
check "read-only dir: save fails" test $rc -ne 0
check "read-only dir: the error names the file" grep -q "$WORK/dir/config" <<<"$out"
check "read-only dir: file byte-identical" cmp -s "$F" "$WORK/golden"
check "read-only dir: nothing left behind" test -z "$(leftovers)"

# full quota: the file size limit stops the temporary file half-way
out=$(ulimit -f 100; "$CCEAUTO" "$WORK/save.lua" "$F" quota 2>&1); rc=$?
check "file size limit: save fails" test $rc -ne 0
check "file size limit: says why" grep -qi "too large" <<<"$out"
check "file size limit: file byte-identical" cmp -s "$F" "$WORK/golden"
check "file size limit: nothing left behind" test -z "$(leftovers)"

# a crash between write and rename (the shim kills the process in rename())
out=$(LD_PRELOAD=$SHIM CCE_CRASH_AT_RENAME=1 "$CCEAUTO" "$WORK/save.lua" "$F" crash 2>&1); rc=$?
check "crash at rename: the process died by SIGKILL" test $rc -eq 137
check "crash at rename: file byte-identical" cmp -s "$F" "$WORK/golden"
t0=$(date +%s%N)
"$CCEAUTO" "$WORK/save.lua" "$F" after-crash
check "after the crash the next save succeeds" test $? -eq 0
check "... without waiting for the dead writer's lock" test $((($(date +%s%N) - t0) / 1000000)) -lt 3000
check "... and cleans up the dead writer's temporary file" test -z "$(leftovers)"
cp "$F" "$WORK/golden"

# ------------------------------------------------------ kill -9 while saving
cat >"$WORK/churn.lua" <<'LUA'
local cce = require "cce"
local kc = assert(cce.kubeconfig.load(arg[1]))
local i = 0
while true do
  i = i + 1
  assert(kc:set_user("base-001", { token = "churn-" .. i, pad = ("x"):rep(i % 5000) }))
  assert(kc:save())
end
LUA
broken=0
for round in $(seq 100); do
  "$CCEAUTO" "$WORK/churn.lua" "$F" 2>/dev/null &
  pid=$!
  sleep "0.0$((RANDOM % 9 + 1))$((RANDOM % 10))"
  kill -9 "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  if ! "$CCEAUTO" - "$F" >/dev/null 2>&1 <<<'local kc = assert(require("cce").kubeconfig.load(arg[1]))
      assert(#kc:contexts() >= 301, "contexts lost"); assert(kc:context("base-300"))'; then
    broken=$((broken + 1))
    echo "round $round: the file does not parse or lost entries" >&2
  fi
done
check "kill -9 at random moments, 100 times: the file always parses, nothing lost" test $broken -eq 0
"$CCEAUTO" "$WORK/save.lua" "$F" after-kills
check "the next save succeeds and removes the killed ones' temporary files" \
  bash -c "! ls -A '$WORK/dir' | grep -q '\.tmp-'"

# ------------------------------------------------------ two concurrent writers
"$CCEAUTO" "$WORK/save.lua" "$F" one 50 &
p1=$!
"$CCEAUTO" "$WORK/save.lua" "$F" two 50 &
p2=$!
wait $p1; r1=$?
wait $p2; r2=$?
check "writer one succeeded" test $r1 -eq 0
check "writer two succeeded" test $r2 -eq 0
n=$("$CCEAUTO" - "$F" <<<'local kc = assert(require("cce").kubeconfig.load(arg[1]))
  local n = 0
  for _, c in ipairs(kc:contexts()) do if c.name:match("^one%-") or c.name:match("^two%-") then n = n + 1 end end
  print(n)')
check "two writers adding 50 contexts each end with all 100 (got $n)" test "$n" = 100

# --------------------------------------------------------------- a held lock
( flock -x 9; echo "$BASHPID $(hostname)" >&9; sleep 4 ) 9>"$F.lock" &
holder=$!
sleep 0.3
out=$("$CCEAUTO" - "$F" 2>&1 <<<'local kc = assert(require("cce").kubeconfig.load(arg[1]))
  kc:set_context("late", { cluster = "x" })
  local ok, err = kc:save(nil, { lock_timeout = 1 })
  assert(not ok, "saved through a held lock")
  print(err.code, err.message)')
check "a held lock: save gives up with LOCKED" grep -q "^LOCKED" <<<"$out"
check "a held lock: the message says who holds it" grep -q "locked by pid [0-9]* on $(hostname)" <<<"$out"
wait $holder
"$CCEAUTO" "$WORK/save.lua" "$F" after-holder
check "once the holder is gone its left-over lock does not block" test $? -eq 0

# --------------------------------------- a lock file that can never be taken
# A FIFO where the lock file goes (or a symlink to one) used to hang save() in open()
# for ever; it fails at once, naming the lock file.  `timeout` turns a hang into a failure.
cp "$F" "$WORK/golden-fifo"
for kind in fifo symlink; do
  rm -f "$F.lock" "$WORK/a-fifo"
  if [ $kind = fifo ]; then mkfifo "$F.lock"; else mkfifo "$WORK/a-fifo"; ln -s "$WORK/a-fifo" "$F.lock"; fi
  out=$(timeout 30 "$CCEAUTO" - "$F" 2>&1 <<<'local kc = assert(require("cce").kubeconfig.load(arg[1]))
    kc:set_context("never", { cluster = "x" })
    local ok, err = kc:save(nil, { lock_timeout = 2 })
    assert(not ok, "saved through a FIFO lock file")
    print(err.code, err.message)'); rc=$?
  check "lock file is a $kind: save fails instead of hanging (exit $rc)" test $rc -eq 0
  check "lock file is a $kind: the error names it" grep -q "^LOCKED.*$F.lock is a FIFO" <<<"$out"
  check "lock file is a $kind: file byte-identical" cmp -s "$F" "$WORK/golden-fifo"
done
rm -f "$F.lock" "$WORK/a-fifo"

finish
