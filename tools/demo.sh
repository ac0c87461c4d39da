#!/usr/bin/env bash
# demo.sh: installs what is missing, builds cceauto, starts the bundled CCE
# simulator on loopback and fetches a working kubeconfig through a Lua script.
# No cloud account needed.  The kubeconfig is written to ./demo-kubeconfig (mode 0600).
set -eu
cd "$(dirname "$0")/.."
"$PWD/tools/deps.sh"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" >/dev/null

state=$(mktemp -d)
/usr/bin/python3 tests/sim/ccesim.py --quiet --clusters 12 --state-dir "$state" >"$state/ready" &
sim=$!
trap 'kill $sim 2>/dev/null; wait $sim 2>/dev/null; rm -rf "$state"' EXIT
for _ in $(seq 200); do [ -s "$state/info.json" ] && break; sleep 0.05; done
field() { /usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$state/info.json" "$1"; }

# What a real user sets: OS_PROJECT_ID, OS_AUTH_TOKEN, OS_REGION_NAME (here: an endpoint and CA instead).
export OS_PROJECT_ID=$(field project_id) OS_AUTH_TOKEN=$(field token) CCE_ENDPOINT=$(field endpoint) OS_CACERT=$(field ca_file)
echo "== CCE simulator at $CCE_ENDPOINT (project $OS_PROJECT_ID)"
echo "== clusters:"
./build/cceauto -e '
  local c = assert(require("cce").client())
  for _, cl in ipairs(assert(c:clusters())) do
    print(string.format("   %-12s %-12s %-12s %s", cl.name, cl.phase, cl.version, cl.endpoints.external or "(no EIP)"))
  end'
echo "== fetching prod-000 with examples/fetch_one.lua"
(umask 077; ./build/cceauto examples/fetch_one.lua prod-000 --duration 30 >demo-kubeconfig)
echo "   wrote ./demo-kubeconfig"
if command -v kubectl >/dev/null 2>&1; then
  echo "== kubectl --kubeconfig demo-kubeconfig get --raw /version"
  HOME=$state kubectl --kubeconfig demo-kubeconfig get --raw /version; echo
fi
