-- Errors as the user sees them: every documented body format, non-JSON bodies,
-- validation before any request, bad responses, limits.
local lu = require "luaunit"
local cce = require "cce"
local simctl = require "simctl"

local sim = simctl.start{ "--clusters", "10" }
local ids = {}
for name, cl in pairs(sim:cluster_by_name()) do ids[name] = cl.id end

local function cert_err(c, fault)
  sim:reset()
  if fault then sim:fault(fault) end
  local kc, err = c:clustercert(ids["prod-000"], { duration = 7 })
  lu.assertNil(kc)
  lu.assertNotNil(err)
  return err
end

TestErrors = {}

-- cce.escape, which the scripts' terminal output uses, writes what the core's error
-- messages write: one escaper, so the two cannot drift apart.
function TestErrors:test_escape_forms()
  lu.assertEquals(cce.escape("a\27[2J\0b\n\194\155 caf\195\169 \255"), [[a\x1b[2J\x00b\n\u009b caf]] .. "\195\169" .. [[ \xff]])
  lu.assertEquals(cce.escape("plain"), "plain")
  lu.assertEquals(cce.escape("\0\0"), [[\x00\x00]])
end

function TestErrors:test_status_format()
  local err = cert_err(sim:client(), { route = "clustercert", kind = "400", format = "status", count = 1 })
  lu.assertEquals(err.status, 400)
  lu.assertEquals(err.code, "CCE_CM.0004")  -- error_code wins over errorCode (CCE.01400001)
  lu.assertStrContains(err.message, "clustercert " .. ids["prod-000"] .. ": HTTP 400 Bad Request:")
  lu.assertNotEquals(err.request_id, "")
  lu.assertStrContains(tostring(err), "CCE_CM.0004: clustercert ")
  lu.assertStrContains(tostring(err), "(request id " .. err.request_id .. ")")
  lu.assertEquals(sim:stats().requests.clustercert, 1) -- 400 is never retried
end

function TestErrors:test_cce_format()
  local err = cert_err(sim:client(), { route = "clustercert", kind = "403", format = "cce", count = 1 })
  lu.assertEquals(err.code, "CCE.01403001")
  lu.assertEquals(err.status, 403)
end

function TestErrors:test_cm_format()
  local err = cert_err(sim:client(), { route = "clustercert", kind = "409", format = "cm", count = 1 })
  lu.assertEquals(err.code, "CCE_CM.0201")
  lu.assertStrContains(err.message, "Request body invalid (Need authorize CCE to operate user resources)")
end

function TestErrors:test_apig_format_request_id_from_body()
  local err = cert_err(sim:client(), { route = "clustercert", kind = "404", format = "apig", count = 1 })
  lu.assertEquals(err.code, "APIG.0101")
  lu.assertStrMatches(err.request_id, "^[%x%-]+$")
end

function TestErrors:test_html_body_names_status()
  local err = cert_err(sim:client{ retries = 0 }, { route = "clustercert", kind = "html", count = 1 })
  lu.assertEquals(err.code, "HTTP_502")
  lu.assertEquals(err.status, 502)
  lu.assertStrContains(err.message, "HTTP 502 Bad Gateway")
  lu.assertStrContains(err.message, "text/html")
end

function TestErrors:test_empty_body_names_status()
  local err = cert_err(sim:client(), { route = "clustercert", kind = "empty", status = 500, count = 1 })
  lu.assertEquals(err.code, "HTTP_500")
  lu.assertStrContains(err.message, "HTTP 500 Internal Server Error (empty body)")
end

function TestErrors:test_real_401_404()
  local c = sim:client{ token = "wrong-token" }
  local err = cert_err(c)
  lu.assertEquals(err.code, "CCE.01401001")
  lu.assertEquals(err.kind, "SERVICE")   -- the service named its own code
  lu.assertEquals(err.status, 401)
  lu.assertNotStrContains(tostring(err), "wrong-token")
  lu.assertEquals(sim:stats().requests.clustercert, 1) -- no retry on 401
  sim:reset()
  local kc
  kc, err = sim:client():clustercert("00000000-0000-0000-0000-000000000000", { duration = 3 })
  lu.assertNil(kc)
  lu.assertEquals(err.code, "CCE_CM.0003")
  lu.assertEquals(err.status, 404)
  lu.assertStrContains(err.message, "not found")
  lu.assertEquals(sim:stats().requests.clustercert, 1) -- no retry on 404
  local cl
  cl, err = sim:client():cluster("00000000-0000-0000-0000-000000000000")
  lu.assertNil(cl)
  lu.assertEquals(err.status, 404)
end

function TestErrors:test_cluster_not_available()
  local kc, err = sim:client():clustercert(ids["staging-007"], { duration = 3 })
  lu.assertNil(kc)
  lu.assertEquals(err.status, 400)
  lu.assertStrContains(err.message, "staging-007 is Unavailable, not Available")
end

function TestErrors:test_validation_sends_nothing()
  sim:reset()
  local c = sim:client()
  for _, d in ipairs{ 0, 1826, -2, 100000, 200000, -100, math.maxinteger, math.mininteger } do
    local kc, err = c:clustercert(ids["prod-000"], { duration = d })
    lu.assertNil(kc)
    lu.assertEquals(err.code, "INVALID_ARGUMENT")
    lu.assertEquals(err.kind, "INVALID_ARGUMENT")
    lu.assertStrContains(err.message, "duration " .. d .. " is not valid: use 1 to 1825 days, or -1")
  end
  -- The same for a batch, per item and as the batch's default.
  for _, d in ipairs{ 200000, -5000000 } do
    local res = cce.fetch({ { client = c, id = ids["prod-000"], duration = d } })
    lu.assertEquals(res[1].error.code, "INVALID_ARGUMENT")
    lu.assertStrContains(res[1].error.message, "duration " .. d .. " is not valid")
    res = cce.fetch({ { client = c, id = ids["prod-000"] } }, { duration = d })
    lu.assertStrContains(res[1].error.message, "duration " .. d .. " is not valid")
  end
  for _, id in ipairs{ "../../clusters", "a/b", "a?b=c", "a%2Fb", "", "x y", "a\nb", ("a"):rep(200) } do
    local kc, err = c:clustercert(id, { duration = 3 })
    lu.assertNil(kc)
    lu.assertEquals(err.code, "INVALID_ARGUMENT")
    lu.assertStrContains(err.message, "only letters, digits and '-'")
    local cl, err2 = c:cluster(id)
    lu.assertNil(cl)
    lu.assertEquals(err2.code, "INVALID_ARGUMENT")
  end
  local st = sim:stats()
  lu.assertEquals(st.total, 0, "a request reached the simulator")
  lu.assertEquals(c:stats().requests, 0)
  -- the limits themselves are accepted
  lu.assertNotNil(c:clustercert(ids["prod-000"], { duration = 1825 }))
  lu.assertNotNil(c:clustercert(ids["prod-000"], { duration = 1 }))
  lu.assertNotNil(c:clustercert(ids["prod-000"], { duration = -1 }))
end

function TestErrors:test_malformed_json()
  local err = cert_err(sim:client(), { route = "clustercert", kind = "malformed", count = 1 })
  lu.assertEquals(err.code, "BAD_RESPONSE")
  lu.assertEquals(err.status, 200)
  lu.assertStrContains(err.message, "not valid JSON")
  lu.assertEquals(sim:stats().requests.clustercert, 1)
end

function TestErrors:test_truncated_until_retries_run_out()
  local err = cert_err(sim:client{ retries = 1 }, { route = "clustercert", kind = "truncate", count = 5 })
  lu.assertEquals(err.code, "NETWORK")
  lu.assertEquals(sim:stats().requests.clustercert, 2)
end

function TestErrors:test_response_size_cap()
  sim:reset()
  local c = sim:client{ max_response = 1024 }
  local list, err = c:clusters()
  lu.assertNil(list)
  lu.assertEquals(err.code, "TOO_LARGE")
  lu.assertStrContains(err.message, "larger than the 1024-byte limit (max_response)")
  lu.assertEquals(sim:stats().requests.clusters, 1) -- not retried
end

function TestErrors:test_timeout()
  sim:reset()
  sim:fault{ route = "clusters", kind = "slow", seconds = 3, count = 1 }
  local c = sim:client{ timeout = 0.5 }
  local t0 = os.time()
  local list, err = c:clusters()
  lu.assertNil(list)
  lu.assertEquals(err.code, "TIMEOUT")
  lu.assertTrue(os.time() - t0 <= 2)
end

function TestErrors:test_connection_refused()
  local c = assert(cce.client{ endpoint = "https://127.0.0.1:1", project_id = "p", token = "t", retries = 0 })
  local list, err = c:clusters()
  lu.assertNil(list)
  lu.assertEquals(err.code, "CONNECT")
  lu.assertEquals(err.status, 0)
end

local rc = lu.LuaUnit.run("-v")
sim:stop()
os.exit(rc)
