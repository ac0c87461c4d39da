-- cceauto.rotate: keep the entries of a set of clusters in a kubeconfig fresh.
--
--   local rotate = require "cceauto.rotate"
--   local kc = assert(cce.kubeconfig.load(path))
--   local results = rotate.run(kc, selected, all_clusters, {
--     prefix = "", endpoint = "auto", duration = 30, renew_within = 7, force = false,
--     dry_run = false, concurrency = 16, progress = true, deadline = nil })
--   local saved, err = rotate.save(kc, path, results)   -- one save; failed rows on error
--   io.write(rotate.render(results, "table", path))
--
-- A certificate is requested only for a cluster whose entry is missing, incomplete (its
-- context names no cluster or user entry), whose certificate cannot be read, or whose
-- certificate expires within `renew_within` days; `force` renews every one. Nothing else
-- in the kubeconfig changes: other entries, current-context and the user's own fields of
-- a renewed context (namespace, other extensions) stay as they were.
local cce = require "cce"
local entries = require "cceauto.entries"
local output = require "cceauto.output"
local cli = require "cceauto.cli"
local fleet = require "cceauto.fleet"

local M = {}

-- What every rotating script starts with: the kubeconfig (args.kubeconfig), the clusters of
-- every project of the run (cli.clients, fleet.gather: one concurrent batch) and those
-- `args` select (fleet.select). Dies with the right exit status on a usage or
-- configuration error. Returns kc, path, selected, clusters, failures (the projects
-- whose listing failed, already reported on stderr).
function M.prepare(args)
  local path = cli.kubeconfig_path(args.kubeconfig)
  local kc, err = cce.kubeconfig.load(path)
  if not kc then cli.die(err, cli.EXIT_USAGE) end
  local clusters, failures, listed = fleet.gather(cli.clients(args), { concurrency = args.concurrency })
  return kc, path, fleet.select(clusters, args), clusters, failures, listed
end

