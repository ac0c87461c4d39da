-- rotate_all.lua --auth exec beyond test_exec: a later run follows a moved server (updated,
-- no certificate request), --force on an exec entry fetches again and stays exec, --cloud
-- goes into the exec user's argv and works on a cold cache; expiry.lua shows any tool's exec
-- user as exec and cceauto's with the cached certificate's expiry. --prune together with
-- --auth exec: a deleted cluster's exec entry is pruned like a certificate one.
-- luacheck: globals TestExecPrune
local lu = require "luaunit"
local cjson = require "cjson"
local cce = require "cce"
local sl = require "scriptlib"

local env = sl.start{ "--clusters", "6" }
local I = env.sim.info
local CACHE = env.cache

local function certs()
  return env.sim:stats().requests.clustercert
end

local function rotate(kc, extra, opts) return env:rotate(kc, extra, opts) end

local function by_context(res)
  local out = {}
  for _, r in ipairs(res.results) do out[r.context] = r end
  return out
end

local function listing()
  local code, out = sl.sh(("curl -sS --fail --cacert %s -H 'X-Auth-Token: %s' %s"):format(sl.quote(I.ca_file),
    I.token, sl.quote(I.endpoint .. "/api/v3/projects/" .. I.project_id .. "/clusters")))
  assert(code == 0, out)
  return cjson.decode(out).items
end

TestExecPrune = {}

function TestExecPrune:setUp()
  env.sim:reset()
  os.execute("rm -rf " .. sl.quote(CACHE))
end

