-- TLS is verified (wrong CA fails, right CA works) and secrets never reach output.
local lu = require "luaunit"
local cce = require "cce"
local simctl = require "simctl"

local TOKEN = "tok-SECRET-4f1a9c77e2"
local sim = simctl.start{ "--clusters", "3", "--token", TOKEN }
local id = sim:cluster_by_name()["prod-000"].id
local tmp = simctl.tmpdir()

TestTLS = {}

function TestTLS:test_right_ca_works()
  lu.assertNotNil(sim:client():clusters())
end

function TestTLS:test_wrong_ca_fails_with_tls()
  local code, out = simctl.run(string.format(
    "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=other-ca -days 2 -keyout %s/k.pem -out %s/other.pem",
    tmp, tmp))
  lu.assertEquals(code, 0, out)
  local c = sim:client{ ca_file = tmp .. "/other.pem" }
  local list, err = c:clusters()
  lu.assertNil(list)
  lu.assertEquals(err.code, "TLS")
  lu.assertStrContains(err.message, "list clusters:")
  lu.assertEquals(c:stats().requests, 1) -- a TLS failure is not retried
end

function TestTLS:test_system_bundle_does_not_trust_simulator()
  local o = sim:opts()
  o.ca_file = nil
  local list, err = assert(cce.client(o)):clusters()
  lu.assertNil(list)
  lu.assertEquals(err.code, "TLS")
end

function TestTLS:test_insecure_is_explicit()
  local o = sim:opts{ insecure = true }
  o.ca_file = nil
  lu.assertNotNil(assert(cce.client(o)):clusters())
end

function TestTLS:test_unreadable_ca_file_is_a_config_error()
  local c, err = cce.client(sim:opts{ ca_file = tmp .. "/missing.pem" })
  lu.assertNil(c)
  lu.assertEquals(err.code, "CONFIG")
  lu.assertStrContains(err.message, "missing.pem")
end

function TestTLS:test_secrets_absent_at_trace_level()
  local keyfile = tmp .. "/key.txt"
  local script = tmp .. "/secret.lua"
  local f = assert(io.open(script, "w"))
  f:write(string.format([[
local cce = require "cce"
local c = assert(cce.client{ endpoint = %q, project_id = %q, ca_file = %q, backoff = 0.01 })
assert(c:clusters())
local kc = assert(c:clustercert(%q, { duration = 3 }))
local f = assert(io.open(%q, "w")); f:write(kc:users()[1]["client-key-data"]); f:close()
print(tostring(kc))
-- a failing call with another token, and a retried one
local bad = assert(cce.client{ endpoint = %q, project_id = %q, ca_file = %q, token = "tok-SECRET-wrong-77" })
local _, err = bad:clusters()
print(tostring(err))
error(err)
]], sim.info.endpoint, sim.info.project_id, sim.info.ca_file, id, keyfile,
    sim.info.endpoint, sim.info.project_id, sim.info.ca_file))
  f:close()
  sim:fault{ route = "clustercert", kind = "503", count = 1 }
  local code, out = simctl.run(string.format("CCEAUTO_LOG=trace OS_AUTH_TOKEN=%s %s %s",
    simctl.quote(TOKEN), simctl.quote(os.getenv("CCEAUTO")), simctl.quote(script)))
  lu.assertEquals(code, 1, out) -- the script ends with error(err)
  -- the trace really traced: requests, headers (redacted), the retry, the failure
  lu.assertStrContains(out, "> POST /api/v3/projects/")
  lu.assertStrContains(out, "X-Auth-Token: <redacted>")
  lu.assertStrContains(out, "retrying in")
  lu.assertStrContains(out, "CCE.01401001")
  -- and no secret
  lu.assertNotStrContains(out:lower(), TOKEN:lower()) -- in any form, any case (HTTP/1.1 here; HTTP/2: test_http2.sh)
  lu.assertNotStrContains(out:lower(), "auth-token: " .. TOKEN:sub(1, 4):lower())
  lu.assertNotStrContains(out, "tok-SECRET")
  local key = simctl.read_file(keyfile)
  lu.assertTrue(#key > 100)
  lu.assertNotStrContains(out, key:sub(1, 40))
  lu.assertNotStrContains(out, "PRIVATE KEY")
  lu.assertNotStrContains(out, "client-key-data")
end

local rc = lu.LuaUnit.run("-v")
sim:stop()
os.execute("rm -rf " .. simctl.quote(tmp))
os.exit(rc)
