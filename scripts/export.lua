-- export.lua: fresh CCE credentials where GitOps tools want them.
--
--   cceauto export.lua --format argocd|flux|kubeconfig (--out DIR | --out -)
--                      [--namespace NS] [--match GLOB]... [--phase PHASE]
--                      [--cloud NAME]... [--region R]... [--project NAME_OR_ID]... | [--all-projects]
--                      [--endpoint ...] [--prefix TEXT] [--name TEMPLATE] [--duration DAYS]
--                      [--concurrency N] [--verify] [--quiet]
--
-- Fetches a fresh certificate for every selected cluster (as fetch.lua does) and writes, per
-- cluster:
--   argocd      an Argo CD declarative cluster Secret (label
--               argocd.argoproj.io/secret-type: cluster; stringData name, server and config,
--               the JSON {"tlsClientConfig": {"caData", "certData", "keyData"}})
--   flux        a Secret with a one-context kubeconfig under the key `value`, as Flux's
--               kubeConfig.secretRef reads it
--   kubeconfig  a self-contained one-context kubeconfig
-- into DIR/<name>.yaml (0600, written atomically), or with --out - one multi-document YAML
-- stream on stdout. Names follow rotate_all.lua's rules (--prefix, --name, <cluster>.<project>
-- when clusters of different projects share a name).
-- Exit status: 0 all exported, 1 some cluster or project listing failed (the others are
-- still written), 2 a usage or configuration error, 130 interrupted.
local cli = require "cceauto.cli"
local fleet = require "cceauto.fleet"
local entries = require "cceauto.entries"
local rotate = require "cceauto.rotate"
local cce = require "cce"
local cjson = require "cjson"

local parser = cli.parser("export.lua",
  "Write fresh CCE credentials as Argo CD cluster Secrets, Flux kubeconfig Secrets or kubeconfig files.",
  [[
Formats (one document per cluster, named after its entry name as rotate_all.lua gives it):
  argocd      Secret with label argocd.argoproj.io/secret-type: cluster and stringData
              name, server, config (JSON: tlsClientConfig caData, certData, keyData, and
              serverName or insecure where the cluster has them); namespace argocd
  flux        Secret with stringData.value = a one-context kubeconfig (Flux's
              spec.kubeConfig.secretRef); namespace flux-system
  kubeconfig  a self-contained one-context kubeconfig
Files are DIR/<name>.yaml, mode 0600, replaced atomically; --out - writes one YAML stream
of all documents ("---" between them) to stdout. Secret names are the entry names made
valid Kubernetes names (lowercase; other characters become '-').]],
  { exit = [[
Exit status: 0 every selected cluster exported, 1 some cluster or project listing failed
(the others are still written), 2 a usage or configuration error.]] })
cli.add(parser, "targets")
parser:option("--format", "argocd, flux or kubeconfig."):argname("FORMAT"):count(1)
  :convert(cli.one_of{ "argocd", "flux", "kubeconfig" })
parser:option("--out", "Directory for the files (created 0700 when missing), or - for stdout."):argname("DIR|-"):count(1)
parser:option("--namespace", "Namespace of the Secrets (default: argocd for argocd, flux-system for flux).")
  :argname("NS")
fleet.add_options(parser, { phase = "Available" })
cli.add(parser, "duration", "endpoint", "prefix", "name", "concurrency", "retries", "deadline", "verify", "quiet")
local args = cli.parse(parser)

-- A namespace is a DNS-1123 label: [a-z0-9-], alphanumeric at both ends, at most 63 characters.
local function dns_label(s)
  return #s <= 63 and s:match("^[a-z0-9][-a-z0-9]*$") ~= nil and s:match("[a-z0-9]$") ~= nil
end
if args.namespace and not dns_label(args.namespace) then
  parser:error(("--namespace '%s' is not a valid namespace name (lowercase letters, digits and '-')")
    :format(args.namespace))
end
local namespace = args.namespace or (args.format == "argocd" and "argocd" or "flux-system")

