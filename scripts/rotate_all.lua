-- rotate_all.lua: keep a kubeconfig's entries for CCE clusters of one or more projects fresh.
--
--   cceauto rotate_all.lua [--kubeconfig PATH] [--duration DAYS] [--renew-within DAYS]
--                          [--cloud NAME]... [--region R]... [--project NAME_OR_ID]... |
--                          [--all-projects] [--no-token-cache]
--                          [--match GLOB]... [--phase PHASE]
--                          [--endpoint auto|internal|external|external-insecure]
--                          [--prefix TEXT] [--name TEMPLATE] [--concurrency N] [--force]
--                          [--dry-run] [--output table|json] [--quiet]
--
-- Every selected cluster gets one context, cluster entry and user named PREFIX<name>, with
-- a `cceauto` context extension so later runs recognise it (also under a name the user gave
-- the context). Clusters of different projects that share a name get PREFIX<name>.<project>
-- (with a notice), or the names of --name TEMPLATE. The listings of all projects go out
-- as one concurrent batch, then the certificate requests as another. Certificates are
-- requested only for entries that are missing, unreadable or expiring within
-- --renew-within days (all of them with --force); the rest of the file is left as it was
-- (a file without current-context gets the first context added), and the file is saved
-- once, atomically. An answer that fails the checks (certificate, key, dates, only the
-- fields cceauto takes) fails its cluster and leaves its old entry as it was.
--
-- stdout: the report (a table, or JSON); stderr: progress and messages.
-- Exit status: 0 every selected cluster is fresh, 1 some cluster or project listing failed
-- (the others are saved), 2 a usage or configuration error.
local cli = require "cceauto.cli"
local fleet = require "cceauto.fleet"
local rotate = require "cceauto.rotate"

local parser = cli.parser("rotate_all.lua",
  "Add or renew the kubeconfig entries of the clusters of CCE projects; keep everything else.",
  [[
Entries are named PREFIX<cluster name> (context, cluster and user); clusters of one
project that share a name get PREFIX<name>-<first 8 characters of the id>, clusters of
different projects that share a name PREFIX<name>.<project name> (with a notice), and
--name TEMPLATE names them all explicitly. Entries carry a context extension named
"cceauto" (cluster_id, cluster_name, project_id, project_name, region, issued, duration;
auth and endpoint for exec entries),
by which later runs recognise them, also after the context was renamed: an existing entry
keeps its name.

Actions: added, renewed, updated (an exec entry's server followed the listing), kept, pruned
(--prune), failed; with --dry-run would-add, would-renew, would-update and would-prune.
JSON output: {"kubeconfig": PATH, "results": [{"cluster", "id", "project", "region",
"action", "context", "expires_before", "expires_after", "error", ...}], "summary": {"added",
"renewed", "kept", "failed"}, "projects_failed": [{"project", "region", "cloud", "error"}]}.]],
  { exit = [[
Exit status: 0 every selected cluster is fresh, 1 some cluster or project listing failed
(the others are saved), 2 a usage or configuration error (or an unreadable kubeconfig).]] })
cli.add(parser, "targets", "kubeconfig", "duration")
parser:option("--renew-within", "Renew certificates that expire within this many days.", "7")
  :argname("DAYS"):convert(cli.days)
fleet.add_options(parser, { phase = "Available" })
cli.add(parser, "endpoint", "prefix", "name", "concurrency", "retries", "deadline", "verify")
parser:flag("-f --force", "Renew every selected cluster's certificate.")
parser:flag("-n --dry-run", "Show what would be done: no certificate is requested, nothing is written.")
parser:option("--auth", "How new entries authenticate: cert (a client certificate and key embedded in the "
  .. "kubeconfig, renewed by later runs) or exec (kubectl runs `cceauto credential.lua`, which hands out "
  .. "short-lived certificates from its cache; the entry holds no key and never needs renewing). An existing "
  .. "entry keeps its mode unless --force.", "cert")
  :argname("MODE"):convert(cli.one_of{ "cert", "exec" })
parser:flag("--prune", "Remove the entries cceauto wrote for clusters that no longer exist in a project this run "
  .. "listed (the context, and its cluster and user unless another context uses them); never entries without "
  .. "cceauto's extension, of clusters that exist but were not selected, or of a project whose listing failed.")
cli.add_output(parser, { "table", "json" })
cli.add(parser, "quiet")
local args = cli.parse(parser)

if args.duration ~= -1 and args.duration <= args.renew_within then
  cli.warn("certificates of %d days expire within --renew-within %g days: they will be renewed on every run",
    args.duration, args.renew_within)
end

local kc, path, selected, clusters, failures, listed = rotate.prepare(args)
cli.log("%d of %d clusters selected", #selected, #clusters)

os.exit(rotate.main(kc, path, selected, clusters, {
  prefix = args.prefix, endpoint = args.endpoint, duration = args.duration,
  renew_within = args.renew_within, force = args.force, dry_run = args.dry_run, auth = args.auth,
  concurrency = args.concurrency, deadline = args.deadline, progress = not cli.quiet(),
  output = args.output, template = args.name, failures = failures, verify = args.verify,
  prune = args.prune, listed = listed,
}))
