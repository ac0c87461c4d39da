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
-- endpoint needs a newer cluster with an EIP; the plain external one skips TLS
-- verification, so only `external-insecure` ever takes it: `auto` falls back to the
-- internal endpoint (with a notice) and `external` fails.
M.ENDPOINTS = {
  auto = { "externalTLSVerify", "internal" },
  external = { "externalTLSVerify" },
  ["external-insecure"] = { "externalTLSVerify", "external" },
  internal = { "internal" },
}

-- The endpoints whose entries may skip TLS verification.
local INSECURE_OK = { ["external-insecure"] = true }

-- The names a new entry gets: PREFIX<name>, or PREFIX<name>-<first 8 characters of the id>
-- when `shared` (another cluster of the project has the same name: CCE forbids it, a broken
-- answer can still say it, and one entry must not overwrite the other).
function M.names(prefix, cluster, shared)
  local n = (prefix or "") .. cluster.name
  if shared then n = n .. "-" .. tostring(cluster.id):sub(1, 8) end
  return { context = n, cluster = n, user = n }
end

-- The names that more than one of `clusters` has: a set name -> list of ids.
function M.duplicates(clusters)
  local ids, dups = {}, {}
  for _, cl in ipairs(clusters) do
    local list = ids[cl.name] or {}
    ids[cl.name] = list
    list[#list + 1] = cl.id
    if #list > 1 then dups[cl.name] = list end
  end
  return dups
end

-- The project a cluster (from fleet.gather) is in, for names and messages: its name, else its id.
function M.project(cl)
  local p = cl.project or cl.project_id
  if p == nil and cl.client then
    local info = cl.client:info() or {}
    p = info.project_name or info.project_id
  end
  return p and tostring(p) or ""
end

local function region(cl)
  local r = cl.region
  if r == nil and cl.client then r = (cl.client:info() or {}).region end
  return r and tostring(r) or ""
end

-- The name --name TEMPLATE (checked by cli.template) gives a cluster.
function M.expand(template, cl)
  local values = { cluster = cl.name or "", project = M.project(cl), region = region(cl), id = cl.id or "" }
  return (template:gsub("{(%w+)}", function(w) return values[w] end))
end

local function id8(cl) return tostring(cl.id):sub(1, 8) end

-- Groups `clusters` by names[cl.id]: name -> list, only names more than one cluster has.
local function clashes(clusters, names)
  local by, out = {}, {}
  for _, cl in ipairs(clusters) do
    local n = names[cl.id]
    local list = by[n] or {}
    by[n] = list
    list[#list + 1] = cl
    if #list > 1 then out[n] = list end
  end
  return out
end

local function ids_of(list)
  local ids = {}
  for i, cl in ipairs(list) do ids[i] = cl.id end
  return table.concat(ids, ", ")
end

-- The names (without --prefix) of new entries for every cluster of a run's listing
-- (`clusters`, all projects: names must not depend on what a run selects, so that the
-- next run with another selection gives the same ones). Returns names by cluster id,
-- warnings (clusters of ONE project that share a name: CCE forbids it, a broken answer can
-- say it) and notices (clusters of different projects that share a name), both only
-- about clusters in `shown` (a set of ids; nil: all):
--   - the cluster's name;
--   - `<name>-<first 8 characters of the id>` for clusters of one project that share it;
--   - `<name>.<project name>` for clusters of different projects that share a name;
--   - with `-<first 8 of the id>` appended where that still clashes (the same project
--     name in two regions or clouds), and the whole id where even that does.
-- With `template` (--name), every name is the template's; see entries.template_clash.
function M.assign_names(clusters, template, shown)
  local names, warnings, notices = {}, {}, {}
  local function visible(list)
    if not shown then return true end
    for _, cl in ipairs(list) do if shown[cl.id] then return true end end
    return false
  end
  if template then
    for _, cl in ipairs(clusters) do names[cl.id] = M.expand(template, cl) end
    return names, warnings, notices
  end
  -- Clusters of one project that share a name.
  local per, order = {}, {}
  for _, cl in ipairs(clusters) do
    local key = tostring(cl.project_id or M.project(cl)) .. "\0" .. region(cl) .. "\0" .. tostring(cl.name)
    if not per[key] then per[key] = {}; order[#order + 1] = key end
    local list = per[key]
    list[#list + 1] = cl
  end
  for _, key in ipairs(order) do
    local list = per[key]
    for _, cl in ipairs(list) do names[cl.id] = #list > 1 and (cl.name .. "-" .. id8(cl)) or cl.name end
    if #list > 1 and visible(list) then
      warnings[#warnings + 1] = ("%d clusters are named '%s' (ids %s): their new entries are named after the name "
        .. "and the id's first 8 characters"):format(#list, list[1].name, ids_of(list))
    end
  end
  -- Clusters of different projects that share a name.
  local groups = clashes(clusters, names)
  local keys = {}
  for n in pairs(groups) do keys[#keys + 1] = n end
  table.sort(keys)
  for _, n in ipairs(keys) do
    local list, renamed = groups[n], {}
    for i, cl in ipairs(list) do
      names[cl.id] = n .. "." .. M.project(cl)
      renamed[i] = ("%s (project %s)"):format(names[cl.id], M.project(cl))
    end
    if visible(list) then
      notices[#notices + 1] = ("clusters of %d projects are named '%s': their new entries are named %s")
        :format(#list, n, table.concat(renamed, ", "))
    end
  end
  -- The same project name twice (two regions or clouds), then the same id start.
  for _, suffix in ipairs{ id8, function(cl) return cl.id end } do
    for n, list in pairs(clashes(clusters, names)) do
      for _, cl in ipairs(list) do names[cl.id] = n .. "-" .. suffix(cl) end
      if visible(list) then
        notices[#notices + 1] = ("%d clusters would be named '%s' (ids %s): the id is appended"):format(#list, n,
          ids_of(list))
      end
    end
  end
  return names, warnings, notices
end

-- The first clash of --name's names among `clusters` (the ones a run writes): a usage
-- error message naming both clusters and the name, or nil.
function M.template_clash(clusters, names, template)
  local first = {}
  for _, cl in ipairs(clusters) do
    local n = names[cl.id]
    local other = first[n]
    if other then
      return ("--name '%s' gives cluster %s (project %s, region %s, id %s) and cluster %s (project %s, region %s, "
        .. "id %s) the same name '%s'"):format(template, other.name, M.project(other), region(other), other.id,
        cl.name, M.project(cl), region(cl), cl.id, n)
    end
    first[n] = cl
  end
  return nil
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

-- Whether context `name` of `fetched` skips TLS verification.
local function insecure(fetched, name)
  local ctx = fetched:context(name)
  local cl = ctx and fetched:cluster(ctx.cluster)
  return cl and cl["insecure-skip-tls-verify"] == true
end

-- The name of the context of `fetched` (CCE's answer) that `endpoint` picks, or nil and
-- an error table; second value: a notice for the user when `auto` left an unverified
-- external endpoint for the internal one.
function M.choose_context(fetched, endpoint)
  endpoint = endpoint or "auto"
  local wanted = M.ENDPOINTS[endpoint] or error("unknown endpoint " .. tostring(endpoint))
  for _, name in ipairs(wanted) do
    if fetched:context(name) and (INSECURE_OK[endpoint] or not insecure(fetched, name)) then
      local notice
      if endpoint == "auto" and name == "internal" and fetched:context("external") then
        notice = "no external endpoint with TLS verification: the entry uses the internal one "
          .. "(--endpoint external-insecure takes the public one without verification)"
      end
      return name, notice
    end
  end
  local have = {}
  for _, ctx in ipairs(fetched:contexts()) do
    have[#have + 1] = ctx.name .. (insecure(fetched, ctx.name) and " (without TLS verification)" or "")
  end
  local hint = ""
  if endpoint == "external" and fetched:context("external") then
    hint = "; --endpoint external-insecure takes the one without TLS verification"
  end
  return nil, { code = "NO_ENDPOINT",
                message = ("no %s endpoint in the cluster's kubeconfig (it has: %s)%s")
                  :format(endpoint, #have > 0 and table.concat(have, ", ") or "none", hint) }
end

-- Whether a cluster (a table from c:clusters()) can have the endpoint at all: the
-- external ones need an EIP. nil and an error table when not; nothing is sent for it.
function M.endpoint_possible(cluster, endpoint)
  if (endpoint == "external" or endpoint == "external-insecure")
      and not (cluster.endpoints and cluster.endpoints.external) then
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

-- Builds the entry for `cluster` from CCE's answer `fetched` (already checked by the core:
-- only the whitelisted fields of a valid certificate and key are in it):
--   opts.names     { context =, cluster =, user = } (default: entries.names(opts.prefix, cluster))
--   opts.endpoint  auto | internal | external | external-insecure
--   opts.duration  days, recorded in the extension
--   opts.context   the existing context entry (a table from kc:context()) being renewed:
--                  its other fields (namespace, other extensions) are kept
--   opts.issued    Unix time of issue (default: now)
-- Returns a new cce.Kubeconfig with one context, cluster and user (and a notice, see
-- choose_context), or nil and an error table.
function M.build(fetched, cluster, opts)
  local names = opts.names or M.names(opts.prefix, cluster)
  local chosen, err = M.choose_context(fetched, opts.endpoint)
  if not chosen then return nil, err end
  local notice = err
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
    project_id = cluster.project_id or info.project_id,
    project_name = info.project_name or (cluster.project ~= cluster.project_id and cluster.project or nil),
    region = cluster.region or info.region,
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
  return one, notice
end

-- The validity of the certificates behind exec entries: the API's shortest (credential.lua's default).
M.EXEC_DAYS = 1

-- Whether a user entry runs an exec plugin instead of holding a certificate.
function M.is_exec(user)
  return type(user) == "table" and type(user.exec) == "table"
end

-- The exec user of cluster `cl` (cluster table of the listing, with project_id, region and
-- cloud from fleet.gather): kubectl runs `cceauto credential.lua` for it (README, "Day to
-- day"). `command` is the running cceauto's absolute path (cce.executable()).
function M.exec_user(cl, command)
  local args = { "credential.lua", "--cluster-id", cl.id }
  local info = cl.client and cl.client:info() or {}
  local project = cl.project_id or info.project_id
  if project then
    args[#args + 1] = "--project-id"
    args[#args + 1] = project
  end
  local where = cl.region or info.region
  if where then
    args[#args + 1] = "--region"
    args[#args + 1] = where
  end
  if cl.cloud then
    args[#args + 1] = "--cloud"
    args[#args + 1] = cl.cloud
  end
  return { exec = { apiVersion = "client.authentication.k8s.io/v1", command = command, args = args,
                    interactiveMode = "IfAvailable", provideClusterInfo = false } }
end

-- Turns an entry built by entries.build into an exec entry: the certificate goes to the
-- exec plugin's cache (so kubectl's first call is warm), the user runs the plugin, the
-- extension says auth = "exec". The kubeconfig keeps no key. Returns true, or nil and an
-- error table.
function M.to_exec(entry, cl)
  local credcache = require "cceauto.credcache"
  local stored, serr = credcache.store(cl.id, entry)
  if not stored then return nil, { code = "IO", message = "the exec plugin's cache: " .. tostring(serr) } end
  local user = entry:users()[1]
  local ok, err = entry:set_user(user.name, M.exec_user(cl, require("cce").executable()))
  if not ok then return nil, err end
  local ctx = entry:contexts()[1]
  -- Which of the listing's endpoints the entry's server is, so that a later run (which
  -- fetches nothing for an exec entry) can follow the listing when that endpoint moves.
  local server = (entry:cluster(ctx.cluster) or {}).server
  local eps = cl.endpoints or {}
  local kind = (server and server == eps.external and "external") or (server and server == eps.internal and "internal")
    or nil
  for _, e in ipairs(ctx.extensions or {}) do
    if type(e) == "table" and e.name == M.EXTENSION and type(e.extension) == "table" then
      e.extension.auth, e.extension.duration, e.extension.endpoint = "exec", M.EXEC_DAYS, kind
    end
  end
  local name = ctx.name
  ctx.name = nil
  return entry:set_context(name, ctx)
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
--         context(cluster) -> existing context entry to keep fields of (default none);
--         duplicates: entries.duplicates() of the project's listing (default: of `clusters`).
-- Returns one result per cluster, in order: { cluster =, entry = [, notice =] } or
-- { cluster =, error = },
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
  local dups = opts.duplicates or M.duplicates(clusters)
  for n, r in ipairs(fetched) do
    local i = slots[n]
    local cl = clusters[i]
    if r.kubeconfig then
      local entry, err = M.build(r.kubeconfig, cl, {
        names = opts.names and opts.names(cl) or M.names(opts.prefix, cl, dups[cl.name] ~= nil),
        context = opts.context and opts.context(cl) or nil,
        endpoint = opts.endpoint, duration = opts.duration, issued = issued,
      })
      r.kubeconfig:close()
      results[i] = entry and { cluster = cl, entry = entry, notice = err } or { cluster = cl, error = err }
    else
      results[i] = { cluster = cl, error = r.error }
    end
  end
  for i, cl in ipairs(clusters) do
    if not results[i] then
      results[i] = { cluster = cl, error = { code = "NO_RESULT", message = "no answer for this cluster" } }
    end
  end
  -- opts.verify: each new entry must work against its API server before anything uses it.
  if opts.verify and not (stats and stats.interrupted) then
    require("cceauto.verify").apply(results, { concurrency = opts.concurrency, progress = opts.progress })
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
