-- cceauto.fleet: choosing clusters.
--
--   local fleet = require "cceauto.fleet"
--   fleet.add_options(parser, { phase = "Available", version = true, label = true })
--   local args = cli.parse(parser)
--   local chosen = fleet.select(clusters, args)    -- sorted by name
--
-- --match GLOB (repeatable: any of them) and --version GLOB take shell globs: `*` any
-- text, `?` one character, `[abc]`, `[a-z]`, `[!a-c]` (or `[^a-c]`) one of / none of a
-- set, `\x` the character x. The whole name must match. --phase compares case-insensitively
-- and takes a comma-separated list; `any` disables it. --label KEY=VALUE (repeatable: all of
-- them) looks at the cluster's metadata.labels.
--
-- Globs are matched by the core (cce.glob_match, core/glob.c) in O(glob x name) time: a
-- Lua pattern such as `^.*a.*a.*a...b$` backtracks exponentially on a long name.
local cce = require "cce"

local M = {}

local MAGIC = "^$()%.[]*+-?"

local function literal(c)
  if MAGIC:find(c, 1, true) then return "%" .. c end
  return c
end

-- A set's member for a Lua character class: alphanumerics plain, the rest escaped.
local function class_char(c)
  if c:match("%w") then return c end
  return "%" .. c
end

