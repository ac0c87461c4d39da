#!/usr/bin/env bash
# The differential corpus (tests/corpus/): every kubeconfig is given to the real
# kubectl and to the built cceauto.  Where kubectl reads a file, cceauto's three
# ways of saving it (overwrite, save to a new path, in place after adding one
# cluster) must give the same `kubectl config view --raw -o json` (the added
# cluster aside); where kubectl refuses a file, cceauto must refuse it too.  The
# exceptions are listed, with their reason, in tests/corpus/DEVIATIONS (and the
# README's "kubectl compatibility"): a listed file that stops deviating fails too.
# Then rotate_all.lua runs on a kubectl-written file holding exec, token and
# auth-provider users, and kubectl must read all of them as before.
set -u
. "$(dirname "$0")/lib.sh"
KUBECTL=${KUBECTL:-$(command -v kubectl)}
[ -x "$KUBECTL" ] || { echo "kubectl not found"; exit 1; }
PY=${CCE_PYTHON:-/usr/bin/python3}
CORPUS=$(cd "$(dirname "$0")/../corpus" && pwd)
export HOME=$WORK
# kubectl never needs PATH here; without it, a kubectl that runs a context's exec
# plugin on its own (Google's dispatcher build does for --minify) finds none to run.
view() { env PATH=/nonexistent "$KUBECTL" --kubeconfig "$1" config view --raw -o json 2>"$2"; }

# ------------------------------------------------------------- the corpus
cd "$CORPUS"
find upstream real edge -type f | sort >"$WORK/list"
total=$(wc -l <"$WORK/list")
check "the corpus holds at least 40 files from upstream and real-world shapes" \
  test "$(grep -c -e '^upstream/' -e '^real/' "$WORK/list")" -ge 40
mkdir -p "$WORK/k" "$WORK/c"
n=0
while read -r f; do
  n=$((n + 1))
  key=$n
  if view "$f" "$WORK/k/$key.err" >"$WORK/k/$key.json"; then
    echo "$f	$key	ok"
  else
    echo "$f	$key	refused"
  fi
done <"$WORK/list" >"$WORK/kubectl.tsv"

# One cceauto process for all files: load + save three ways, or the refusal.
"$CCEAUTO" - "$WORK/kubectl.tsv" "$CORPUS" "$WORK/c" >"$WORK/cceauto.tsv" 2>"$WORK/cceauto.err" <<'LUA'
local cce = require "cce"
local list, corpus, out = arg[1], arg[2], arg[3]
local function copy(from, to)
  local i = assert(io.open(from, "rb")); local data = i:read("a"); i:close()
  local o = assert(io.open(to, "wb")); o:write(data); o:close()
end
local function try(f)
  local ok, err = pcall(f)
  return ok, (not ok) and tostring(type(err) == "table" and err.message or err) or nil
end
for line in io.lines(list) do
  local f, key = line:match("^([^\t]+)\t([^\t]+)")
  local src = corpus .. "/" .. f
  local kc, err = cce.kubeconfig.load(src)
  if not kc then
    print(f .. "\trefused\t" .. (tostring(err):gsub("[\t\n]", " ")))
  else
    local base = out .. "/" .. key
    local ok, why = try(function()
      copy(src, base .. ".over")
      assert(assert(cce.kubeconfig.load(base .. ".over")):save(base .. ".over", { overwrite = true }))
      assert(kc:save(base .. ".new"))
      copy(src, base .. ".add")
      local k3 = assert(cce.kubeconfig.load(base .. ".add"))
      assert(k3:set_cluster("corpus-added", { server = "https://added.example:6443" }))
      assert(k3:save())
    end)
    print(f .. "\t" .. (ok and "ok" or "save-failed") .. "\t" .. (why or ""):gsub("[\t\n]", " "))
  end
end
LUA
check "the cceauto driver ran ($(head -c 300 "$WORK/cceauto.err"))" test "$(wc -l <"$WORK/cceauto.tsv")" -eq "$total"

