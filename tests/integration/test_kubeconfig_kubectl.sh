#!/usr/bin/env bash
# The kubeconfig model against the real kubectl: files kubectl wrote survive a
# load and save unchanged, merged fleets stay valid, certificate dates agree
# with openssl.
set -u
. "$(dirname "$0")/lib.sh"
KUBECTL=${KUBECTL:-$(command -v kubectl)}
[ -x "$KUBECTL" ] || { echo "kubectl not found"; exit 1; }
export HOME=$WORK
K() { "$KUBECTL" --kubeconfig "$F" "$@" >/dev/null; }
view() { "$KUBECTL" --kubeconfig "$1" config view --raw -o json; }
same_json() { "${CCE_PYTHON:-/usr/bin/python3}" -c 'import json,sys; a,b=(json.load(open(p)) for p in sys.argv[1:3]); sys.exit(a!=b)' "$1" "$2" || diff <(python3 -m json.tool --sort-keys "$1") <(python3 -m json.tool --sort-keys "$2") >&2; }

# ---------------------------------------------------------------- round trip
F=$WORK/kubectl-made
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=test-ca -days 30 \
  -keyout "$WORK/ca.key" -out "$WORK/ca.crt" 2>/dev/null
K config set-cluster prod --server=https://10.0.0.1:5443 --certificate-authority="$WORK/ca.crt" --embed-certs=true
K config set-cluster dev --server=https://10.0.0.2:5443 --insecure-skip-tls-verify=true
K config set-cluster files --server=https://10.0.0.3:5443 --certificate-authority="$WORK/ca.crt"
K config set-credentials tok --token=sekrit-token
K config set-credentials basic --username=admin --password=pw
K config set-credentials certs --client-certificate="$WORK/ca.crt" --client-key="$WORK/ca.key" --embed-certs=true
K config set-credentials exec --exec-command=otc-auth --exec-api-version=client.authentication.k8s.io/v1beta1 \
  --exec-arg=token --exec-arg=--cluster=prod --exec-env=OS_CLOUD=otc
K config set-context prod --cluster=prod --user=exec --namespace=payments
K config set-context dev --cluster=dev --user=tok
K config set-context files --cluster=files --user=certs --namespace=default
K config use-context dev
K config set preferences.colors true
# extensions as minikube writes them (kubectl has no command for them)
"${CCE_PYTHON:-/usr/bin/python3}" - "$F" <<'PY'
import sys, yaml
p = sys.argv[1]
d = yaml.safe_load(open(p))
d["clusters"][0]["cluster"]["extensions"] = [{"name": "cluster_info", "extension": {"provider": "minikube.sigs.k8s.io", "version": "v1.32.0", "last-update": "Mon, 01 Jan 2024 00:00:00 UTC"}}]
d["contexts"][0]["context"]["extensions"] = [{"name": "context_info", "extension": {"note": "made by hand", "count": 3}}]
d["extensions"] = [{"name": "global", "extension": {"x": True}}]
yaml.safe_dump(d, open(p, "w"))
PY
view "$F" >"$WORK/before.json"
check "kubectl reads the hand-extended file" test -s "$WORK/before.json"
cp "$F" "$WORK/orig"

"$CCEAUTO" - "$F" <<<'local kc = assert(require("cce").kubeconfig.load(arg[1])); assert(kc:save(arg[1], { overwrite = true }))'
check "overwrite save exits 0" test $? -eq 0
check "load + save keeps kubectl's view identical" same_json "$WORK/before.json" <(view "$F")
check "load + save keeps the extensions" grep -q minikube.sigs.k8s.io "$F"
"$CCEAUTO" - "$WORK/orig" "$WORK/copy" <<<'local kc = assert(require("cce").kubeconfig.load(arg[1])); assert(kc:save(arg[2]))'
check "save-as exits 0" test $? -eq 0
check "save to a new file: same view" same_json "$WORK/before.json" <(view "$WORK/copy")
check "new file is mode 600" test "$(stat -c %a "$WORK/copy")" = 600

# the same change by kubectl and by cceauto gives the same result
cp "$WORK/orig" "$WORK/by-kubectl"
"$KUBECTL" --kubeconfig "$WORK/by-kubectl" config rename-context prod production >/dev/null
"$KUBECTL" --kubeconfig "$WORK/by-kubectl" config use-context production >/dev/null
"$KUBECTL" --kubeconfig "$WORK/by-kubectl" config delete-context files >/dev/null
cp "$WORK/orig" "$WORK/by-cceauto"
"$CCEAUTO" - "$WORK/by-cceauto" <<<'local kc = assert(require("cce").kubeconfig.load(arg[1]))
  assert(kc:rename_context("prod", "production")); assert(kc:use_context("production"))
  assert(kc:remove_context("files", { keep_orphans = true })); assert(kc:save())'
check "rename/use/delete script exits 0" test $? -eq 0
check "rename/use/delete: same view as kubectl's" same_json <(view "$WORK/by-kubectl") <(view "$WORK/by-cceauto")