-- Converts a shell glob into an anchored Lua pattern. Returns the pattern, or nil and a
-- message. Kept for scripts that want a Lua pattern; string.find with it can take
-- exponential time on globs with many `*`, so cceauto itself uses glob_match.
function M.glob_to_pattern(glob)
  local out, i, n = { "^" }, 1, #glob
  while i <= n do
    local c = glob:sub(i, i)
    if c == "*" then
      out[#out + 1] = ".*"
      i = i + 1
    elseif c == "?" then
      out[#out + 1] = "."
      i = i + 1
    elseif c == "\\" and i < n then
      out[#out + 1] = literal(glob:sub(i + 1, i + 1))
      i = i + 2
    elseif c == "[" then
      -- A set runs to the next `]` that is not its first member; without one, `[` is literal.
      local j = i + 1
      local negate = false
      local first = glob:sub(j, j)
      if first == "!" or first == "^" then negate = true; j = j + 1 end
      local close = glob:find("]", j + 1, true)
      if not close then
        out[#out + 1] = "%["
        i = i + 1
      else
        local body = glob:sub(j, close - 1)
        local set = { negate and "[^" or "[" }
        local k = 1
        while k <= #body do
          local a = body:sub(k, k)
          if a == "\\" and k < #body then
            k = k + 1
            a = body:sub(k, k)
          end
          local b = body:sub(k + 2, k + 2)
          if body:sub(k + 1, k + 1) == "-" and b ~= "" then
            if a:match("%w") and b:match("%w") and a <= b then
              set[#set + 1] = a .. "-" .. b
            else
              for x = a:byte(), b:byte() do set[#set + 1] = class_char(string.char(x)) end
            end
            k = k + 3
          else
            set[#set + 1] = class_char(a)
            k = k + 1
          end
        end
        set[#set + 1] = "]"
        if #set == 2 then
          return nil, ("empty set in pattern '%s'"):format(glob)
        end
        out[#out + 1] = table.concat(set)
        i = close + 1
      end
    else
      out[#out + 1] = literal(c)
      i = i + 1
    end
  end
  out[#out + 1] = "$"
  local pattern = table.concat(out)
  if not pcall(string.find, "", pattern) then
    return nil, ("cannot use pattern '%s'"):format(glob)
  end
  return pattern
end

-- True when the shell glob is valid; else nil and a message.
M.glob_check = cce.glob_check

-- True when `text` matches the shell glob; raises on an invalid glob.
M.glob_match = cce.glob_match

-- argparse converter: a glob, checked.
local function glob_arg(s)
  local ok, err = cce.glob_check(s)
  if not ok then return nil, err end
  return s
end

local function label_arg(s)
  local key, value = s:match("^([^=]+)=(.*)$")
  if not key then return nil, ("--label takes KEY=VALUE, not '%s'"):format(s) end
  return { key = key, value = value }
end

-- Adds the selection options. opts.phase: the --phase default ("Available" or "any");
-- opts.version, opts.label: add --version and --label; opts.match_help: --match's help.
function M.add_options(p, opts)
  opts = opts or {}
  p:option("--match", opts.match_help or "Only clusters whose name matches this shell glob (repeatable; any of them).")
    :argname("GLOB"):count("*"):convert(glob_arg)
  p:option("--phase", "Only clusters in this phase (comma-separated list; 'any' for all).", opts.phase or "Available")
    :argname("PHASE")
  if opts.version then
    p:option("--version", "Only clusters whose Kubernetes version matches this shell glob, e.g. 'v1.28*'.")
      :argname("GLOB"):convert(glob_arg)
  end
  if opts.label then
    p:option("--label", "Only clusters with this label (metadata.labels; repeatable: all of them).")
      :argname("KEY=VALUE"):count("*"):convert(label_arg)
  end
end

-- The labels of a cluster table (metadata.labels of the API's object), never nil.
function M.labels(cl)
  local meta = type(cl.raw) == "table" and cl.raw.metadata
  local labels = type(meta) == "table" and meta.labels
  return type(labels) == "table" and labels or {}
end

-- A predicate built from parsed options: { match = {globs}, phase = "A,B"|"any",
-- version = glob, label = { {key=, value=} } }; absent fields do not filter.
function M.filter(args)
  local globs = args.match or {}
  for _, g in ipairs(globs) do assert(cce.glob_check(g)) end
  local phases
  if args.phase and args.phase:lower() ~= "any" then
    phases = {}
    for ph in args.phase:gmatch("[^,%s]+") do phases[ph:lower()] = true end
  end
  local version = args.version
  if version then assert(cce.glob_check(version)) end
  local labels = args.label or {}
  return function(cl)
    if #globs > 0 then
      local hit = false
      for _, g in ipairs(globs) do
        if cce.glob_match(g, cl.name or "") then hit = true break end
      end
      if not hit then return false end
    end
    if phases and not phases[(cl.phase or ""):lower()] then return false end
    if version and not cce.glob_match(version, cl.version or "") then return false end
    if #labels > 0 then
      local have = M.labels(cl)
      for _, l in ipairs(labels) do
        if have[l.key] ~= l.value then return false end
      end
    end
    return true
  end
end

local function by_name(a, b)
  if a.name ~= b.name then return (a.name or "") < (b.name or "") end
  if a.project ~= b.project then return tostring(a.project or "") < tostring(b.project or "") end
  return a.id < b.id
end

-- The clusters that pass the options' filters, sorted by name.
function M.select(clusters, args)
  local keep = M.filter(args)
  local out = {}
  for _, cl in ipairs(clusters) do
    if keep(cl) then out[#out + 1] = cl end
  end
  table.sort(out, by_name)
  return out
end

-- The clusters of every target (cli.clients) in one concurrent batch (cce.list, at most
-- `opts.concurrency` requests in flight). Each cluster table gains `project` (the project's
-- name, else its id), `project_id` and `region`; a cluster listed twice (the same project
-- reached twice) is kept once. Returns the clusters and the failed listings
-- { { project =, region =, cloud =, error = }, ... }, each already reported on stderr.
-- Configuration errors (an unknown project name, missing credentials) exit 2.
function M.gather(targets, opts)
  local cli = require "cceauto.cli"
  local clients = {}
  for i, t in ipairs(targets) do clients[i] = t.client end
  local res = cce.list(clients, { concurrency = opts and opts.concurrency or nil })
  local all, failures, seen, config, listed = {}, {}, {}, {}, {}
  for i, t in ipairs(targets) do
    local r = res[i] or { error = { code = "NO_RESULT", message = "no answer for this project" } }
    local info = t.client:info() or {}
    local project_id = info.project_id
    local project = info.project_name or t.project or project_id
    if r.clusters then
      if project_id then listed[project_id] = true end
      for _, cl in ipairs(r.clusters) do
        if not seen[cl.id] then
          seen[cl.id] = true
          cl.project, cl.project_id, cl.region, cl.cloud = project, project_id, info.region or t.region, t.cloud
          all[#all + 1] = cl
        end
      end
    else
      local f = { project = project, region = info.region or t.region, cloud = t.cloud, error = r.error }
      if cli.is_config(r.error) then config[#config + 1] = f else failures[#failures + 1] = f end
    end
  end
  if #config > 0 then
    -- The same missing setting fails every project alike: say it once.
    local said = {}
    for _, f in ipairs(config) do
      local text = tostring(f.error)
      if not said[text] then
        said[text] = true
        cli.warn("%s: %s", cli.where(f), text)
      end
    end
    os.exit(cli.EXIT_USAGE)
  end
  for _, f in ipairs(failures) do
    cli.warn("listing the clusters of %s failed: %s", cli.where(f), tostring(f.error))
  end
  return all, failures, listed
end

-- Looks up clusters by name or id. Returns the found clusters (in the order asked, each
-- once) and the list of names that matched nothing.
function M.lookup(clusters, wanted)
  local by = {}
  for _, cl in ipairs(clusters) do
    by[cl.id] = cl
    if cl.name and by[cl.name] == nil then by[cl.name] = cl end
  end
  local found, missing, seen = {}, {}, {}
  for _, w in ipairs(wanted) do
    local cl = by[w]
    if not cl then
      missing[#missing + 1] = w
    elseif not seen[cl.id] then
      seen[cl.id] = true
      found[#found + 1] = cl
    end
  end
  return found, missing
end

return M
