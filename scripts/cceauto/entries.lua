-- cceauto.entries: the kubeconfig entries cceauto writes, and how it finds them again.
--
-- One cluster gets one context, one cluster entry and one user, named PREFIX..<cluster
-- name>, taken from CCE's answer (the context chosen by --endpoint), and a context
-- extension that says where it came from:
--
--   contexts:
--   - context:
--       cluster: prod-a
--       user: prod-a
--       extensions:
--       - name: cceauto
--         extension: {cluster_id: ..., project_id: ..., region: ..., cluster_name: prod-a,
--                     issued: "2026-12-29T04:41:55Z", duration: 30}
--     name: prod-a
--
-- The extension lets a later run recognise the entry even after the user renamed the
-- context: it then keeps the context's name and the cluster and user names it points at.
--
--   local entries = require "cceauto.entries"
--   local index = entries.index(kc)                       -- cluster id -> existing entry
--   local got = entries.fetch(clusters, { duration = 30, endpoint = "auto", ... })
--   got[i].entry                                          -- a one-context cce.Kubeconfig
local cce = require "cce"
local output = require "cceauto.output"

local M = {}

M.EXTENSION = "cceauto"

-- Which of CCE's contexts each --endpoint takes, best first. The verified external
-- endpoint needs a newer cluster with an EIP; the plain external one skips TLS verification.
M.ENDPOINTS = {
  auto = { "externalTLSVerify", "external", "internal" },
  external = { "externalTLSVerify", "external" },
  internal = { "internal" },
}

-- The names a new entry gets.
function M.names(prefix, cluster)
  local n = (prefix or "") .. cluster.name
  return { context = n, cluster = n, user = n }
end

-- The cceauto extension of a context entry (a table from kc:context()), or nil.
function M.extension(ctx)
  if type(ctx) ~= "table" or type(ctx.extensions) ~= "table" then return nil end
  for _, e in ipairs(ctx.extensions) do
    if type(e) == "table" and e.name == M.EXTENSION and type(e.extension) == "table" then
      return e.extension
    end
  end
  return nil
end

-- Every context cceauto wrote, keyed by cluster id: { context =, cluster =, user =,
-- extension = }. When two contexts carry the same cluster id, the first in the file wins.
function M.index(kc)
  local by = {}
  for _, ctx in ipairs(kc:contexts()) do
    local ext = M.extension(ctx)
    local id = ext and ext.cluster_id
    if type(id) == "string" and not by[id] then
      by[id] = { context = ctx.name, cluster = ctx.cluster, user = ctx.user, extension = ext }
    end
  end
  return by
end

