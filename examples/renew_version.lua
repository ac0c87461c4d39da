-- renew_version.lua: renew the certificates of the clusters on one Kubernetes version.
--
--   cceauto examples/renew_version.lua --version 'v1.28*' [--kubeconfig PATH] [--duration DAYS]
--
-- E.g. after upgrading clusters: every Available cluster whose version matches the glob
-- gets a new certificate in the kubeconfig (its entry is added when missing); the entries
-- of other clusters and everything else in the file stay as they were. The same rotation
-- as rotate_all.lua (scripts/cceauto/rotate.lua) with --force, on a version filter.
local cce = require "cce"
local cli = require "cceauto.cli"
local rotate = require "cceauto.rotate"

local parser = cli.parser("renew_version.lua",
  "Renew the kubeconfig entries of the clusters on a given Kubernetes version.")
parser:option("--version", "Kubernetes version of the clusters to renew, a shell glob such as 'v1.28*' (required).")
  :argname("GLOB"):count(1):convert(function(s)
    local ok, err = cce.glob_check(s)
    if not ok then return nil, err end
    return s
  end)
cli.add(parser, "kubeconfig", "duration", "endpoint", "prefix", "concurrency", "retries")
parser:flag("-n --dry-run", "Show what would be renewed; request and write nothing.")
cli.add_output(parser, { "table", "json" })
cli.add(parser, "quiet")
local args = cli.parse(parser)
args.phase = "Available"

local kc, path, selected, clusters = rotate.prepare(args)
cli.log("%d clusters on %s", #selected, args.version)

os.exit(rotate.main(kc, path, selected, clusters, {
  prefix = args.prefix, endpoint = args.endpoint, duration = args.duration, renew_within = 0,
  force = true, dry_run = args.dry_run, concurrency = args.concurrency, progress = not cli.quiet(),
  output = args.output,
}))
