-- credential.lua: the kubectl exec credential plugin, against the simulator and real kubectl.
-- luacheck: globals TestCredential
local lu = require "luaunit"
local cjson = require "cjson"
local cce = require "cce"
local sl = require "scriptlib"

local env = sl.start{ "--clusters", "6" }
local I = env.sim.info
local CACHE = env.cache

local client = assert(cce.client{ endpoint = I.endpoint, project_id = I.project_id, token = I.token,
                                  ca_file = I.ca_file })
local IDS = {}
for _, cl in ipairs(assert(client:clusters())) do
  if cl.phase == "Available" then IDS[#IDS + 1] = cl.id end
end
local ID = IDS[1]

local function certs(id)
  local n = 0
  for _, e in ipairs(env.sim:stats().log) do
    if e.route == "clustercert" and (not id or e.cluster == id) then n = n + 1 end
  end
  return n
end

-- A kubeconfig whose user runs the plugin for cluster `id`, its cluster entry from an answer.
local function exec_kubeconfig(id, plugin_id)
  local one = assert(assert(client:clustercert(id, { duration = 1 })):select("internal"))
  local cl = one:clusters()[1]
  local kc = cce.kubeconfig.new()
  assert(kc:set_cluster("c", { server = cl.server, ["certificate-authority-data"] = cl["certificate-authority-data"] }))
  assert(kc:set_user("u", { exec = { apiVersion = "client.authentication.k8s.io/v1", command = sl.CCEAUTO,
    args = { "credential.lua", "--cluster-id", plugin_id or id }, interactiveMode = "IfAvailable" } }))
  assert(kc:set_context("x", { cluster = "c", user = "u" }))
  kc:use_context("x")
  local path = env:path("exec.yaml")
  assert(kc:save(path))
  return path
end

TestCredential = {}

function TestCredential:setUp()
  os.execute("rm -rf " .. sl.quote(CACHE))
  env.sim:reset()
end

function TestCredential:test_exec_credential_and_cache()
  local code, out, err = env:run("credential.lua", { "--cluster-id", ID })
  lu.assertEquals(code, 0, err)
  local doc = cjson.decode(out)
  lu.assertEquals(doc.apiVersion, "client.authentication.k8s.io/v1")
  lu.assertEquals(doc.kind, "ExecCredential")
  lu.assertStrContains(doc.status.clientCertificateData, "-----BEGIN CERTIFICATE-----\n")
  lu.assertStrContains(doc.status.clientKeyData, "PRIVATE KEY-----\n")
  -- The certificate the plugin hands out is a 1-day one, told to expire an hour early.
  local f = assert(io.open(CACHE .. "/cert-" .. ID .. ".json"))
  local entry = cjson.decode(f:read("a"))
  f:close()
  lu.assertEquals(entry.not_after - entry.not_before, 86400)
  lu.assertEquals(doc.status.expirationTimestamp, os.date("!%Y-%m-%dT%H:%M:%SZ", entry.not_after - 3600))
  lu.assertEquals(sl.mode(CACHE), "700")
  lu.assertEquals(sl.mode(CACHE .. "/cert-" .. ID .. ".json"), "600")
  lu.assertEquals(certs(), 1)
  -- Warm: the same certificate, no request.
  local code2, out2 = env:run("credential.lua", { "--cluster-id", ID })
  lu.assertEquals(code2, 0)
  lu.assertEquals(cjson.decode(out2).status.clientCertificateData, doc.status.clientCertificateData)
  lu.assertEquals(certs(), 1)
  -- v1beta1 when kubectl asks for it.
  local _, out3 = env:run("credential.lua", { "--cluster-id", ID }, { env = {
    KUBERNETES_EXEC_INFO = '{"apiVersion":"client.authentication.k8s.io/v1beta1","kind":"ExecCredential",'
      .. '"spec":{"interactive":false}}' } })
  lu.assertEquals(cjson.decode(out3).apiVersion, "client.authentication.k8s.io/v1beta1")
  -- --duration is passed on.
  env:run("credential.lua", { "--cluster-id", IDS[2], "--duration", "3" })
  local log = env.sim:stats().log
  lu.assertEquals(log[#log].cluster, IDS[2])
end

function TestCredential:test_stale_or_broken_cache_is_refetched()
  assert(env:run("credential.lua", { "--cluster-id", ID }) == 0)
  local path = CACHE .. "/cert-" .. ID .. ".json"
  local f = assert(io.open(path))
  local entry = cjson.decode(f:read("a"))
  f:close()
  entry.expires = os.time() - 1 -- inside the margin now
  f = assert(io.open(path, "w"))
  f:write(cjson.encode(entry))
  f:close()
  local code, out = env:run("credential.lua", { "--cluster-id", ID })
  lu.assertEquals(code, 0)
  lu.assertEquals(certs(), 2)
  lu.assertNotEquals(cjson.decode(out).status.clientCertificateData, entry.certificate)
  f = assert(io.open(path, "w"))
  f:write("{not json")
  f:close()
  code = env:run("credential.lua", { "--cluster-id", ID })
  lu.assertEquals(code, 0)
  lu.assertEquals(certs(), 3)
end

function TestCredential:test_kubectl_through_the_plugin_and_twenty_at_once()
  local kc = exec_kubeconfig(ID)
  env.sim:reset()
  os.execute("rm -rf " .. sl.quote(CACHE))
  local code, out = env:kubectl(kc, { "get", "--raw", "/version" })
  lu.assertEquals(code, 0, out)
  lu.assertStrContains(out, '"gitVersion": "v1.28.3"')
  lu.assertEquals(certs(), 1)
  -- Twenty kubectl processes at once on a cold cache: one certificate request, no failure.
  os.execute("rm -rf " .. sl.quote(CACHE))
  env.sim:reset()
  local dir = env:path("twenty")
  os.execute("mkdir -p " .. sl.quote(dir))
  local jobs = {}
  for i = 1, 20 do
    jobs[#jobs + 1] = ("(%s %s --kubeconfig %s get --raw /version >%s/out%d 2>&1; echo $? >%s/rc%d) &"):format(
      env:prefix(), sl.quote(sl.KUBECTL), sl.quote(kc), dir, i, dir, i)
  end
  os.execute(table.concat(jobs, " ") .. " wait")
  for i = 1, 20 do
    lu.assertEquals(sl.read(dir .. "/rc" .. i), "0\n", sl.read(dir .. "/out" .. i))
  end
  lu.assertEquals(certs(ID), 1, "twenty kubectl runs, one certificate request")
end

function TestCredential:test_errors_are_one_line()
  local code, out, err = env:run("credential.lua", {})
  local _
  lu.assertEquals(code, 2)
  lu.assertEquals(out, "")
  lu.assertEquals(err, "credential.lua: --cluster-id is required (see --help)\n")
  code, _, err = env:run("credential.lua", { "--cluster-id", "../etc" })
  lu.assertEquals(code, 2)
  lu.assertStrContains(err, "not valid")
  code, _, err = env:run("credential.lua", { "--cluster-id", "nosuch-cluster" })
  lu.assertEquals(code, 1)
  lu.assertStrContains(err, "cluster nosuch-cluster:")
  lu.assertStrContains(err, "HTTP 404")
  lu.assertEquals(select(2, err:gsub("\n", "")), 1, "one line")
  code, _, err = env:run("credential.lua", { "--cluster-id", ID }, { env = { OS_AUTH_TOKEN = false } })
  lu.assertEquals(code, 2)
  lu.assertStrContains(err, "no credentials")
  -- kubectl shows the plugin's line
  local kc = exec_kubeconfig(ID, "nosuch-cluster")
  os.execute("rm -rf " .. sl.quote(CACHE))
  local kout
  code, kout = env:kubectl(kc, { "get", "--raw", "/version" })
  lu.assertNotEquals(code, 0)
  lu.assertStrContains(kout, "credential.lua: cluster nosuch-cluster")
end

-- A password prompt only when kubectl says the session is interactive (script(1) gives a terminal).
function TestCredential:test_prompt_only_when_interactive()
  if not os.execute("command -v script >/dev/null") then return end
  local vars = { OS_AUTH_TOKEN = false, OS_AUTH_URL = I.auth_url, OS_USERNAME = I.user, OS_USER_DOMAIN_NAME = I.domain,
                 OS_PASSWORD = false }
  local function on_tty(info)
    local inner = ("%s KUBERNETES_EXEC_INFO=%s %s credential.lua --cluster-id %s"):format(env:prefix(vars),
      sl.quote(info), sl.quote(sl.CCEAUTO), ID)
    return sl.sh(("(sleep 1; printf '%%s\\n' %s) | script -qec %s /dev/null"):format(sl.quote(I.password),
      sl.quote(inner .. "; echo rc=$?")))
  end
  local _, out = on_tty('{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","spec":{"interactive":false}}')
  lu.assertNil(out:find("IAM password", 1, true), out)
  lu.assertStrContains(out, "no password")
  lu.assertStrContains(out, "rc=2")
  _, out = on_tty('{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","spec":{"interactive":true}}')
  lu.assertStrContains(out, "IAM password for user '" .. I.user .. "'")
  lu.assertStrContains(out, "ExecCredential")
  lu.assertStrContains(out, "rc=0")
end

local rc = lu.LuaUnit.run()
env:stop()
os.exit(rc)
