-- Retries: which failures are retried, how long the client waits, when it gives up.
local lu = require "luaunit"
local simctl = require "simctl"

local sim = simctl.start{ "--clusters", "4" }
local id = sim:cluster_by_name()["prod-000"].id

local function cert_times()
  local t = {}
  for _, e in ipairs(sim:stats().log) do
    if e.route == "clustercert" then t[#t + 1] = e end
  end
  return t
end

TestRetries = {}

function TestRetries:setUp() sim:reset() end

function TestRetries:test_503_then_success()
  sim:fault{ route = "clustercert", kind = "503", count = 1 }
  local c = sim:client()
  local kc = assert(c:clustercert(id, { duration = 3 }))
  lu.assertEquals(kc:current_context(), "external")
  local log = cert_times()
  lu.assertEquals(#log, 2)
  lu.assertEquals(log[1].status, 503)
  lu.assertEquals(log[2].status, 200)
  lu.assertEquals(c:stats().retries, 1)
end

function TestRetries:test_502_504_then_success()
  sim:fault{ route = "clustercert", kind = "502", count = 1 }
  sim:fault{ route = "clustercert", kind = "504", count = 1 }
  assert(sim:client():clustercert(id, { duration = 3 }))
  lu.assertEquals(#cert_times(), 3)
end

function TestRetries:test_429_retry_after_is_honoured()
  sim:fault{ route = "clustercert", kind = "429", retry_after = 1, count = 1 }
  -- backoff is 10 ms: only the Retry-After header can make the client wait a second
  assert(sim:client():clustercert(id, { duration = 3 }))
  local log = cert_times()
  lu.assertEquals(#log, 2)
  lu.assertEquals(log[1].status, 429)
  local gap = log[2].t - log[1].t
  lu.assertTrue(gap >= 0.95, "retried after " .. gap .. " s, before Retry-After: 1")
  lu.assertTrue(gap < 3, "waited " .. gap .. " s")
end

function TestRetries:test_retry_after_beyond_cap_gives_up()
  sim:fault{ route = "clustercert", kind = "429", retry_after = 120, count = 1 }
  local kc, err = sim:client{ max_backoff = 5 }:clustercert(id, { duration = 3 })
  lu.assertNil(kc)
  lu.assertEquals(err.code, "CCE.02429001")
  lu.assertStrContains(err.message, "Retry-After is longer than the client's max_backoff")
  lu.assertEquals(#cert_times(), 1)
end

function TestRetries:test_reset_connection_then_success()
  sim:fault{ route = "clustercert", kind = "reset", count = 1 }
  assert(sim:client():clustercert(id, { duration = 3 }))
  lu.assertEquals(#cert_times(), 2)
end

function TestRetries:test_truncated_body_then_success()
  sim:fault{ route = "clustercert", kind = "truncate", count = 1 }
  assert(sim:client():clustercert(id, { duration = 3 }))
  lu.assertEquals(#cert_times(), 2)
end

function TestRetries:test_no_retry_on_client_errors()
  for _, status in ipairs{ "400", "401", "403", "404", "409", "500" } do
    sim:reset()
    sim:fault{ route = "clustercert", kind = status, count = 1 }
    local kc, err = sim:client():clustercert(id, { duration = 3 })
    lu.assertNil(kc)
    lu.assertEquals(err.status, tonumber(status))
    lu.assertEquals(#cert_times(), 1, "HTTP " .. status .. " was retried")
  end
end

function TestRetries:test_gives_up_after_budget()
  sim:fault{ route = "clustercert", kind = "503", count = 10 }
  local c = sim:client{ retries = 2 }
  local kc, err = c:clustercert(id, { duration = 3 })
  lu.assertNil(kc)
  lu.assertEquals(err.status, 503)
  lu.assertEquals(#cert_times(), 3)
  lu.assertEquals(c:stats().requests, 3)
end

function TestRetries:test_backoff_grows()
  sim:fault{ route = "clustercert", kind = "503", count = 3 }
  assert(sim:client{ backoff = 0.2, retries = 3 }:clustercert(id, { duration = 3 }))
  local log = cert_times()
  lu.assertEquals(#log, 4)
  local g1, g2, g3 = log[2].t - log[1].t, log[3].t - log[2].t, log[4].t - log[3].t
  -- equal jitter: step d waits between d/2 and d; steps 0.2, 0.4, 0.8 s
  lu.assertTrue(g1 >= 0.09 and g1 < 0.5, "first wait " .. g1)
  lu.assertTrue(g2 >= 0.19 and g2 < 0.7, "second wait " .. g2)
  lu.assertTrue(g3 >= 0.39 and g3 < 1.2, "third wait " .. g3)
end

function TestRetries:test_list_and_read_are_retried_too()
  sim:fault{ route = "clusters", kind = "503", count = 1 }
  sim:fault{ route = "cluster", kind = "reset", count = 1 }
  local c = sim:client()
  assert(c:clusters())
  assert(c:cluster(id))
  local st = sim:stats()
  lu.assertEquals(st.requests.clusters, 2)
  lu.assertEquals(st.requests.cluster, 2)
end

-- ^C while a one-shot call waits out a Retry-After: the call ends at once, the signal
-- reaches the host as ^C in Lua code would (exit 130, "interrupted!", no traceback),
-- and no further request is sent.  (It used to wait out every Retry-After, ~60 s each.)
local now = simctl.wall_clock

local function interrupt_during_wait(call, route)
  local dir = simctl.tmpdir()
  local script = dir .. "/wait.lua"
  local f = assert(io.open(script, "w"))
  f:write(string.format([[
local cce = require "cce"
local c = assert(cce.client{ endpoint = %q, project_id = %q, token = %q, ca_file = %q, max_backoff = 120 })
local r, err = c:%s
print("after the call", r, err)
]], sim.info.endpoint, sim.info.project_id, sim.info.token, sim.info.ca_file, call))
  f:close()
  local q = simctl.quote
  -- A background job of a non-interactive shell ignores SIGINT: env gives it back.
  -- The end time is written before the exit status, which the loop below waits for.
  os.execute(string.format("{ env --default-signal=INT %s %s >%s 2>%s & echo $! >%s; wait $!; r=$?; "
    .. "date +%%s.%%N >%s; echo $r >%s; } </dev/null >/dev/null 2>&1 &", q(os.getenv("CCEAUTO")), q(script),
    q(dir .. "/out"), q(dir .. "/err"), q(dir .. "/pid"), q(dir .. "/end"), q(dir .. "/rc")))
  local pid, seen
  for _ = 1, 400 do
    pid = (simctl.read_file(dir .. "/pid") or ""):match("%d+")
    seen = sim:stats().requests[route]
    if pid and seen >= 1 then break end
    simctl.sleep(0.05)
  end
  lu.assertEquals(seen, 1, "the call did not start")
  local sent = now()
  os.execute("kill -INT " .. pid)
  local rc
  for _ = 1, 200 do -- 10 s; the Retry-After is 60 s
    rc = (simctl.read_file(dir .. "/rc") or ""):match("%d+")
    if rc then break end
    simctl.sleep(0.05)
  end
  if not rc then os.execute("kill -KILL " .. pid) end
  local out, err = simctl.read_file(dir .. "/out") or "", simctl.read_file(dir .. "/err") or ""
  local ended = tonumber(simctl.read_file(dir .. "/end") or "")
  os.execute("rm -rf " .. q(dir))
  lu.assertNotNil(rc, "still waiting 10 s after SIGINT")
  lu.assertEquals(rc, "130", err)
  lu.assertStrMatches(err, "cceauto: [^\n]*interrupted!\n") -- one line: no traceback
  lu.assertEquals(out, "")
  lu.assertTrue(ended - sent < 5, "took " .. (ended - sent) .. " s")
  lu.assertEquals(sim:stats().requests[route], 1) -- no retry after the signal
end

function TestRetries:test_sigint_ends_a_clustercert_retry_wait()
  sim:fault{ route = "clustercert", kind = "429", retry_after = 60, count = 5 }
  interrupt_during_wait(string.format("clustercert(%q)", id), "clustercert")
end

function TestRetries:test_sigint_ends_a_clusters_retry_wait()
  sim:fault{ route = "clusters", kind = "503", retry_after = 60, count = 5 }
  interrupt_during_wait("clusters()", "clusters")
end

local rc = lu.LuaUnit.run("-v")
sim:stop()
os.exit(rc)
