-- rotate_all.lua against a simulated fleet of 200 clusters: first run, idempotence, renewal
-- of exactly the missing, unreadable and expiring entries, foreign entries untouched,
-- kubectl, renamed contexts, dry run, endpoints, prefixes, usage errors.
-- luacheck: globals TestRotate
local lu = require "luaunit"
local sl = require "scriptlib"

local env = sl.start{ "--clusters", "200" }
local fleet = env:fleet()
local AVAILABLE = env:names(function(cl) return cl.phase == "Available" end)

-- Entries another tool wrote: a token user, an exec user, a namespace, an extension,
-- preferences, and the current-context.
local FOREIGN = [[
apiVersion: v1
kind: Config
preferences:
  colors: true
current-context: mk
clusters:
- name: mk
  cluster:
    server: https://10.1.1.1:6443
    extensions:
    - name: cluster_info
      extension: {provider: minikube.sigs.k8s.io}
contexts:
- name: mk
  context: {cluster: mk, user: mk-user, namespace: team-a}
- name: mk-exec
  context: {cluster: mk, user: exec-user}
users:
- name: mk-user
  user: {token: tok-123}
- name: exec-user
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      command: otc-auth
      args: [token, --cluster]
      interactiveMode: Never
]]
local FOREIGN_NAMES = { "clusters/mk", "contexts/mk", "contexts/mk-exec", "users/mk-user", "users/exec-user" }