-- The names of the new entries of a run (entries.assign_names over the whole listing
-- `all`, with --name's `template`); a template that gives two selected clusters one name
-- is a usage error (exit 2). Prints the warnings and notices about the selected clusters.
-- Returns names by cluster id (without the prefix).
function M.names(selected, all, template)
  local shown = {}
  for _, cl in ipairs(selected) do shown[cl.id] = true end
  local names, warnings, notices = entries.assign_names(all or selected, template, shown)
  if template then
    local clash = entries.template_clash(selected, names, template)
    if clash then cli.die(clash, cli.EXIT_USAGE) end
  end
  for _, w in ipairs(warnings) do cli.warn("%s", w) end
  for _, n in ipairs(notices) do cli.log("%s", n) end
  return names
end

-- What fetch.lua and export.lua do with the clusters they chose: name them over the whole
-- listing as rotate_all.lua does (rotate.names, args.name), then fetch their entries in one
-- batch (entries.fetch with args' duration, endpoint, prefix, concurrency, deadline,
-- verify). Returns names by cluster id (without the prefix), the results and the stats.
function M.fetch_named(chosen, all, args)
  local names = M.names(chosen, all, args.name)
  local got, stats = entries.fetch(chosen, {
    duration = args.duration, endpoint = args.endpoint,
    names = function(cl)
      local n = (args.prefix or "") .. names[cl.id]
      return { context = n, cluster = n, user = n }
    end,
    concurrency = args.concurrency, deadline = args.deadline, progress = not cli.quiet(), verify = args.verify,
  })
  return names, got, stats
end

-- Actions, in the order the summary lists them.
M.ACTIONS = { "added", "renewed", "updated", "kept", "pruned", "failed", "would-add", "would-renew", "would-update",
              "would-prune" }

-- The state of one cluster's entry in kc. Returns a plan row:
--   { cluster, names, context (the existing context entry or nil), existing (bool),
--     state = "fresh"|"missing"|"incomplete"|"unreadable"|"expiring"|"forced"|"conflict",
--     expires_before (Unix time or nil), error (conflicts) }
local function plan_one(kc, cl, index, listed, base, opts)
  local row = { cluster = cl }
  local mine = index[cl.id]
  if not mine then
    -- A new entry under the run's names (rotate.names), unless one of them is taken. A
    -- context that cceauto wrote for a cluster of this project that no longer exists
    -- (deleted and re-created under the same name) is taken over with the names it points
    -- at. One that cceauto wrote for a cluster of another project not in this run gives
    -- way: the new entry is named `<name>.<project>`, as when both are in one run.
    local n = (opts.prefix or "") .. base
    local names = { context = n, cluster = n, user = n }
    local ctx = kc:context(names.context)
    local ext = ctx and entries.extension(ctx)
    local project = cl.project_id or (cl.client and cl.client:info().project_id)
    if ext and type(ext.cluster_id) == "string" and not listed[ext.cluster_id] and ext.project_id == project then
      row.names = { context = ctx.name, cluster = ctx.cluster, user = ctx.user }
      row.context = ctx
      row.state = "missing"
      row.mode = opts.auth or "cert"
      return row
    end
    if ext and not opts.template and type(ext.cluster_id) == "string" and not listed[ext.cluster_id]
        and ext.project_id ~= project then
      local alt = (opts.prefix or "") .. cl.name .. "." .. entries.project(cl)
      if not (kc:context(alt) or kc:cluster(alt) or kc:user(alt)) then
        row.notice = ("the kubeconfig's entry %s is cluster %s of project %s: this one is named %s")
          :format(n, tostring(ext.cluster_name or ext.cluster_id), tostring(ext.project_name or ext.project_id), alt)
        names = { context = alt, cluster = alt, user = alt }
        ctx = nil
      end
    end
    row.names = names
    row.mode = opts.auth or "cert"
    local taken = {}
    if ctx then taken[#taken + 1] = "context" end
    if kc:cluster(names.cluster) then taken[#taken + 1] = "cluster" end
    if kc:user(names.user) then taken[#taken + 1] = "user" end
    if #taken > 0 then
      local what = #taken == 1 and taken[1]
        or table.concat(taken, ", ", 1, #taken - 1) .. " and " .. taken[#taken]
      row.state = "conflict"
      row.error = { code = "CONFLICT",
                    message = ("the kubeconfig already has a %s named '%s' that cceauto did not write for "
                      .. "cluster %s; rename it or choose another --prefix or --name"):format(what, names.context, cl.id) }
    else
      row.state = "missing"
    end
    return row
  end

  row.existing = true
  row.names = { context = mine.context, cluster = mine.cluster, user = mine.user }
  row.context = kc:context(mine.context)
  -- An entry keeps its mode (a certificate, or the exec plugin) unless --force moves it to --auth's.
  local user = type(mine.user) == "string" and kc:user(mine.user)
  local now = entries.is_exec(user) and "exec" or "cert"
  local want = opts.auth or "cert"
  row.mode = opts.force and want or now
  if now ~= want and not opts.force then
    row.notice = ("its entry uses %s; --force converts it to %s"):format(
      now == "exec" and "the exec plugin" or "an embedded certificate", want == "exec" and "the exec plugin" or
      "an embedded certificate")
  end
  if now == "exec" and user then
    -- Nothing to renew: the plugin fetches short-lived certificates itself.
    row.state = (opts.force and "forced") or (not kc:cluster(mine.cluster) and "incomplete") or "fresh"
    row.exec = true
    -- Such an entry's only moving part is its server: the listing's URL of the endpoint it
    -- was written with (recorded in the extension by entries.to_exec).
    local ext = mine.extension or {}
    local want_server = (ext.endpoint == "internal" or ext.endpoint == "external")
      and (cl.endpoints or {})[ext.endpoint]
    local have = row.state == "fresh" and kc:cluster(mine.cluster)
    if have and type(want_server) == "string" and have.server ~= want_server then
      row.new_server = want_server
    end
    return row
  end
  local cert, err = kc:cert(mine.user)
  if cert then row.expires_before = cert.not_after end
  if type(mine.cluster) ~= "string" or type(mine.user) ~= "string" or not kc:cluster(mine.cluster)
      or not kc:user(mine.user) then
    row.state = "incomplete"
  elseif not cert then
    row.state = "unreadable"
    row.error = err
  elseif cert.days_left <= opts.renew_within then
    row.state = "expiring"
  elseif opts.force then
    row.state = "forced"
  else
    row.state = "fresh"
  end
  return row
end

-- Plans every selected cluster; `all` is the run's whole listing (to tell a deleted
-- cluster's leftover entry from a live one). opts.names: names by cluster id (default:
-- entries.assign_names(all, opts.template)).
function M.plan(kc, selected, all, opts)
  local index = entries.index(kc)
  local listed = {}
  for _, cl in ipairs(all or selected) do listed[cl.id] = true end
  local names = opts.names or entries.assign_names(all or selected, opts.template)
  local rows = {}
  for i, cl in ipairs(selected) do rows[i] = plan_one(kc, cl, index, listed, names[cl.id] or cl.name, opts) end
  return rows
end

local function result(row, action, fields)
  local r = { cluster = row.cluster.name, id = row.cluster.id, action = action,
              project = entries.project(row.cluster), region = row.cluster.region,
              reason = row.state ~= "fresh" and row.state or nil, notice = row.notice,
              context = row.names.context, expires_before = row.expires_before }
  for k, v in pairs(fields or {}) do r[k] = v end
  return r
end

-- Plans and carries out the rotation of `selected` in kc (in memory: see rotate.save).
-- Returns one result per cluster, in the order of `selected`:
--   { cluster = name, id =, action =, reason =, context =, expires_before =, expires_after =,
--     error = }  (times as Unix seconds)
-- and the batch's statistics (see entries.fetch; `interrupted` after a signal).
function M.run(kc, selected, all, opts)
  local rows = M.plan(kc, selected, all, opts)
  local results, pending, pending_rows = {}, {}, {}
  for i, row in ipairs(rows) do
    if row.state == "fresh" and row.new_server then
      local fields = kc:cluster(row.names.cluster)
      local old_server = fields.server
      fields.name, fields.server = nil, row.new_server
      if not opts.dry_run then assert(kc:set_cluster(row.names.cluster, fields)) end
      local notice = ("server %s -> %s (from the cluster listing)"):format(tostring(old_server), row.new_server)
      if row.notice then notice = row.notice .. "; " .. notice end
      results[i] = result(row, opts.dry_run and "would-update" or "updated", { auth = "exec", notice = notice })
    elseif row.state == "fresh" then
      results[i] = result(row, "kept", { expires_after = row.expires_before, auth = row.exec and "exec" or nil })
    elseif row.state == "conflict" then
      results[i] = result(row, "failed", { error = row.error, expires_after = row.expires_before })
    else
      local ok, err = entries.endpoint_possible(row.cluster, opts.endpoint)
      if not ok then
        results[i] = result(row, "failed", { error = err, expires_after = row.expires_before })
      elseif opts.dry_run then
        results[i] = result(row, row.existing and "would-renew" or "would-add")
      else
        pending[#pending + 1] = row.cluster
        pending_rows[#pending] = i
      end
    end
  end
  if #pending == 0 then return results, { interrupted = false } end

  local by_id = {}
  for _, i in ipairs(pending_rows) do
    by_id[rows[i].cluster.id] = rows[i]
    -- An exec entry's certificate only seeds the plugin's cache: the shortest there is, as
    -- the plugin itself fetches (cce.fetch reads an item's own `duration`).
    if rows[i].mode == "exec" then rows[i].cluster.duration = entries.EXEC_DAYS end
  end
  local got, stats = entries.fetch(pending, {
    duration = opts.duration, endpoint = opts.endpoint, concurrency = opts.concurrency,
    progress = opts.progress, deadline = opts.deadline, verify = opts.verify,
    names = function(cl) return by_id[cl.id].names end,
    context = function(cl) return by_id[cl.id].context end,
  })
  for n, g in ipairs(got) do
    local i = pending_rows[n]
    local row = rows[i]
    row.cluster.duration = nil
    local cerr
    if g.entry and row.mode == "exec" then
      local ok
      ok, cerr = entries.to_exec(g.entry, row.cluster)
      if not ok then
        g.entry:close()
        g.entry = nil
      end
    end
    if g.entry then
      local cert = row.mode ~= "exec" and entries.cert(g.entry) or nil
      kc:merge(g.entry, { replace = true })
      g.entry:close()
      local notice = g.notice or row.notice
      if g.notice and row.notice then notice = row.notice .. "; " .. g.notice end
      results[i] = result(row, row.existing and "renewed" or "added",
        { expires_after = cert and cert.not_after or nil, notice = notice, auth = row.mode })
    elseif cerr then
      results[i] = result(row, "failed", { error = cerr, expires_after = row.expires_before })
    else
      results[i] = result(row, "failed", { error = g.error, expires_after = row.expires_before })
    end
  end
  return results, stats
end

-- Whether kubectl, reading $KUBECONFIG's files merged, already has a current-context from a
-- file other than `path` (the first one, which we write): then setting one in `path` would
-- change the context the user works in.
local function current_elsewhere(path)
  local list = os.getenv("KUBECONFIG") or ""
  if not list:find(":", 1, true) or list:match("[^:]+") ~= path then return false end
  local merged = cce.kubeconfig.load()
  local cur = merged and merged:current_context()
  if merged then merged:close() end
  return cur ~= nil and cur ~= ""
end

-- A kubeconfig without current-context gets the first context this run added: Python's
-- kubernetes client and others refuse a file without one. One that has a current-context
-- keeps it (also one that another file of $KUBECONFIG provides). Returns the context set,
-- or nil.
function M.set_current(kc, results, path)
  local cur = kc:current_context()
  if (cur ~= nil and cur ~= "") or (path and current_elsewhere(path)) then return nil end
  for _, r in ipairs(results) do
    if r.action == "added" and kc:context(r.context) then
      kc:use_context(r.context)
      return r.context
    end
  end
  return nil
end

-- Saves kc once when some entry was added or renewed. On failure nothing was written:
-- those rows become failed with the save's error. Returns true, or nil and the error.
-- The entries of deleted clusters (--prune): every context with cceauto's extension whose
-- project this run listed successfully (`listed`: project id -> true) and whose cluster id
-- is not in that listing (`all`). Clusters that exist but were not selected are in the
-- listing, so they are never pruned; entries without the extension, or of a project whose
-- listing failed or that this run did not list, are never touched. Each context goes with
-- its cluster and user unless another context still refers to them. With dry_run nothing
-- is removed. Returns result rows (action "pruned" or "would-prune").
function M.prune(kc, all, listed, dry_run)
  local exists = {}
  for _, cl in ipairs(all or {}) do exists[cl.id] = true end
  local rows = {}
  for _, ctx in ipairs(kc:contexts()) do
    local ext = entries.extension(ctx)
    local id, project = ext and ext.cluster_id, ext and ext.project_id
    if type(id) == "string" and type(project) == "string" and listed and listed[project] and not exists[id] then
      rows[#rows + 1] = {
        cluster = type(ext.cluster_name) == "string" and ext.cluster_name or ctx.name, id = id,
        action = dry_run and "would-prune" or "pruned", context = ctx.name,
        project = type(ext.project_name) == "string" and ext.project_name or project,
        region = type(ext.region) == "string" and ext.region or nil,
        reason = "the cluster no longer exists",
      }
    end
  end
  if not dry_run then
    for _, r in ipairs(rows) do assert(kc:remove_context(r.context)) end
  end
  return rows
end

function M.save(kc, path, results)
  local changed = false
  for _, r in ipairs(results) do
    if r.action == "added" or r.action == "renewed" or r.action == "updated" or r.action == "pruned" then
      changed = true
      break
    end
  end
  if not changed then return true end
  local ok, err
  local f = io.open(path, "rb")
  if f then
    f:close()
    ok = true
  else
    ok, err = cli.mkdir_p(cli.dirname(path))
  end
  if ok then ok, err = kc:save() end
  if ok then return true end
  for _, r in ipairs(results) do
    if r.action == "added" or r.action == "renewed" or r.action == "updated" then
      r.action, r.error, r.expires_after = "failed", err, r.expires_before
    end
  end
  return nil, err
end

-- Counts per action; the would-* ones only when `dry_run`.
function M.summary(results, dry_run, prune)
  local s = { added = 0, renewed = 0, kept = 0, failed = 0 }
  if dry_run then s["would-add"], s["would-renew"] = 0, 0 end
  if prune then s[dry_run and "would-prune" or "pruned"] = 0 end
  for _, r in ipairs(results) do s[r.action] = (s[r.action] or 0) + 1 end
  return s
end

local COLUMNS = {
  { "cluster", "CLUSTER" },
  { "project", "PROJECT" },
  { "region", "REGION" },
  { "action", "ACTION" },
  { "expires_before", "OLD EXPIRY", output.iso },
  { "expires_after", "NEW EXPIRY", output.iso },
}
local ERROR_COLUMN = { "error", "ERROR", function(e) return e and entries.error_text(e) end }

-- The failed listings (fleet.gather) as JSON: [{ project, region, cloud, error }].
function M.failures_json(failures)
  local list = output.array()
  for i, f in ipairs(failures or {}) do
    list[i] = { project = output.nullable(f.project), region = output.nullable(f.region),
                cloud = output.nullable(f.cloud), error = entries.error_json(f.error) }
  end
  return list
end

-- The report: "table" (with an ERROR column when something failed) or "json" (with
-- `failures`, the projects whose listing failed, as `projects_failed`).
function M.render(results, format, path, dry_run, failures, prune)
  if format == "json" then
    local list = output.array()
    for i, r in ipairs(results) do
      list[i] = {
        cluster = r.cluster, id = r.id, action = r.action, context = r.context,
        project = output.nullable(r.project), region = output.nullable(r.region),
        reason = output.nullable(r.reason), auth = output.nullable(r.auth),
        expires_before = output.nullable(output.iso(r.expires_before)),
        expires_after = output.nullable(output.iso(r.expires_after)),
        error = entries.error_json(r.error),
      }
    end
    return output.json({ kubeconfig = path, dry_run = dry_run and true or false, results = list,
                         summary = M.summary(results, dry_run, prune), projects_failed = M.failures_json(failures) },
                       { pretty = true })
  end
  local columns = { table.unpack(COLUMNS) }
  for _, r in ipairs(results) do
    if r.auth == "exec" then columns[#columns + 1] = { "auth", "AUTH" } break end
  end
  for _, r in ipairs(results) do
    if r.error then columns[#columns + 1] = ERROR_COLUMN break end
  end
  return output.table(results, columns)
end

-- One line for stderr: "160 added, 0 renewed, 40 kept, 0 failed".
function M.summary_line(results, dry_run, prune)
  local s = M.summary(results, dry_run, prune)
  local parts = {}
  for _, a in ipairs(M.ACTIONS) do
    if s[a] then parts[#parts + 1] = ("%d %s"):format(s[a], a) end
  end
  return table.concat(parts, ", ")
end

-- What a rotating script does after choosing its clusters: name the new entries
-- (rotate.names with opts.template; a clash of --name's names exits 2), rotate, save once
-- (unless dry_run), report failures on stderr and the results on stdout (`opts.output`:
-- table or json; opts.failures: the failed listings of fleet.gather, reported in JSON).
-- Returns the exit status: 0 all fresh, 1 some cluster or project failed, 130 interrupted
-- by a signal (what was done is saved first).
function M.main(kc, path, selected, all, opts)
  opts.names = opts.names or M.names(selected, all, opts.template)
  local results, stats = M.run(kc, selected, all, opts)
  if opts.prune and not stats.interrupted then
    for _, r in ipairs(M.prune(kc, all, opts.listed, opts.dry_run)) do results[#results + 1] = r end
  end
  if not opts.dry_run then
    local current = M.set_current(kc, results, path)
    local ok, err = M.save(kc, path, results)
    if not ok then
      cli.warn("saving %s failed: %s", path, tostring(err))
    elseif current then
      cli.log("current-context set to %s (%s had none)", current, path)
    end
  end
  local failed, stopped = 0, 0
  for _, r in ipairs(results) do
    if r.notice and r.action ~= "failed" then cli.log("%s: %s", r.cluster, r.notice) end
    if r.action == "failed" then
      failed = failed + 1
      if entries.interrupted(r.error) then
        stopped = stopped + 1
      else
        cli.warn("%s: %s", r.cluster, entries.error_text(r.error))
      end
    end
  end
  io.write(M.render(results, opts.output, path, opts.dry_run, opts.failures, opts.prune))
  io.stdout:flush()
  cli.log("%s%s", M.summary_line(results, opts.dry_run, opts.prune), opts.dry_run and " (dry run: nothing written)" or "")
  if stats.interrupted then
    cli.warn("interrupted: %d clusters not done (reported as failed); what was done is %s", stopped,
      opts.dry_run and "reported" or "saved")
    return cli.EXIT_INTERRUPTED
  end
  if opts.failures and #opts.failures > 0 then
    cli.warn("%d project%s could not be listed (see above)", #opts.failures, #opts.failures == 1 and "" or "s")
    failed = failed + #opts.failures
  end
  return failed > 0 and cli.EXIT_FAILED or cli.EXIT_OK
end

return M
