-- Hostile and broken answers (the simulator's hostile fault kinds) against rotate_all.lua
-- and fetch.lua: the cluster is reported failed with the reason, exit 1, the previous entry
-- stays byte-identical, and nothing of what the answer wanted (a command, a token, a proxy,
-- a local file, a plain-http server) reaches the kubeconfig or is read. Also: clusters that
-- share a name, control characters in server text, current-context of new files.
-- luacheck: globals TestHostile TestNames TestTerminal TestCurrentContext
local lu = require "luaunit"
local cjson = require "cjson"
local sl = require "scriptlib"

local env = sl.start{ "--clusters", "12" }
local VICTIM = "staging-001"            -- Available, with a verified external endpoint
local victim = env:fleet()[VICTIM]

-- A file of our own standing in for /etc/shadow: its content must never show up anywhere.
local MARKER = "cceauto-test-secret-" .. os.time() .. "-do-not-read"
local SECRET = env:path("secret")
sl.write(SECRET, MARKER .. "\n")
local function b64(s)
  local _, out = sl.sh("printf %s " .. sl.quote(s) .. " | base64 -w0")
  return out
end
local MARKER_B64 = b64(MARKER .. "\n"):sub(1, 24)

-- kind -> what the failure must say (the answer is refused as a whole).
local KINDS = {
  ["bad-base64"] = 'user "user": client-certificate-data is not base64',
  ["not-cert"] = 'user "user": client-certificate-data does not decode to PEM',
  ["wrong-key"] = 'user "user": client key does not match the certificate',
  ["expired"] = 'user "user": the client certificate expired at',
  ["dup-keys"] = "duplicate object key",
  ["exec"] = 'user "user" carries "exec", which cceauto never takes from an answer',
  ["auth-provider"] = 'user "user" carries "auth-provider"',
  ["token"] = 'user "user" carries "token"',
  ["proxy-url"] = 'carries "proxy-url"',
  ["key-file"] = 'user "user" carries "client-key"',
  ["http-server"] = "the server is not an https:// URL",
}
local KIND_NAMES = {}
for k in pairs(KINDS) do KIND_NAMES[#KIND_NAMES + 1] = k end
table.sort(KIND_NAMES)

-- What no written file may contain, whatever the answer said.
local FORBIDDEN = { "exec", "/bin/sh", "auth-provider", "oidc", "token", "sim-planted", "proxy-url", "client-key:",
                    "/etc/shadow", "/dev/zero", "http://", "attacker", MARKER, MARKER_B64 }

-- What messages may not repeat: the values (the field names are the reason, and named).
local VALUES = { "/bin/sh", "pwned", "sim-planted", "attacker", "127.0.0.1:9", MARKER, MARKER_B64 }

local function assert_clean(text, what)
  for _, bad in ipairs(what:find("kubeconfig") and FORBIDDEN or VALUES) do
    lu.assertNotStrContains(text, bad, false, what .. " contains " .. bad)
  end
end

local function rotate(kc, extra, opts) return env:rotate(kc, extra, opts) end

-- Queues one hostile answer for the victim; path for key-file.
local function hostile(kind, path)
  env.sim:fault{ route = "clustercert", cluster = victim.id, kind = kind, count = 1, path = path }
end

TestHostile = {}

function TestHostile:test_rotate_refuses_every_hostile_answer()
  local kc = env:path("rotate")
  local res, code, err = rotate(kc, { "--match", VICTIM, "--quiet" })
  lu.assertEquals(code, 0, err)
  lu.assertEquals(res.summary.added, 1)
  local before = sl.read(kc)
  for _, kind in ipairs(KIND_NAMES) do
    env.sim:reset()
    hostile(kind, SECRET)
    res, code, err = rotate(kc, { "--match", VICTIM, "--force" })
    lu.assertEquals(code, 1, kind .. ": " .. err)
    local r = sl.by_cluster(res)[VICTIM]
    lu.assertEquals(r.action, "failed", kind)
    lu.assertEquals(r.error.code, "BAD_RESPONSE", kind)
    lu.assertStrContains(r.error.message, "clustercert " .. victim.id .. ": ", false, kind)
    lu.assertStrContains(r.error.message, KINDS[kind], false, kind)
    lu.assertStrContains(err, VICTIM .. ": BAD_RESPONSE: ", false, kind)
    lu.assertStrContains(err, KINDS[kind], false, kind)
    lu.assertEquals(res.summary, { added = 0, renewed = 0, kept = 0, failed = 1 }, kind)
    lu.assertEquals(env:count("clustercert"), 1, kind)   -- refused, not retried
    lu.assertEquals(sl.read(kc), before, kind .. ": the kubeconfig changed")
    assert_clean(err, kind .. ": stderr")
  end
  -- And the entry still works.
  local rc, out = env:kubectl(kc, { "--context", VICTIM, "get", "--raw", "/version" })
  lu.assertEquals(rc, 0, out)
end

-- The text of user `name` in a kubeconfig file cceauto wrote ("- name: X\n  user:\n ...").
local function user_block(text, name)
  local users = text:match("\nusers:\n(.*)$") or ""
  local start = users:find("- name: " .. name .. "\n", 1, true)
  if not start then return nil end
  local stop = users:find("\n%- ", start + 1) or users:find("\n[^%s]", start + 1) or #users
  return users:sub(start, stop)
end

-- Several clusters renewed at once, the victim's answer hostile: the others are saved, the
-- victim's entry is exactly what it was.
function TestHostile:test_other_clusters_still_renewed()
  env.sim:reset()
  local kc = env:path("mixed")
  local _, code, err = rotate(kc, { "--quiet" })
  lu.assertEquals(code, 0, err)
  local view = env:view(kc)
  local res
  local old = { users = sl.entries(view, "users"), clusters = sl.entries(view, "clusters"),
                contexts = sl.entries(view, "contexts") }
  local old_text = user_block(sl.read(kc), VICTIM)
  lu.assertStrContains(old_text or "", "client-key-data: ")
  for _, kind in ipairs{ "exec", "wrong-key", "key-file" } do
    hostile(kind, SECRET)
    res, code, err = rotate(kc, { "--force", "--quiet" })
    lu.assertEquals(code, 1, err)
    lu.assertEquals(res.summary.failed, 1, kind)
    lu.assertEquals(res.summary.renewed, #res.results - 1, kind)
    view = env:view(kc)
    for section, entries in pairs(old) do
      local now = sl.entries(view, section)
      lu.assertEquals(now[VICTIM], entries[VICTIM], kind .. ": " .. section .. " entry changed")
      local others_changed = 0
      for name, text in pairs(entries) do
        if name ~= VICTIM and now[name] ~= text then others_changed = others_changed + 1 end
      end
      if section == "users" then lu.assertEquals(others_changed, #res.results - 1, kind) end
    end
    assert_clean(sl.read(kc), kind .. ": kubeconfig")
    -- the victim's credential in the file, byte for byte, is the one it had
    lu.assertNotNil(old_text)
    lu.assertEquals(user_block(sl.read(kc), VICTIM), old_text, kind)
    old.users = sl.entries(view, "users")
  end
end

function TestHostile:test_fetch_refuses_every_hostile_answer()
  local out = env:path("fetch-out")
  local code, _, err = env:run("fetch.lua", { VICTIM, "--output", out, "--quiet" })
  lu.assertEquals(code, 0, err)
  local before = sl.read(out)
  for _, kind in ipairs(KIND_NAMES) do
    env.sim:reset()
    hostile(kind, SECRET)
    local stdout
    code, stdout, err = env:run("fetch.lua", { VICTIM, "--output", out })
    lu.assertEquals(code, 1, kind .. ": " .. err)
    lu.assertEquals(stdout, "")
    lu.assertStrContains(err, VICTIM .. ": BAD_RESPONSE: clustercert " .. victim.id, false, kind)
    lu.assertStrContains(err, KINDS[kind], false, kind)
    lu.assertEquals(sl.read(out), before, kind .. ": the file changed")
    -- on stdout: nothing printed for it
    hostile(kind, SECRET)
    code, stdout, err = env:run("fetch.lua", { VICTIM, "--json" })
    lu.assertEquals(code, 1, kind)
    lu.assertEquals(stdout, "", kind)
    assert_clean(err, kind .. ": stderr")
  end
end

-- Local files an answer names are never opened: /dev/zero would eat memory, a FIFO would
-- block for ever, /etc/shadow would be copied into the kubeconfig.
function TestHostile:test_local_files_never_read()
  local fifo = env:path("fifo")
  os.execute("mkfifo " .. sl.quote(fifo))
  local kc = env:path("files")
  local _, code, err = rotate(kc, { "--match", VICTIM, "--quiet" })
  lu.assertEquals(code, 0, err)
  local before = sl.read(kc)
  for _, path in ipairs{ "/etc/shadow", "/dev/zero", fifo, SECRET } do
    env.sim:reset()
    hostile("key-file", path)
    local started = os.time()
    local h = env:spawn("rotate_all.lua", { "--kubeconfig", kc, "--match", VICTIM, "--force", "--output", "json" })
    local rc, out, err2 = env:wait(h, 60)
    lu.assertTrue(os.time() - started < 30, path .. ": took too long")
    lu.assertEquals(rc, 1, path .. ": " .. err2)
    local res = cjson.decode(out)
    lu.assertEquals(sl.by_cluster(res)[VICTIM].action, "failed")
    lu.assertEquals(sl.read(kc), before)
    lu.assertNotStrContains(out .. err2, MARKER)
    lu.assertNotStrContains(out .. err2, "root:")
  end
end

-- Clusters sharing a name ------------------------------------------------------------------

TestNames = {}

local function available()
  local list = {}
  for _, cl in pairs(env:fleet()) do
    if cl.phase == "Available" then list[#list + 1] = cl end
  end
  table.sort(list, function(a, b) return a.name < b.name end)
  return list
end

-- The simulator's dup-name gives the second Available cluster of its listing (index 1,
-- staging-001) the first one's name (prod-000).
function TestNames:test_rotate_gives_each_its_own_entry()
  env.sim:reset()
  local first, second = env:fleet()["prod-000"], env:fleet()["staging-001"]
  env.sim:fault{ route = "clusters", kind = "dup-name" }
  local kc = env:path("dup")
  local res, code, err = rotate(kc)
  lu.assertEquals(code, 0, err)
  lu.assertEquals(res.summary.added, #available())
  local contexts = {}
  for _, r in ipairs(res.results) do
    if r.cluster == "prod-000" then contexts[r.id] = r.context end
    lu.assertEquals(r.action, "added")
  end
  lu.assertEquals(contexts, { [first.id] = "prod-000-" .. first.id:sub(1, 8),
                              [second.id] = "prod-000-" .. second.id:sub(1, 8) })
  lu.assertStrContains(err, "2 clusters are named 'prod-000' (ids ")
  local view = env:view(kc)
  local names = sl.entries(view, "contexts")
  lu.assertNil(names["prod-000"])
  lu.assertNil(names["staging-001"])
  for _, ctx in pairs(contexts) do
    lu.assertNotNil(names[ctx])
    local rc, out = env:kubectl(kc, { "--context", ctx, "get", "--raw", "/version" })
    lu.assertEquals(rc, 0, out)
  end
  lu.assertEquals(#view.contexts, #available())
  -- A later run with the real names: both entries are found by id and kept.
  res, code = rotate(kc, { "--quiet" })
  lu.assertEquals(code, 0)
  lu.assertEquals(res.summary.kept, #available())
end

function TestNames:test_fetch_gives_each_its_own_entry()
  env.sim:reset()
  local first, second = env:fleet()["prod-000"], env:fleet()["staging-001"]
  env.sim:fault{ route = "clusters", kind = "dup-name" }
  local code, out, err = env:run("fetch.lua", { "--match", "prod-000", "--json" })
  lu.assertEquals(code, 0, err)
  local doc = cjson.decode(out)
  local got = {}
  for _, c in ipairs(doc.contexts) do got[#got + 1] = c.name end
  table.sort(got)
  local want = { "prod-000-" .. first.id:sub(1, 8), "prod-000-" .. second.id:sub(1, 8) }
  table.sort(want)
  lu.assertEquals(got, want)
  -- --split: one file each
  local dir = env:path("split")
  env.sim:fault{ route = "clusters", kind = "dup-name" }
  code, out, err = env:run("fetch.lua", { "--match", "prod-000", "--split", dir, "--quiet" })
  lu.assertEquals(code, 0, err)
  lu.assertEquals(out, "")
  for _, name in ipairs(want) do lu.assertNotNil(sl.read(dir .. "/" .. name .. ".yaml"), name) end
  -- A name that two clusters share names neither.
  env.sim:fault{ route = "clusters", kind = "dup-name" }
  code, out, err = env:run("fetch.lua", { "prod-000" })
  lu.assertEquals(code, 2)
  lu.assertEquals(out, "")
  lu.assertStrContains(err, "2 clusters are named 'prod-000'")
  lu.assertStrContains(err, "name the one you mean by its id")
end

-- Server text on the terminal ------------------------------------------------------------

TestTerminal = {}

local function no_raw_controls(text, what)
  lu.assertNil(text:find("[\0-\8\11-\31\127]"), what .. " has a raw control character: " .. text)
  lu.assertNil(text:find("\194[\128-\159]"), what .. " has a raw C1 control character")
  lu.assertNil(text:find("\155", 1, true), what .. " has a raw 8-bit CSI")
end

function TestTerminal:test_control_characters_are_escaped()
  env.sim:reset()
  env.sim:fault{ route = "clustercert", cluster = victim.id, kind = "400", format = "status", count = 1,
                 message = "bad \27[31mred\27]0;title\7 line\ncceauto: fake" }
  env.sim:fault{ route = "clusters", kind = "ctl-name" }
  local kc = env:path("ctl")
  local code, out, err = env:run("rotate_all.lua", { "--kubeconfig", kc })
  lu.assertEquals(code, 1, err)
  no_raw_controls(out, "table")
  no_raw_controls(err, "stderr")
  lu.assertStrContains(err, [[bad \x1b[31mred\x1b]0;title\x07 line\ncceauto: fake]])
  lu.assertStrContains(out, [[bad \x1b[31mred]])
  lu.assertStrContains(out, [[prod-000\x1b]0;pwned\x07\x1b[2J\u009b]])   -- U+009B, a C1 control
  -- JSON keeps the text exactly (its encoder escapes it).
  env.sim:fault{ route = "clusters", kind = "ctl-name" }
  local res
  res, code = rotate(env:path("ctl-json"), { "--quiet" })
  lu.assertEquals(code, 0)
  local names = {}
  for _, r in ipairs(res.results) do names[r.cluster] = true end
  lu.assertTrue(names["prod-000\27]0;pwned\7\27[2J\194\155"])
end

-- current-context ------------------------------------------------------------------------

TestCurrentContext = {}

local function current(kc)
  return env:view(kc)["current-context"]
end

function TestCurrentContext:test_set_when_the_file_has_none()
  env.sim:reset()
  -- a new file
  local kc = env:path("cur-new")
  local res, code, err = rotate(kc, { "--match", "dev-*" })
  lu.assertEquals(code, 0, err)
  local first = res.results[1].context
  lu.assertEquals(current(kc), first)
  lu.assertStrContains(err, "current-context set to " .. first)
  -- an existing file without one, with other entries: the first context this run adds
  kc = env:path("cur-none")
  sl.write(kc, "apiVersion: v1\nkind: Config\nclusters:\n- name: mine\n  cluster:\n    server: https://10.0.0.1\n")
  res, code, err = rotate(kc, { "--match", "prod-*" })
  lu.assertEquals(code, 0, err)
  lu.assertEquals(current(kc), res.results[1].context)
  lu.assertStrContains(err, "current-context set to " .. res.results[1].context)
  -- an existing current-context is never changed, and nothing is said
  kc = env:path("cur-kept")
  sl.write(kc, "apiVersion: v1\nkind: Config\ncurrent-context: somewhere-else\n")
  res, code, err = rotate(kc, { "--match", "prod-*" })
  lu.assertEquals(code, 0, err)
  lu.assertTrue(res.summary.added > 0)
  lu.assertEquals(current(kc), "somewhere-else")
  lu.assertNotStrContains(err, "current-context set")
  -- renewals alone set nothing
  kc = env:path("cur-renew")
  rotate(kc, { "--match", "prod-000", "--quiet" })
  local text = sl.read(kc):gsub("current%-context: [^\n]*\n", "")
  sl.write(kc, text)
  res, code, err = rotate(kc, { "--match", "prod-000", "--force" })
  lu.assertEquals(code, 0, err)
  lu.assertEquals(res.summary.renewed, 1)
  lu.assertNotStrContains(err, "current-context set")
end

-- With KUBECONFIG=a:b, kubectl takes current-context from b when a has none: rotate_all
-- writes a and must not shadow b's.
function TestCurrentContext:test_kubeconfig_list()
  env.sim:reset()
  local a, b = env:path("list-a"), env:path("list-b")
  sl.write(b, "apiVersion: v1\nkind: Config\ncurrent-context: theirs\n")
  local list = a .. ":" .. b
  local res, code, err = env:json("rotate_all.lua", { "--match", "dev-*", "--output", "json" },
    { env = { KUBECONFIG = list } })
  lu.assertEquals(code, 0, err)
  lu.assertEquals(res.kubeconfig, a)
  lu.assertTrue(res.summary.added > 0)
  lu.assertNotStrContains(err, "current-context set")
  lu.assertNotStrContains(sl.read(a), "current-context: dev")
  lu.assertEquals(sl.read(b), "apiVersion: v1\nkind: Config\ncurrent-context: theirs\n")
  -- with neither file having one, the first file gets it
  local c = env:path("list-c")
  sl.write(b, "apiVersion: v1\nkind: Config\n")
  res, code, err = env:json("rotate_all.lua", { "--match", "dev-*", "--output", "json" },
    { env = { KUBECONFIG = c .. ":" .. b } })
  lu.assertEquals(code, 0, err)
  lu.assertStrContains(err, "current-context set to " .. res.results[1].context)
  lu.assertStrContains(sl.read(c), "current-context: " .. res.results[1].context)
end

function TestCurrentContext:test_fetch_output_says_so()
  env.sim:reset()
  local out = env:path("fetch-cur")
  local code, _, err = env:run("fetch.lua", { "prod-000", "--output", out })
  lu.assertEquals(code, 0, err)
  lu.assertEquals(current(out), "prod-000")
  lu.assertStrContains(err, "current-context set to prod-000")
  code, _, err = env:run("fetch.lua", { "dev-002", "--output", out })
  lu.assertEquals(code, 0, err)
  lu.assertEquals(current(out), "prod-000")
  lu.assertNotStrContains(err, "current-context set")
end

local rc = lu.LuaUnit.run("-v")
env:stop()
os.exit(rc)
