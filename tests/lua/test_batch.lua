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

local wall_clock = simctl.wall_clock

-- The clustercert requests of this test: a request that an earlier test abandoned (a
-- stopped batch) or that libcurl re-sent on a dead connection may still reach the log
-- after the reset, but it arrived before this test began.
local test_started = 0
local function cert_log(s)
  local t = {}
  for _, e in ipairs((s or sim):stats().log) do
    if e.route == "clustercert" and e.t >= test_started then t[#t + 1] = e end
  end
  return t
end

TestBatch = {}

function TestBatch:setUp()
  sim:reset()
  sim:config{ latency_ms = 0, rates = {} }
  test_started = wall_clock()
end

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

-- Seconds become milliseconds one way everywhere (nearest, at least 1 ms): a tiny
-- deadline is a deadline, not "none" (it used to round to 0, which means no deadline).
function TestBatch:test_tiny_deadline_is_a_deadline()
  sim:config{ latency_ms = 200 }
  local res = cce.fetch({ items[1] }, { duration = 3, deadline = 0.0004 })
  lu.assertNotNil(res[1].error)
  lu.assertEquals(res[1].error.code, "TIMEOUT")
  lu.assertErrorMsgContains("option 'deadline' must be a number of seconds", cce.fetch, items, { deadline = "1" })
  lu.assertErrorMsgContains("option 'deadline' must be between 0 and 86400", cce.fetch, items, { deadline = 0 })
  lu.assertErrorMsgContains("option 'duration' must be an integer", cce.fetch, items, { duration = 1.5 })
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

-- An item's fields are read once: what an __index returns the second time cannot
-- change what C uses (a longer id overflowed a buffer, a table crashed).
function TestBatch:test_item_fields_read_once()
  local reads
  local function item(first_id, later_id)
    return setmetatable({}, { __index = function(_, k)
      reads[k] = (reads[k] or 0) + 1
      if k == "client" then return client end
      if k == "id" then return reads.id == 1 and first_id or later_id end
    end })
  end
  for _, later in ipairs{ string.rep("x", 1 << 16), {}, 42 } do
    reads = {}
    local res, st = cce.fetch({ item(items[1].id, later) }, { duration = 3 })
    lu.assertNotNil(res[1].kubeconfig, res[1].error and tostring(res[1].error))
    lu.assertEquals(reads, { client = 1, id = 1, duration = 1 })
    lu.assertEquals(st.ok, 1)
  end
  lu.assertErrorMsgContains("item 2 has no id (a string, not table)", cce.fetch, { items[1], { client = client, id = {} } })
  lu.assertErrorMsgContains("item 1: duration must be an integer, not string", cce.fetch,
    { { client = client, id = items[1].id, duration = "7" } })
end

-- A client closed or dropped by a progress callback lives until the batch ends.
function TestBatch:test_client_closed_during_batch()
  local c2 = sim:client()
  local weak = setmetatable({ c2 }, { __mode = "v" })
  local batch = {}
  for i = 1, 12 do
    batch[i] = setmetatable({ id = items[i].id }, { __index = function(_, k) if k == "client" then return c2 end end })
  end
  local closed
  local res, st = cce.fetch(batch, { duration = 3, concurrency = 2, progress = function()
    if not closed then
      closed = true
      c2:close()
      lu.assertEquals(tostring(c2), "cce.Client (closed)")
      lu.assertErrorMsgContains("closed cce.Client", c2.clusters, c2)
      c2 = nil -- the batch now holds the only reference
      collectgarbage()
      collectgarbage()
    end
  end })
  lu.assertTrue(closed)
  lu.assertEquals(st.ok, #batch)
  for i, r in ipairs(res) do lu.assertNotNil(r.kubeconfig, "item " .. i .. ": " .. tostring(r.error)) end
  collectgarbage()
  collectgarbage()
  lu.assertNil(weak[1], "the batch did not let go of its client")
  -- closing a client that an item names is refused up front, not a crash
  local c3 = sim:client()
  c3:close()
  lu.assertErrorMsgContains("closed cce.Client", cce.fetch, { { client = c3, id = items[1].id } })
  collectgarbage()
end

-- An error while reading items or in the progress function releases the pinned clients:
-- close() then frees at once and the client can be collected.
function TestBatch:test_pins_released_on_error()
  local c4 = sim:client()
  local weak = setmetatable({ c4 }, { __mode = "v" })
  lu.assertErrorMsgContains("item 2 is not a table", cce.fetch, { { client = c4, id = items[1].id }, "x" })
  lu.assertErrorMsgContains("boom", cce.fetch, { { client = c4, id = items[1].id } }, { progress = function() error("boom") end })
  c4:close()
  lu.assertErrorMsgContains("closed cce.Client", c4.stats, c4)
  c4 = nil -- luacheck: ignore
  collectgarbage()
  collectgarbage()
  lu.assertNil(weak[1])
end

local function own_pid()
  local f = assert(io.open("/proc/self/stat"))
  local pid = f:read("n")
  f:close()
  return pid
end

-- A signal (here SIGTERM, sent from a progress callback, so exactly between two steps
-- of the loop): nothing starts after it, and the next batch runs normally.
function TestBatch:test_no_request_after_signal_and_next_batch_runs()
  sim:config{ latency_ms = 50 }
  local pid, at = own_pid(), nil
  local res, st = cce.fetch(items, { duration = 3, concurrency = 3, progress = function(p)
    if not at and p.done >= 3 then
      at = { done = p.done, in_flight = p.in_flight }
      os.execute("kill -TERM " .. pid)
    end
  end })
  lu.assertNotNil(at)
  lu.assertTrue(st.interrupted)
  lu.assertEquals(st.requests, at.done + at.in_flight, "requests started after the signal")
  local ok, intr = 0, 0
  for _, r in ipairs(res) do
    if r.kubeconfig then ok = ok + 1 else
      lu.assertEquals(r.error.code, "INTERRUPTED")
      lu.assertStrContains(r.error.message, "by SIGTERM")
      intr = intr + 1
    end
  end
  lu.assertEquals(ok, at.done)
  lu.assertEquals(ok + intr, #items)
  sim:config{ latency_ms = 0 }
  st = select(2, cce.fetch(items, { duration = 3, concurrency = 8 }))
  lu.assertFalse(st.interrupted)
  lu.assertEquals(st.ok, #items)
end

-- SIGINT from outside, at a moment chosen by what the simulator has seen (not by a
-- fixed sleep): the script goes on with what was done, and nothing was sent after the
-- signal: the process's own count is what finished plus at most what was in flight.
function TestBatch:test_sigint_stops_cleanly()
  sim:config{ latency_ms = 150 }
  local dir = simctl.tmpdir()
  local script = dir .. "/sig.lua"
  local f = assert(io.open(script, "w"))
  f:write(string.format([[
local cce = require "cce"
local c = assert(cce.client{ endpoint = %q, project_id = %q, token = %q, ca_file = %q })
local items = {}
for _, cl in ipairs(assert(c:clusters())) do if cl.phase == "Available" then items[#items + 1] = cl end end
local res, st = cce.fetch(items, { concurrency = 2 })
local ok, intr = 0, 0
for _, r in ipairs(res) do if r.kubeconfig then ok = ok + 1 elseif r.error.code == "INTERRUPTED" then intr = intr + 1 end end
print(ok, intr, #items, st.interrupted, st.requests)
]], sim.info.endpoint, sim.info.project_id, sim.info.token, sim.info.ca_file))
  f:close()
  local q = simctl.quote
  os.execute(string.format("{ %s %s >%s 2>&1 & echo $! >%s; wait $!; echo $? >%s; } </dev/null >/dev/null 2>&1 &",
    q(os.getenv("CCEAUTO")), q(script), q(dir .. "/out"), q(dir .. "/pid"), q(dir .. "/rc")))
  local pid
  for _ = 1, 400 do
    pid = (simctl.read_file(dir .. "/pid") or ""):match("%d+")
    if pid and #cert_log() >= 3 then break end -- the third request means one answer was taken in
    simctl.sleep(0.05)
  end
  lu.assertTrue(#cert_log() >= 3, "the batch did not start")
  os.execute("kill -INT " .. pid)
  local rc
  for _ = 1, 1200 do
    rc = (simctl.read_file(dir .. "/rc") or ""):match("%d+")
    if rc then break end
    simctl.sleep(0.05)
  end
  local out = simctl.read_file(dir .. "/out") or ""
  os.execute("rm -rf " .. q(dir))
  lu.assertEquals(rc, "0", out)
  local ok, intr, total, flag, requests = out:match("(%d+)\t(%d+)\t(%d+)\t(%a+)\t(%d+)")
  lu.assertNotNil(ok, out)
  ok, intr, total, requests = tonumber(ok), tonumber(intr), tonumber(total), tonumber(requests)
  lu.assertEquals(flag, "true")
  lu.assertTrue(ok > 0 and ok < total, out)
  lu.assertEquals(ok + intr, total)
  lu.assertTrue(requests <= ok + 2, "sent " .. requests .. " for " .. ok .. " done at concurrency 2")
  -- the simulator never saw more than the process says it sent
  lu.assertTrue(#cert_log() <= requests, #cert_log() .. " seen, " .. requests .. " sent")
end

local rc = lu.LuaUnit.run("-v")
sim:stop()
sim2:stop()
os.exit(rc)
