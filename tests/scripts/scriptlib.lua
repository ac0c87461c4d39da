-- scriptlib.lua: run the shipped scripts and kubectl against a simulator, from a luaunit test.
--
--   local sl = require "scriptlib"
--   local env = sl.start{ "--clusters", "200" }          -- a simulator plus a private HOME
--   local code, out, err = env:run("rotate_all.lua", { "--output", "json" })
--   local res = env:json("rotate_all.lua", { "--kubeconfig", kc, "--output", "json" })
--   env:kubectl(kc, { "config", "get-contexts", "-o", "name" })
--   env:stop()
--
-- Scripts are run by name, as users run them (`cceauto rotate_all.lua`); a path (examples)
-- is run as it is. The environment is only the simulator's configuration: no KUBECONFIG,
-- no LUA_INIT, HOME a private directory.
local cjson = require "cjson"
local simctl = require "simctl"

local M = {}
local Env = {}
Env.__index = Env

M.CCEAUTO = assert(os.getenv("CCEAUTO"), "CCEAUTO is not set (run the tests through ctest)")
M.SOURCE = assert(os.getenv("CCE_SOURCE_DIR"), "CCE_SOURCE_DIR is not set (run the tests through ctest)")
M.KUBECTL = os.getenv("KUBECTL")
if not M.KUBECTL or M.KUBECTL == "" or M.KUBECTL:find("NOTFOUND", 1, true) then M.KUBECTL = "kubectl" end
M.quote = simctl.quote
M.null = cjson.null
M.read = simctl.read_file
M.sleep = simctl.sleep

