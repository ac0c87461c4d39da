-- The Kubeconfig model: parse, check, rename, select, merge, remove, certificates, load and save.
local lu = require "luaunit"
local cce = require "cce"
local simctl = require "simctl"

local tmp = simctl.tmpdir()
local sim = simctl.start{ "--clusters", "8" }
local by = sim:cluster_by_name()
local client = sim:client()

local function write(path, text)
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
end
local read = simctl.read_file

-- A kubeconfig as kubectl writes it, with what cceauto does not interpret: an exec user,
-- a token user, a namespace, extensions, preferences.
local BASE = [[
apiVersion: v1
clusters:
- cluster:
    extensions:
    - extension:
        last-update: Mon, 01 Jan 2024 00:00:00 UTC
        provider: minikube.sigs.k8s.io
      name: cluster_info
    server: https://10.1.1.1:6443
  name: mk
contexts:
- context:
    cluster: mk
    namespace: team-a
    user: mk-user
  name: mk
- context:
    cluster: mk
    user: exec-user
  name: mk-exec
current-context: mk
kind: Config
preferences:
  colors: true
users:
- name: exec-user
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      args:
      - token
      - --cluster
      command: otc-auth
      env:
      - name: OS_CLOUD
        value: otc
      interactiveMode: Never
      provideClusterInfo: false
- name: mk-user
  user:
    token: tok-123
]]

TestKubeconfig = {}

function TestKubeconfig:test_parse_and_emit_is_stable()
  local kc = assert(cce.kubeconfig.parse(BASE, "base"))
  lu.assertEquals(kc:to_yaml(), BASE) -- kubectl's layout, byte for byte
  lu.assertEquals(kc:current_context(), "mk")
  lu.assertEquals(kc:context("mk").namespace, "team-a")
  lu.assertEquals(kc:user("exec-user").exec.args, { "token", "--cluster" })
  lu.assertEquals(kc:cluster("mk").extensions[1].extension.provider, "minikube.sigs.k8s.io")
  lu.assertNil(kc:cluster("nope"))
  local again = assert(cce.kubeconfig.parse(kc:to_json(), "json"))
  lu.assertEquals(again:to_yaml(), BASE)
end

function TestKubeconfig:test_parse_errors()
  local kc, err = cce.kubeconfig.parse("clusters:\n- name: a\n  cluster:\n    server: [x\n", "bad.yaml")
  lu.assertNil(kc)
  lu.assertEquals(err.code, "PARSE")
  lu.assertStrMatches(err.message, "^bad%.yaml:%d+:%d+: .*")
  kc, err = cce.kubeconfig.parse("kind: Pod\n", "pod.yaml")
  lu.assertNil(kc)
  lu.assertStrContains(err.message, "pod.yaml: kind is 'Pod', not 'Config'")
  kc, err = cce.kubeconfig.parse("apiVersion: v2\n", "v2.yaml")
  lu.assertNil(kc)
  lu.assertStrContains(err.message, "apiVersion is 'v2', not 'v1'")
  kc, err = cce.kubeconfig.parse("contexts:\n- name: a\n  context: {}\n- name: a\n  context: {}\n", "dup.yaml")
  lu.assertNil(kc)
  lu.assertStrContains(err.message, "dup.yaml: contexts[0] and contexts[1] are both named 'a'")
  -- kubectl reads an entry without a name as the name "", so one such entry loads, two clash
  kc = assert(cce.kubeconfig.parse("users:\n- user: {}\n", "noname.yaml"))
  lu.assertEquals(kc:user(""), { name = "" })
  kc, err = cce.kubeconfig.parse("users:\n- user: {}\n- name: ~\n  user: {}\n", "noname.yaml")
  lu.assertNil(kc)
  lu.assertStrContains(err.message, "noname.yaml: users[0] and users[1] are both named ''")
end

