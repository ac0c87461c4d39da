# sim.sh: sourced by the benchmarks that need a simulator of their own.
#
#   . "$here/sim.sh"
#   bench_sim_start --clusters 20        # sets work (a temporary directory, removed on exit)
#   get endpoint                         # a field of the simulator's ready line
#
# Exits 1 with the simulator's stderr when it does not start within 10 s.
py=${PYTHON3:-python3}
work=$(mktemp -d)
sim_pid=
trap '[ -n "$sim_pid" ] && kill "$sim_pid" 2>/dev/null; rm -rf "$work"' EXIT

bench_sim_start() {
  "$py" "$(dirname "${BASH_SOURCE[0]}")/../sim/ccesim.py" --quiet --state-dir "$work/sim" "$@" \
    >"$work/info" 2>"$work/sim.err" &
  sim_pid=$!
  for _ in $(seq 100); do [ -s "$work/info" ] && break; sleep 0.1; done
  [ -s "$work/info" ] || { echo "the simulator did not start: $(cat "$work/sim.err")" >&2; exit 1; }
}

get() { "$py" -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$work/info" "$1"; }
