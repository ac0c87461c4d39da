-- credential.lua: a kubectl exec credential plugin that hands out short-lived CCE client
-- certificates.
--
--   cceauto credential.lua --cluster-id ID [--project-id P | --project NAME] [--region R]
--                          [--cloud NAME] [--duration DAYS] [--no-token-cache]
--
-- Prints a client.authentication.k8s.io ExecCredential (v1, or v1beta1 when
-- KUBERNETES_EXEC_INFO asks for it) with the client certificate and key as PEM text and an
-- expirationTimestamp a margin before the certificate's notAfter, so kubectl asks again in
-- time. Certificates are cached per cluster (cceauto.credcache: $XDG_CACHE_HOME/cceauto/,
-- 0600, atomic) and handed out until that margin; the default --duration is 1 day, the
-- API's shortest.
--
-- The warm path (a cached certificate that is still fresh) loads nothing but cjson: kubectl
-- runs this before every command. On a miss, the cce module is loaded, a lock per cache
-- entry is taken (twenty kubectl processes at once make one certificate request, the others
-- wait for it and read the cache), and the certificate is fetched with the usual
-- credentials (options, clouds.yaml via --cloud/OS_CLOUD, OS_* variables; a password or
-- MFA passcode is asked for only when kubectl says the session is interactive).
--
-- Errors: one line on stderr, which kubectl shows; exit 2 for usage or configuration
-- errors, 1 for the rest.
local cjson = require "cjson"
local credcache = require "cceauto.credcache"

local NAME = "credential.lua"

local function die(msg, status)
  io.stderr:write(NAME, ": ", (tostring(msg):gsub("[%c\127]", " ")), "\n")
  os.exit(status or 1)
end

local USAGE = [[
Usage: cceauto credential.lua --cluster-id ID [--project-id P | --project NAME]
                              [--region R] [--cloud NAME] [--duration DAYS] [--no-token-cache]

A kubectl exec credential plugin: prints an ExecCredential with a short-lived client
certificate of the CCE cluster ID, cached in $XDG_CACHE_HOME/cceauto/ until shortly before
it expires. Credentials as for every cceauto script: --cloud (or OS_CLOUD) from
clouds.yaml, else the OS_* variables (OS_USERNAME/OS_PASSWORD/OS_USER_DOMAIN_NAME,
OS_ACCESS_KEY/OS_SECRET_KEY, or OS_AUTH_TOKEN).

In a kubeconfig (rotate_all.lua --auth exec writes this):
  users:
  - name: prod
    user:
      exec:
        apiVersion: client.authentication.k8s.io/v1
        command: /usr/local/bin/cceauto
        args: [credential.lua, --cluster-id, ID, --project-id, P, --region, eu-de]
        interactiveMode: IfAvailable

Exit status: 0 success, 1 the certificate could not be obtained, 2 a usage or
configuration error.
]]

-- Options: each takes a value, except the flags.
local VALUED = { ["--cluster-id"] = "cluster_id", ["--project-id"] = "project_id", ["--project"] = "project",
                 ["--region"] = "region", ["--cloud"] = "cloud", ["--duration"] = "duration" }
local FLAGS = { ["--no-token-cache"] = "no_token_cache" }

local function parse(argv)
  local o = {}
  local i = 1
  while i <= #argv do
    local a = argv[i]
    local key, inline = a:match("^(%-%-[%w%-]+)=(.*)$")
    key = key or a
    if a == "-h" or a == "--help" then
      io.stdout:write(USAGE)
      os.exit(0)
    elseif VALUED[key] then
      local v = inline
      if not v then
        i = i + 1
        v = argv[i]
      end
      if v == nil then die(("option '%s' requires a value"):format(key), 2) end
      o[VALUED[key]] = v
    elseif FLAGS[a] then
      o[FLAGS[a]] = true
    else
      die(("unknown argument '%s' (see --help)"):format(a), 2)
    end
    i = i + 1
  end
  if not o.cluster_id then die("--cluster-id is required (see --help)", 2) end
  if not credcache.valid_id(o.cluster_id) then
    die(("--cluster-id '%s' is not valid: only letters, digits and '-' are allowed"):format(o.cluster_id), 2)
  end
  if o.project_id and o.project then die("--project-id and --project exclude each other", 2) end
  local d = math.tointeger(tonumber(o.duration or "1"))
  if not d or not (d == -1 or (d >= 1 and d <= 1825)) then
    die(("--duration must be 1 to 1825 days or -1, not '%s'"):format(tostring(o.duration)), 2)
  end
  o.duration = d
  return o
end

-- What kubectl says about this call: KUBERNETES_EXEC_INFO's apiVersion and interactive.
local function exec_info()
  local text = os.getenv("KUBERNETES_EXEC_INFO")
  local api, interactive = "client.authentication.k8s.io/v1", nil
  if text and text ~= "" then
    local ok, info = pcall(cjson.decode, text)
    if ok and type(info) == "table" then
      if info.apiVersion == "client.authentication.k8s.io/v1beta1" then api = info.apiVersion end
      if type(info.spec) == "table" then interactive = info.spec.interactive == true end
    end
  end
  return api, interactive
end

local function emit(api, e)
  io.stdout:write(cjson.encode({
    apiVersion = api, kind = "ExecCredential",
    status = { clientCertificateData = e.certificate, clientKeyData = e.key,
               expirationTimestamp = credcache.rfc3339(e.expires) },
  }), "\n")
  io.stdout:flush()
end

local o = parse(arg)
local api, interactive = exec_info()

-- The warm path: nothing but cjson and the cache file.
local cached = credcache.read(o.cluster_id)
if credcache.fresh(cached) then
  emit(api, cached)
  os.exit(0)
end

-- A miss: one process fetches, the others wait for its lock and read what it stored.
local cce = require "cce"
local path, perr = credcache.path(o.cluster_id)
if not path then die(perr, 2) end
local ok, merr = cce.mkdir(credcache.dir())
if not ok then die(merr) end
local lock, lerr = cce.lock(path, 120)
if not lock then die(lerr) end
cached = credcache.read(o.cluster_id)
if credcache.fresh(cached) then
  lock:release()
  emit(api, cached)
  os.exit(0)
end

-- Without KUBERNETES_EXEC_INFO (run by hand) the core asks only when stdin is a terminal.
local client, err = cce.client{
  cloud = o.cloud, region = o.region, project_id = o.project_id, project_name = o.project,
  cache = not o.no_token_cache, interactive = interactive ~= false,
}
if not client then
  lock:release()
  die(err, err.code == "CONFIG" and 2 or 1)
end
local kc
kc, err = client:clustercert(o.cluster_id, { duration = o.duration })
if not kc then
  lock:release()
  die(("cluster %s: %s"):format(o.cluster_id, tostring(err)), err.code == "CONFIG" and 2 or 1)
end
local e, serr = credcache.store(o.cluster_id, kc)
lock:release()
if not e then die(("cluster %s: the certificate could not be cached: %s"):format(o.cluster_id, serr)) end
emit(api, e)