function TestKubeconfig:test_fields_typed_as_kubectl_reads_them()
  -- kubectl turns YAML into JSON before it knows the schema: `namespace: 0x10` is a number
  -- there, and a number in a string field makes it refuse the file; so must we, naming the place
  local cases = {
    { "contexts:\n- name: a\n  context: {namespace: 0x10}\n", "context 'a': context.namespace is a number" },
    { "contexts:\n- name: 2024\n  context: {}\n", "contexts[0].name is a number" },
    { "current-context: y\n", "current-context is a boolean" },
    { "users:\n- name: u\n  user: {exec: {command: x, args: [1]}}\n", "user 'u': user.exec.args[0] is a number" },
    { "users:\n- name: u\n  user: {exec: {command: x, env: [{name: A, value: 007}]}}\n",
      "user.exec.env[0].value is a number" },
    { "clusters:\n- name: c\n  cluster: {insecure-skip-tls-verify: 'true'}\n", "is a string, where kubectl reads only true or false" },
  }
  for _, c in ipairs(cases) do
    local kc, err = cce.kubeconfig.parse(c[1], "t.yaml")
    lu.assertNil(kc, c[1])
    lu.assertStrContains(err.message, c[2])
  end
  -- quoted, they are strings; null, ~ and empty stay null (unset), never the text "null"
  local kc = assert(cce.kubeconfig.parse([[
clusters:
- name: "y"
  cluster: {server: "https://a:1", certificate-authority-data: ~}
contexts:
- name: "2024"
  context: {cluster: "y", user: "on", namespace: "0x10"}
users:
- name: "on"
  user:
    token:
    exec:
      command: "true"
      args: null
      env: ~
    extensions:
    - name: mine
      extension: {count: 3, enabled: yes, off: n}
current-context: ~
]]))
  lu.assertNil(kc:current_context())
  lu.assertEquals(kc:context("2024"), { name = "2024", cluster = "y", user = "on", namespace = "0x10" })
  local u = kc:user("on")
  lu.assertEquals(u.exec.command, "true")
  lu.assertEquals(u.exec.args, cce.null)
  lu.assertEquals(u.token, cce.null)
  lu.assertEquals(u.extensions[1].extension.count, 3)  -- extensions keep YAML 1.1's types, keys included
  lu.assertTrue(u.extensions[1].extension.enabled)
  lu.assertFalse(u.extensions[1].extension["false"])
  local yaml = kc:to_yaml()
  lu.assertStrContains(yaml, "args: null")
  lu.assertNotStrContains(yaml, '"null"')
end

