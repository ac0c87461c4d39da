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

# What a real user has: a clouds.yaml entry with the IAM user, and the password in
# secure.yaml beside it (here both point at the simulator, whose IAM is on the same port).
cat >"$state/clouds.yaml" <<EOF
clouds:
  sim:
    auth:
      auth_url: $(field auth_url)
      username: $(field user)
      user_domain_name: $(field domain)
      project_name: eu-de
    region_name: eu-de
    cacert: $(field ca_file)
    cce_endpoint_override: $(field endpoint)
EOF
printf 'clouds:\n  sim:\n    auth:\n      password: %s\n' "$(field password)" >"$state/secure.yaml"
chmod 600 "$state/secure.yaml"
unset OS_AUTH_TOKEN OS_TOKEN OS_PROJECT_ID OS_PROJECT_NAME OS_USERNAME OS_PASSWORD OS_ACCESS_KEY OS_SECRET_KEY
export OS_CLIENT_CONFIG_FILE=$state/clouds.yaml OS_CLIENT_SECURE_FILE=$state/secure.yaml OS_CLOUD=sim
export XDG_CACHE_HOME=$state/cache
echo "== CCE simulator at $(field endpoint) (12 clusters); clouds.yaml entry 'sim', password in secure.yaml"
echo "== OS_CLOUD=sim cceauto rotate_all.lua --kubeconfig demo-kubeconfig"
rm -f demo-kubeconfig
./build/cceauto rotate_all.lua --kubeconfig demo-kubeconfig
echo "== again: everything is fresh, nothing is requested or written, and the cached token means no login"
./build/cceauto rotate_all.lua --kubeconfig demo-kubeconfig --quiet
echo "== IAM logins the simulator saw: $(curl -sS --cacert "$(field ca_file)" "$(field endpoint)/_sim/stats" |
  /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["requests"]["iam-tokens"])')"
if command -v kubectl >/dev/null 2>&1; then
  echo "== kubectl --kubeconfig demo-kubeconfig config get-contexts"
  HOME=$state kubectl --kubeconfig demo-kubeconfig config get-contexts
  echo "== kubectl --kubeconfig demo-kubeconfig --context prod-000 get --raw /version"
  HOME=$state kubectl --kubeconfig demo-kubeconfig --context prod-000 get --raw /version; echo
fi
echo "== cceauto expiry.lua --kubeconfig demo-kubeconfig"
./build/cceauto expiry.lua --kubeconfig demo-kubeconfig