function M.write(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
end

local function sh(cmd)
  local p = io.popen(cmd)
  local out = p:read("a")
  local _, _, code = p:close()
  return code, out
end
M.sh = sh

-- Starts a simulator with `args`; the returned environment runs scripts against it.
function M.start(args)
  local sim = simctl.start(args)
  local dir = simctl.tmpdir()
  local env = setmetatable({ sim = sim, dir = dir, n = 0 }, Env)
  env.vars = {
    CCE_ENDPOINT = sim.info.endpoint, OS_PROJECT_ID = sim.info.project_id, OS_AUTH_TOKEN = sim.info.token,
    OS_CACERT = sim.info.ca_file, OS_REGION_NAME = "eu-de", HOME = dir, CCEAUTO_LOG = "error",
    XDG_CACHE_HOME = dir .. "/.cache",
  }
  env.cache = dir .. "/.cache/cceauto" -- the scripts' token and certificate caches
  return env
end

-- Variables of the caller's environment that would change how a script logs in: every run
-- starts without them (Env.vars and `opts.env` set them again).
M.AUTH_VARIABLES = {
  "OS_CLOUD", "OS_CLIENT_CONFIG_FILE", "OS_CLIENT_SECURE_FILE", "OS_AUTH_URL", "OS_USERNAME", "OS_USER_ID",
  "OS_PASSWORD", "OS_USER_DOMAIN_NAME", "OS_DOMAIN_NAME", "OS_PASSCODE", "OS_PROJECT_NAME", "OS_ACCESS_KEY",
  "OS_SECRET_KEY", "OS_AK", "OS_SK", "OS_SECURITY_TOKEN", "OS_INSECURE", "XDG_CACHE_HOME",
}

-- The variables (for Env:run's opts.env) that log in to the simulator with only OS_*
-- variables: `method` "password" or "aksk", for project `project` (a name; default the
-- region's project); no token, no project id. `extra` overrides.
function Env:os_vars(method, project, extra)
  local i = self.sim.info
  local v = { OS_AUTH_TOKEN = false, OS_PROJECT_ID = false, OS_AUTH_URL = i.auth_url,
              OS_PROJECT_NAME = project or i.region }
  if method == "password" then
    v.OS_USERNAME, v.OS_PASSWORD, v.OS_USER_DOMAIN_NAME = i.user, i.password, i.domain
  elseif method == "aksk" then
    v.OS_ACCESS_KEY, v.OS_SECRET_KEY, v.OS_SECURITY_TOKEN = i.ak, i.sk, i.security_token
  else
    error("no login method " .. tostring(method))
  end
  for k, x in pairs(extra or {}) do v[k] = x end
  return v
end

-- YAML in block style from nested tables with string keys (sorted) and string, number or
-- boolean values (strings double-quoted: JSON strings are YAML strings).
function M.yaml(t, indent)
  indent = indent or ""
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys)
  local out = {}
  for _, k in ipairs(keys) do
    local v = t[k]
    if type(v) == "table" then
      out[#out + 1] = indent .. k .. ":\n" .. M.yaml(v, indent .. "  ")
    elseif type(v) == "string" then
      out[#out + 1] = indent .. k .. ": " .. cjson.encode(v):gsub("\\/", "/") .. "\n"
    else
      out[#out + 1] = indent .. k .. ": " .. tostring(v) .. "\n"
    end
  end
  return table.concat(out)
end

-- Writes ~/.config/openstack/clouds.yaml (or `dir`/clouds.yaml) with one cloud per entry
-- of `clouds` (name -> { auth = {...}, ... }) and, when `secure` is given, secure.yaml
-- beside it. Returns the paths of both files.
function Env:clouds(clouds, secure, dir)
  dir = dir or (self.dir .. "/.config/openstack")
  assert(os.execute("mkdir -p " .. M.quote(dir)))
  local file, secure_file = dir .. "/clouds.yaml", dir .. "/secure.yaml"
  M.write(file, M.yaml{ clouds = clouds })
  if secure then M.write(secure_file, M.yaml{ clouds = secure }) else os.remove(secure_file) end
  return file, secure_file
end

-- A clouds.yaml entry for the simulator without secrets (the region's project by name).
function Env:cloud_entry(auth)
  local i = self.sim.info
  local a = { auth_url = i.auth_url, project_name = i.region }
  for k, v in pairs(auth or {}) do a[k] = v end
  return { auth = a, region_name = i.region, cacert = i.ca_file, cce_endpoint_override = i.endpoint }
end

-- The permission bits of a file as `stat` prints them ("600").
function M.mode(path)
  local p = io.popen("stat -c %a " .. M.quote(path))
  local m = p:read("l")
  p:close()
  return m
end

-- Runs the scripts as a user with an IAM password (the simulator's) and no token or project
-- preset: the way to reach several projects.
function Env:use_password()
  local I = self.sim.info
  self.vars.OS_AUTH_TOKEN = false
  self.vars.OS_PROJECT_ID = false
  self.vars.OS_AUTH_URL = I.auth_url
  self.vars.OS_USERNAME = I.user
  self.vars.OS_PASSWORD = I.password
  self.vars.OS_USER_DOMAIN_NAME = I.domain
end

-- Runs rotate_all.lua on kubeconfig `kc` with JSON output and `extra` arguments; returns
-- the decoded report, the exit code and stderr (Env:json).
function Env:rotate(kc, extra, opts)
  local argv = { "--kubeconfig", kc, "--output", "json" }
  for _, a in ipairs(extra or {}) do argv[#argv + 1] = a end
  return self:json("rotate_all.lua", argv, opts)
end

-- A fresh path in the private directory.
function Env:path(name)
  self.n = self.n + 1
  return ("%s/%d-%s"):format(self.dir, self.n, name)
end

-- The environment prefix of a command: `vars` overrides (false removes a variable).
function Env:prefix(vars)
  local parts = { "env -u KUBECONFIG -u LUA_INIT -u CCEAUTO_PATH -u OS_TOKEN" }
  for _, k in ipairs(M.AUTH_VARIABLES) do parts[#parts + 1] = "-u " .. k end
  local all = {}
  for k, v in pairs(self.vars) do all[k] = v end
  for k, v in pairs(vars or {}) do all[k] = v end
  local keys = {}
  for k in pairs(all) do keys[#keys + 1] = k end
  table.sort(keys)
  for _, k in ipairs(keys) do
    if all[k] == false then
      parts[#parts + 1] = "-u " .. k
    end
  end
  for _, k in ipairs(keys) do
    if all[k] ~= false then parts[#parts + 1] = k .. "=" .. M.quote(all[k]) end
  end
  return table.concat(parts, " ")
end

-- Runs a script with argv; opts.env: variables to override (false unsets).
-- Returns exit code, stdout, stderr.
function Env:run(script, argv, opts)
  opts = opts or {}
  local words = {}
  for _, a in ipairs(argv or {}) do words[#words + 1] = M.quote(a) end
  local errfile = self:path("stderr")
  -- stdin is /dev/null: a script must not wait for a password typed on the test's terminal
  local cmd = ("%s %s %s %s </dev/null 2>%s"):format(self:prefix(opts.env), M.quote(M.CCEAUTO), M.quote(script),
    table.concat(words, " "), M.quote(errfile))
  local code, out = sh(cmd)
  local err = M.read(errfile) or ""
  os.remove(errfile)
  return code, out, err
end

-- Starts a script in the background. Returns a handle { pid =, out =, err = } for Env:wait.
function Env:spawn(script, argv, opts)
  opts = opts or {}
  local words = {}
  for _, a in ipairs(argv or {}) do words[#words + 1] = M.quote(a) end
  local h = { out = self:path("stdout"), err = self:path("stderr"), pidfile = self:path("pid"), rcfile = self:path("rc") }
  os.execute(("{ %s %s %s %s >%s 2>%s & echo $! >%s; wait $!; echo $? >%s; } </dev/null >/dev/null 2>&1 &"):format(
    self:prefix(opts.env), M.quote(M.CCEAUTO), M.quote(script), table.concat(words, " "), M.quote(h.out),
    M.quote(h.err), M.quote(h.pidfile), M.quote(h.rcfile)))
  for _ = 1, 200 do
    h.pid = (M.read(h.pidfile) or ""):match("%d+")
    if h.pid then break end
    simctl.sleep(0.05)
  end
  assert(h.pid, "the script did not start")
  return h
end

-- Waits (up to `timeout` seconds, default 60) for a spawned script; returns its exit code,
-- stdout and stderr.
function Env.wait(_, h, timeout)
  for _ = 1, (timeout or 60) * 20 do
    local rc = (M.read(h.rcfile) or ""):match("%d+")
    if rc then return tonumber(rc), M.read(h.out) or "", M.read(h.err) or "" end
    simctl.sleep(0.05)
  end
  error("the script did not finish")
end

-- Runs a script that prints JSON; returns the decoded value, exit code and stderr.
function Env:json(script, argv, opts)
  local code, out, err = self:run(script, argv, opts)
  local ok, value = pcall(cjson.decode, out)
  if not ok then
    error(("%s printed no JSON (exit %s): %s\nstderr: %s"):format(script, tostring(code), out, err), 2)
  end
  return value, code, err
end

-- Runs kubectl with --kubeconfig kc (nil: none); returns exit code and stdout+stderr.
function Env:kubectl(kc, argv)
  local words = {}
  for _, a in ipairs(argv) do words[#words + 1] = M.quote(a) end
  local cmd = ("%s %s %s %s 2>&1"):format(self:prefix(), M.quote(M.KUBECTL),
    kc and ("--kubeconfig " .. M.quote(kc)) or "", table.concat(words, " "))
  return sh(cmd)
end

-- The kubeconfig as kubectl reads it (`config view --raw -o json`), decoded.
function Env:view(kc)
  local code, out = self:kubectl(kc, { "config", "view", "--raw", "-o", "json" })
  assert(code == 0, "kubectl config view failed: " .. out)
  return cjson.decode(out)
end

-- How many requests of a route the simulator has seen.
function Env:count(route)
  return self.sim:stats().requests[route]
end

-- The simulator's fleet: name -> cluster table (with .phase, .version, .endpoints, .raw).
function Env:fleet()
  if not self.by_name then self.by_name = self.sim:cluster_by_name() end
  return self.by_name
end

-- Names of the fleet's clusters that pass pred(cluster), sorted.
function Env:names(pred)
  local out = {}
  for name, cl in pairs(self:fleet()) do
    if pred(cl) then out[#out + 1] = name end
  end
  table.sort(out)
  return out
end

function Env:stop()
  self.sim:stop()
  os.execute("rm -rf " .. M.quote(self.dir))
end

-- Helpers on decoded results ------------------------------------------------------------

-- results of rotate_all's JSON, keyed by cluster name.
function M.by_cluster(res)
  local by = {}
  for _, r in ipairs(res.results) do by[r.cluster] = r end
  return by
end

-- Sorted names of the results with the given action.
function M.with_action(res, action)
  local out = {}
  for _, r in ipairs(res.results) do
    if r.action == action then out[#out + 1] = r.cluster end
  end
  table.sort(out)
  return out
end

-- Canonical JSON text (sorted keys) of a decoded value: equal texts, equal documents.
local function canonical(v)
  if type(v) ~= "table" then return cjson.encode(v) end
  if #v > 0 or next(v) == nil then
    local parts = {}
    for i, x in ipairs(v) do parts[i] = canonical(x) end
    return "[" .. table.concat(parts, ",") .. "]"
  end
  local keys = {}
  for k in pairs(v) do keys[#keys + 1] = k end
  table.sort(keys)
  local parts = {}
  for i, k in ipairs(keys) do parts[i] = cjson.encode(k) .. ":" .. canonical(v[k]) end
  return "{" .. table.concat(parts, ",") .. "}"
end
M.canonical = canonical

-- An entry list of a `kubectl config view -o json` document as name -> JSON text of the entry.
function M.entries(view, section)
  local by = {}
  for _, e in ipairs(view[section] or {}) do by[e.name] = canonical(e) end
  return by
end

-- The entries of a view that are not in `names` (a set), per section, as JSON texts.
function M.foreign(view, names)
  local out = {}
  for _, section in ipairs{ "clusters", "users", "contexts" } do
    for _, e in ipairs(view[section] or {}) do
      if not names[e.name] then out[section .. "/" .. e.name] = canonical(e) end
    end
  end
  return out
end

function M.set(list)
  local s = {}
  for _, v in ipairs(list) do s[v] = true end
  return s
end

return M
