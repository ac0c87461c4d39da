#!/usr/bin/env bash
# demo.sh: installs what is missing, builds cceauto, starts the bundled CCE
# simulator on loopback and runs the main job, rotate_all.lua, against it: every
# Available cluster gets a working kubeconfig entry in ./demo-kubeconfig (mode 0600).
# No cloud account needed.
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
echo "== CCE simulator at $CCE_ENDPOINT (project $OS_PROJECT_ID, 12 clusters)"
echo "== cceauto rotate_all.lua --kubeconfig demo-kubeconfig"
rm -f demo-kubeconfig
./build/cceauto rotate_all.lua --kubeconfig demo-kubeconfig
echo "== again: everything is fresh, nothing is requested or written"
./build/cceauto rotate_all.lua --kubeconfig demo-kubeconfig --quiet
if command -v kubectl >/dev/null 2>&1; then
  echo "== kubectl --kubeconfig demo-kubeconfig config get-contexts"
  HOME=$state kubectl --kubeconfig demo-kubeconfig config get-contexts
  echo "== kubectl --kubeconfig demo-kubeconfig --context prod-000 get --raw /version"
  HOME=$state kubectl --kubeconfig demo-kubeconfig --context prod-000 get --raw /version; echo
fi
echo "== cceauto expiry.lua --kubeconfig demo-kubeconfig"
./build/cceauto expiry.lua --kubeconfig demo-kubeconfig
