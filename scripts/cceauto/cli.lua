-- cceauto.cli: what every shipped script shares on the command line.
--
--   local cli = require "cceauto.cli"
--   local parser = cli.parser("rotate_all.lua", "Keep a kubeconfig's CCE entries fresh.")
--   cli.add(parser, "kubeconfig", "duration", "quiet")
--   local args = cli.parse(parser)           -- usage errors: message on stderr, exit 2
--   local client = cli.client()              -- a CONFIG error: message on stderr, exit 2
--   local targets = cli.clients(args)        -- clouds x regions x projects (cli.add(p, "targets"))
--   cli.log("%d clusters", n)                -- stderr, silent with --quiet
--   cli.die("no such cluster", 1)            -- stderr (also with --quiet), exit
--
-- Exit statuses shared by the scripts: 0 success, 1 an operational failure (the API, a
-- cluster, a file), 2 a usage or configuration error; expiry.lua adds 3.
local argparse = require "argparse"
local cce = require "cce"
local output = require "cceauto.output"

local M = {}

M.EXIT_OK, M.EXIT_FAILED, M.EXIT_USAGE, M.EXIT_INTERRUPTED = 0, 1, 2, 130

local state = { name = "cceauto", quiet = false }

-- Messages ------------------------------------------------------------------------------
--
-- The values formatted into a message may come from the server (cluster names, error
-- messages): they are escaped for the terminal (output.escape), the format is not.

local function message(fmt, ...)
  local n = select("#", ...)
  if n == 0 then return fmt end
  local args = { ... }
  for i = 1, n do
    if type(args[i]) == "string" or type(args[i]) == "table" then args[i] = output.escape(tostring(args[i])) end
  end
  return fmt:format(table.unpack(args, 1, n))
end

-- An informational message on stderr, unless --quiet.
function M.log(fmt, ...)
  if state.quiet then return end
  io.stderr:write(state.name, ": ", message(fmt, ...), "\n")
end

-- A warning or error that is always shown.
function M.warn(fmt, ...)
  io.stderr:write(state.name, ": ", message(fmt, ...), "\n")
end

-- Prints msg (a string or an error table, escaped) on stderr and exits with status (default 1).
function M.die(msg, status)
  io.stdout:flush()
  io.stderr:write(state.name, ": ", output.escape(tostring(msg)), "\n")
  os.exit(status or M.EXIT_FAILED)
end

function M.quiet() return state.quiet end

-- Argument checkers (argparse converters: value, or nil and a message) ----------------

-- Validity of a certificate, as CCE takes it: 1..1825 days, or -1 for the maximum.
function M.duration(s)
  local n = math.tointeger(tonumber(s))
  if not n or not (n == -1 or (n >= 1 and n <= 1825)) then
    return nil, ("duration must be 1 to 1825 days or -1 (the maximum), not '%s'"):format(s)
  end
  return n
end

-- A number of days >= 0, fractions allowed.
function M.days(s)
  local n = tonumber(s)
  if not n or n ~= n or n < 0 or n == math.huge then
    return nil, ("expected a number of days >= 0, not '%s'"):format(s)
  end
  return n
end

-- An integer in lo..hi.
function M.integer(lo, hi)
  return function(s)
    local n = math.tointeger(tonumber(s))
    if not n or n < lo or n > hi then
      return nil, ("expected an integer from %d to %d, not '%s'"):format(lo, hi, s)
    end
    return n
  end
end

