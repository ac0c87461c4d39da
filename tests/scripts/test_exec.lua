-- rotate_all.lua --auth exec: entries whose user runs credential.lua; expiry.lua shows them.
-- luacheck: globals TestExec
local lu = require "luaunit"
local cjson = require "cjson"
local cce = require "cce"
local sl = require "scriptlib"

local env = sl.start{ "--clusters", "12" }
local CACHE = env.cache

local function certs()
  return env.sim:stats().requests.clustercert
end

local function rotate(kc, extra, opts) return env:rotate(kc, extra, opts) end

TestExec = {}

function TestExec:setUp()
  env.sim:reset()
  os.execute("rm -rf " .. sl.quote(CACHE))
end

function TestExec:test_exec_entries_work_through_kubectl_and_never_renew()
  local kc = env:path("kubeconfig")
  local res, code, err = rotate(kc, { "--auth", "exec" })
  lu.assertEquals(code, 0, err)
  lu.assertTrue(res.summary.added > 0)
  local view = env:view(kc)
  local file = assert(cce.kubeconfig.load(kc))
  for _, r in ipairs(res.results) do
    lu.assertEquals(r.auth, "exec")
    local ctx = file:context(r.context)
    local user = file:user(ctx.user)
    lu.assertNil(user["client-key-data"], "no key in the kubeconfig")
    lu.assertNil(user["client-certificate-data"])
    local exec = user.exec
    lu.assertEquals(exec.apiVersion, "client.authentication.k8s.io/v1")
    lu.assertStrMatches(exec.command, "^/.*cceauto$")
    lu.assertEquals(exec.interactiveMode, "IfAvailable")
    lu.assertEquals(exec.args, { "credential.lua", "--cluster-id", r.id, "--project-id", env.sim.info.project_id,
                                 "--region", "eu-de" })
    local cl = file:cluster(ctx.cluster)
    lu.assertStrMatches(cl.server, "https://.*")
    lu.assertNotNil(cl["certificate-authority-data"])
    -- The answer's certificate seeded the plugin's cache: a 1-day one.
    local f = assert(io.open(CACHE .. "/cert-" .. r.id .. ".json"))
    local entry = cjson.decode(f:read("a"))
    f:close()
    lu.assertEquals(entry.not_after - entry.not_before, 86400)
  end
  lu.assertEquals(#view.users, res.summary.added)
  -- kubectl reaches the API server through the plugin, from the warm cache: no request.
  local before = certs()
  local kout
  code, kout = env:kubectl(kc, { "--context", "prod-000", "get", "--raw", "/version" })
  lu.assertEquals(code, 0, kout)
  lu.assertStrContains(kout, '"gitVersion": "v1.28.3"')
  lu.assertEquals(certs(), before)
  -- ... and on a cold cache, through the plugin's own request.
  os.execute("rm -rf " .. sl.quote(CACHE))
  code, kout = env:kubectl(kc, { "--context", "prod-003", "get", "--raw", "/version" })
  lu.assertEquals(code, 0, kout)
  lu.assertEquals(certs(), before + 1)
  -- A second run keeps them all, with no certificate request and the file unchanged.
  local bytes = sl.read(kc)
  before = certs()
  res, code = rotate(kc, { "--auth", "exec" })
  lu.assertEquals(code, 0)
  lu.assertEquals(res.summary.kept, #res.results)
  lu.assertEquals(certs(), before)
  lu.assertEquals(sl.read(kc), bytes)
  -- expiry.lua shows them as exec users, not as errors.
  local eout
  code, eout = env:run("expiry.lua", { "--kubeconfig", kc, "--output", "json", "--warn-within", "30" })
  lu.assertEquals(code, 0)
  for _, row in ipairs(cjson.decode(eout)) do
    lu.assertEquals(row.status, "exec")
    lu.assertStrContains(row.reason, "credential.lua")
  end
end

function TestExec:test_modes_change_only_with_force()
  local kc = env:path("kubeconfig")
  assert(rotate(kc, { "--match", "prod-000" }))
  local file = assert(cce.kubeconfig.load(kc))
  lu.assertNotNil(file:user("prod-000")["client-key-data"])
  file:close()
  -- --auth exec keeps a certificate entry as it is (with a notice) ...
  local bytes = sl.read(kc)
  local res, code, err = rotate(kc, { "--match", "prod-000", "--auth", "exec" })
  lu.assertEquals(code, 0)
  lu.assertEquals(res.results[1].action, "kept")
  lu.assertStrContains(err, "--force converts it to the exec plugin")
  lu.assertEquals(sl.read(kc), bytes)
  -- ... --force converts it ...
  res = rotate(kc, { "--match", "prod-000", "--auth", "exec", "--force" })
  lu.assertEquals(res.results[1].action, "renewed")
  file = assert(cce.kubeconfig.load(kc))
  lu.assertNil(file:user("prod-000")["client-key-data"])
  lu.assertNotNil(file:user("prod-000").exec)
  file:close()
  -- ... and back.
  res, code, err = rotate(kc, { "--match", "prod-000" })
  lu.assertEquals(code, 0)
  lu.assertEquals(res.results[1].action, "kept")
  lu.assertStrContains(err, "--force converts it to an embedded certificate")
  res = rotate(kc, { "--match", "prod-000", "--force" })
  lu.assertEquals(res.results[1].action, "renewed")
  file = assert(cce.kubeconfig.load(kc))
  lu.assertNotNil(file:user("prod-000")["client-key-data"])
  lu.assertNil(file:user("prod-000").exec)
  local code2, kout = env:kubectl(kc, { "--context", "prod-000", "get", "--raw", "/version" })
  lu.assertEquals(code2, 0, kout)
end

local rc = lu.LuaUnit.run()
env:stop()
os.exit(rc)
