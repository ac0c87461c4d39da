-- cce.fetch: the concurrent batch.
local lu = require "luaunit"
local cce = require "cce"
local simctl = require "simctl"

local sim = simctl.start{ "--clusters", "60" }
local sim2 = simctl.start{ "--clusters", "5", "--project-id", "fedcba9876543210fedcba9876543210", "--token", "other-token" }
local client = sim:client{ retries = 6 }

local function available(c)
  local out = {}
  for _, cl in ipairs(assert(c:clusters())) do
    if cl.phase == "Available" then out[#out + 1] = cl end
  end
  return out
end
local items = available(client)

local function cert_log(s)
  local t = {}
  for _, e in ipairs((s or sim):stats().log) do
    if e.route == "clustercert" then t[#t + 1] = e end
  end
  return t
end

TestBatch = {}

function TestBatch:setUp() sim:reset() sim:config{ latency_ms = 0, rates = {} } end

function TestBatch:test_results_in_input_order_and_connections_reused()
  local res, st = cce.fetch(items, { duration = 3, concurrency = 8 })
  lu.assertEquals(#res, #items)
  for i, r in ipairs(res) do
    lu.assertIs(r.cluster, items[i])
    lu.assertNotNil(r.kubeconfig, r.error and tostring(r.error))
    lu.assertEquals(getmetatable(r.kubeconfig).__name, "cce.Kubeconfig")
    local c = assert(r.kubeconfig:cert("user"))
    lu.assertStrContains(c.subject, "CN=cce-user-" .. items[i].id:sub(1, 8)) -- the right cluster's certificate
    lu.assertEquals(c.not_after - c.not_before, 3 * 86400)
  end
  lu.assertEquals(st.ok, #items)
  lu.assertEquals(st.failed, 0)
  lu.assertEquals(st.requests, #items)
  -- at most one TLS connection per slot, reused for every request
  lu.assertTrue(st.connections >= 1 and st.connections <= 8, st.connections)
  lu.assertFalse(st.interrupted)
  lu.assertEquals(#cert_log(), #items)
end

function TestBatch:test_per_item_errors_and_durations()
  local batch = {
    { client = client, id = items[1].id },
    { client = client, id = "../evil" },
    { client = client, id = items[2].id, duration = 0 },
    { client = client, id = items[3].id, duration = 1825 },
    { client = client, id = "00000000-0000-0000-0000-000000000000" },
  }
  local res, st = cce.fetch(batch, { duration = 7 })
  lu.assertNotNil(res[1].kubeconfig)
  lu.assertEquals(assert(res[1].kubeconfig:cert("user")).not_after - assert(res[1].kubeconfig:cert("user")).not_before,
    7 * 86400)
  lu.assertEquals(res[2].error.code, "INVALID_ARGUMENT")
  lu.assertEquals(res[3].error.code, "INVALID_ARGUMENT")
  lu.assertStrContains(res[3].error.message, "duration 0")
  local c4 = assert(res[4].kubeconfig:cert("user"))
  lu.assertEquals(c4.not_after - c4.not_before, 1825 * 86400)
  lu.assertEquals(res[5].error.status, 404)
  lu.assertEquals(res[5].attempts, 1)
  lu.assertEquals(st.failed, 3)
  lu.assertEquals(#cert_log(), 3) -- nothing sent for the two refused items
end

function TestBatch:test_items_from_two_projects()
  local other = sim2:client()
  local mixed = {}
  for i = 1, 5 do mixed[#mixed + 1] = items[i] end
  for _, cl in ipairs(available(other)) do mixed[#mixed + 1] = cl end
  local res = cce.fetch(mixed, { duration = 2, concurrency = 4 })
  for i, r in ipairs(res) do lu.assertNotNil(r.kubeconfig, "item " .. i .. ": " .. tostring(r.error)) end
  lu.assertEquals(#cert_log(sim), 5)
  lu.assertTrue(#cert_log(sim2) >= 4)
end

function TestBatch:test_retries_do_not_hold_up_others()
  -- items from the middle: a stopped batch of an earlier test may still have requests for the first ones in flight
  local a, b, c = 20, 21, 22
  sim:fault{ route = "clustercert", cluster = items[a].id, kind = "429", retry_after = 1, count = 1 }
  sim:fault{ route = "clustercert", cluster = items[b].id, kind = "503", count = 2 }
  sim:fault{ route = "clustercert", cluster = items[c].id, kind = "reset", count = 1 }
  local t0 = os.time()
  local res, st = cce.fetch(items, { duration = 3, concurrency = 4 })
  for i, r in ipairs(res) do lu.assertNotNil(r.kubeconfig, "item " .. i .. ": " .. tostring(r.error)) end
  lu.assertEquals(res[a].attempts, 2)
  lu.assertEquals(res[b].attempts, 3)
  -- a connection reset on a reused keep-alive connection is retried by libcurl itself
  -- (a fresh connection, same attempt), so count what the simulator saw
  local for_c = 0
  for _, e in ipairs(cert_log()) do if e.cluster == items[c].id then for_c = for_c + 1 end end
  lu.assertEquals(for_c, 2)
  lu.assertTrue(st.retries >= 3 and st.retries <= 4, st.retries)
  lu.assertTrue(os.time() - t0 <= 3)
  -- while item 1 waited out its Retry-After, the rest of the fleet went on
  local log, first, retry, others_during = cert_log(), math.huge, -math.huge, 0
  for _, e in ipairs(log) do
    if e.cluster == items[a].id then
      first, retry = math.min(first, e.t), math.max(retry, e.t)
    end
  end
  lu.assertTrue(retry - first >= 0.95, "Retry-After not honoured: " .. (retry - first))
  local later = {}
  for i = c + 1, #items do later[items[i].id] = true end
  for _, e in ipairs(log) do
    if later[e.cluster] and e.t > first and e.t < retry then others_during = others_during + 1 end
  end
  lu.assertTrue(others_during >= #items - c - 4,
    "only " .. others_during .. " of " .. (#items - c) .. " later items were served while one item waited")
end

function TestBatch:test_random_faults_all_end_fresh()
  sim:config{ rates = { ["503"] = 0.05, ["429"] = 0.05, reset = 0.02 }, retry_after = 0 }
  local res, st = cce.fetch(items, { duration = 3, concurrency = 8 })
  for i, r in ipairs(res) do lu.assertNotNil(r.kubeconfig, "item " .. i .. ": " .. tostring(r.error)) end
  lu.assertEquals(st.ok, #items)
end

function TestBatch:test_deadline_per_item()
  sim:fault{ route = "clustercert", cluster = items[1].id, kind = "slow", seconds = 3, count = 1 }
  local res = cce.fetch(items, { duration = 3, concurrency = 8, deadline = 1 })
  lu.assertEquals(res[1].error.code, "TIMEOUT")
  for i = 2, #res do lu.assertNotNil(res[i].kubeconfig) end
end

function TestBatch:test_progress_function_and_stop()
  local calls, last = 0, nil
  local _, st = cce.fetch(items, { duration = 3, concurrency = 2, progress = function(p)
    calls = calls + 1
    lu.assertTrue(not last or p.done >= last.done)
    last = p
  end })
  lu.assertTrue(calls >= 1)
  lu.assertEquals(last.done, #items)
  lu.assertEquals(last.total, #items)
  lu.assertEquals(st.ok, #items)
  -- returning false stops: no new requests, the rest are INTERRUPTED
  sim:reset()
  sim:config{ latency_ms = 30 }
  local res
  res, st = cce.fetch(items, { duration = 3, concurrency = 2, progress = function(p) return p.done < 4 end })
  lu.assertTrue(st.interrupted)
  local ok, interrupted = 0, 0
  for _, r in ipairs(res) do
    if r.kubeconfig then ok = ok + 1 elseif r.error.code == "INTERRUPTED" then interrupted = interrupted + 1 end
  end
  lu.assertTrue(ok >= 4 and ok < #items, "ok " .. ok)
  lu.assertEquals(ok + interrupted, #items)
end

function TestBatch:test_progress_error_is_raised()
  lu.assertErrorMsgContains("boom in progress", cce.fetch, items, { progress = function() error("boom in progress") end })
end

function TestBatch:test_programming_errors_raise()
  lu.assertErrorMsgContains("item 1 has no client", cce.fetch, { { id = "x" } })
  lu.assertErrorMsgContains("item 2 is not a table", cce.fetch, { items[1], "x" })
  lu.assertErrorMsgContains("item 1 has no id", cce.fetch, { { client = client } })
  lu.assertErrorMsgContains("option 'concurrency'", cce.fetch, items, { concurrency = 0 })
  local res, st = cce.fetch({})
  lu.assertEquals(#res, 0)
  lu.assertEquals(st.ok, 0)
end

function TestBatch:test_sigint_stops_cleanly()
  sim:config{ latency_ms = 200 }
  local script = simctl.tmpdir() .. "/sig.lua"
  local f = assert(io.open(script, "w"))
  f:write(string.format([[
local cce = require "cce"
local c = assert(cce.client{ endpoint = %q, project_id = %q, token = %q, ca_file = %q })
local items = {}
for _, cl in ipairs(assert(c:clusters())) do if cl.phase == "Available" then items[#items + 1] = cl end end
io.stdout:write("started\n") io.stdout:flush()
local res, st = cce.fetch(items, { concurrency = 2 })
local ok, intr = 0, 0
for _, r in ipairs(res) do if r.kubeconfig then ok = ok + 1 elseif r.error.code == "INTERRUPTED" then intr = intr + 1 end end
print(ok, intr, #items, st.interrupted)
]], sim.info.endpoint, sim.info.project_id, sim.info.token, sim.info.ca_file))
  f:close()
  local code, out = simctl.run(string.format(
    "%s %s > %s.out & pid=$!; sleep 1.2; kill -INT $pid; wait $pid; echo rc=$?; cat %s.out",
    simctl.quote(os.getenv("CCEAUTO")), simctl.quote(script), simctl.quote(script), simctl.quote(script)))
  lu.assertEquals(code, 0, out)
  lu.assertStrContains(out, "rc=0")
  local ok, intr, total, flag = out:match("(%d+)\t(%d+)\t(%d+)\t(%a+)")
  lu.assertNotNil(ok, out)
  lu.assertEquals(flag, "true")
  lu.assertTrue(tonumber(ok) > 0 and tonumber(ok) < tonumber(total), out)
  lu.assertEquals(tonumber(ok) + tonumber(intr), tonumber(total))
  -- and no request was sent after the stop (the simulator logs a request once answered: wait for those)
  simctl.sleep(0.5)
  local n1 = #cert_log()
  simctl.sleep(0.5)
  lu.assertEquals(#cert_log(), n1)
  lu.assertTrue(n1 <= tonumber(ok) + 2, "sent " .. n1 .. " for " .. ok .. " done")
end

local rc = lu.LuaUnit.run("-v")
sim:stop()
sim2:stop()
os.exit(rc)
