-- simctl.lua: start, drive and stop a CCE simulator from a Lua test.
--
--   local simctl = require "simctl"
--   local sim = simctl.start{ "--clusters", "8" }
--   local c = sim:client{ retries = 2 }
--   sim:fault{ route = "clustercert", kind = "503", count = 1 }
--   sim:stats().requests.clustercert
--   sim:stop()
local cjson = require "cjson"

local M = {}
local Sim = {}
Sim.__index = Sim

local function sh_quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end
M.quote = sh_quote

local function sleep(s)
  os.execute("sleep " .. s)
end
M.sleep = sleep

local function read_file(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end
M.read_file = read_file

-- A fresh private directory (removed by Sim:stop or by the caller).
function M.tmpdir()
  local p = io.popen("mktemp -d")
  local dir = p:read("l")
  p:close()
  assert(dir and #dir > 0, "mktemp -d failed")
  return dir
end

function M.start(args)
  local dir = M.tmpdir()
  local py = os.getenv("CCE_PYTHON") or "/usr/bin/python3"
  local sim = assert(os.getenv("CCE_SIM"), "CCE_SIM is not set (run the tests through ctest)")
  local argv = {}
  for _, a in ipairs(args or {}) do argv[#argv + 1] = sh_quote(a) end
  local cmd = string.format("%s %s --quiet --state-dir %s %s >%s/stdout 2>%s/stderr & echo $!",
    sh_quote(py), sh_quote(sim), sh_quote(dir), table.concat(argv, " "), dir, dir)
  local p = io.popen(cmd)
  local pid = p:read("l")
  p:close()
  local info
  for _ = 1, 400 do
    local text = read_file(dir .. "/info.json")
    if text then info = cjson.decode(text) break end
    sleep(0.05)
  end
  if not info then
    os.execute("kill " .. pid .. " 2>/dev/null")
    error("the simulator did not start: " .. (read_file(dir .. "/stderr") or "?"))
  end
  return setmetatable({ info = info, dir = dir, pid = pid }, Sim)
end

-- Options for cce.client that point at this simulator; `extra` overrides.
function Sim:opts(extra)
  local o = { endpoint = self.info.endpoint, project_id = self.info.project_id, token = self.info.token,
              ca_file = self.info.ca_file, backoff = 0.01, timeout = 10 }
  for k, v in pairs(extra or {}) do o[k] = v end
  return o
end

function Sim:client(extra)
  local cce = require "cce"
  return assert(cce.client(self:opts(extra)))
end

-- Calls the simulator's control API with curl; returns the decoded answer.
function Sim:control(method, path, body)
  local cmd = string.format("curl -sS --fail --cacert %s -X %s -H 'Content-Type: application/json' %s %s",
    sh_quote(self.info.ca_file), method, body and ("--data " .. sh_quote(cjson.encode(body))) or "",
    sh_quote(self.info.endpoint .. path))
  local p = io.popen(cmd)
  local out = p:read("a")
  local ok = p:close()
  assert(ok, "control call failed: " .. method .. " " .. path .. ": " .. out)
  if out == "" then return {} end
  return cjson.decode(out)
end

function Sim:stats() return self:control("GET", "/_sim/stats") end
function Sim:reset() return self:control("POST", "/_sim/reset", {}) end
function Sim:fault(rule) return self:control("POST", "/_sim/faults", rule) end
function Sim:config(t) return self:control("POST", "/_sim/config", t) end

-- The ids of the fleet, keyed by name, from a fresh client call.
function Sim:cluster_by_name()
  local c = self:client()
  local list = assert(c:clusters())
  local by = {}
  for _, cl in ipairs(list) do by[cl.name] = cl end
  c:close()
  return by
end

function Sim:stop()
  if self.pid then
    os.execute("kill " .. self.pid .. " 2>/dev/null")
    for _ = 1, 100 do
      if not os.execute("kill -0 " .. self.pid .. " 2>/dev/null") then break end
      sleep(0.05)
    end
    self.pid = nil
  end
  os.execute("rm -rf " .. sh_quote(self.dir))
end

-- Seconds since the epoch with sub-second precision, comparable with the simulator's
-- request log (os.time() has only whole seconds).
function M.wall_clock()
  local p = io.popen("date +%s.%N")
  local t = tonumber(p:read("l"))
  p:close()
  return t
end

-- Runs a shell command; returns exit code, stdout+stderr.
function M.run(cmd)
  local p = io.popen(cmd .. " 2>&1")
  local out = p:read("a")
  local _, _, code = p:close()
  return code, out
end

return M
