-- cceauto.credcache: the certificate cache of the kubectl exec plugin (credential.lua).
--
--   local credcache = require "cceauto.credcache"
--   local e = credcache.read(cluster_id)     -- { certificate =, key =, not_before =, not_after =, expires = } or nil
--   if e and credcache.fresh(e) then ... end
--   e = credcache.store(cluster_id, kc)      -- the certificate of a clustercert answer; needs cce
--
-- One file per cluster, $XDG_CACHE_HOME/cceauto/cert-<cluster id>.json (default
-- ~/.cache/cceauto), 0600 in a 0700 directory, replaced atomically: a reader sees the old
-- file or the new one, never half of one. `expires` is the certificate's notAfter minus a
-- safety margin (a tenth of its life, at least 5 minutes and at most an hour): kubectl is
-- told to ask again then, and the cache is not used past it.
--
-- Reading needs only cjson: kubectl runs the plugin before every command, and loading the
-- cce module (libcurl, OpenSSL's TLS) would cost more than the whole warm call. Only
-- store() loads cce.
local cjson = require "cjson"

local M = {}

M.VERSION = 1

-- The cache directory, or nil and a message when neither XDG_CACHE_HOME nor HOME is set.
function M.dir()
  local xdg = os.getenv("XDG_CACHE_HOME")
  if xdg and xdg:sub(1, 1) == "/" then return xdg .. "/cceauto" end
  local home = os.getenv("HOME")
  if home and home:sub(1, 1) == "/" then return home .. "/.cache/cceauto" end
  return nil, "cannot find the cache directory: neither XDG_CACHE_HOME nor HOME is set"
end

-- Cluster ids go into a file name: letters, digits and '-' only, as the API's ids.
function M.valid_id(id)
  return type(id) == "string" and #id > 0 and #id <= 128 and not id:find("[^%w%-]")
end

-- The cache file of a cluster, or nil and a message.
function M.path(cluster_id)
  if not M.valid_id(cluster_id) then
    return nil, ("cluster id '%s' is not valid: only letters, digits and '-' are allowed"):format(tostring(cluster_id))
  end
  local dir, err = M.dir()
  if not dir then return nil, err end
  return dir .. "/cert-" .. cluster_id .. ".json"
end

-- Seconds before notAfter at which a certificate is no longer handed out.
function M.margin(not_before, not_after)
  local m = (not_after - not_before) // 10
  if m < 300 then m = 300 end
  if m > 3600 then m = 3600 end
  return m
end

-- cjson reads every number as a float: times come back as integers.
local function int(x)
  return type(x) == "number" and x == x and math.tointeger(math.floor(x)) or nil
end

local function valid_entry(e, cluster_id)
  if not (type(e) == "table" and e.version == M.VERSION and e.cluster_id == cluster_id
      and type(e.certificate) == "string" and e.certificate:find("-----BEGIN CERTIFICATE-----", 1, true)
      and type(e.key) == "string" and e.key:find("-----BEGIN ", 1, true)) then
    return false
  end
  e.not_before, e.not_after, e.expires = int(e.not_before), int(e.not_after), int(e.expires)
  return e.not_before ~= nil and e.not_after ~= nil and e.expires ~= nil
end

-- The cached entry of a cluster (fresh or not), or nil.
function M.read(cluster_id)
  local path = M.path(cluster_id)
  if not path then return nil end
  local f = io.open(path, "rb")
  if not f then return nil end
  local text = f:read("a")
  f:close()
  local ok, e = pcall(cjson.decode, text or "")
  if not ok or not valid_entry(e, cluster_id) then return nil end
  return e
end

-- Whether the entry may still be handed out at `now` (default: now).
function M.fresh(e, now)
  return e ~= nil and (now or os.time()) < e.expires
end

-- "2026-12-01T10:00:00Z"
function M.rfc3339(t)
  return os.date("!%Y-%m-%dT%H:%M:%SZ", t)
end

-- The user of a clustercert answer that carries the certificate (the current context's, else
-- the first with certificate data). Returns its name and entry, or nil.
local function cert_user(kc)
  local cur = kc:current_context()
  local ctx = cur and kc:context(cur)
  local u = ctx and kc:user(ctx.user)
  if u and u["client-certificate-data"] then return u.name, u end
  for _, user in ipairs(kc:users()) do
    if user["client-certificate-data"] and user["client-key-data"] then return user.name, user end
  end
  return nil
end

-- Keeps the client certificate of `kc` (a clustercert answer, already checked by the core:
-- parsable, valid now, the key its own) for cluster_id. Returns the entry, or nil and an
-- error message.
function M.store(cluster_id, kc)
  local cce = require "cce"
  local path, err = M.path(cluster_id)
  if not path then return nil, err end
  local name, user = cert_user(kc)
  if not name then return nil, "the answer has no user with a client certificate and key" end
  local cert, cerr = kc:cert(name)
  if not cert then return nil, tostring(cerr) end
  local pem_cert = cce.base64_decode(user["client-certificate-data"])
  local pem_key = cce.base64_decode(user["client-key-data"] or "")
  if not pem_cert or not pem_key then return nil, "the answer's certificate or key is not base64" end
  local e = {
    version = M.VERSION, cluster_id = cluster_id, certificate = pem_cert, key = pem_key,
    not_before = math.tointeger(math.floor(cert.not_before)), not_after = math.tointeger(math.floor(cert.not_after)),
  }
  e.expires = e.not_after - M.margin(e.not_before, e.not_after)
  local dir = M.dir()
  local ok, merr = cce.mkdir(dir)
  if not ok then return nil, tostring(merr) end
  ok, merr = cce.write_private(path, cjson.encode(e))
  if not ok then return nil, tostring(merr) end
  return e
end

return M
