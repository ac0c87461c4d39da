-- split_by_env.lua: one kubeconfig per environment, from the clusters' `env` label.
--
--   cceauto examples/split_by_env.lua DIR [--duration DAYS] [--match GLOB]... [--label-key KEY]
--
-- Every Available cluster goes into DIR/<env>.yaml by its metadata.labels.env (clusters
-- without the label into DIR/unlabelled.yaml); each file is written anew, mode 0600, and
-- its current-context is its first cluster's. Built on the shipped helpers
-- (scripts/cceauto/*.lua), which cceauto puts on package.path.
local cce = require "cce"
local cli = require "cceauto.cli"
local fleet = require "cceauto.fleet"
local entries = require "cceauto.entries"

local parser = cli.parser("split_by_env.lua", "Write one kubeconfig per environment label into a directory.")
parser:argument("dir", "Directory for the <env>.yaml files (created if missing).")
parser:option("--label-key", "The label that names the environment.", "env"):argname("KEY")
fleet.add_options(parser, { phase = "Available" })
cli.add(parser, "duration", "endpoint", "concurrency", "retries", "quiet")
local args = cli.parse(parser)

local client = cli.client(args)
local clusters, err = client:clusters()
if not clusters then cli.die(err) end
local selected = fleet.select(clusters, args)

local got = entries.fetch(selected, { duration = args.duration, endpoint = args.endpoint,
                                      concurrency = args.concurrency, progress = not cli.quiet() })

-- Group the fetched entries by environment, in name order.
local by_env, envs, failed = {}, {}, 0
for _, g in ipairs(got) do
  if g.entry then
    local env = fleet.labels(g.cluster)[args.label_key]
    if type(env) ~= "string" or not env:match("^[%w][%w._-]*$") then env = "unlabelled" end
    if not by_env[env] then
      by_env[env] = cce.kubeconfig.new()
      envs[#envs + 1] = env
      by_env[env]:merge(g.entry)
      by_env[env]:use_context(g.entry:contexts()[1].name)
    else
      by_env[env]:merge(g.entry)
    end
  else
    failed = failed + 1
    cli.warn("%s: %s", g.cluster.name, entries.error_text(g.error))
  end
end

local ok, mkerr = cli.mkdir_p(args.dir)
if not ok then cli.die(mkerr) end
table.sort(envs)
for _, env in ipairs(envs) do
  local file = args.dir .. "/" .. env .. ".yaml"
  local saved, save_err = by_env[env]:save(file, { overwrite = true })
  if not saved then cli.die(save_err) end
  cli.log("%s: %d clusters", file, #by_env[env]:contexts())
end
os.exit(failed > 0 and cli.EXIT_FAILED or cli.EXIT_OK)