-- One of a fixed set of words (argparse's choices, with a message that lists them).
function M.one_of(words)
  local set = {}
  for _, w in ipairs(words) do set[w] = true end
  return function(s)
    if set[s] then return s end
    return nil, ("'%s' is not one of: %s"):format(s, table.concat(words, ", "))
  end
end

-- A non-empty value for `option`.
function M.nonempty(option)
  return function(s)
    if s == "" then return nil, option .. " takes a non-empty value" end
    return s
  end
end

-- The placeholders of --name.
M.PLACEHOLDERS = { cluster = true, project = true, region = true, id = true }

-- argparse converter of --name: the template, checked (every `{` opens a known placeholder).
function M.template(s)
  if s == "" then return nil, "--name takes a non-empty template" end
  local i = 1
  while true do
    local open = s:find("{", i, true)
    if not open then break end
    local word = s:match("^{([%w_]*)}", open)
    if not word or not M.PLACEHOLDERS[word] then
      return nil, ("unknown placeholder '%s' in --name '%s' (known: {cluster}, {project}, {region}, {id})")
        :format(s:match("^{[^}]*}?", open), s)
    end
    i = open + #word + 2
  end
  return s
end

-- The parser --------------------------------------------------------------------------

local EXIT_HELP = [[
Exit status: 0 success, 1 an operational failure (the CCE API, a cluster, a file),
2 a usage or configuration error.]]

local CONFIG_HELP = [[
Credentials and targets, first source wins: explicit options (--cloud, --region, --project)
> the clouds.yaml entry named by --cloud or OS_CLOUD (clouds.yaml from
$OS_CLIENT_CONFIG_FILE, ./, ~/.config/openstack/, /etc/openstack/; secure.yaml merged over
it) > the OS_* variables. Within one source a token, else AK/SK, else a password is used.
Variables: OS_CLOUD; OS_AUTH_URL (IAM, default https://iam.REGION.otc.t-systems.com/v3);
OS_USERNAME or OS_USER_ID, OS_PASSWORD, OS_USER_DOMAIN_NAME (the tenant, OTC00...),
OS_PASSCODE (virtual MFA); OS_PROJECT_NAME or OS_PROJECT_ID; OS_ACCESS_KEY, OS_SECRET_KEY,
OS_SECURITY_TOKEN (AK/SK); OS_AUTH_TOKEN (a token); OS_REGION_NAME; CCE_ENDPOINT; OS_CACERT.
Tokens from a password login are cached in $XDG_CACHE_HOME/cceauto/ (--no-token-cache:
not). CCEAUTO_LOG sets the log level.]]

-- A parser whose usage errors exit 2. `epilog` is appended to the help; `opts.api = false`
-- leaves out the paragraph about the environment, `opts.exit` replaces the exit-status one.
function M.parser(name, description, epilog, opts)
  opts = opts or {}
  state.name = name
  local p = argparse(name, description)
  local paragraphs = {}
  for _, text in ipairs{ epilog or "", opts.api ~= false and CONFIG_HELP or "", opts.exit or EXIT_HELP } do
    text = text:gsub("^%s+", ""):gsub("%s+$", "")
    if text ~= "" then paragraphs[#paragraphs + 1] = text end
  end
  p:epilog(table.concat(paragraphs, "\n\n"))
  p:help_max_width(100)
  p:help_description_margin(26)
  -- argparse exits 1 on a usage error; our convention (and cceauto's) is 2.
  p.error = function(self, msg)
    io.stderr:write(("%s\n\nError: %s\n"):format(self:get_usage(), msg))
    os.exit(M.EXIT_USAGE)
  end
  return p
end

-- The common options, by name. Each adds one option with its help and default.
local OPTIONS = {
  kubeconfig = function(p, help)
    p:option("--kubeconfig", help or "Kubeconfig file to update (default: the first file of $KUBECONFIG, else ~/.kube/config).")
      :argname("PATH")
  end,
  duration = function(p)
    p:option("--duration", "Certificate validity in days, 1 to 1825, or -1 for the maximum.", "30")
      :argname("DAYS"):convert(M.duration)
  end,
  endpoint = function(p)
    p:option("--endpoint", "API server endpoint of the entries: auto (the external one with TLS verification, "
      .. "else the internal one, saying so), internal, external (the verified external one only; fails for "
      .. "clusters without it), or external-insecure (the verified external one, else the external one without "
      .. "TLS verification).", "auto")
      :argname("WHICH"):convert(M.one_of{ "auto", "internal", "external", "external-insecure" })
  end,
  prefix = function(p)
    p:option("--prefix", "Text put before the cluster name in the names of the context, cluster and user "
      .. "(default: none).", ""):argname("TEXT"):show_default(false)
  end,
  concurrency = function(p)
    p:option("--concurrency", "Requests in flight at once (1 to 256): the listings of all projects, then the "
      .. "certificate requests.", "16")
      :argname("N"):convert(M.integer(1, 256))
  end,
  deadline = function(p)
    p:option("--deadline", "Give up on a cluster whose certificate request, retries included, takes longer "
      .. "than this many seconds (default: no limit).")
      :argname("SECONDS"):convert(function(s)
        local n = tonumber(s)
        if not n or not (n > 0 and n <= 86400) then
          return nil, ("expected a number of seconds > 0 and <= 86400, not '%s'"):format(s)
        end
        return n
      end)
  end,
  retries = function(p)
    p:option("--retries", "Extra attempts per request on 429, 502, 503, 504 and lost connections "
      .. "(default: the client's, 4).")
      :argname("N"):convert(M.integer(0, 20))
  end,
  verify = function(p)
    p:flag("--verify", "Check each new certificate against its cluster's API server (GET /api with it, all at once) "
      .. "before it is used; a cluster whose check fails keeps its old entry and is reported as failed with the "
      .. "reason.")
  end,
  quiet = function(p)
    p:flag("-q --quiet", "No progress or informational messages on stderr (errors are still shown).")
  end,
  -- Where the clusters come from: clouds x regions x projects (see M.clients).
  targets = function(p)
    p:option("--cloud", "clouds.yaml entry to take credentials from (repeatable: every cloud named; default: "
      .. "$OS_CLOUD, else the OS_* variables).")
      :argname("NAME"):count("*"):convert(M.nonempty("--cloud"))
    p:option("--region", "Region (repeatable: each one; default: the configured one, e.g. OS_REGION_NAME).")
      :argname("REGION"):count("*"):convert(M.nonempty("--region"))
    p:mutex(
      p:option("--project", "Project, by name or by id (32 hex digits), with the same credentials (repeatable; "
        .. "default: the configured one).")
        :argname("NAME_OR_ID"):count("*"):convert(M.nonempty("--project")),
      p:flag("--all-projects", "Every enabled project of each region: the one named after the region and those "
        .. "named <region>_*."))
    p:flag("--no-token-cache", "Neither read nor write the token cache of password logins.")
  end,
  name = function(p)
    p:option("--name", "Name the entries (context, cluster and user; after --prefix) by this template of "
      .. "{cluster}, {project}, {region} and {id}, e.g. '{project}-{cluster}'; names that clash are an error.")
      :argname("TEMPLATE"):convert(M.template)
  end,
}

-- cli.add(parser, "kubeconfig", "duration", ...): adds the named common options.
function M.add(p, ...)
  for _, what in ipairs{ ... } do
    assert(OPTIONS[what], "no common option " .. tostring(what))(p)
  end
end

-- --output FORMAT with the given formats, the first being the default.
function M.add_output(p, formats)
  p:option("--output", "Output format: " .. table.concat(formats, ", ") .. ".", formats[1])
    :argname("FORMAT"):convert(M.one_of(formats))
end

-- argparse takes "-1" for an option: "--duration -1" becomes "--duration=-1".
local function join_negative_numbers(argv)
  local out, i = {}, 1
  while i <= #argv do
    local a, nxt = argv[i], argv[i + 1]
    if a == "--" then
      table.move(argv, i, #argv, #out + 1, out)
      break
    end
    if a:match("^%-%-[^=]+$") and nxt and nxt:match("^%-%d") and tonumber(nxt) then
      out[#out + 1] = a .. "=" .. nxt
      i = i + 2
    else
      out[#out + 1] = a
      i = i + 1
    end
  end
  return out
end

-- Parses arg (or `argv`); exits 2 on a usage error, 0 after --help.
function M.parse(p, argv)
  local args = p:parse(join_negative_numbers(argv or arg))
  state.quiet = args.quiet and true or false
  return args
end

-- The environment -----------------------------------------------------------------------

-- The kubeconfig file a writing script uses: `path`, else the first file of $KUBECONFIG,
-- else ~/.kube/config (what kubectl writes new entries to).
function M.kubeconfig_path(path)
  if path and path ~= "" then return path end
  local first = (os.getenv("KUBECONFIG") or ""):match("[^:]+")
  if first then return first end
  local home = os.getenv("HOME")
  if not home or home == "" then
    M.die("cannot find the kubeconfig: neither --kubeconfig, KUBECONFIG nor HOME is set", M.EXIT_USAGE)
  end
  return home .. "/.kube/config"
end

-- Whether an error (table from the API) is a configuration error: exit 2, not 1.
function M.is_config(err)
  return type(err) == "table" and (err.code == "CONFIG" or err.kind == "CONFIG")
end

-- Dies with a configuration error (exit 2) or an operational one (exit 1), by `err`.
function M.die_error(err, prefix)
  M.die((prefix or "") .. tostring(err), M.is_config(err) and M.EXIT_USAGE or M.EXIT_FAILED)
end

-- A client configured from the environment; a configuration error exits 2 naming what
-- is missing (e.g. "CONFIG: no token: set token or OS_AUTH_TOKEN"). `args`: parsed options,
-- of which --retries is used.
function M.client(args)
  local opts = {}
  if args and args.retries then opts.retries = args.retries end
  local client, err = cce.client(opts)
  if not client then M.die_error(err) end
  return client
end

-- A project given on the command line: 32 hex digits are an id, anything else a name.
function M.is_project_id(s)
  return #s == 32 and s:match("^%x+$") ~= nil
end

-- Where a target is, for messages: "project eu-de_p1, region eu-de, cloud prod".
function M.where(t)
  local parts = {}
  if t.project then parts[#parts + 1] = "project " .. t.project end
  if t.region then parts[#parts + 1] = "region " .. t.region end
  if t.cloud then parts[#parts + 1] = "cloud " .. t.cloud end
  return table.concat(parts, ", ")
end

-- The base clients are kept here: derived clients share their credentials.
local bases = {}

-- The clients of a run, from the parsed options (M.add(p, "targets")): for every cloud
-- (--cloud; none: one configured from OS_CLOUD or the OS_* variables) and every region
-- (--region; none: the configured one) a base client, and from it one client per
-- --project, per enabled project of the region (--all-projects), or the base client
-- itself. Returns a list of targets { client =, cloud =, region =, project = name or id
-- as known now }. A configuration error exits 2, a failed project listing exits 1.
function M.clients(args)
  args = args or {}
  local clouds = (args.cloud and #args.cloud > 0) and args.cloud or { false }
  local regions = (args.region and #args.region > 0) and args.region or { false }
  local projects = args.project or {}
  local targets = {}
  for _, cloud in ipairs(clouds) do
    for _, region in ipairs(regions) do
      local where = { cloud = cloud or nil, region = region or nil }
      local base, err = cce.client{ cloud = cloud or nil, region = region or nil,
                                    cache = not args.no_token_cache, interactive = true,
                                    retries = args.retries }
      if not base then M.die_error(err, #M.where(where) > 0 and (M.where(where) .. ": ") or "") end
      bases[#bases + 1] = base
      local info = base:info() or {}
      where.region = info.region or where.region
      if #projects > 0 then
        for _, p in ipairs(projects) do
          local spec = M.is_project_id(p) and { project_id = p } or { project_name = p }
          -- The configured project is the base client's (no second login for it).
          local c, derr = base, nil
          if p ~= info.project_id and p ~= info.project_name then c, derr = base:derive(spec) end
          if not c then M.die_error(derr, M.where{ project = p, region = where.region, cloud = where.cloud } .. ": ") end
          targets[#targets + 1] = { client = c, cloud = where.cloud, region = where.region, project = p }
        end
      elseif args.all_projects then
        local list, lerr = base:projects()
        if not list then M.die_error(lerr, "listing the projects (" .. M.where(where) .. ") failed: ") end
        local r = where.region or ""
        local n = 0
        -- The base client's own project (known once it logged in to list them) is the base
        -- client: its token serves, no second login.
        local own = (base:info() or {}).project_id
        for _, pr in ipairs(list) do
          local name = type(pr.name) == "string" and pr.name or ""
          if pr.enabled ~= false and r ~= "" and (name == r or name:sub(1, #r + 1) == r .. "_") then
            local c, derr = base, nil
            if pr.id ~= own then c, derr = base:derive{ project_id = pr.id, project_name = name ~= "" and name or nil } end
            if not c then M.die_error(derr, M.where{ project = name, region = r, cloud = where.cloud } .. ": ") end
            targets[#targets + 1] = { client = c, cloud = where.cloud, region = r, project = name }
            n = n + 1
          end
        end
        if n == 0 then
          M.warn("no enabled project of region %s (named %s or %s_*) among the %d projects of %s", r, r, r, #list,
            M.where(where))
        end
      else
        targets[#targets + 1] = { client = base, cloud = where.cloud, region = where.region,
                                  project = info.project_name or info.project_id }
      end
    end
  end
  if #targets == 0 then M.die("no project to work on", M.EXIT_FAILED) end
  return targets
end

-- The exit status of a fetching script (fetch.lua, export.lua): 130 after a signal (said on
-- stderr), 1 when `failed` clusters or some `failures` (projects whose listing failed,
-- fleet.gather) are there, else 0.
function M.finish(failed, failures, stats)
  if stats and stats.interrupted then M.die("interrupted", M.EXIT_INTERRUPTED) end
  if failures and #failures > 0 then
    M.warn("%d project%s could not be listed (see above)", #failures, #failures == 1 and "" or "s")
  end
  return (failed > 0 or (failures and #failures > 0)) and M.EXIT_FAILED or M.EXIT_OK
end

-- Single-quotes a string for /bin/sh.
function M.shell_quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

-- Creates directory `dir` and its parents (new ones 0700); true, or nil and a message.
-- In C (cce.mkdir): no shell, and no module looked up in the working directory.
function M.mkdir_p(dir)
  local ok, err = cce.mkdir(dir)
  if ok then return true end
  return nil, err and err.message or ("cannot create directory " .. dir)
end

-- The directory part of a path ("." for a bare file name).
function M.dirname(path)
  return path:match("^(.*[^/])/+[^/]*$") or (path:match("^/") and "/" or ".")
end

return M