function TestExecPrune:test_server_follows_the_listing_without_a_request()
  local kc = env:path("kubeconfig")
  local res, code, err = rotate(kc, { "--auth", "exec" })
  lu.assertEquals(code, 0, err)
  local ctx = res.results[1].context
  local good = env:view(kc)
  local server
  for _, c in ipairs(good.clusters) do
    if c.name == ctx then server = c.cluster.server end
  end
  lu.assertStrMatches(server, "https://.*")
  -- The endpoint moved (as far as the entry knows): the next run takes the listing's URL.
  local code2, out = env:kubectl(kc, { "config", "set-cluster", ctx, "--server", "https://127.0.0.9:6443" })
  lu.assertEquals(code2, 0, out)
  local moved = sl.read(kc)
  local before = certs()
  res, code, err = rotate(kc, { "--auth", "exec", "--dry-run" })
  lu.assertEquals(code, 0, err)
  lu.assertEquals(by_context(res)[ctx].action, "would-update")
  lu.assertEquals(res.summary.kept, #res.results - 1)
  lu.assertEquals(sl.read(kc), moved, "--dry-run wrote the kubeconfig")
  res, code, err = rotate(kc, { "--auth", "exec" })
  lu.assertEquals(code, 0, err)
  lu.assertEquals(by_context(res)[ctx].action, "updated")
  lu.assertStrContains(err, server)
  lu.assertEquals(res.summary.updated, 1)
  lu.assertEquals(res.summary.kept, #res.results - 1)
  lu.assertEquals(certs(), before, "an exec entry's server update made a certificate request")
  lu.assertEquals(env:view(kc), good)
  local kout
  code, kout = env:kubectl(kc, { "--context", ctx, "get", "--raw", "/version" })
  lu.assertEquals(code, 0, kout)
  -- Nothing moved: kept, the file unchanged.
  local bytes = sl.read(kc)
  res = rotate(kc, { "--auth", "exec" })
  lu.assertEquals(res.summary.kept, #res.results)
  lu.assertEquals(sl.read(kc), bytes)
end

function TestExecPrune:test_force_fetches_exec_entries_again()
  local kc = env:path("kubeconfig")
  local res, code, err = rotate(kc, { "--auth", "exec", "--match", "prod-*" })
  lu.assertEquals(code, 0, err)
  lu.assertEquals(#res.results, 2)
  -- A CA the cluster does not have: only a new request brings the right one back.
  local ctx = res.results[1].context
  local bogus = "bm90IGEgQ0E=" -- base64 of "not a CA"
  env:kubectl(kc, { "config", "set", "clusters." .. ctx .. ".certificate-authority-data", bogus })
  local before = certs()
  res, code, err = rotate(kc, { "--auth", "exec", "--match", "prod-*", "--force" })
  lu.assertEquals(code, 0, err)
  lu.assertEquals(certs(), before + 2)
  for _, r in ipairs(res.results) do
    lu.assertEquals(r.action, "renewed")
    lu.assertEquals(r.auth, "exec")
  end
  local file = assert(cce.kubeconfig.load(kc))
  lu.assertNotNil(file:user(ctx).exec)
  lu.assertNil(file:user(ctx)["client-key-data"])
  lu.assertNotEquals(file:cluster(ctx)["certificate-authority-data"], bogus)
  file:close()
  local kout
  code, kout = env:kubectl(kc, { "--context", ctx, "get", "--raw", "/version" })
  lu.assertEquals(code, 0, kout)
end

function TestExecPrune:test_cloud_goes_into_the_exec_user()
  env:clouds({ sim = env:cloud_entry{ username = I.user, user_domain_name = I.domain } },
             { sim = { auth = { password = I.password } } })
  -- Only clouds.yaml: no token, project, endpoint or CA in the environment, for
  -- rotate_all.lua and for kubectl's plugin alike.
  local saved = {}
  for k, v in pairs{ OS_AUTH_TOKEN = false, OS_PROJECT_ID = false, CCE_ENDPOINT = false, OS_CACERT = false,
                     OS_REGION_NAME = false } do
    saved[k] = env.vars[k]
    env.vars[k] = v
  end
  local ok, failure = pcall(function()
    local kc = env:path("kubeconfig")
    local res, code, err = rotate(kc, { "--auth", "exec", "--cloud", "sim", "--match", "prod-000" })
    lu.assertEquals(code, 0, err)
    local r = res.results[1]
    local file = assert(cce.kubeconfig.load(kc))
    lu.assertEquals(file:user(r.context).exec.args, { "credential.lua", "--cluster-id", r.id, "--project-id",
                                                      I.project_id, "--region", "eu-de", "--cloud", "sim" })
    file:close()
    -- On a cold cache the plugin logs in through the cloud it was given.
    os.execute("rm -rf " .. sl.quote(CACHE))
    local before = certs()
    local kout
    code, kout = env:kubectl(kc, { "--context", r.context, "get", "--raw", "/version" })
    lu.assertEquals(code, 0, kout)
    lu.assertEquals(certs(), before + 1)
  end)
  for k, v in pairs(saved) do env.vars[k] = v end
  if not ok then error(failure, 0) end
end

function TestExecPrune:test_expiry_shows_exec_users()
  local kc = env:path("kubeconfig")
  local res, code, err = rotate(kc, { "--auth", "exec", "--match", "prod-*" })
  lu.assertEquals(code, 0, err)
  -- Another tool's exec user (aws-style), and a cceauto one whose cache is empty.
  env:kubectl(kc, { "config", "set-credentials", "other", "--exec-api-version",
                    "client.authentication.k8s.io/v1", "--exec-command", "/usr/bin/other-plugin" })
  os.remove(CACHE .. "/cert-" .. res.results[2].id .. ".json")
  local out
  code, out = env:run("expiry.lua", { "--kubeconfig", kc, "--output", "json" })
  lu.assertEquals(code, 0, out)
  local rows = {}
  for _, row in ipairs(cjson.decode(out)) do rows[row.user] = row end
  for _, name in ipairs{ res.results[1].context, res.results[2].context, "other" } do
    lu.assertEquals(rows[name].status, "exec", name)
  end
  -- The cached certificate's expiry: one day after the answer's certificate was issued.
  local f = assert(io.open(CACHE .. "/cert-" .. res.results[1].id .. ".json"))
  local entry = cjson.decode(f:read("a"))
  f:close()
  lu.assertEquals(rows[res.results[1].context].not_after, os.date("!%Y-%m-%dT%H:%M:%SZ", entry.not_after))
  lu.assertStrContains(rows[res.results[1].context].reason, "cached certificate")
  lu.assertStrContains(rows[res.results[2].context].reason, "no certificate cached")
  lu.assertTrue(rows.other.not_after == nil or rows.other.not_after == cjson.null)
  lu.assertStrContains(rows.other.reason, "/usr/bin/other-plugin")
  -- The table says exec too, and nothing is an error.
  code, out = env:run("expiry.lua", { "--kubeconfig", kc })
  lu.assertEquals(code, 0, out)
  lu.assertNotStrContains(out, "error")
  local _, n = out:gsub("\n[^\n]*exec", "")
  lu.assertEquals(n, 3, out)
end

function TestExecPrune:test_prune_exec_entries()
  local kc = env:path("kubeconfig")
  local res, code, err = rotate(kc, { "--auth", "exec" })
  lu.assertEquals(code, 0, err)
  lu.assertEquals(res.summary.added, #res.results)
  local gone = {}
  for _, c in ipairs(listing()) do
    if c.status.phase == "Available" and #gone < 2 then gone[#gone + 1] = c.metadata.uid end
  end
  lu.assertEquals(#gone, 2)
  for _, id in ipairs(gone) do env.sim:control("POST", "/_sim/delete", { cluster = id }) end
  local bytes = sl.read(kc)
  res, code = rotate(kc, { "--auth", "exec", "--prune", "--dry-run" })
  lu.assertEquals(code, 0)
  lu.assertEquals(res.summary["would-prune"], 2)
  lu.assertEquals(sl.read(kc), bytes)
  local before = certs()
  res, code, err = rotate(kc, { "--auth", "exec", "--prune" })
  lu.assertEquals(code, 0, err)
  lu.assertEquals(certs(), before)
  local pruned = {}
  for _, r in ipairs(res.results) do
    if r.action == "pruned" then pruned[#pruned + 1] = r.id end
  end
  table.sort(pruned)
  table.sort(gone)
  lu.assertEquals(pruned, gone)
  local view = env:view(kc)
  lu.assertEquals(#view.contexts, res.summary.kept)
  lu.assertEquals(#view.users, res.summary.kept)
  lu.assertEquals(#view.clusters, res.summary.kept)
end

local rc = lu.LuaUnit.run()
env:stop()
os.exit(rc)