local function rotate(kc, extra, opts)
  local argv = { "--kubeconfig", kc, "--output", "json", "--quiet" }
  for _, a in ipairs(extra or {}) do argv[#argv + 1] = a end
  return env:json("rotate_all.lua", argv, opts)
end

-- Every name the fleet could give an entry (unprefixed).
local CCE_NAMES = {}
for name in pairs(fleet) do CCE_NAMES[name] = true end

local function assert_foreign_untouched(kc, before)
  local view = env:view(kc)
  local now = sl.foreign(view, CCE_NAMES)
  for _, key in ipairs(FOREIGN_NAMES) do
    lu.assertNotNil(now[key], key .. " is gone")
    lu.assertEquals(now[key], before[key], key .. " changed")
  end
  lu.assertEquals(view["current-context"], "mk")
  lu.assertEquals(view.preferences.colors, true)
end

local function days_left(kc, user)
  local cce = require "cce"
  local k = assert(cce.kubeconfig.load(kc))
  local cert = assert(k:cert(user))
  return cert.days_left
end

TestRotate = {}

function TestRotate:test_lifecycle()
  local kc = env:path("config")
  sl.write(kc, FOREIGN)
  -- private, as kubectl makes it: a 0644 file gets a notice on stderr when keys are written into it
  assert(os.execute("chmod 600 " .. sl.quote(kc)))
  local before = sl.foreign(env:view(kc), CCE_NAMES)

  -- 1. The first run adds every Available cluster, and only those.
  local sent = env:count("clustercert")
  local res, code, err = rotate(kc)
  lu.assertEquals(code, 0, err)
  lu.assertEquals(err, "")                           -- --quiet: nothing on stderr
  lu.assertEquals(res.kubeconfig, kc)
  lu.assertEquals(res.summary, { added = #AVAILABLE, renewed = 0, kept = 0, failed = 0 })
  lu.assertEquals(sl.with_action(res, "added"), AVAILABLE)
  lu.assertEquals(env:count("clustercert") - sent, #AVAILABLE)
  for _, r in ipairs(res.results) do
    lu.assertEquals(r.id, fleet[r.cluster].id)
    lu.assertIs(r.expires_before, sl.null)           -- JSON null
    lu.assertStrMatches(r.expires_after, "%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%dZ")
    lu.assertIs(r.error, sl.null)
  end
  assert_foreign_untouched(kc, before)
  local view = env:view(kc)
  lu.assertEquals(#view.contexts, #AVAILABLE + 2)
  -- The extension that recognises an entry.
  local ctx
  for _, c in ipairs(view.contexts) do if c.name == "prod-000" then ctx = c.context end end
  lu.assertEquals(ctx.cluster, "prod-000")
  lu.assertEquals(ctx.user, "prod-000")
  local ext = ctx.extensions[1]
  lu.assertEquals(ext.name, "cceauto")
  lu.assertEquals(ext.extension.cluster_id, fleet["prod-000"].id)
  lu.assertEquals(ext.extension.cluster_name, "prod-000")
  lu.assertEquals(ext.extension.project_id, env.sim.info.project_id)
  lu.assertEquals(ext.extension.region, "eu-de")
  lu.assertEquals(ext.extension.duration, 30)
  lu.assertStrMatches(ext.extension.issued, "%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%dZ")
  lu.assertAlmostEquals(days_left(kc, "prod-000"), 30, 0.01)

  -- kubectl accepts the file and the entries open the apiserver stand-in: an entry with
  -- the verified external endpoint (staging-001), the insecure external one (prod-000),
  -- the internal one only (dev-002).
  local rc, out = env:kubectl(kc, { "config", "get-contexts" })
  lu.assertEquals(rc, 0, out)
  lu.assertStrContains(out, "prod-000")
  for _, name in ipairs{ "staging-001", "prod-000", "dev-002" } do
    rc, out = env:kubectl(kc, { "--context", name, "get", "--raw", "/version" })
    lu.assertEquals(rc, 0, out)
    lu.assertStrContains(out, '"gitVersion"')
  end

  -- 2. A second run keeps everything and asks for nothing.
  sent = env:count("clustercert")
  local bytes = sl.read(kc)
  res, code = rotate(kc)
  lu.assertEquals(code, 0)
  lu.assertEquals(res.summary, { added = 0, renewed = 0, kept = #AVAILABLE, failed = 0 })
  lu.assertEquals(env:count("clustercert"), sent)
  lu.assertEquals(sl.read(kc), bytes)                -- nothing written

  -- 3. Make entries need work: dev-* certificates of 3 days, three staging entries gone,
  -- one prod certificate unreadable, one prod user gone (the context stays).
  local devs = env:names(function(cl) return cl.phase == "Available" and cl.name:match("^dev%-") ~= nil end)
  res, code = rotate(kc, { "--match", "dev-*", "--force", "--duration", "3" })
  lu.assertEquals(code, 0)
  lu.assertEquals(sl.with_action(res, "renewed"), devs)
  lu.assertAlmostEquals(days_left(kc, devs[1]), 3, 0.01)
  local gone = { "staging-001", "staging-004", "staging-010" }
  for _, name in ipairs(gone) do
    for _, what in ipairs{ "delete-context", "delete-cluster", "delete-user" } do
      rc, out = env:kubectl(kc, { "config", what, name })
      lu.assertEquals(rc, 0, out)
    end
  end
  rc, out = env:kubectl(kc, { "config", "set", "users.prod-003.client-certificate-data", "Zm9vCg==" })
  lu.assertEquals(rc, 0, out)
  rc, out = env:kubectl(kc, { "config", "delete-user", "prod-006" })
  lu.assertEquals(rc, 0, out)
  -- The user's own field on a context cceauto wrote survives the renewal.
  rc, out = env:kubectl(kc, { "config", "set-context", "prod-006", "--namespace", "ops" })
  lu.assertEquals(rc, 0, out)

  -- 4. Dry run: says what it would do, sends no certificate request, writes nothing.
  bytes = sl.read(kc)
  sent = env:count("clustercert")
  res, code = rotate(kc, { "--dry-run" })
  lu.assertEquals(code, 0)
  lu.assertEquals(env:count("clustercert"), sent)
  lu.assertEquals(sl.read(kc), bytes)
  local renew = { "prod-003", "prod-006" }
  for _, d in ipairs(devs) do renew[#renew + 1] = d end
  table.sort(renew)
  lu.assertEquals(sl.with_action(res, "would-add"), gone)
  lu.assertEquals(sl.with_action(res, "would-renew"), renew)
  lu.assertEquals(res.summary, { added = 0, renewed = 0, kept = #AVAILABLE - #gone - #renew, failed = 0,
                                 ["would-add"] = #gone, ["would-renew"] = #renew })

  -- 5. The real run renews exactly those and keeps the rest.
  res, code = rotate(kc)
  lu.assertEquals(code, 0)
  lu.assertEquals(sl.with_action(res, "added"), gone)
  lu.assertEquals(sl.with_action(res, "renewed"), renew)
  lu.assertEquals(res.summary.kept, #AVAILABLE - #gone - #renew)
  lu.assertEquals(env:count("clustercert") - sent, #gone + #renew)
  local by = sl.by_cluster(res)
  lu.assertNotNil(by[devs[1]].expires_before)
  lu.assertAlmostEquals(days_left(kc, devs[1]), 30, 0.01)
  lu.assertAlmostEquals(days_left(kc, "prod-003"), 30, 0.01)
  lu.assertEquals(by["prod-003"].reason, "unreadable")
  lu.assertEquals(by["prod-006"].reason, "incomplete")
  lu.assertEquals(by[devs[1]].reason, "expiring")
  view = env:view(kc)
  for _, c in ipairs(view.contexts) do
    if c.name == "prod-006" then lu.assertEquals(c.context.namespace, "ops") end
  end
  lu.assertEquals(#view.contexts, #AVAILABLE + 2)
  lu.assertEquals(#view.users, #AVAILABLE + 2)
  lu.assertEquals(#view.clusters, #AVAILABLE + 1)
  assert_foreign_untouched(kc, before)

  -- 6. A context the user renamed is recognised by its extension: kept, not added again;
  -- renewed under the user's name, with the cluster and user names it points at.
  rc, out = env:kubectl(kc, { "config", "rename-context", "prod-012", "my-prod" })
  lu.assertEquals(rc, 0, out)
  res, code = rotate(kc)
  lu.assertEquals(code, 0)
  lu.assertEquals(res.summary, { added = 0, renewed = 0, kept = #AVAILABLE, failed = 0 })
  lu.assertEquals(sl.by_cluster(res)["prod-012"].context, "my-prod")
  res, code = rotate(kc, { "--match", "prod-012", "--force" })
  lu.assertEquals(code, 0)
  lu.assertEquals(sl.with_action(res, "renewed"), { "prod-012" })
  view = env:view(kc)
  local names = sl.entries(view, "contexts")
  lu.assertNil(names["prod-012"])
  lu.assertNotNil(names["my-prod"])
  lu.assertStrContains(names["my-prod"], '"cluster":"prod-012"')
  lu.assertStrContains(names["my-prod"], '"user":"prod-012"')
  rc, out = env:kubectl(kc, { "--context", "my-prod", "get", "--raw", "/version" })
  lu.assertEquals(rc, 0, out)
  assert_foreign_untouched(kc, before)
end

-- A context of another tool under a cluster's name is never overwritten.
function TestRotate:test_name_conflict_is_a_failure()
  local kc = env:path("conflict")
  sl.write(kc, FOREIGN:gsub("name: mk%-exec", "name: prod-000"))
  local res, code, err = rotate(kc, { "--match", "prod-00*" })
  lu.assertEquals(code, 1)
  local by = sl.by_cluster(res)
  lu.assertEquals(by["prod-000"].action, "failed")
  lu.assertEquals(by["prod-000"].error.code, "CONFLICT")
  lu.assertStrContains(err, "prod-000")
  lu.assertEquals(by["prod-003"].action, "added")
  local ctx = sl.entries(env:view(kc), "contexts")["prod-000"]
  lu.assertStrContains(ctx, '"user":"exec-user"')
  -- With a prefix there is no clash.
  res, code = rotate(kc, { "--match", "prod-000", "--prefix", "cce-" })
  lu.assertEquals(code, 0)
  lu.assertEquals(sl.with_action(res, "added"), { "prod-000" })
end

-- --endpoint picks the server: 127.0.0.1 is the simulator's internal address, 127.0.0.2
-- its external one; --prefix names all three entries.
function TestRotate:test_endpoints_and_prefix()
  local function servers(kc)
    local view = env:view(kc)
    local out = {}
    for _, c in ipairs(view.clusters) do out[c.name] = c.cluster end
    return out, sl.entries(view, "users"), sl.entries(view, "contexts")
  end
  local picks = { "--match", "prod-000", "--match", "staging-001", "--match", "dev-002" }

  local kc = env:path("internal")
  local res, code = rotate(kc, { "--endpoint", "internal", "--prefix", "in-", table.unpack(picks) })
  lu.assertEquals(code, 0)
  lu.assertEquals(res.summary.added, 3)
  local cl, users, ctxs = servers(kc)
  for _, name in ipairs{ "prod-000", "staging-001", "dev-002" } do
    lu.assertStrContains(cl["in-" .. name].server, "://127.0.0.1:")
    lu.assertNotNil(users["in-" .. name])
    lu.assertStrContains(ctxs["in-" .. name], '"cluster":"in-' .. name .. '"')
    lu.assertStrContains(ctxs["in-" .. name], '"user":"in-' .. name .. '"')
  end

  -- external: the verified external endpoint only. prod-000 (v1.25) has only the one
  -- without TLS verification, dev-002 no EIP at all.
  kc = env:path("external")
  local sent = env:count("clustercert")
  res, code = rotate(kc, { "--endpoint", "external", table.unpack(picks) })
  lu.assertEquals(code, 1)
  local by = sl.by_cluster(res)
  lu.assertEquals(by["dev-002"].action, "failed")
  lu.assertEquals(by["dev-002"].error.code, "NO_ENDPOINT")
  lu.assertEquals(by["prod-000"].action, "failed")
  lu.assertEquals(by["prod-000"].error.code, "NO_ENDPOINT")
  lu.assertStrContains(by["prod-000"].error.message, "--endpoint external-insecure")
  lu.assertEquals(env:count("clustercert") - sent, 2)         -- nothing sent for dev-002
  cl = servers(kc)
  lu.assertNil(cl["prod-000"])
  lu.assertStrContains(cl["staging-001"].server, "://127.0.0.2:")
  lu.assertNil(cl["staging-001"]["insecure-skip-tls-verify"])
  lu.assertNil(cl["dev-002"])

  -- external-insecure: the verified one when there is one, else the one without verification.
  kc = env:path("external-insecure")
  res, code = rotate(kc, { "--endpoint", "external-insecure", "--match", "prod-000", "--match", "staging-001" })
  lu.assertEquals(code, 0)
  lu.assertEquals(res.summary.added, 2)
  cl = servers(kc)
  lu.assertStrContains(cl["prod-000"].server, "://127.0.0.2:")
  lu.assertTrue(cl["prod-000"]["insecure-skip-tls-verify"])
  lu.assertStrContains(cl["staging-001"].server, "://127.0.0.2:")
  lu.assertNil(cl["staging-001"]["insecure-skip-tls-verify"])

  -- auto never writes insecure-skip-tls-verify: verified external, else internal (saying so).
  kc = env:path("auto")
  local _, err
  code, _, err = env:run("rotate_all.lua", { "--kubeconfig", kc, "--output", "json", table.unpack(picks) })
  lu.assertEquals(code, 0, err)
  cl = servers(kc)
  lu.assertStrContains(cl["staging-001"].server, "://127.0.0.2:")   -- externalTLSVerify: CA, verified
  lu.assertNotNil(cl["staging-001"]["certificate-authority-data"])
  lu.assertNil(cl["staging-001"]["insecure-skip-tls-verify"])
  lu.assertStrContains(cl["prod-000"].server, "://127.0.0.1:")      -- not the unverified external one
  lu.assertNil(cl["prod-000"]["insecure-skip-tls-verify"])
  lu.assertStrContains(err, "prod-000: no external endpoint with TLS verification: the entry uses the internal one")
  lu.assertNotStrContains(err, "staging-001: no external")
  lu.assertNotStrContains(err, "dev-002: no external")              -- no EIP: nothing was left out
  lu.assertStrContains(cl["dev-002"].server, "://127.0.0.1:")
  lu.assertNotStrContains(sl.read(kc), "insecure-skip-tls-verify")
  for _, name in ipairs{ "prod-000", "staging-001", "dev-002" } do
    local rc, out = env:kubectl(kc, { "--context", name, "get", "--raw", "/version" })
    lu.assertEquals(rc, 0, out)
  end
end

function TestRotate:test_table_output()
  local kc = env:path("table")
  local code, out, err = env:run("rotate_all.lua", { "--kubeconfig", kc, "--match", "prod-01?" })
  lu.assertEquals(code, 0, err)
  local lines = {}
  for l in out:gmatch("[^\n]+") do lines[#lines + 1] = l end
  lu.assertStrMatches(lines[1], "CLUSTER%s+PROJECT%s+REGION%s+ACTION%s+OLD EXPIRY%s+NEW EXPIRY")
  lu.assertStrMatches(lines[2], "prod%-012%s+%S+%s+eu%-de%s+added%s+%-%s+%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%dZ")
  lu.assertEquals(#lines, 4)                                  -- prod-012, -015, -018
  lu.assertStrContains(err, "3 added")                        -- the summary on stderr
  lu.assertNotStrContains(out .. err, "BEGIN")                -- no key or certificate printed
  lu.assertNotStrContains(out .. err, env.sim.info.token)
end

function TestRotate:test_usage_and_configuration_errors()
  local kc = env:path("usage")
  for _, argv in ipairs{
    { "--duration", "0" }, { "--duration", "1826" }, { "--duration", "x" }, { "--output", "xml" },
    { "--no-such-option" }, { "--concurrency", "0" }, { "--endpoint", "public" }, { "--renew-within", "-1" },
    { "stray-argument" },
  } do
    table.insert(argv, 1, kc)
    table.insert(argv, 1, "--kubeconfig")
    local code, out, err = env:run("rotate_all.lua", argv)
    lu.assertEquals(code, 2, table.concat(argv, " ") .. ": " .. err)
    lu.assertEquals(out, "")
    lu.assertStrContains(err, "Usage:")
  end
  lu.assertNil(sl.read(kc))                                   -- nothing written
  local code, out, err = env:run("rotate_all.lua", { "--kubeconfig", kc }, { env = { OS_AUTH_TOKEN = false } })
  lu.assertEquals(code, 2)
  lu.assertEquals(out, "")
  lu.assertStrContains(err, "OS_AUTH_TOKEN")
  -- -1 is the maximum, accepted.
  local res
  res, code = rotate(kc, { "--duration", "-1", "--match", "prod-000" })
  lu.assertEquals(code, 0)
  lu.assertAlmostEquals(days_left(kc, "prod-000"), 1825, 0.01)
  lu.assertEquals(res.summary.added, 1)
  -- --help documents every option with its default.
  code, out = env:run("rotate_all.lua", { "--help" })
  lu.assertEquals(code, 0)
  out = out:gsub("%s+", " ")
  for _, opt in ipairs{ "--kubeconfig", "--duration", "--renew-within", "--match", "--phase", "--endpoint", "--prefix",
                        "--concurrency", "--force", "--dry-run", "--output", "--quiet" } do
    lu.assertStrContains(out, opt)
  end
  for _, default in ipairs{ "(default: 30)", "(default: 7)", "(default: Available)", "(default: auto)",
                            "(default: 16)", "(default: table)" } do
    lu.assertStrContains(out, default)
  end
end

-- The default kubeconfig: the first file of $KUBECONFIG, else ~/.kube/config (created).
function TestRotate:test_default_kubeconfig()
  local code, _, err = env:run("rotate_all.lua", { "--match", "prod-000", "--quiet" })
  lu.assertEquals(code, 0, err)
  lu.assertStrContains(sl.read(env.dir .. "/.kube/config") or "", "prod-000")
  local a, b = env:path("a"), env:path("b")
  code, _, err = env:run("rotate_all.lua", { "--match", "prod-000", "--quiet" }, { env = { KUBECONFIG = a .. ":" .. b } })
  lu.assertEquals(code, 0, err)
  lu.assertStrContains(sl.read(a) or "", "prod-000")
  lu.assertNil(sl.read(b))
end

local rc = lu.LuaUnit.run("-v")
env:stop()
os.exit(rc)
