#!/usr/bin/env bash
# A kubeconfig fetched by cceauto is accepted by the real kubectl, and its
# client certificate opens the simulator's kube-apiserver stand-in.
set -u
. "$(dirname "$0")/lib.sh"

KUBECTL=${KUBECTL:-$(command -v kubectl)}
[ -x "$KUBECTL" ] || { echo "kubectl not found"; exit 1; }
sim_start --clusters 8
export CCE_ENDPOINT=$SIM_ENDPOINT OS_PROJECT_ID=$SIM_PROJECT OS_AUTH_TOKEN=$SIM_TOKEN OS_CACERT=$SIM_CA
export HOME=$WORK  # kubectl must not touch the developer's ~/.kube

# prod-000: EIP, old version (internal + external); staging-001: + externalTLSVerify;
# dev-002: no EIP; prod-006: the CCE quirk (CA and insecure flag on externalCluster).
for name in prod-000 staging-001 dev-002 prod-006; do
  f=$WORK/$name.yaml
  (umask 077; "$CCEAUTO" "$CCE_SOURCE_DIR/examples/fetch_one.lua" "$name" --duration 2 >"$f")
  check "fetch_one.lua $name exits 0" test $? -eq 0
  check "$name: kubectl lists the contexts" grep -q internal <("$KUBECTL" --kubeconfig "$f" config get-contexts -o name)
  out=$("$KUBECTL" --kubeconfig "$f" config view --raw -o jsonpath='{.current-context}')
  case $name in dev-002) want=internal ;; *) want=external ;; esac
  check "$name: current-context is $want" test "$out" = "$want"
  for ctx in $("$KUBECTL" --kubeconfig "$f" config get-contexts -o name); do
    out=$("$KUBECTL" --kubeconfig "$f" --context "$ctx" get --raw /version 2>&1)
    check "$name/$ctx: kubectl get --raw /version works" grep -q '"gitVersion"' <<<"$out"
  done
done
check "staging-001 has externalTLSVerify" grep -q externalTLSVerify <("$KUBECTL" --kubeconfig "$WORK/staging-001.yaml" config get-contexts -o name)
check "dev-002 has only internal" test "$("$KUBECTL" --kubeconfig "$WORK/dev-002.yaml" config get-contexts -o name)" = internal

# The certificate really is the credential: with the key removed, the API server refuses.
sed '/client-key-data/d' "$WORK/prod-000.yaml" >"$WORK/nokey.yaml"
check "without the client key kubectl fails" bash -c "! '$KUBECTL' --kubeconfig '$WORK/nokey.yaml' get --raw /version >/dev/null 2>&1"

# JSON output is a kubeconfig too.
"$CCEAUTO" "$CCE_SOURCE_DIR/examples/fetch_one.lua" prod-000 --json >"$WORK/p.json"
check "JSON kubeconfig accepted by kubectl" grep -q external <("$KUBECTL" --kubeconfig "$WORK/p.json" config get-contexts -o name)

# Errors: unknown name, bad duration (nothing sent), no configuration.
out=$("$CCEAUTO" "$CCE_SOURCE_DIR/examples/fetch_one.lua" nosuch 2>&1); rc=$?
check "unknown cluster: exit 1" test $rc -eq 1
check "unknown cluster: says so" grep -q "no cluster named 'nosuch'" <<<"$out"
before=$(sim_count clustercert)
out=$("$CCEAUTO" "$CCE_SOURCE_DIR/examples/fetch_one.lua" prod-000 --duration 0 2>&1); rc=$?
check "duration 0: exit 1 with a clear error" grep -q "duration 0 is not valid" <<<"$out"
check "duration 0: no request sent" test "$(sim_count clustercert)" = "$before"
out=$(env -u OS_AUTH_TOKEN "$CCEAUTO" "$CCE_SOURCE_DIR/examples/fetch_one.lua" prod-000 2>&1); rc=$?
check "no token: exit 2" test $rc -eq 2
check "no token: names OS_AUTH_TOKEN" grep -q OS_AUTH_TOKEN <<<"$out"

# The C embedding example fetches the same kind of kubeconfig without Lua.
if [ -n "${EMBED_FETCH:-}" ]; then
  id=$("$CCEAUTO" -e 'for _, c in ipairs(assert(require("cce").client():clusters())) do if c.name == "prod-000" then print(c.id) end end')
  "$EMBED_FETCH" "$id" 3 >"$WORK/embed.yaml" 2>"$WORK/embed.err"
  check "embed_fetch exits 0" test $? -eq 0
  check "embed_fetch lists clusters on stderr" grep -q "staging-001" "$WORK/embed.err"
  check "embed_fetch kubeconfig works with kubectl" grep -q gitVersion <("$KUBECTL" --kubeconfig "$WORK/embed.yaml" get --raw /version 2>&1)
fi

finish
