-- list.lua: the clusters of a CCE project.
--
--   cceauto list.lua [--match GLOB]... [--phase PHASE] [--version GLOB] [--label KEY=VALUE]...
--                    [--output table|json|csv] [--quiet]
--
-- Columns: name, id, phase, version, internal and external endpoint. JSON is an array of
-- { name, id, phase, version, type, flavor, endpoints = { internal, external }, labels }.
local cli = require "cceauto.cli"
local fleet = require "cceauto.fleet"
local output = require "cceauto.output"

local parser = cli.parser("list.lua", "List the clusters of a CCE project.",
  [[
JSON output: an array of {"name", "id", "phase", "version", "type", "flavor",
"endpoints": {"internal", "external"}, "labels"}, sorted by name; a missing endpoint is null.
CSV columns: name, id, phase, version, internal, external.]])
fleet.add_options(parser, { phase = "any", version = true, label = true })
cli.add_output(parser, { "table", "json", "csv" })
cli.add(parser, "retries", "quiet")
local args = cli.parse(parser)

local client = cli.client(args)
local clusters, err = client:clusters()
if not clusters then cli.die(err) end
local selected = fleet.select(clusters, args)

local rows = {}
for i, cl in ipairs(selected) do
  rows[i] = { name = cl.name, id = cl.id, phase = cl.phase, version = cl.version,
              internal = cl.endpoints and cl.endpoints.internal,
              external = cl.endpoints and cl.endpoints.external }
end

if args.output == "json" then
  local list = output.array()
  for i, cl in ipairs(selected) do
    list[i] = {
      name = cl.name, id = cl.id, phase = output.nullable(cl.phase), version = output.nullable(cl.version),
      type = output.nullable(cl.type), flavor = output.nullable(cl.flavor),
      endpoints = { internal = output.nullable(rows[i].internal), external = output.nullable(rows[i].external) },
      labels = fleet.labels(cl),
    }
  end
  io.write(output.json(list, { pretty = true }))
else
  local columns = {
    { "name", "NAME" }, { "id", "ID" }, { "phase", "PHASE" }, { "version", "VERSION" },
    { "internal", "INTERNAL" }, { "external", "EXTERNAL" },
  }
  io.write((args.output == "csv" and output.csv or output.table)(rows, columns))
end
