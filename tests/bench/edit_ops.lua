-- edit_ops.lua - the workload of bench_edits.sh: whole-file kubeconfig edits, timed.
--
-- usage: cceauto tests/bench/edit_ops.lua KUBECONFIG WORKDIR [ONLY]
--
-- Each phase starts from its own copy of KUBECONFIG in WORKDIR:
--   load        cce.kubeconfig.load(KUBECONFIG)
--   save_as     kc:save(WORKDIR/save_as.yaml), a file that does not exist yet
--   rename      every context, cluster and user renamed (3 N renames; references follow)
--   rename_save kc:save() of that, in place
--   remove      kc:remove_context() of every context (its cluster and user go with it)
--   remove_save kc:save() of that, in place
-- and the results are checked (counts, order, references) by loading the files again.
-- Prints one line of JSON: N and CPU seconds (os.clock) per phase.  Exits 1 on any
-- failure or wrong result.
--
-- ONLY (load, save_as, rename or remove) runs just that group's calls (load; load and
-- save-as; load, rename-all, save; load, remove-all, save) without the checks and prints
-- nothing: for counting instructions per C function under callgrind (bench_edits.sh
-- with INSTRUCTIONS=1), a measure that the machine's load does not disturb.
local cce = require "cce"

local path, work, only = arg[1], arg[2], arg[3]
if not path or not work then
  io.stderr:write("usage: edit_ops.lua KUBECONFIG WORKDIR\n")
  os.exit(2)
end

local function fail(what, err)
  io.stderr:write("edit_ops: ", what, ": ", tostring(err), "\n")
  os.exit(1)
end

local function copy(to)
  local f = assert(io.open(path, "rb"))
  local text = f:read("a")
  f:close()
  f = assert(io.open(to, "wb"))
  f:write(text)
  f:close()
  os.execute("chmod 600 '" .. to .. "'")
end

local function names(kc)
  local out = {}
  for i, c in ipairs(kc:contexts()) do out[i] = c.name end
  return out
end

if only then
  local kc = assert(cce.kubeconfig.load(path))
  if only == "save_as" then
    os.remove(work .. "/save_as.yaml")
    assert(kc:save(work .. "/save_as.yaml"))
  elseif only == "rename" or only == "remove" then
    local own = work .. "/" .. only .. ".yaml"
    copy(own)
    kc = assert(cce.kubeconfig.load(own))
    for _, c in ipairs(kc:contexts()) do
      if only == "rename" then
        assert(kc:rename_context(c.name, "r-" .. c.name))
        assert(kc:rename_cluster(c.cluster, "r-" .. c.cluster))
        assert(kc:rename_user(c.user, "r-" .. c.user))
      else
        assert(kc:remove_context(c.name))
      end
    end
    assert(kc:save())
  elseif only ~= "load" then
    fail("usage", "ONLY must be load, save_as, rename or remove, not " .. only)
  end
  os.exit(0)
end

local cpu = {}
local function timed(phase, fn)
  local t = os.clock()
  local a, b = fn()
  cpu[phase] = os.clock() - t
  return a, b
end

-- load, save_as
local kc, err = timed("load", function() return cce.kubeconfig.load(path) end)
if not kc then fail("load", err) end
local n = #kc:contexts()
local target = work .. "/save_as.yaml"
os.remove(target)
local ok
ok, err = timed("save_as", function() return kc:save(target) end)
if not ok then fail("save_as", err) end
local back = assert(cce.kubeconfig.load(target))
if #back:contexts() ~= n or #back:users() ~= n or #back:clusters() ~= n then fail("save_as", "wrong counts") end
kc:close()
back:close()

-- rename every entry, then save in place
local rpath = work .. "/rename.yaml"
copy(rpath)
kc = assert(cce.kubeconfig.load(rpath))
local ctxs = names(kc)
local refs = {}
for i, name in ipairs(ctxs) do
  local c = kc:context(name)
  refs[i] = { c.cluster, c.user }
end
timed("rename", function()
  for i, name in ipairs(ctxs) do
    assert(kc:rename_context(name, "r-" .. name))
    assert(kc:rename_cluster(refs[i][1], "r-" .. refs[i][1]))
    assert(kc:rename_user(refs[i][2], "r-" .. refs[i][2]))
  end
  return true
end)
ok, err = timed("rename_save", function() return kc:save() end)
if not ok then fail("rename_save", err) end
kc:close()
back = assert(cce.kubeconfig.load(rpath))
local got = back:contexts()
if #got ~= n then fail("rename", "wrong count " .. #got) end
for i, c in ipairs(got) do
  -- renamed entries keep their place, and their references follow
  if c.name ~= "r-" .. ctxs[i] or c.cluster ~= "r-" .. refs[i][1] or c.user ~= "r-" .. refs[i][2] then
    fail("rename", "context " .. i .. " is " .. tostring(c.name))
  end
end
if #back:check() ~= 0 then fail("rename", "dangling references: " .. back:check()[1]) end
back:close()

-- remove every context (and with it its cluster and user), then save in place
local dpath = work .. "/remove.yaml"
copy(dpath)
kc = assert(cce.kubeconfig.load(dpath))
ctxs = names(kc)
timed("remove", function()
  for _, name in ipairs(ctxs) do assert(kc:remove_context(name)) end
  return true
end)
ok, err = timed("remove_save", function() return kc:save() end)
if not ok then fail("remove_save", err) end
kc:close()
back = assert(cce.kubeconfig.load(dpath))
if #back:contexts() + #back:clusters() + #back:users() ~= 0 then fail("remove", "entries left") end
back:close()

local parts = {}
for _, k in ipairs({ "load", "save_as", "rename", "rename_save", "remove", "remove_save" }) do
  parts[#parts + 1] = ('"%s": %.6f'):format(k, cpu[k])
end
print(('{"n": %d, %s}'):format(n, table.concat(parts, ", ")))