# The three saved files of every file both read, through kubectl.
while IFS=$'\t' read -r f key kres; do
  [ "$kres" = ok ] || continue
  for way in over new add; do
    [ -e "$WORK/c/$key.$way" ] || continue
    view "$WORK/c/$key.$way" "$WORK/c/$key.$way.err" >"$WORK/c/$key.$way.json" || echo "kubectl refused" >>"$WORK/c/$key.$way.err"
  done
done <"$WORK/kubectl.tsv"

"$PY" - "$WORK" "$CORPUS/DEVIATIONS" >"$WORK/report" <<'PY'
import json, os, sys
work, devfile = sys.argv[1], sys.argv[2]
dev = {}
for line in open(devfile):
    line = line.strip()
    if line and not line.startswith("#"):
        path, kind, _ = line.split(None, 2)
        dev[path] = kind
cce = {}
for line in open(os.path.join(work, "cceauto.tsv")):
    f, res, why = (line.rstrip("\n").split("\t") + [""])[:3]
    cce[f] = (res, why)
def load(p):
    with open(p) as fh:
        return json.load(fh)
def by_name(d):
    # kubectl lists entries sorted by name; compare as name -> entry
    d = dict(d)
    for s in ("clusters", "users", "contexts"):
        d[s] = {e["name"]: e for e in (d.get(s) or [])}
    return d
bad = agree = 0
seen_dev = set()
for line in open(os.path.join(work, "kubectl.tsv")):
    f, key, kres = line.rstrip("\n").split("\t")
    cres, why = cce.get(f, ("missing", ""))
    problems = []
    if kres == "refused" and cres != "refused":
        if dev.get(f) == "lenient":
            seen_dev.add(f)
        else:
            problems.append("kubectl refuses it, cceauto loads it")
    elif kres == "ok" and cres == "refused":
        if dev.get(f) == "stricter":
            seen_dev.add(f)
        else:
            problems.append("kubectl reads it, cceauto refuses: " + why)
    elif kres == "ok" and cres == "save-failed":
        problems.append("a save failed: " + why)
    elif kres == "ok" and cres == "ok":
        want = load(os.path.join(work, "k", key + ".json"))
        for way in ("over", "new", "add"):
            p = os.path.join(work, "c", key + "." + way + ".json")
            try:
                got = load(p)
            except Exception:
                problems.append(way + ": kubectl cannot read the saved file: " +
                                open(os.path.join(work, "c", key + "." + way + ".err")).read().strip()[:300])
                continue
            w = by_name(want)
            g = by_name(got)
            if way == "add":
                added = g["clusters"].pop("corpus-added", None)
                if added != {"name": "corpus-added", "cluster": {"server": "https://added.example:6443"}}:
                    problems.append("add: the added cluster reads as %r" % (added,))
            if g != w and dev.get(f) == "changes":
                seen_dev.add(f)
            elif g != w:
                problems.append(way + ": kubectl's view differs:\n  before %s\n  after  %s" %
                                (json.dumps(want, sort_keys=True), json.dumps(got, sort_keys=True)))
    if problems:
        bad += 1
        print("MISMATCH %s: %s" % (f, "; ".join(problems)))
    else:
        agree += 1
for f in sorted(set(dev) - seen_dev):
    bad += 1
    print("STALE DEVIATION %s: listed as %s, but cceauto and kubectl agree (or the file is gone)" % (f, dev[f]))
print("corpus: %d files agree with kubectl, %d do not" % (agree, bad))
sys.exit(1 if bad else 0)
PY
rc=$?
cat "$WORK/report" | tail -40 >&2
check "every corpus file: cceauto agrees with kubectl (or the deviation is listed)" test $rc -eq 0
check "kubectl read at least 150 corpus files" test "$(grep -c '	ok$' "$WORK/kubectl.tsv")" -ge 150
check "kubectl refused at least 100 corpus files" test "$(grep -c '	refused$' "$WORK/kubectl.tsv")" -ge 100
cd "$WORK"