function TestKubeconfig:test_check_reports_dangling_references()
  local kc = assert(cce.kubeconfig.parse([[
contexts:
- name: a
  context: {cluster: gone, user: ghost}
current-context: nothere
]]))
  local w = kc:check()
  lu.assertEquals(#w, 3)
  lu.assertStrContains(w[1], "context 'a' refers to cluster 'gone', which does not exist")
  lu.assertStrContains(w[2], "user 'ghost'")
  lu.assertStrContains(w[3], "current-context is 'nothere'")
  lu.assertEquals(#assert(cce.kubeconfig.parse(BASE)):check(), 0)
end

function TestKubeconfig:test_rename_updates_references()
  local kc = assert(cce.kubeconfig.parse(BASE))
  assert(kc:rename_cluster("mk", "minikube"))
  lu.assertEquals(kc:context("mk").cluster, "minikube")
  lu.assertEquals(kc:context("mk-exec").cluster, "minikube")
  assert(kc:rename_user("mk-user", "me"))
  lu.assertEquals(kc:context("mk").user, "me")
  assert(kc:rename_context("mk", "home"))
  lu.assertEquals(kc:current_context(), "home")
  lu.assertEquals(#kc:check(), 0)
  local ok, err = kc:rename_context("nope", "x")
  lu.assertNil(ok)
  lu.assertEquals(err.code, "NOT_FOUND")
  ok, err = kc:rename_context("home", "mk-exec")
  lu.assertNil(ok)
  lu.assertEquals(err.code, "EXISTS")
end

function TestKubeconfig:test_use_context()
  local kc = assert(cce.kubeconfig.parse(BASE))
  assert(kc:use_context("mk-exec"))
  lu.assertEquals(kc:current_context(), "mk-exec")
  local ok, err = kc:use_context("nope")
  lu.assertNil(ok)
  lu.assertEquals(err.code, "NOT_FOUND")
  assert(kc:use_context(nil))
  lu.assertNil(kc:current_context())
end

function TestKubeconfig:test_remove_context_and_orphans()
  local kc = assert(cce.kubeconfig.parse(BASE))
  assert(kc:remove_context("mk-exec"))
  lu.assertNil(kc:user("exec-user"))    -- nothing else used it
  lu.assertNotNil(kc:cluster("mk"))     -- still used by context mk
  assert(kc:remove_context("mk"))
  lu.assertNil(kc:cluster("mk"))
  lu.assertNil(kc:current_context())    -- the current context went away
  kc = assert(cce.kubeconfig.parse(BASE))
  assert(kc:remove_context("mk-exec", { keep_orphans = true }))
  lu.assertNotNil(kc:user("exec-user"))
  local ok, err = kc:remove_context("mk-exec")
  lu.assertNil(ok)
  lu.assertEquals(err.code, "NOT_FOUND")
end

function TestKubeconfig:test_select_minify_flatten()
  -- certificate files, relative to the kubeconfig's directory, are inlined
  local fetched = assert(client:clustercert(by["prod-000"].id, { duration = 2 }))
  local u = fetched:user("user")
  local function b64d(s)
    local p = io.popen("base64 -d > " .. simctl.quote(tmp .. "/decoded"), "w")
    p:write(s) p:close()
    return read(tmp .. "/decoded")
  end
  os.execute("mkdir -p " .. simctl.quote(tmp .. "/sel/certs"))
  write(tmp .. "/sel/certs/client.crt", b64d(u["client-certificate-data"]))
  write(tmp .. "/sel/certs/client.key", b64d(u["client-key-data"]))
  write(tmp .. "/sel/config", BASE:gsub("    token: tok%-123\n",
    "    client-certificate: certs/client.crt\n    client-key: certs/client.key\n"))
  local kc = assert(cce.kubeconfig.load(tmp .. "/sel/config"))
  local one = assert(kc:select("mk"))
  lu.assertEquals(#one:contexts(), 1)
  lu.assertEquals(#one:clusters(), 1)
  lu.assertEquals(#one:users(), 1)
  lu.assertEquals(one:current_context(), "mk")
  local mu = one:user("mk-user")
  lu.assertNil(mu["client-certificate"])
  lu.assertEquals(mu["client-certificate-data"], u["client-certificate-data"])
  lu.assertEquals(mu["client-key-data"], u["client-key-data"])
  -- certificate inspection reads the relative file too
  lu.assertEquals(assert(kc:cert("mk-user")).sha256, assert(fetched:cert("user")).sha256)
  -- select(nil) is the current context
  lu.assertEquals(assert(kc:select()):current_context(), "mk")
  local none, err = kc:select("nope")
  lu.assertNil(none)
  lu.assertEquals(err.code, "NOT_FOUND")
end

function TestKubeconfig:test_merge_keep_replace_current()
  local kc = assert(cce.kubeconfig.parse(BASE))
  local other = assert(cce.kubeconfig.parse([[
clusters:
- name: mk
  cluster: {server: "https://changed:1"}
- name: new
  cluster: {server: "https://new:1"}
contexts:
- name: new
  context: {cluster: new, user: mk-user}
current-context: new
]]))
  local st = kc:merge(other)
  lu.assertEquals(st, { added = 2, replaced = 0, kept = 1 })
  lu.assertEquals(kc:cluster("mk").server, "https://10.1.1.1:6443")
  lu.assertEquals(kc:current_context(), "mk") -- unchanged unless asked
  st = kc:merge(other, { replace = true, set_current = true })
  lu.assertEquals(st, { added = 0, replaced = 3, kept = 0 })
  lu.assertEquals(kc:cluster("mk").server, "https://changed:1")
  lu.assertEquals(kc:current_context(), "new")
  -- the merged entries are independent copies
  assert(other:set_cluster("new", { server = "https://other-changed:1" }))
  lu.assertEquals(kc:cluster("new").server, "https://new:1")
end

function TestKubeconfig:test_ca_and_quirk_on_set()
  local kc = cce.kubeconfig.new()
  local fetched = assert(client:clustercert(by["prod-000"].id, { duration = 2 }))
  local ca = fetched:cluster("internalCluster")["certificate-authority-data"]
  assert(kc:set_cluster("x", { server = "https://a:1", ["certificate-authority-data"] = ca,
                               ["insecure-skip-tls-verify"] = true }))
  lu.assertNil(kc:cluster("x")["insecure-skip-tls-verify"])
  local info = assert(kc:ca("x"))
  lu.assertStrContains(info.subject, "simulator")
  lu.assertEquals(info.subject, info.issuer)
  local _, err = kc:ca("nope")
  lu.assertEquals(err.code, "NOT_FOUND")
  assert(kc:set_cluster("plain", { server = "https://a:1" }))
  _, err = kc:ca("plain")
  lu.assertEquals(err.code, "NO_CERT")
end

function TestKubeconfig:test_cert_of_fetched_user_matches_duration()
  local kc = assert(client:clustercert(by["staging-001"].id, { duration = 10 }))
  local c = assert(kc:cert("user"))
  lu.assertEquals(c.not_after - c.not_before, 10 * 86400)
  lu.assertTrue(c.days_left > 9.99 and c.days_left <= 10)
  lu.assertStrMatches(c.sha256, "^%x%x:[%x:]+$")
  lu.assertStrContains(c.subject, "CN=cce-user-")
  lu.assertStrContains(c.issuer, "simulator")
  lu.assertStrMatches(c.serial, "^%x+$")
  -- users without certificates get a clear answer
  local base = assert(cce.kubeconfig.parse(BASE))
  local _, err = base:cert("exec-user")
  lu.assertEquals(err.code, "NO_CERT")
  lu.assertStrContains(err.message, "user 'exec-user' has no client certificate (it uses an exec plugin)")
  _, err = base:cert("mk-user")
  lu.assertStrContains(err.message, "(it uses a token)")
  assert(base:set_user("broken", { ["client-certificate-data"] = "bm90IGEgY2VydA==" }))
  _, err = base:cert("broken")
  lu.assertEquals(err.code, "CERT")
  lu.assertStrContains(err.message, "user 'broken'")
  assert(base:set_user("gone", { ["client-certificate"] = "/nonexistent/c.crt" }))
  _, err = base:cert("gone")
  lu.assertEquals(err.code, "IO")
  lu.assertStrContains(err.message, "/nonexistent/c.crt")
end

function TestKubeconfig:test_set_entries_and_types()
  local kc = cce.kubeconfig.new()
  assert(kc:set_context("c", { cluster = "x", user = "y", namespace = "n",
    extensions = { { name = "cceauto", extension = { cluster_id = "abc", issued = 1700000000 } } } }))
  local ctx = kc:context("c")
  lu.assertEquals(ctx.extensions[1].extension.cluster_id, "abc")
  lu.assertEquals(ctx.extensions[1].extension.issued, 1700000000)
  lu.assertErrorMsgContains("cannot be stored in a kubeconfig", kc.set_context, kc, "d", { f = print })
  lu.assertErrorMsgContains("got a list", kc.set_context, kc, "d", { 1, 2 })
  local t = {}
  t.self = t
  lu.assertErrorMsgContains("nested too deeply", kc.set_context, kc, "d", t)
  lu.assertEquals(#kc:contexts(), 1)
end

-- ------------------------------------------------------------- files

function TestKubeconfig:test_load_missing_is_empty_and_save_creates_0600()
  local path = tmp .. "/new/config"
  os.execute("mkdir -p " .. simctl.quote(tmp .. "/new"))
  local kc = assert(cce.kubeconfig.load(path))
  lu.assertEquals(#kc:contexts(), 0)
  assert(kc:merge(assert(client:clustercert(by["prod-000"].id, { duration = 2 }))))
  local ok, n = kc:save()
  lu.assertTrue(ok)
  lu.assertEquals(n, 1)
  local code, out = simctl.run("stat -c %a " .. simctl.quote(path))
  lu.assertEquals(code, 0)
  lu.assertEquals(out, "600\n")
  lu.assertEquals(read(path), kc:to_yaml())
  -- nothing changed: nothing written
  ok, n = kc:save()
  lu.assertTrue(ok)
  lu.assertEquals(n, 0)
end

function TestKubeconfig:test_save_keeps_mode_and_follows_symlink()
  local dir = tmp .. "/link"
  os.execute("mkdir -p " .. simctl.quote(dir .. "/real"))
  write(dir .. "/real/config", BASE)
  os.execute("chmod 640 " .. simctl.quote(dir .. "/real/config"))
  os.execute("ln -s real/config " .. simctl.quote(dir .. "/config"))
  local kc = assert(cce.kubeconfig.load(dir .. "/config"))
  assert(kc:use_context("mk-exec"))
  assert(kc:save())
  local _, out = simctl.run("stat -c '%a %F' " .. simctl.quote(dir .. "/real/config") .. " " .. simctl.quote(dir .. "/config"))
  lu.assertEquals(out, "640 regular file\n777 symbolic link\n")
  lu.assertStrContains(read(dir .. "/real/config"), "current-context: mk-exec\n")
end

function TestKubeconfig:test_save_applies_changes_to_what_is_on_disk_now()
  local path = tmp .. "/rebase"
  write(path, BASE)
  local kc = assert(cce.kubeconfig.load(path))
  -- meanwhile another program adds a context and changes a user
  local other = assert(cce.kubeconfig.load(path))
  assert(other:set_context("theirs", { cluster = "mk", user = "mk-user" }))
  assert(other:set_user("mk-user", { token = "rotated-by-them" }))
  assert(other:save())
  -- our changes: a new context, a removed one, a renamed cluster
  assert(kc:set_context("ours", { cluster = "mk", user = "mk-user" }))
  assert(kc:remove_context("mk-exec"))
  assert(kc:save())
  local disk = assert(cce.kubeconfig.load(path))
  lu.assertNotNil(disk:context("theirs"))
  lu.assertNotNil(disk:context("ours"))
  lu.assertNil(disk:context("mk-exec"))
  lu.assertNil(disk:user("exec-user"))
  lu.assertEquals(disk:user("mk-user").token, "rotated-by-them") -- we did not touch it
  lu.assertEquals(disk:current_context(), "mk")
  -- and our object now shows the file as saved
  lu.assertNotNil(kc:context("theirs"))
end

function TestKubeconfig:test_renamed_entries_keep_their_place()
  local path = tmp .. "/renamed"
  write(path, BASE)
  local kc = assert(cce.kubeconfig.load(path))
  assert(kc:rename_context("mk", "tmp-name"))
  assert(kc:rename_context("tmp-name", "home"))
  assert(kc:rename_user("exec-user", "exec2"))
  assert(kc:save())
  local disk = assert(cce.kubeconfig.load(path))
  local names = {}
  for _, c in ipairs(disk:contexts()) do names[#names + 1] = c.name end
  lu.assertEquals(names, { "home", "mk-exec" })
  lu.assertEquals(disk:users()[1].name, "exec2")
  lu.assertEquals(disk:current_context(), "home")
  lu.assertEquals(disk:context("mk-exec").user, "exec2")
  lu.assertEquals(#disk:check(), 0)
end

function TestKubeconfig:test_save_to_other_file_never_removes()
  local path = tmp .. "/foreign"
  write(path, BASE)
  local fetched = assert(client:clustercert(by["dev-002"].id, { duration = 2 }))
  assert(fetched:save(path))
  local disk = assert(cce.kubeconfig.load(path))
  lu.assertNotNil(disk:context("mk"))
  lu.assertNotNil(disk:context("internal"))
  lu.assertEquals(disk:current_context(), "mk") -- the file had one: kept
  -- overwrite writes exactly the document
  assert(assert(cce.kubeconfig.parse(BASE)):save(path, { overwrite = true }))
  lu.assertEquals(read(path), BASE)
end

function TestKubeconfig:test_kubeconfig_env_multiple_files()
  local a, b = tmp .. "/ka", tmp .. "/kb"
  write(a, "clusters:\n- name: c1\n  cluster: {server: 'https://a:1'}\ncontexts:\n- name: x\n  context: {cluster: c1}\n")
  write(b, "clusters:\n- name: c1\n  cluster: {server: 'https://b:1'}\n- name: c2\n  cluster: {server: 'https://b:2'}\n" ..
    "contexts:\n- name: 'y'\n  context: {cluster: c2}\ncurrent-context: 'y'\n")
  local script = tmp .. "/multi.lua"
  write(script, [[
local cce = require "cce"
local kc = assert(cce.kubeconfig.load())
assert(#kc:files() == 2)
assert(kc:cluster("c1").server == "https://a:1", "first file wins")
assert(kc:current_context() == "y")
assert(kc:set_cluster("c2", { server = "https://b:22" }))   -- from b: goes back to b
assert(kc:set_cluster("c1", { server = "https://a:11" }))   -- from a: goes back to a
assert(kc:set_context("z", { cluster = "c1" }))              -- new: goes to the first file
local ok, n = assert(kc:save())
assert(n == 2, "wrote " .. tostring(n))
print("ok")
]])
  local code, out = simctl.run("KUBECONFIG=" .. simctl.quote(a .. ":" .. b) .. " " ..
    simctl.quote(os.getenv("CCEAUTO")) .. " " .. simctl.quote(script))
  lu.assertEquals(code, 0, out)
  local ka, kb = assert(cce.kubeconfig.load(a)), assert(cce.kubeconfig.load(b))
  lu.assertEquals(ka:cluster("c1").server, "https://a:11")
  lu.assertNotNil(ka:context("z"))
  lu.assertEquals(kb:cluster("c2").server, "https://b:22")
  lu.assertEquals(kb:cluster("c1").server, "https://b:1") -- b's shadowed c1 untouched
  lu.assertNil(kb:context("z"))
  lu.assertNil(ka:current_context())
end

function TestKubeconfig:test_kubeconfig_env_same_file_twice()
  local a = tmp .. "/twice"
  write(a, BASE)
  os.execute("ln -sf twice " .. simctl.quote(tmp .. "/twice-link"))
  local code, out = simctl.run("KUBECONFIG=" .. simctl.quote(a .. ":" .. tmp .. "/twice-link:" .. a) .. " " ..
    simctl.quote(os.getenv("CCEAUTO")) .. [[ -e '
      local kc = assert(require("cce").kubeconfig.load())
      assert(#kc:files() == 1, #kc:files())
      assert(kc:use_context("mk-exec"))
      local ok, n = assert(kc:save(nil, { lock_timeout = 2 }))
      print(n)']])
  lu.assertEquals(code, 0, out)
  lu.assertEquals(out, "1\n")
end

function TestKubeconfig:test_malformed_file_changes_nothing()
  local path = tmp .. "/malformed"
  local bad = "apiVersion: v1\nclusters:\n- name: a\n  cluster:\n    server: \"unterminated\n"
  write(path, bad)
  local kc, err = cce.kubeconfig.load(path)
  lu.assertNil(kc)
  lu.assertEquals(err.code, "PARSE")
  lu.assertStrMatches(err.message, "^" .. path:gsub("%p", "%%%0") .. ":%d+:%d+: .*")
  lu.assertEquals(read(path), bad)
  -- a save onto a file that became malformed fails and leaves it alone
  local good = assert(cce.kubeconfig.parse(BASE))
  local ok
  ok, err = good:save(path)
  lu.assertNil(ok)
  lu.assertEquals(err.code, "PARSE")
  lu.assertEquals(read(path), bad)
  local leftovers = select(2, simctl.run("ls -A " .. simctl.quote(tmp) .. " | grep -c '\\.lock\\|tmp-' || true"))
  lu.assertEquals(leftovers, "0\n")
end

local function mode_of(path)
  local p = assert(io.popen("stat -c %a " .. simctl.quote(path)))
  local m = p:read("l")
  p:close()
  return m
end

function TestKubeconfig:test_private_keys_make_the_file_private()
  local path = tmp .. "/open-config"
  write(path, BASE)
  os.execute("chmod 644 " .. simctl.quote(path))
  local kc = assert(cce.kubeconfig.load(path))
  -- a change without a key: the mode stays
  assert(kc:set_cluster("other", { server = "https://10.9.9.9" }))
  local ok, n, notices = kc:save(path, { on_notice = function() error("no notice expected") end })
  lu.assertTrue(ok)
  lu.assertEquals(n, 1)
  lu.assertEquals(notices, {})
  lu.assertEquals(mode_of(path), "644")
  -- a client key written into it: 0600, and the caller is told
  assert(kc:set_user("keyed", { ["client-certificate-data"] = "Y2VydA==", ["client-key-data"] = "a2V5" }))
  local told = {}
  ok, n, notices = kc:save(nil, { on_notice = function(t) told[#told + 1] = t end })
  lu.assertTrue(ok)
  lu.assertEquals(n, 1)
  lu.assertEquals(mode_of(path), "600")
  lu.assertEquals(#notices, 1)
  lu.assertEquals(told, notices)
  lu.assertStrContains(notices[1], path)
  lu.assertStrContains(notices[1], "0644")
  lu.assertStrContains(notices[1], "0600")
  lu.assertNotStrContains(notices[1], "a2V5") -- never the key itself
  -- already private: nothing to say
  assert(kc:set_user("keyed2", { ["client-key-data"] = "a2V5" }))
  ok, n, notices = kc:save()
  lu.assertTrue(ok)
  lu.assertEquals(n, 1)
  lu.assertEquals(notices, {})
end

function TestKubeconfig:test_save_creates_a_missing_directory_0700()
  local dir = tmp .. "/newdir/.kube"
  local kc = assert(cce.kubeconfig.parse(BASE))
  local told = {}
  assert(kc:save(dir .. "/config", { on_notice = function(t) told[#told + 1] = t end }))
  lu.assertEquals(mode_of(tmp .. "/newdir"), "700")
  lu.assertEquals(mode_of(dir), "700")
  lu.assertEquals(mode_of(dir .. "/config"), "600")
  lu.assertEquals(#told, 1)
  lu.assertStrContains(told[1], "created directory " .. tmp .. "/newdir/.kube")
end

function TestKubeconfig:test_mkdir()
  local dir = tmp .. "/mk/a/b"
  lu.assertTrue(cce.mkdir(dir))
  lu.assertEquals(mode_of(tmp .. "/mk"), "700")
  lu.assertEquals(mode_of(dir), "700")
  lu.assertTrue(cce.mkdir(dir)) -- exists: fine
  lu.assertTrue(cce.mkdir(tmp .. "/mk/open", tonumber("755", 8)))
  write(tmp .. "/mk/file", "x")
  local ok, err = cce.mkdir(tmp .. "/mk/file/sub")
  lu.assertNil(ok)
  lu.assertEquals(err.code, "IO")
  lu.assertStrContains(err.message, tmp .. "/mk/file")
end

-- Edits between which nothing is swept: removed entries leave no trace, order and references hold.
function TestKubeconfig:test_edits_keep_order_and_references()
  local path = tmp .. "/edits"
  local parts = { "clusters:\n" }
  for i = 1, 6 do parts[#parts + 1] = ("- name: c%d\n  cluster: {server: 'https://c%d'}\n"):format(i, i) end
  parts[#parts + 1] = "users:\n"
  for i = 1, 6 do parts[#parts + 1] = ("- name: u%d\n  user: {token: t%d}\n"):format(i, i) end
  parts[#parts + 1] = "contexts:\n"
  for i = 1, 6 do parts[#parts + 1] = ("- name: x%d\n  context: {cluster: c%d, user: u%d}\n"):format(i, i, i) end
  parts[#parts + 1] = "current-context: x3\n"
  write(path, table.concat(parts))
  local kc = assert(cce.kubeconfig.load(path))
  assert(kc:remove_context("x2"))                      -- c2 and u2 go with it
  lu.assertNil(kc:cluster("c2"))
  lu.assertEquals(kc:cluster("c3").server, "https://c3") -- found by name past a removed one
  assert(kc:set_context("x4", { cluster = "c1", user = "u4" })) -- c4 no longer used by x4
  assert(kc:rename_cluster("c4", "c4b"))
  lu.assertEquals(kc:context("x4").cluster, "c1")      -- not a reference to c4 any more
  assert(kc:rename_cluster("c1", "first"))
  lu.assertEquals(kc:context("x1").cluster, "first")
  lu.assertEquals(kc:context("x4").cluster, "first")
  assert(kc:rename_context("x3", "third"))
  lu.assertEquals(kc:current_context(), "third")
  assert(kc:rename_context("x5", "x2"))                -- a removed name can be taken again
  assert(kc:rename_user("u5", "u2"))
  lu.assertEquals(kc:context("x2").user, "u2")
  assert(kc:remove_context("x6", { keep_orphans = true }))
  lu.assertNotNil(kc:cluster("c6"))
  assert(kc:set_context("x7", { cluster = "c6", user = "u6" }))
  lu.assertEquals(tostring(kc):match("%d+ contexts"), "5 contexts")
  local function names(list)
    local out = {}
    for i, e in ipairs(list) do out[i] = e.name end
    return out
  end
  lu.assertEquals(names(kc:contexts()), { "x1", "third", "x4", "x2", "x7" })
  assert(kc:save())
  -- in the file, x5 renamed to x2 takes the place of the x2 the file still had: an entry of
  -- the same name is replaced where it is (as before this model was made O(1))
  local want = { ctx = { "x1", "x2", "third", "x4", "x7" }, cl = { "first", "c3", "c4b", "c5", "c6" },
                 us = { "u1", "u2", "u3", "u4", "u6" } }
  local disk = assert(cce.kubeconfig.load(path))
  lu.assertEquals(names(disk:contexts()), want.ctx)
  lu.assertEquals(names(disk:clusters()), want.cl)
  lu.assertEquals(names(disk:users()), want.us)
  lu.assertEquals(disk:current_context(), "third")
  lu.assertEquals(#disk:check(), 0)
  -- the same edits saved to a new file give the same document
  local copy = tmp .. "/edits-copy"
  kc = assert(cce.kubeconfig.load(path))
  assert(kc:remove_context("x4"))
  assert(kc:save(copy))
  lu.assertEquals(names(assert(cce.kubeconfig.load(copy)):contexts()), { "x1", "x2", "third", "x7" })
end

-- The scripts' mkdir_p is cce.mkdir: no shell, and no module from the working directory
-- (an lfs.lua there used to be loaded and run).
function TestKubeconfig:test_cli_mkdir_p_loads_nothing()
  local ok_cli, cli = pcall(require, "cceauto.cli")
  if not ok_cli then
    package.path = os.getenv("CCE_SOURCE_DIR") .. "/scripts/?.lua;" .. package.path
    cli = require "cceauto.cli"
  end
  local planted = tmp .. "/planted"
  os.execute("mkdir -p " .. simctl.quote(planted))
  write(planted .. "/lfs.lua", "PLANTED_LFS_RAN = true\nreturn { attributes = function() return nil end }\n")
  local saved = package.path
  package.path = planted .. "/?.lua;" .. package.path -- as "./?.lua" is in a script's working directory
  package.loaded.lfs = nil
  local ok, err = cli.mkdir_p(tmp .. "/cli-made/a b/c")
  package.path = saved
  lu.assertTrue(ok, err)
  lu.assertNil(rawget(_G, "PLANTED_LFS_RAN"))
  lu.assertEquals(mode_of(tmp .. "/cli-made/a b/c"), "700")
  write(tmp .. "/cli-file", "x")
  ok, err = cli.mkdir_p(tmp .. "/cli-file/sub")
  lu.assertNil(ok)
  lu.assertStrContains(err, tmp .. "/cli-file")
end

-- A lock held by a live process (pid 1) with a tiny lock_timeout: LOCKED at once. The old
-- rounding made 0.0001 s into 0 ms, which means "default" (10 s).
function TestKubeconfig:test_tiny_lock_timeout_is_a_timeout()
  local path = tmp .. "/held.yaml"
  write(path, BASE)
  local host = io.popen("hostname"):read("l")
  write(path .. ".lock", "1 " .. host .. "\n")
  local kc = assert(cce.kubeconfig.load(path))
  assert(kc:rename_context("mk-exec", "mk-exec-2"))
  local t0 = os.time()
  local ok, err = kc:save(nil, { lock_timeout = 0.0001 })
  lu.assertNil(ok)
  lu.assertEquals(err.code, "LOCKED")
  lu.assertTrue(os.time() - t0 <= 3, "a 0.1 ms lock timeout waited " .. (os.time() - t0) .. " s")
  os.remove(path .. ".lock")
end

local rc = lu.LuaUnit.run("-v")
sim:stop()
os.execute("rm -rf " .. simctl.quote(tmp))
os.exit(rc)