-- The name of the context of `fetched` (CCE's answer) that `endpoint` picks, or nil and
-- an error table.
function M.choose_context(fetched, endpoint)
  local wanted = M.ENDPOINTS[endpoint or "auto"] or error("unknown endpoint " .. tostring(endpoint))
  for _, name in ipairs(wanted) do
    if fetched:context(name) then return name end
  end
  local have = {}
  for _, ctx in ipairs(fetched:contexts()) do have[#have + 1] = ctx.name end
  return nil, { code = "NO_ENDPOINT",
                message = ("no %s endpoint in the cluster's kubeconfig (it has: %s)")
                  :format(endpoint, #have > 0 and table.concat(have, ", ") or "none") }
end

-- Whether a cluster (a table from c:clusters()) can have the endpoint at all: the
-- external ones need an EIP. nil and an error table when not; nothing is sent for it.
function M.endpoint_possible(cluster, endpoint)
  if endpoint == "external" and not (cluster.endpoints and cluster.endpoints.external) then
    return nil, { code = "NO_ENDPOINT",
                  message = ("cluster %s has no external endpoint (no EIP); use --endpoint auto or internal")
                    :format(cluster.name) }
  end
  return true
end

local function rename(kc, kind, from, to)
  if from == to then return true end
  return kc["rename_" .. kind](kc, from, to)
end

-- Builds the entry for `cluster` from CCE's answer `fetched`:
--   opts.names     { context =, cluster =, user = } (default: entries.names(opts.prefix, cluster))
--   opts.endpoint  auto | internal | external
--   opts.duration  days, recorded in the extension
--   opts.context   the existing context entry (a table from kc:context()) being renewed:
--                  its other fields (namespace, other extensions) are kept
--   opts.issued    Unix time of issue (default: now)
-- Returns a new cce.Kubeconfig with one context, cluster and user, or nil and an error table.
function M.build(fetched, cluster, opts)
  local names = opts.names or M.names(opts.prefix, cluster)
  local chosen, err = M.choose_context(fetched, opts.endpoint)
  if not chosen then return nil, err end
  local one
  one, err = fetched:select(chosen)
  if not one then return nil, err end
  local ctx = one:context(chosen)
  local ok
  ok, err = rename(one, "cluster", ctx.cluster, names.cluster)
  if ok then ok, err = rename(one, "user", ctx.user, names.user) end
  if ok then ok, err = rename(one, "context", chosen, names.context) end
  if not ok then return nil, err end

  local info = cluster.client and cluster.client:info() or {}
  local ext = {
    cluster_id = cluster.id,
    cluster_name = cluster.name,
    project_id = info.project_id,
    region = info.region,
    issued = output.iso(opts.issued or os.time()),
    duration = opts.duration,
  }
  -- The fields of the context: the user's (when renewing), then CCE's cluster and user.
  local fields = {}
  for k, v in pairs(opts.context or {}) do fields[k] = v end
  fields.name = nil
  fields.cluster, fields.user = names.cluster, names.user
  local extensions = {}
  for _, e in ipairs(fields.extensions or {}) do
    if not (type(e) == "table" and e.name == M.EXTENSION) then extensions[#extensions + 1] = e end
  end
  extensions[#extensions + 1] = { name = M.EXTENSION, extension = ext }
  fields.extensions = extensions
  ok, err = one:set_context(names.context, fields)
  if not ok then return nil, err end
  return one
end

-- The certificate of an entry built by entries.build (its only user).
function M.cert(entry)
  local users = entry:users()
  if #users ~= 1 then return nil, { code = "NOT_FOUND", message = "the entry has no single user" } end
  return entry:cert(users[1].name)
end

-- Fetches certificates for `clusters` in one batch (cce.fetch) and builds their entries.
--   opts: duration, endpoint, prefix, concurrency, deadline, progress (as cce.fetch);
--         names(cluster) -> names table (default: entries.names(prefix, cluster));
--         context(cluster) -> existing context entry to keep fields of (default none).
-- Returns one result per cluster, in order: { cluster =, entry = } or { cluster =, error = },
-- and cce.fetch's statistics ({ ok, failed, requests, retries, interrupted, ... }; `interrupted`
-- when a signal stopped the batch: the clusters not done then fail with INTERRUPTED).
-- Clusters that cannot have the endpoint fail without a request.
function M.fetch(clusters, opts)
  local results, items, slots = {}, {}, {}
  for i, cl in ipairs(clusters) do
    local ok, err = M.endpoint_possible(cl, opts.endpoint)
    if ok then
      items[#items + 1] = cl
      slots[#items] = i
    else
      results[i] = { cluster = cl, error = err }
    end
  end
  local fetched, stats = {}, { ok = 0, failed = 0, requests = 0, retries = 0, interrupted = false }
  if #items > 0 then
    fetched, stats = cce.fetch(items, { duration = opts.duration, concurrency = opts.concurrency,
                                 progress = opts.progress, deadline = opts.deadline })
  end
  local issued = os.time()
  for n, r in ipairs(fetched) do
    local i = slots[n]
    local cl = clusters[i]
    if r.kubeconfig then
      local entry, err = M.build(r.kubeconfig, cl, {
        names = opts.names and opts.names(cl) or M.names(opts.prefix, cl),
        context = opts.context and opts.context(cl) or nil,
        endpoint = opts.endpoint, duration = opts.duration, issued = issued,
      })
      r.kubeconfig:close()
      results[i] = entry and { cluster = cl, entry = entry } or { cluster = cl, error = err }
    else
      results[i] = { cluster = cl, error = r.error }
    end
  end
  for i, cl in ipairs(clusters) do
    if not results[i] then
      results[i] = { cluster = cl, error = { code = "NO_RESULT", message = "no answer for this cluster" } }
    end
  end
  return results, stats or {}
end

-- True for the error of a cluster left undone because a signal stopped the batch.
function M.interrupted(err)
  return type(err) == "table" and err.code == "INTERRUPTED"
end

-- A short text for an error table or string: "CODE: message".
function M.error_text(err)
  if type(err) ~= "table" then return tostring(err) end
  if err.code and err.message then return err.code .. ": " .. err.message end
  return tostring(err.message or err.code or err)
end

-- An error as a JSON object { code, message [, request_id] }.
function M.error_json(err)
  if err == nil then return output.null end
  if type(err) ~= "table" then return { code = "ERROR", message = tostring(err) } end
  local msg = err.message
  if msg == nil then msg = tostring(err) end
  return { code = err.code or "ERROR", message = msg, request_id = err.request_id }
end

return M