local clusters, failures = fleet.gather(cli.clients(args), { concurrency = args.concurrency })
local chosen = fleet.select(clusters, args)
if #chosen == 0 then cli.die("no cluster matches", cli.EXIT_FAILED) end
cli.log("exporting %d cluster%s", #chosen, #chosen == 1 and "" or "s")
local names, got, stats = rotate.fetch_named(chosen, clusters, args)

-- YAML ----------------------------------------------------------------------------------

-- A YAML double-quoted scalar (escapes every YAML version reads alike).
local function q(s)
  return '"' .. tostring(s):gsub('[%c"\\\127]', function(c)
    if c == '"' then return '\\"' end
    if c == "\\" then return "\\\\" end
    if c == "\n" then return "\\n" end
    if c == "\t" then return "\\t" end
    return ("\\x%02X"):format(c:byte())
  end) .. '"'
end

-- A literal block scalar at `indent` (text ending in a newline, as to_yaml gives it).
local function block(text, indent)
  local pad = (" "):rep(indent)
  local lines = {}
  for line in text:gmatch("([^\n]*)\n") do lines[#lines + 1] = line == "" and "" or pad .. line end
  return "|\n" .. table.concat(lines, "\n") .. "\n"
end

-- A Kubernetes object name from an entry name: lowercase, [a-z0-9.-], alphanumeric at both
-- ends, at most 253 characters.
local function k8s_name(name)
  local n = name:lower():gsub("[^a-z0-9.-]", "-"):gsub("^[^a-z0-9]+", ""):gsub("[^a-z0-9]+$", "")
  if #n > 253 then n = n:sub(1, 253):gsub("[^a-z0-9]+$", "") end
  return n
end

-- The one context of an entry: its cluster and user fields.
local function parts(entry)
  local ctx = entry:contexts()[1]
  return ctx, entry:cluster(ctx.cluster), entry:user(ctx.user)
end

local function argocd(name, entry)
  local _, cluster, user = parts(entry)
  local tls = { certData = user["client-certificate-data"], keyData = user["client-key-data"] }
  if cluster["certificate-authority-data"] then tls.caData = cluster["certificate-authority-data"] end
  if cluster["tls-server-name"] then tls.serverName = cluster["tls-server-name"] end
  if cluster["insecure-skip-tls-verify"] == true then tls.insecure = true end
  local config = cjson.encode({ tlsClientConfig = tls }):gsub("\\/", "/")
  return table.concat({
    "apiVersion: v1", "kind: Secret", "metadata:",
    "  name: " .. q(k8s_name(name)), "  namespace: " .. q(namespace),
    "  labels:", '    argocd.argoproj.io/secret-type: "cluster"',
    "type: Opaque", "stringData:",
    "  name: " .. q(name), "  server: " .. q(cluster.server), "  config: " .. q(config), "",
  }, "\n")
end

local function flux(name, entry)
  entry:use_context(entry:contexts()[1].name)
  return table.concat({
    "apiVersion: v1", "kind: Secret", "metadata:",
    "  name: " .. q(k8s_name(name)), "  namespace: " .. q(namespace),
    "type: Opaque", "stringData:",
    "  value: " .. block(entry:to_yaml(), 4),
  }, "\n")
end

local function kubeconfig(_, entry)
  entry:use_context(entry:contexts()[1].name)
  return entry:to_yaml()
end

local render = ({ argocd = argocd, flux = flux, kubeconfig = kubeconfig })[args.format]

-- Output --------------------------------------------------------------------------------

local failed, docs = 0, {}
for _, g in ipairs(got) do
  if g.entry then
    if g.notice then cli.log("%s: %s", g.cluster.name, g.notice) end
    local name = args.prefix .. names[g.cluster.id]
    docs[#docs + 1] = { name = name, text = render(name, g.entry) }
    g.entry:close()
  else
    failed = failed + 1
    if not entries.interrupted(g.error) then cli.warn("%s: %s", g.cluster.name, entries.error_text(g.error)) end
  end
end

if args.out == "-" then
  local out = {}
  for i, d in ipairs(docs) do out[i] = d.text end
  io.write(table.concat(out, "---\n"))
  io.stdout:flush()
else
  local ok, mkerr = cce.mkdir(args.out)
  if not ok then cli.die(mkerr) end
  for _, d in ipairs(docs) do
    local file = args.out:gsub("/*$", "") .. "/" .. d.name .. ".yaml"
    -- A cluster name is the answer's text: control characters (C0, DEL, C1 in UTF-8) in a
    -- file name would reach every terminal that lists DIR, so such a name is refused.
    if d.name:find("/", 1, true) or d.name == "." or d.name == ".." or d.name == ""
        or d.name:find("[%c\127]") or d.name:find("\194[\128-\159]") then
      failed = failed + 1
      cli.warn("%s: cannot use the name as a file name (--name chooses another)", d.name)
    else
      local written, err = cce.write_private(file, d.text)
      if written then
        cli.log("wrote %s", file)
      else
        failed = failed + 1
        cli.warn("%s: %s", d.name, tostring(err))
      end
    end
  end
end

os.exit(cli.finish(failed, failures, stats))
