-- --verify and cce.verify: a new certificate is checked against its API server before it
-- replaces anything.
-- luacheck: globals TestVerify
local lu = require "luaunit"
local cce = require "cce"
local sl = require "scriptlib"

local env = sl.start{ "--clusters", "12" }
local I = env.sim.info
local client = assert(cce.client{ endpoint = I.endpoint, project_id = I.project_id, token = I.token,
                                  ca_file = I.ca_file, timeout = 5, connect_timeout = 2 })
local by_name = env.sim:cluster_by_name()

local function reject(id, on)
  env.sim:control("POST", "/_sim/reject", { cluster = id, reject = on ~= false })
end

-- The entries kubectl sees for a context's cluster and user, as JSON text.
local function entry_of(kc, context)
  local view = env:view(kc)
  local out = {}
  for _, ctx in ipairs(view.contexts or {}) do
    if ctx.name == context then
      for _, c in ipairs(view.clusters or {}) do
        if c.name == ctx.context.cluster then out.cluster = require("cjson").encode(c) end
      end
      for _, u in ipairs(view.users or {}) do
        if u.name == ctx.context.user then out.user = require("cjson").encode(u) end
      end
    end
  end
  return out
end

TestVerify = {}

function TestVerify:test_rotate_verify_keeps_the_old_entry_of_a_rejected_cluster()
  local kc = env:path("kubeconfig")
  local res, code, err = env:json("rotate_all.lua", { "--kubeconfig", kc, "--verify", "--output", "json" })
  lu.assertEquals(code, 0, err)
  lu.assertEquals(res.summary.failed, 0)
  lu.assertTrue(res.summary.added > 0)
  local victim = by_name["prod-000"]
  local before = entry_of(kc, "prod-000")
  lu.assertNotNil(before.user)
  local bytes = sl.read(kc)
  reject(victim.id)
  res, code = env:json("rotate_all.lua", { "--kubeconfig", kc, "--verify", "--force", "--output", "json" })
  reject(victim.id, false)
  lu.assertEquals(code, 1)
  for _, r in ipairs(res.results) do
    if r.cluster == "prod-000" then
      lu.assertEquals(r.action, "failed")
      lu.assertStrContains(r.error.message, "verify: HTTP 401")
    else
      lu.assertEquals(r.action, "renewed", r.cluster)
    end
  end
  lu.assertEquals(entry_of(kc, "prod-000"), before, "the rejected cluster's entry is as it was")
  lu.assertNotEquals(sl.read(kc), bytes, "the others were renewed")
  -- Without --verify the rejected certificate would have been swapped in: the check is what stops it.
  reject(victim.id)
  res = env:json("rotate_all.lua", { "--kubeconfig", kc, "--force", "--output", "json", "--match", "prod-000" })
  reject(victim.id, false)
  lu.assertEquals(res.results[1].action, "renewed")
end

function TestVerify:test_fetch_verify()
  local victim = by_name["dev-002"]
  reject(victim.id)
  local code, out, err = env:run("fetch.lua", { "dev-002", "prod-003", "--verify" })
  reject(victim.id, false)
  lu.assertEquals(code, 1)
  lu.assertStrContains(err, "dev-002")
  lu.assertStrContains(err, "verify: HTTP 401")
  local kc = assert(cce.kubeconfig.parse(out))
  lu.assertNotNil(kc:context("prod-003"))
  lu.assertNil(kc:context("dev-002"))
end

function TestVerify:test_cce_verify_cases()
  local answer = assert(client:clustercert(by_name["prod-006"].id, { duration = 1 }))
  local one = assert(answer:select("internal"))
  local cl = one:clusters()[1]
  -- A good certificate, by context name.
  local res, stats = cce.verify({ { client = client, kubeconfig = answer, context = "internal" } })
  lu.assertTrue(res[1].ok, res[1].error and tostring(res[1].error))
  lu.assertEquals(res[1].status, 200)
  lu.assertEquals(stats.ok, 1)
  -- No server there: a connection error, not a hang.
  local dead = one:copy()
  assert(dead:set_cluster(cl.name, { server = "https://127.0.0.1:1", ["certificate-authority-data"] = cl["certificate-authority-data"] }))
  -- insecure-skip-tls-verify without a CA is checked as kubectl would, without verification.
  local insecure = one:copy()
  assert(insecure:set_cluster(cl.name, { server = cl.server, ["insecure-skip-tls-verify"] = true }))
  -- CA data that is no certificate: refused, not skipped.
  local wrong_ca = one:copy()
  assert(wrong_ca:set_cluster(cl.name, { server = cl.server,
    ["certificate-authority-data"] = "bm90IGEgY2VydGlmaWNhdGUK" }))
  res = cce.verify({
    { client = client, kubeconfig = dead }, { client = client, kubeconfig = insecure },
    { client = client, kubeconfig = wrong_ca }, { client = client, kubeconfig = cce.kubeconfig.new() },
  })
  lu.assertNil(res[1].ok)
  lu.assertStrContains(res[1].error.message, "verify: ")
  lu.assertEquals(res[1].error.code, "CONNECT")
  lu.assertTrue(res[2].ok, res[2].error and tostring(res[2].error))
  lu.assertNil(res[3].ok)
  lu.assertStrContains(res[3].error.message, "verify: ")
  lu.assertEquals(res[4].error.code, "INVALID_ARGUMENT")
  dead:close()
  one:close()
  answer:close()
end

local rc = lu.LuaUnit.run()
env:stop()
os.exit(rc)
