-- cceauto.cli: what every shipped script shares on the command line.
--
--   local cli = require "cceauto.cli"
--   local parser = cli.parser("rotate_all.lua", "Keep a kubeconfig's CCE entries fresh.")
--   cli.add(parser, "kubeconfig", "duration", "quiet")
--   local args = cli.parse(parser)           -- usage errors: message on stderr, exit 2
--   local client = cli.client()              -- a CONFIG error: message on stderr, exit 2
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

-- The parser --------------------------------------------------------------------------

local EXIT_HELP = [[
Exit status: 0 success, 1 an operational failure (the CCE API, a cluster, a file),
2 a usage or configuration error.]]

local CONFIG_HELP = [[
Configuration comes from the environment: OS_PROJECT_ID, OS_AUTH_TOKEN (or OS_TOKEN),
OS_REGION_NAME or CCE_ENDPOINT, OS_CACERT; CCEAUTO_LOG sets the log level.]]

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
    p:option("--concurrency", "Certificate requests in flight at once (1 to 256).", "16")
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
  quiet = function(p)
    p:flag("-q --quiet", "No progress or informational messages on stderr (errors are still shown).")
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

-- A client configured from the environment; a configuration error exits 2 naming what
-- is missing (e.g. "CONFIG: no token: set token or OS_AUTH_TOKEN"). `args`: parsed options,
-- of which --retries is used.
function M.client(args)
  local opts = {}
  if args and args.retries then opts.retries = args.retries end
  local client, err = cce.client(opts)
  if not client then
    M.die(tostring(err), (type(err) == "table" and err.code == "CONFIG") and M.EXIT_USAGE or M.EXIT_FAILED)
  end
  return client
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
