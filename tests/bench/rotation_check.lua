-- rotation_check.lua - the benchmark's workload: a certificate rotation check over a
-- kubeconfig in which nothing needs renewing.
--
-- usage: cceauto tests/bench/rotation_check.lua KUBECONFIG RENEW_WITHIN_DAYS [COPY_PATH]
--
-- Phases:
--   load            cce.kubeconfig.load(KUBECONFIG)
--   scan            kc:contexts(), then for every context kc:cert(<its user>); a
--                   certificate with days_left < RENEW_WITHIN_DAYS counts as "renew"
--   save_unchanged  kc:save() - nothing changed, so it must write no file
--   full_write      only when COPY_PATH is given: kc:save(COPY_PATH, { overwrite = true }),
--                   the whole document written (removed afterwards); not part of the check
--
-- Prints one line of JSON on stdout: per-phase CPU seconds (os.clock: user+system of
-- this process), per-phase wall seconds read from /proc/uptime (10 ms resolution:
-- take the total wall time from the caller), VmHWM after each phase, the counts and
-- the peak memory (VmHWM, MB).  Exits 1 when the file cannot be loaded or saved, when
-- a certificate cannot be read, or when the unchanged save wrote a file.
local cce = require "cce"

local path, window, copy = arg[1], tonumber(arg[2]), arg[3]
if not path or not window then
    io.stderr:write("usage: rotation_check.lua KUBECONFIG RENEW_WITHIN_DAYS [COPY_PATH]\n")
    os.exit(2)
end

local function fail(what, err)
    io.stderr:write("rotation_check: ", what, ": ", tostring(err), "\n")
    os.exit(1)
end

-- Peak resident set so far, in kB (VmHWM); nil where /proc is missing.
local function vmhwm_kb()
    local f = io.open("/proc/self/status", "r")
    if not f then return nil end
    local s = f:read("a")
    f:close()
    return tonumber(s:match("VmHWM:%s*(%d+)%s*kB"))
end

-- Seconds since boot with 10 ms resolution: the only sub-second wall clock plain Lua has.
local function uptime()
    local f = io.open("/proc/uptime", "r")
    if not f then return 0 end
    local t = tonumber(f:read("l"):match("^(%S+)"))
    f:close()
    return t or 0
end

local phases, cpu, wall, hwm = {}, {}, {}, {}
local function timed(name, fn)
    local w0, c0 = uptime(), os.clock()
    local r = table.pack(fn())
    cpu[name], wall[name] = os.clock() - c0, uptime() - w0
    hwm[name] = vmhwm_kb()
    phases[#phases + 1] = name
    return table.unpack(r, 1, r.n)
end

local cpu_start = os.clock()

local kc = timed("load", function()
    local kc, err = cce.kubeconfig.load(path)
    if not kc then fail("load " .. path, err) end
    return kc
end)

local n_contexts, checked, renew, min_days, max_days = 0, 0, 0, math.huge, -math.huge
timed("scan", function()
    local ctxs = kc:contexts()
    n_contexts = #ctxs
    for i = 1, n_contexts do
        local ctx = ctxs[i]
        local user = ctx.user
        if not user then fail("context " .. tostring(ctx.name), "has no user") end
        local ci, err = kc:cert(user)
        if not ci then fail("context " .. ctx.name, err) end
        checked = checked + 1
        local d = ci.days_left
        if d < window then renew = renew + 1 end
        if d < min_days then min_days = d end
        if d > max_days then max_days = d end
    end
end)

local unchanged_written = timed("save_unchanged", function()
    local ok, n = kc:save()
    if not ok then fail("save " .. path, n) end
    return n
end)
if unchanged_written ~= 0 then fail("save " .. path, "nothing changed, yet it wrote " .. unchanged_written .. " file(s)") end

local full_written, copy_bytes = -1, 0
if copy then
    full_written = timed("full_write", function()
        local ok, n = kc:save(copy, { overwrite = true })
        if not ok then fail("save " .. copy, n) end
        return n
    end)
end
do
    local f = copy and io.open(copy, "rb")
    if f then
        copy_bytes = f:seek("end")
        f:close()
    end
end
local src_bytes = 0
do
    local f = io.open(path, "rb")
    if f then
        src_bytes = f:seek("end")
        f:close()
    end
end
if copy then
    os.remove(copy)
    os.remove(copy .. ".lock") -- in case the lock file outlives the save
end

local cpu_total = os.clock() - cpu_start
local peak = vmhwm_kb()

-- One line of JSON, keys in a fixed order.
local function num(x) return string.format("%.4f", x) end
local function obj(t, fmt)
    local out = {}
    for _, k in ipairs(phases) do
        out[#out + 1] = string.format("%q:%s", k, t[k] and fmt(t[k]) or "null")
    end
    return "{" .. table.concat(out, ",") .. "}"
end
io.write("{",
    string.format("%q:%q,", "file", path),
    string.format("%q:%d,", "file_bytes", src_bytes),
    string.format("%q:%d,", "contexts", n_contexts),
    string.format("%q:%d,", "checked", checked),
    string.format("%q:%d,", "renew", renew),
    string.format("%q:%s,", "renew_within_days", num(window)),
    string.format("%q:%s,", "min_days_left", checked > 0 and num(min_days) or "null"),
    string.format("%q:%s,", "max_days_left", checked > 0 and num(max_days) or "null"),
    string.format("%q:%d,", "save_unchanged_files_written", unchanged_written),
    string.format("%q:%d,", "full_write_files_written", full_written),
    string.format("%q:%d,", "full_write_bytes", copy_bytes),
    string.format("%q:%s,", "cpu_s", obj(cpu, num)),
    string.format("%q:%s,", "wall_s_10ms", obj(wall, num)),
    string.format("%q:%s,", "vmhwm_kb_after", obj(hwm, function(v) return string.format("%d", v) end)),
    string.format("%q:%s,", "cpu_total_s", num(cpu_total)),
    string.format("%q:%s", "peak_mb", peak and string.format("%.1f", peak / 1024) or "null"),
    "}\n")
