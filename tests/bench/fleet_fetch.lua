-- fleet_fetch.lua - the fleet benchmark's workload: certificates for the first N
-- Available clusters of the project in one cce.fetch batch.
--
-- usage: cceauto tests/bench/fleet_fetch.lua N CONCURRENCY
-- Configuration from the environment (CCE_ENDPOINT, OS_PROJECT_ID, OS_AUTH_TOKEN, OS_CACERT).
-- Prints one line of JSON: the batch's wall time (measured in C), the process's CPU
-- time (user + system) in all and in the batch alone, the batch's counts and the peak
-- memory (VmHWM, MB).
local cce = require "cce"
local cjson = require "cjson"

local n, conc = tonumber(arg[1]), tonumber(arg[2])
assert(n and conc, "usage: fleet_fetch.lua N CONCURRENCY")
local c = assert(cce.client())
local items = {}
for _, cl in ipairs(assert(c:clusters())) do
  if cl.phase == "Available" and #items < n then items[#items + 1] = cl end
end
assert(#items == n, "the simulator has only " .. #items .. " Available clusters")
local c0 = os.clock()
local res, st = cce.fetch(items, { duration = 30, concurrency = conc })
local cpu_total = os.clock() -- the client's work ends here; what follows is the benchmark's check
local cpu_batch = cpu_total - c0
local ok = 0
for _, r in ipairs(res) do
  if r.kubeconfig and r.kubeconfig:cert("user") then ok = ok + 1 end
end
local hwm = 0
for line in io.lines("/proc/self/status") do
  local kb = line:match("^VmHWM:%s+(%d+)")
  if kb then hwm = tonumber(kb) / 1024 end
end
print(cjson.encode{ n = n, ok = ok, wall = st.elapsed, cpu = cpu_total, cpu_batch = cpu_batch, requests = st.requests,
                    retries = st.retries, connections = st.connections, peak_mb = hwm })
os.exit(ok == n and 0 or 1)