# minify --flatten
"$KUBECTL" --kubeconfig "$WORK/orig" config view --raw --minify --flatten --context files -o json >"$WORK/kmin.json"
"$CCEAUTO" - "$WORK/orig" >"$WORK/cmin.json" <<<'local kc = assert(require("cce").kubeconfig.load(arg[1])); io.write(assert(kc:select("files")):to_json())'
check "select script exits 0" test $? -eq 0
check "select() equals kubectl --minify --flatten" same_json <(view "$WORK/kmin.json") <(view "$WORK/cmin.json")

# ------------------------------------------------- merging 20 fetched clusters
sim_start --clusters 24
export CCE_ENDPOINT=$SIM_ENDPOINT OS_PROJECT_ID=$SIM_PROJECT OS_AUTH_TOKEN=$SIM_TOKEN OS_CACERT=$SIM_CA
cp "$WORK/orig" "$WORK/fleet"
"$CCEAUTO" - "$WORK/fleet" <<'LUA'
local cce = require "cce"
local c = assert(cce.client())
local kc = assert(cce.kubeconfig.load(arg[1]))
local n = 0
for _, cl in ipairs(assert(c:clusters())) do
  if cl.phase == "Available" and n < 20 then
    local got = assert(c:clustercert(cl.id, { duration = 3 }))
    local one = assert(got:select("internal"))
    assert(one:rename_context("internal", cl.name))
    assert(one:rename_cluster("internalCluster", cl.name))
    assert(one:rename_user("user", cl.name))
    kc:merge(one, { replace = true })
    n = n + 1
  end
end
assert(n == 20, n)
assert(kc:save())
LUA
check "fleet merge script exits 0" test $? -eq 0
"$KUBECTL" --kubeconfig "$WORK/fleet" config get-contexts -o name >"$WORK/ctx"
check "kubectl lists 23 contexts (3 + 20)" test "$(wc -l <"$WORK/ctx")" -eq 23
check "current-context unchanged" test "$("$KUBECTL" --kubeconfig "$WORK/fleet" config current-context)" = dev
"${CCE_PYTHON:-/usr/bin/python3}" - "$WORK/before.json" <(view "$WORK/fleet") <<'PY'
import json, sys
before, after = (json.load(open(p)) for p in sys.argv[1:3])
for sect in ("clusters", "users", "contexts"):
    b = {e["name"]: e for e in before[sect]}
    a = {e["name"]: e for e in after[sect]}
    for name, e in b.items():
        assert a.get(name) == e, f"{sect} {name} changed or lost"
assert after.get("preferences") == before.get("preferences")
assert after.get("extensions") == before.get("extensions")
PY
check "every unrelated entry is untouched" test $? -eq 0
out=$("$KUBECTL" --kubeconfig "$WORK/fleet" --context prod-000 get --raw /version 2>&1)
check "kubectl reaches a merged cluster with its certificate" grep -q gitVersion <<<"$out"

# ------------------------------------------------------- dates against openssl
"$CCEAUTO" - "$WORK/fleet" >"$WORK/cert.txt" <<<'
  local kc = assert(require("cce").kubeconfig.load(arg[1]))
  local c = assert(kc:cert("prod-000"))
  print(c.not_before, c.not_after, c.serial, c.sha256, c.subject)'
check "cert script exits 0" test $? -eq 0
"$KUBECTL" --kubeconfig "$WORK/fleet" config view --raw -o jsonpath='{.users[?(@.name=="prod-000")].user.client-certificate-data}' |
  base64 -d >"$WORK/prod.pem"
read -r nb na serial sha subject <"$WORK/cert.txt"
end=$(openssl x509 -in "$WORK/prod.pem" -noout -enddate | cut -d= -f2)
start=$(openssl x509 -in "$WORK/prod.pem" -noout -startdate | cut -d= -f2)
check "not_after agrees with openssl -enddate" test "$na" = "$(date -u -d "$end" +%s)"
check "not_before agrees with openssl -startdate" test "$nb" = "$(date -u -d "$start" +%s)"
check "valid for the 3 days asked" test $((na - nb)) -eq $((3 * 86400))
check "serial agrees" test "$serial" = "$(openssl x509 -in "$WORK/prod.pem" -noout -serial | cut -d= -f2)"
check "sha256 agrees" test "$sha" = "$(openssl x509 -in "$WORK/prod.pem" -noout -fingerprint -sha256 | cut -d= -f2)"


# ------------------------------------------- the same edits as kubectl makes them
# A rename and a removal (with its orphaned cluster and user) saved in place by
# cceauto's rebase read back exactly as kubectl's own rename-context / delete-* leave it.
cp "$WORK/orig" "$WORK/by-kubectl"
cp "$WORK/orig" "$WORK/by-cceauto"
F=$WORK/by-kubectl
K config rename-context prod production
K config delete-context files
K config delete-cluster files
K config delete-user certs
"$CCEAUTO" - "$WORK/by-cceauto" <<<'local kc = assert(require("cce").kubeconfig.load(arg[1]))
  assert(kc:rename_context("prod", "production"))
  assert(kc:remove_context("files"))
  assert(kc:save())'
check "rename + remove + save exits 0" test $? -eq 0
check "rename + remove + save: kubectl sees what its own edits give" \
  same_json <(view "$WORK/by-kubectl") <(view "$WORK/by-cceauto")

finish
