-- rotate_all.lua when the API misbehaves: random 503, 429 and connection resets on a fleet
-- of 200 clusters still end with every cluster fresh; a cluster that fails for good is
-- reported as failed (exit 1) and every other one is saved.
-- luacheck: globals TestRotateFaults
local lu = require "luaunit"
local cjson = require "cjson"
local sl = require "scriptlib"

local env = sl.start{ "--clusters", "200", "--fault", "503=0.05", "--fault", "429=0.05", "--fault", "reset=0.02" }
local RATES = { ["503"] = 0.05, ["429"] = 0.05, reset = 0.02 }
local AVAILABLE = env:names(function(cl) return cl.phase == "Available" end)

local function rotate(kc, extra)
  local argv = { "--kubeconfig", kc, "--output", "json", "--quiet" }
  for _, a in ipairs(extra or {}) do argv[#argv + 1] = a end
  return env:json("rotate_all.lua", argv)
end

TestRotateFaults = {}

function TestRotateFaults:test_transient_faults_are_retried()
  env.sim:reset()
  env.sim:config{ rates = RATES }        -- as started; the other test turns them off
  local kc = env:path("faults")
  -- With the default 4 retries, 160 clusters and a 12 % fault rate, one cluster in ~250 runs
  -- would see 5 faults in a row and fail; 6 retries make that one in ~20000.
  local res, code, err = rotate(kc, { "--retries", "6" })
  lu.assertEquals(code, 0, err)
  lu.assertEquals(res.summary, { added = #AVAILABLE, renewed = 0, kept = 0, failed = 0 })
  lu.assertEquals(sl.with_action(res, "added"), AVAILABLE)
  -- The faults really happened, and were retried.
  local faults = 0
  for _, e in ipairs(env.sim:stats().log) do
    if e.route == "clustercert" and e.fault and e.fault ~= sl.null then faults = faults + 1 end
  end
  lu.assertTrue(faults > 0, "no fault was injected")
  lu.assertEquals(env:count("clustercert"), #AVAILABLE + faults)
  -- All saved: a second run (faults still on) has nothing to do.
  res, code = rotate(kc)
  lu.assertEquals(code, 0)
  lu.assertEquals(res.summary.kept, #AVAILABLE)
end

function TestRotateFaults:test_permanent_failure_of_one_cluster()
  env.sim:reset()
  env.sim:config{ rates = {} }
  local victim = env:fleet()["staging-004"]
  env.sim:fault{ route = "clustercert", cluster = victim.id, kind = "403", count = 1000 }
  local kc = env:path("permanent")
  local res, code, err = rotate(kc)
  lu.assertEquals(code, 1)
  local by = sl.by_cluster(res)
  lu.assertEquals(by["staging-004"].action, "failed")
  lu.assertEquals(by["staging-004"].id, victim.id)
  lu.assertStrContains(by["staging-004"].error.code, "403")
  lu.assertStrContains(by["staging-004"].error.message, "403")
  lu.assertIs(by["staging-004"].expires_after, sl.null)
  lu.assertStrContains(err, "staging-004")                   -- failures are reported even with --quiet
  lu.assertEquals(res.summary, { added = #AVAILABLE - 1, renewed = 0, kept = 0, failed = 1 })
  -- The others are saved and work.
  local view = env:view(kc)
  lu.assertEquals(#view.contexts, #AVAILABLE - 1)
  local names = sl.entries(view, "contexts")
  lu.assertNil(names["staging-004"])
  local rc, out = env:kubectl(kc, { "--context", "staging-001", "get", "--raw", "/version" })
  lu.assertEquals(rc, 0, out)
  -- The next run tries only the failed one again.
  local sent = env:count("clustercert")
  res, code = rotate(kc)
  lu.assertEquals(code, 1)
  lu.assertEquals(res.summary, { added = 0, renewed = 0, kept = #AVAILABLE - 1, failed = 1 })
  lu.assertEquals(env:count("clustercert") - sent, 1)
  env.sim:reset()
end

-- SIGINT in the middle of the batch: what was done is saved, the rest is reported as
-- failed, exit 130.
function TestRotateFaults:test_interrupted_run_saves_what_was_done()
  env.sim:reset()
  env.sim:config{ rates = {}, latency_ms = 100 }
  local kc = env:path("interrupted")
  local h = env:spawn("rotate_all.lua", { "--kubeconfig", kc, "--concurrency", "2", "--output", "json" })
  for _ = 1, 200 do                                  -- until some certificates were issued
    if env:count("clustercert") >= 4 then break end
    sl.sleep(0.05)
  end
  os.execute("kill -INT " .. h.pid)
  local code, out, err = env:wait(h)
  env.sim:config{ latency_ms = 0 }
  lu.assertEquals(code, 130, err)
  local res = cjson.decode(out)
  lu.assertTrue(res.summary.added >= 2, out)
  lu.assertTrue(res.summary.failed >= 1, out)
  lu.assertEquals(res.summary.added + res.summary.failed, #AVAILABLE)
  lu.assertStrContains(err, "interrupted")
  lu.assertNotStrContains(err, "INTERRUPTED")       -- one line, not one per cluster
  for _, r in ipairs(res.results) do
    if r.action == "failed" then lu.assertEquals(r.error.code, "INTERRUPTED") end
  end
  local view = env:view(kc)
  lu.assertEquals(#view.contexts, res.summary.added)
  -- The next run finishes the job.
  res, code = rotate(kc)
  lu.assertEquals(code, 0)
  lu.assertEquals(res.summary.kept + res.summary.added, #AVAILABLE)
end

local rc = lu.LuaUnit.run("-v")
env:stop()
os.exit(rc)
