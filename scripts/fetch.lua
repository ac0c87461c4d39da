-- fetch.lua: fetch kubeconfigs of named or matching CCE clusters, of one or more projects.
--
--   cceauto fetch.lua [CLUSTER...] [--match GLOB]... [--phase PHASE] [--duration DAYS]
--                     [--cloud NAME]... [--region R]... [--project NAME_OR_ID]... | [--all-projects]
--                     [--endpoint auto|internal|external|external-insecure] [--prefix TEXT]
--                     [--name TEMPLATE] [--concurrency N]
--                     [--json | --output FILE | --split DIR] [--quiet]
--
-- By default every cluster's entry goes into one kubeconfig printed on stdout (YAML, or
-- JSON with --json); --output FILE adds the entries to FILE (created with mode 0600, other
-- entries kept); --split DIR writes DIR/<entry name>.yaml per cluster (overwritten).
-- Entries are named and marked like rotate_all.lua's, so rotate_all.lua keeps them fresh.
-- Exit status: 0 all fetched, 1 some cluster or project listing failed (the others are
-- still written), 2 usage or configuration error, 130 interrupted (what was fetched is
-- still written).
local cli = require "cceauto.cli"
local fleet = require "cceauto.fleet"
local entries = require "cceauto.entries"
local rotate = require "cceauto.rotate"
local cce = require "cce"

local parser = cli.parser("fetch.lua", "Fetch the kubeconfigs of CCE clusters, named or matching a glob.",
  [[
Named clusters are always fetched; --phase filters only the clusters that --match selects.
Entries (context, cluster, user) are named PREFIX<cluster name> (clusters of different
projects that share a name: PREFIX<name>.<project name>; --name TEMPLATE: explicitly) and
carry the "cceauto" context extension (cluster_id, project_id, project_name, region, ...),
as rotate_all.lua writes them. With several clusters on stdout or in a new file,
current-context is the first cluster's context.]],
  { exit = [[
Exit status: 0 every cluster fetched, 1 some cluster or project listing failed (the others
are still written), 2 a usage or configuration error.]] })
cli.add(parser, "targets")
parser:argument("cluster", "Cluster names or ids."):args("*")
fleet.add_options(parser, { phase = "Available",
                            match_help = "Also clusters whose name matches this shell glob (repeatable)." })
cli.add(parser, "duration", "endpoint", "prefix", "name", "concurrency", "retries", "deadline", "verify")
parser:mutex(
  parser:flag("--json", "Print JSON instead of YAML on stdout."),
  parser:option("--output", "Add the entries to this kubeconfig file (created with mode 0600; entries of the same names "
    .. "are replaced, all others kept) instead of printing them.")
    :argname("FILE"),
  parser:option("--split", "Write one kubeconfig per cluster: DIR/<entry name without --prefix>.yaml (overwritten).")
    :argname("DIR"))
cli.add(parser, "quiet")
local args = cli.parse(parser)

if #args.cluster == 0 and #args.match == 0 then
  parser:error("name at least one cluster or give --match")
end

local clusters, failures = fleet.gather(cli.clients(args), { concurrency = args.concurrency })

-- The clusters: the named ones in the order given, then the matching ones by name. A name
-- that two clusters share (in different projects, or in one: CCE forbids it, a broken
-- answer can say it) names neither.
local by_name = {}
for _, cl in ipairs(clusters) do
  local list = by_name[cl.name] or {}
  by_name[cl.name] = list
  list[#list + 1] = cl
end
for _, w in ipairs(args.cluster) do
  local list = by_name[w]
  if list and #list > 1 then
    local ids = {}
    for i, cl in ipairs(list) do ids[i] = ("%s (project %s)"):format(cl.id, entries.project(cl)) end
    cli.die(("%d clusters are named '%s' (ids %s): name the one you mean by its id")
      :format(#list, w, table.concat(ids, ", ")), cli.EXIT_USAGE)
  end
end
local chosen, missing = fleet.lookup(clusters, args.cluster)
if #missing > 0 then
  local projects, seen = {}, {}
  for _, cl in ipairs(clusters) do
    local p = entries.project(cl)
    if not seen[p] then seen[p] = true; projects[#projects + 1] = p end
  end
  for _, f in ipairs(failures) do projects[#projects + 1] = tostring(f.project) .. " (not listed)" end
  cli.die(("no cluster named '%s' in project%s %s"):format(table.concat(missing, "', '"),
    #projects == 1 and "" or "s", table.concat(projects, ", ")))
end
if #args.match > 0 then
  local seen = {}
  for _, cl in ipairs(chosen) do seen[cl.id] = true end
  for _, cl in ipairs(fleet.select(clusters, args)) do
    if not seen[cl.id] then chosen[#chosen + 1] = cl end
  end
end
if #chosen == 0 then cli.die("no cluster matches", cli.EXIT_FAILED) end
cli.log("fetching %d cluster%s", #chosen, #chosen == 1 and "" or "s")

local names, got, stats = rotate.fetch_named(chosen, clusters, args)

local failed, ok_entries = 0, {}
for _, g in ipairs(got) do
  if g.entry then
    if g.notice then cli.log("%s: %s", g.cluster.name, g.notice) end
    ok_entries[#ok_entries + 1] = g
  else
    failed = failed + 1
    if not entries.interrupted(g.error) then cli.warn("%s: %s", g.cluster.name, entries.error_text(g.error)) end
  end
end

if args.split then
  local ok, mkerr = cli.mkdir_p(args.split)
  if not ok then cli.die(mkerr) end
  for _, g in ipairs(ok_entries) do
    local name = names[g.cluster.id]
    if name:find("/", 1, true) or name == "." or name == ".." or name == "" then
      failed = failed + 1
      cli.warn("%s: cannot use the cluster name as a file name", name)
    else
      local file = args.split:gsub("/*$", "") .. "/" .. name .. ".yaml"
      g.entry:use_context(g.entry:contexts()[1].name)
      local saved, save_err = g.entry:save(file, { overwrite = true })
      if saved then
        cli.log("wrote %s", file)
      else
        failed = failed + 1
        cli.warn("%s: %s", name, tostring(save_err))
      end
    end
  end
else
  local kc = cce.kubeconfig.new()
  for _, g in ipairs(ok_entries) do kc:merge(g.entry, { replace = true }) end
  if #ok_entries > 0 then kc:use_context(ok_entries[1].entry:contexts()[1].name) end
  if args.output then
    if #ok_entries > 0 then
      -- save(path) sets current-context only when the file has none: say so when it does.
      local before = cce.kubeconfig.load(args.output)
      local had = before and before:current_context()
      if before then before:close() end
      local ok, save_err = cli.mkdir_p(cli.dirname(args.output))
      if ok then ok, save_err = kc:save(args.output) end
      if not ok then cli.die(save_err) end
      cli.log("wrote %d entr%s to %s", #ok_entries, #ok_entries == 1 and "y" or "ies", args.output)
      if had == nil or had == "" then
        cli.log("current-context set to %s (%s had none)", kc:current_context(), args.output)
      end
    end
  elseif #ok_entries > 0 then
    io.write(args.json and kc:to_json(true) or kc:to_yaml())
  end
end

os.exit(cli.finish(failed, failures, stats))
