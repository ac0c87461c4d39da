# lib.sh: shared by the shell tests: checks, a work dir, a simulator.
WORK=$(mktemp -d)
PASSED=0
FAILED=0
SIM_PID=

check() {
  local what=$1
  shift
  if "$@"; then
    PASSED=$((PASSED + 1))
  else
    FAILED=$((FAILED + 1))
    echo "FAIL: $what" >&2
  fi
}

cleanup() {
  [ -n "$SIM_PID" ] && kill "$SIM_PID" 2>/dev/null && wait "$SIM_PID" 2>/dev/null
  [ -n "${KEEP_WORK:-}" ] && echo "work dir kept: $WORK" >&2 || rm -rf "$WORK"
}
trap cleanup EXIT

# sim_start ARGS...: starts the simulator; sets SIM_ENDPOINT SIM_PROJECT SIM_TOKEN SIM_CA SIM_INFO.
sim_start() {
  mkdir -p "$WORK/sim"
  "${CCE_PYTHON:-/usr/bin/python3}" "$CCE_SIM" --quiet --state-dir "$WORK/sim" "$@" >"$WORK/sim/stdout" 2>"$WORK/sim/stderr" &
  SIM_PID=$!
  for _ in $(seq 400); do
    [ -s "$WORK/sim/info.json" ] && break
    sleep 0.05
  done
  [ -s "$WORK/sim/info.json" ] || { echo "simulator did not start:"; cat "$WORK/sim/stderr"; exit 1; }
  SIM_INFO=$WORK/sim/info.json
  SIM_ENDPOINT=$(sim_field endpoint)
  SIM_PROJECT=$(sim_field project_id)
  SIM_TOKEN=$(sim_field token)
  SIM_CA=$(sim_field ca_file)
}

sim_field() { "${CCE_PYTHON:-/usr/bin/python3}" -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$SIM_INFO" "$1"; }

# sim_count ROUTE: how many requests of that route the simulator saw.
sim_count() {
  curl -sS --cacert "$SIM_CA" "$SIM_ENDPOINT/_sim/stats" |
    "${CCE_PYTHON:-/usr/bin/python3}" -c 'import json,sys; print(json.load(sys.stdin)["requests"][sys.argv[1]])' "$1"
}

finish() {
  echo "$PASSED passed, $FAILED failed"
  [ "$FAILED" -eq 0 ]
}