# ---------------------------------------------- rotate_all on a kubectl file
sim_start --clusters 3
export CCE_ENDPOINT=$SIM_ENDPOINT OS_PROJECT_ID=$SIM_PROJECT OS_AUTH_TOKEN=$SIM_TOKEN OS_CACERT=$SIM_CA
F=$WORK/real-kubeconfig
K() { env PATH=/nonexistent "$KUBECTL" --kubeconfig "$F" "$@" >/dev/null; }
K config set-cluster gke --server=https://34.1.2.3
K config set-cluster eks --server=https://eks.example:443
K config set-cluster oidc --server=https://oidc.example:6443
# kubectl writes `args: null` / `env: null` for an exec user made this way
K config set-credentials gke-user --exec-command=gke-gcloud-auth-plugin \
  --exec-api-version=client.authentication.k8s.io/v1beta1 --exec-interactive-mode=IfAvailable
K config set-credentials eks-user --exec-command=aws --exec-api-version=client.authentication.k8s.io/v1beta1 \
  --exec-arg=eks --exec-arg=get-token --exec-arg=--cluster-name --exec-arg=prod --exec-env=AWS_PROFILE=prod
K config set-credentials tok-user --token=sekrit-token
K config set-credentials oidc-user --auth-provider=oidc --auth-provider-arg=client-id=kubernetes \
  --auth-provider-arg=idp-issuer-url=https://idp.example --auth-provider-arg=refresh-token=r1
K config set-context gke --cluster=gke --user=gke-user
K config set-context eks --cluster=eks --user=eks-user --namespace=prod
K config set-context tok --cluster=gke --user=tok-user
K config set-context oidc --cluster=oidc --user=oidc-user
K config use-context gke
check "kubectl wrote args: null for the exec user" grep -q "args: null" "$F"
view "$F" /dev/null >"$WORK/rot-before.json"
"$CCEAUTO" rotate_all.lua --kubeconfig "$F" --output json >"$WORK/rot.out" 2>"$WORK/rot.err"
rc=$?
check "rotate_all on the kubectl-written file exits 0 ($(head -c 300 "$WORK/rot.err"))" test $rc -eq 0
view "$F" "$WORK/rot-view.err" >"$WORK/rot-after.json"
rc=$?
check "kubectl reads the rotated file ($(head -c 300 "$WORK/rot-view.err"))" test $rc -eq 0
"$PY" - "$WORK/rot-before.json" "$WORK/rot-after.json" <<'PY' >&2
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
users = lambda d: {u["name"]: u["user"] for u in d.get("users") or []}
ua, ub = users(a), users(b)
bad = [n for n in ua if ua[n] != ub.get(n)]
for n in bad:
    print("user %s changed: %s -> %s" % (n, json.dumps(ua[n]), json.dumps(ub.get(n))))
ctx = lambda d: {c["name"]: c["context"] for c in d.get("contexts") or []}
bad += [c for c in ctx(a) if ctx(a)[c] != ctx(b).get(c)]
bad += ["current-context"] if a["current-context"] != b["current-context"] else []
added = [u for u in ub if u not in ua]
print("rotate_all added users:", added)
sys.exit(1 if bad or not added else 0)
PY
rc=$?
check "exec (args: null), token and auth-provider users read as before, clusters added" test $rc -eq 0
check "no exec field became a string" bash -c "! grep -Eq 'args: \"null\"|env: \"null\"' '$F'"
for ctx in gke eks tok oidc; do
  env PATH=/nonexistent "$KUBECTL" --kubeconfig "$F" config view --raw --minify --context "$ctx" -o json \
    >/dev/null 2>"$WORK/ctx.err"
  rc=$?
  check "kubectl can select context $ctx after rotate_all ($(head -c 200 "$WORK/ctx.err"))" test $rc -eq 0
done
echo "corpus: $total files" >&2
finish
