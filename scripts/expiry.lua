-- expiry.lua: when the client certificates of a kubeconfig's users expire.
--
--   cceauto expiry.lua [--kubeconfig PATH] [--warn-within DAYS] [--output table|json|csv]
--
-- One row per user: the contexts that use it, not_after, days left, subject; users without
-- a certificate (token, exec, auth-provider) and unreadable certificates say why. No API
-- call is made. With --warn-within, exit 3 when a certificate expires within that many days
-- (or has expired, or cannot be read); users without certificates never trigger it.
local cce = require "cce"
local cli = require "cceauto.cli"
local output = require "cceauto.output"

local EXIT_WARN = 3

local parser = cli.parser("expiry.lua", "Show when the client certificates in a kubeconfig expire.",
  [[
Status per user: valid, expiring (within --warn-within days), expired, unreadable (the
certificate cannot be read), exec (kubectl runs a plugin for the credentials; for cceauto's
credential.lua the certificate it has cached is shown) or no-certificate (a token or
auth-provider user).
JSON output: an array of {"user", "contexts", "status", "not_after", "days_left", "subject",
"issuer", "reason"}; what does not apply is null.]],
  { api = false, exit = [[
Exit status: 0 fine, 3 some certificate expires within --warn-within days, has expired or
cannot be read, 1 an operational failure, 2 a usage error or an unreadable kubeconfig.]] })
parser:option("--kubeconfig", "Kubeconfig to read (default: the files of $KUBECONFIG, else ~/.kube/config, as kubectl).")
  :argname("PATH")
parser:option("--warn-within", "Exit 3 when a certificate expires within this many days (default: never).")
  :argname("DAYS"):convert(cli.days)
cli.add_output(parser, { "table", "json", "csv" })
cli.add(parser, "quiet")
local args = cli.parse(parser)

local kc, err = cce.kubeconfig.load(args.kubeconfig)
if not kc then cli.die(err, cli.EXIT_USAGE) end

-- The contexts of each user.
local contexts_of = {}
for _, ctx in ipairs(kc:contexts()) do
  if ctx.user then
    contexts_of[ctx.user] = contexts_of[ctx.user] or {}
    table.insert(contexts_of[ctx.user], ctx.name)
  end
end

-- The cluster id of an exec user that runs cceauto's credential.lua, or nil.
local function plugin_cluster(exec)
  local argv = type(exec.args) == "table" and exec.args or {}
  if argv[1] ~= "credential.lua" then return nil end
  for i = 2, #argv - 1 do
    if argv[i] == "--cluster-id" then return argv[i + 1] end
  end
  return nil
end

local rows, warn = {}, false
for _, u in ipairs(kc:users()) do
  local row = { user = u.name, contexts = contexts_of[u.name] or {} }
  local cert, cert_err
  if type(u.exec) ~= "table" then cert, cert_err = kc:cert(u.name) end
  if type(u.exec) == "table" then
    -- An exec plugin fetches its credentials itself: nothing here to expire. For cceauto's
    -- plugin, the certificate it has cached (if any) is shown.
    row.status = "exec"
    local id = plugin_cluster(u.exec)
    local cached = id and require("cceauto.credcache").read(id)
    if cached then
      row.not_after = cached.not_after
      row.days_left = math.floor((cached.not_after - os.time()) / 86400 * 10 + 0.5) / 10
      row.reason = "cceauto credential.lua; its cached certificate"
    else
      row.reason = id and "cceauto credential.lua; no certificate cached yet"
        or ("exec plugin %s"):format(tostring(u.exec.command))
    end
  elseif cert then
    row.not_after = cert.not_after
    row.days_left = math.floor(cert.days_left * 10 + 0.5) / 10
    row.subject, row.issuer = cert.subject, cert.issuer
    if cert.days_left < 0 then
      row.status = "expired"
    elseif args.warn_within and cert.days_left <= args.warn_within then
      row.status = "expiring"
    else
      row.status = "valid"
    end
  else
    row.status = cert_err.code == "NO_CERT" and "no-certificate" or "unreadable"
    row.reason = cert_err.message
  end
  if args.warn_within and (row.status == "expired" or row.status == "expiring" or row.status == "unreadable") then
    warn = true
  end
  rows[#rows + 1] = row
end

if args.output == "json" then
  local list = output.array()
  for i, r in ipairs(rows) do
    list[i] = {
      user = r.user, contexts = output.array(r.contexts), status = r.status,
      not_after = output.nullable(output.iso(r.not_after)), days_left = output.nullable(r.days_left),
      subject = output.nullable(r.subject), issuer = output.nullable(r.issuer), reason = output.nullable(r.reason),
    }
  end
  io.write(output.json(list, { pretty = true }))
else
  local function days(v) return v and string.format("%.1f", v) end
  local columns = {
    { "user", "USER" }, { "contexts", "CONTEXTS" }, { "status", "STATUS" },
    { "not_after", "NOT AFTER", output.iso }, { "days_left", "DAYS LEFT", days },
    { "subject", "SUBJECT" }, { "reason", "REASON" },
  }
  io.write((args.output == "csv" and output.csv or output.table)(rows, columns))
end

if warn then
  cli.log("some certificates expire within %g days, have expired or cannot be read", args.warn_within)
  os.exit(EXIT_WARN)
end
os.exit(cli.EXIT_OK)
