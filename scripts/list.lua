-- list.lua: the clusters of one or more CCE projects.
--
--   cceauto list.lua [--cloud NAME]... [--region R]... [--project NAME_OR_ID]... | [--all-projects]
--                    [--match GLOB]... [--phase PHASE] [--version GLOB] [--label KEY=VALUE]...
--                    [--concurrency N] [--output table|json|csv] [--quiet]
--
-- Columns: name, id, project, region, phase, version, internal and external endpoint. JSON
-- is an array of { name, id, project, project_id, region, phase, version, type, flavor,
-- endpoints = { internal, external }, labels }. The listings of all projects go out as one
-- concurrent batch; a project whose listing failed is reported on stderr (exit 1), the
-- others are listed.
local cli = require "cceauto.cli"
local fleet = require "cceauto.fleet"
local output = require "cceauto.output"
local entries = require "cceauto.entries"

local parser = cli.parser("list.lua", "List the clusters of CCE projects.",
  [[
JSON output: an array of {"name", "id", "project", "project_id", "region", "phase",
"version", "type", "flavor", "endpoints": {"internal", "external"}, "labels"}, sorted by
name (then project); a missing endpoint is null. "project" is the project's name, else its
id. CSV columns: name, id, project, region, phase, version, internal, external.]],
  { exit = [[
Exit status: 0 success, 1 an operational failure (a project whose listing failed: the
others are still listed), 2 a usage or configuration error.]] })
cli.add(parser, "targets")
fleet.add_options(parser, { phase = "any", version = true, label = true })
cli.add_output(parser, { "table", "json", "csv" })
cli.add(parser, "concurrency", "retries", "quiet")
local args = cli.parse(parser)

local clusters, failures = fleet.gather(cli.clients(args), { concurrency = args.concurrency })
local selected = fleet.select(clusters, args)

local rows = {}
for i, cl in ipairs(selected) do
  rows[i] = { name = cl.name, id = cl.id, project = entries.project(cl), region = cl.region,
              phase = cl.phase, version = cl.version,
              internal = cl.endpoints and cl.endpoints.internal,
              external = cl.endpoints and cl.endpoints.external }
end

if args.output == "json" then
  local list = output.array()
  for i, cl in ipairs(selected) do
    list[i] = {
      name = cl.name, id = cl.id, phase = output.nullable(cl.phase), version = output.nullable(cl.version),
      project = output.nullable(rows[i].project), project_id = output.nullable(cl.project_id),
      region = output.nullable(cl.region),
      type = output.nullable(cl.type), flavor = output.nullable(cl.flavor),
      endpoints = { internal = output.nullable(rows[i].internal), external = output.nullable(rows[i].external) },
      labels = fleet.labels(cl),
    }
  end
  io.write(output.json(list, { pretty = true }))
else
  local columns = {
    { "name", "NAME" }, { "id", "ID" }, { "project", "PROJECT" }, { "region", "REGION" }, { "phase", "PHASE" },
    { "version", "VERSION" }, { "internal", "INTERNAL" }, { "external", "EXTERNAL" },
  }
  io.write((args.output == "csv" and output.csv or output.table)(rows, columns))
end
io.stdout:flush()
os.exit(#failures > 0 and cli.EXIT_FAILED or cli.EXIT_OK)
